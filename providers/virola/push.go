package virola

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Event types of the events WebSocket.
const (
	evCreated     = "TextMessagesCreated"
	evUpdated     = "TextMessagesUpdated"
	evDeleted     = "TextMessageDeleted"
	evRoomCreated = "RoomCreated"
	evRoomUpdated = "RoomUpdated"
	evRoomDeleted = "RoomDeleted"
)

// maxFrame bounds one events frame (1 MiB); a longer one is dropped with the
// connection, as garbage.
const maxFrame = 1 << 20

// frame is one decoded events frame.
type frame struct {
	Type     string
	Messages []apiMessage // created, updated
	Deleted  struct {     // deleted
		MessageID       int64 `json:"messageId"`
		RoomID          int64 `json:"roomId"`
		ParentMessageID int64 `json:"parentMessageId"`
	}
	Room   *apiRoom // room created, updated
	RoomID int64    // room deleted
}

// parseFrame decodes a {type, data} frame. An unknown type is not an error
// (the API is "under development"); a known one with unreadable data is.
func parseFrame(raw []byte) (*frame, error) {
	var env struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("events frame: %w", err)
	}
	f := &frame{Type: env.Type}
	var err error
	switch env.Type {
	case evCreated, evUpdated:
		var d struct {
			Messages []apiMessage `json:"messages"`
		}
		err = json.Unmarshal(env.Data, &d)
		f.Messages = d.Messages
	case evDeleted:
		err = json.Unmarshal(env.Data, &f.Deleted)
	case evRoomCreated, evRoomUpdated:
		var d struct {
			Room *apiRoom `json:"room"`
		}
		err = json.Unmarshal(env.Data, &d)
		f.Room = d.Room
	case evRoomDeleted:
		var d struct {
			RoomID int64 `json:"roomId"`
		}
		err = json.Unmarshal(env.Data, &d)
		f.RoomID = d.RoomID
	}
	if err != nil {
		return nil, fmt.Errorf("events frame %q: %w", truncate(env.Type, 40), err)
	}
	return f, nil
}

func createdKey(id int64) string { return "virola:" + ref(id) + ":" + evCreated }

// updatedKey tells one update of m from another: its last change time, and
// its read receipts, since two users reading it within a millisecond are two
// updates with one lastModifiedUtc.
func updatedKey(m *apiMessage) string {
	return fmt.Sprintf("virola:%d:%s:%d:%d", m.MessageID, evUpdated, max(m.LastEditedUtc, m.LastModifiedUtc), len(m.ReadTimestamps))
}

// tracker remembers, per parent message, the newest comment id emitted, so a
// reconnect catches up from there and nothing is emitted twice; and, across
// all rooms, the newest message id seen and where the last lost connection
// left off, so a reconnect catches up on the threads it never saw too.
type tracker struct {
	mu    sync.Mutex
	max   int
	seq   uint64
	byRef map[int64]*tracked
	watch chan int64 // new watches for a running Stream to baseline

	opts  CatchUpOptions
	floor int64     // the newest message id seen (events, catch-ups, baselines)
	cut   *cutPoint // a lost connection not caught up on yet; nil: none
}

type tracked struct {
	last      int64 // newest comment id emitted or known; 0: none yet
	baselined bool  // last is known (from an event, a catch-up or a baseline)
	used      uint64
}

func (t *tracker) init(max int) {
	t.max = max
	t.byRef = make(map[int64]*tracked)
	t.watch = make(chan int64, 64)
}

// entryLocked returns parent's entry, making room for it by forgetting the
// least recently used one.
func (t *tracker) entryLocked(parent int64) *tracked {
	t.seq++
	if e, ok := t.byRef[parent]; ok {
		e.used = t.seq
		return e
	}
	if len(t.byRef) >= t.max {
		var oldest int64
		var used uint64
		for id, e := range t.byRef {
			if oldest == 0 || e.used < used {
				oldest, used = id, e.used
			}
		}
		delete(t.byRef, oldest)
	}
	e := &tracked{used: t.seq}
	t.byRef[parent] = e
	return e
}

// advance records comment id under parent; false when it was already seen.
func (t *tracker) advance(parent, id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entryLocked(parent)
	e.baselined = true
	if id <= e.last {
		return false
	}
	e.last = id
	return true
}

func (t *tracker) forget(parent int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byRef, parent)
}

// Watch asks the events stream to catch up on thread threadRef after every
// reconnect, even before any of its comments has been seen. A running stream
// notes the thread's newest comment at once (on its next connect when Watch
// is called while it is disconnected) and emits every comment after it. A bad
// ref is ignored (Thread would have refused it).
func (p *Provider) Watch(threadRef string) {
	id, ok := parseRef(threadRef)
	if !ok {
		return
	}
	p.track.mu.Lock()
	_, known := p.track.byRef[id]
	if !known {
		p.track.entryLocked(id)
	}
	p.track.mu.Unlock()
	if !known {
		select {
		case p.track.watch <- id:
		default: // a busy stream baselines it on its next connect
		}
	}
}

// Stream connects to the events WebSocket and emits a Change for every event
// until ctx is done, then returns nil; it is the instance's
// providers.StreamFunc. When the connection fails or drops it reconnects with
// backoff (providers.Backoff from ReconnectMin to ReconnectMax) and, once
// connected, catches up before the first frame: on every thread it has seen
// or been told to Watch, and, after a lost connection, on every thread of
// every room the token can list (room messages → their comments, within
// SetCatchUp's bounds; what lies past them is logged and counted), emitting
// the comments it missed in creation order; nothing is emitted twice.
// Virola tells a deleted parent message or room in one frame and nothing of
// the comments that go with it, so that Change also deletes every comment of
// it Stream emitted (Options.MaxKnown bounds how many are remembered); a
// tracked thread the catch-up finds gone is deleted the same way. emit runs
// on Stream's goroutine, one Change at a time. Call Stream once per Provider.
func (p *Provider) Stream(ctx context.Context, emit func(context.Context, *providers.Change)) error {
	wsURL, err := p.eventsURL()
	if err != nil {
		return err
	}
	dialer := p.dialer()
	header := http.Header{"Authorization": {"Bearer " + p.opts.Token}}
	retry := providers.Backoff(p.opts.ReconnectMin, p.opts.ReconnectMax)
	for {
		conn, resp, err := dial(ctx, dialer, wsURL, header)
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return nil
		}
		var pause time.Duration
		if err != nil {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			pause = retry.NextBackOff()
			p.log.Warn("virola: events connect failed", "status", status, "err", err, "retryIn", pause)
		} else {
			retry.Reset()
			err := p.serve(ctx, conn, emit)
			conn.Close()
			if ctx.Err() != nil {
				return nil
			}
			pause = retry.NextBackOff()
			p.log.Warn("virola: events connection lost", "err", err, "retryIn", pause)
		}
		if providers.Sleep(ctx, pause) != nil {
			return nil
		}
	}
}

func (p *Provider) eventsURL() (string, error) {
	switch {
	case strings.HasPrefix(p.opts.BaseURL, "https://"):
		return "wss://" + strings.TrimPrefix(p.opts.BaseURL, "https://") + epEvents, nil
	case strings.HasPrefix(p.opts.BaseURL, "http://"):
		return "ws://" + strings.TrimPrefix(p.opts.BaseURL, "http://") + epEvents, nil
	}
	return "", fmt.Errorf("virola: BaseURL %q is not http(s)", p.opts.BaseURL)
}

// handshakeTimeout bounds one events dial, TCP, TLS and HTTP upgrade
// together, when nothing cancels it sooner.
const handshakeTimeout = 10 * time.Second

// dialer reuses the HTTP client's TLS and proxy settings, so a server with a
// private certificate works for events as it does for calls.
func (p *Provider) dialer() *websocket.Dialer {
	d := &websocket.Dialer{HandshakeTimeout: handshakeTimeout, Proxy: http.ProxyFromEnvironment}
	if t, ok := p.opts.HTTPClient.Transport.(*http.Transport); ok && t != nil {
		d.Proxy = t.Proxy
		if t.TLSClientConfig != nil {
			d.TLSClientConfig = t.TLSClientConfig.Clone()
		}
	}
	return d
}

// dial is d.DialContext made to give up as soon as ctx is done. gorilla's
// dialer uses ctx for the TCP dial and the TLS handshake but turns it into a
// mere deadline (HandshakeTimeout at most) for the HTTP upgrade, so an
// upstream that accepts the connection and never answers the upgrade would
// hold shutdown for the whole timeout. Here every connection the dial opens
// (to the upstream or to a proxy) is closed when ctx ends before the dial
// returns, which fails whatever step it is in.
func dial(ctx context.Context, d *websocket.Dialer, url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	var (
		mu    sync.Mutex
		stops []func() bool
	)
	dd := *d
	netDial := d.NetDialContext
	if netDial == nil {
		netDial = (&net.Dialer{}).DialContext
	}
	dd.NetDialContext = func(dctx context.Context, network, addr string) (net.Conn, error) {
		c, err := netDial(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		// ctx, not dctx: gorilla cancels dctx as the dial returns, and the
		// connection lives on.
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		mu.Lock()
		stops = append(stops, stop)
		mu.Unlock()
		return c, nil
	}
	conn, resp, err := dd.DialContext(ctx, url, header)
	mu.Lock()
	defer mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	return conn, resp, err
}

// serve runs one connection: it catches up, then turns frames into Changes
// until the connection ends or ctx is done.
func (p *Provider) serve(ctx context.Context, conn *websocket.Conn, emit func(context.Context, *providers.Change)) error {
	connected := p.opts.Now()
	var alive atomic.Int64 // Unix ns the server was last heard from
	alive.Store(connected.UnixNano())
	defer func() { p.track.lose(connected, time.Unix(0, alive.Load())) }()

	conn.SetReadLimit(maxFrame)
	deadline := func() {
		alive.Store(p.opts.Now().UnixNano())
		_ = conn.SetReadDeadline(time.Now().Add(2 * p.opts.PingInterval))
	}
	deadline()
	conn.SetPongHandler(func(string) error { deadline(); return nil })

	frames := make(chan []byte)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			_, raw, err := conn.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			deadline()
			select {
			case frames <- raw:
			case <-done:
				return
			}
		}
	}()
	go func() { // ping so a dead peer is noticed within two intervals
		t := time.NewTicker(p.opts.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second))
			}
		}
	}()

	p.catchUp(ctx, emit)
	// The reader may have waited on a frame for the whole catch-up, with no
	// pong read to push its deadline on.
	_ = conn.SetReadDeadline(time.Now().Add(2 * p.opts.PingInterval))
	for {
		select {
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return ctx.Err()
		case err := <-readErr:
			return err
		case id := <-p.track.watch:
			p.baseline(ctx, id)
		case raw := <-frames:
			f, err := parseFrame(raw)
			if err != nil {
				p.log.Warn("virola: unreadable events frame skipped", "err", err)
				continue
			}
			for _, ch := range p.changes(ctx, f) {
				emit(ctx, ch)
			}
		}
	}
}

// changes maps one frame to Changes, one per message so each has its own Key.
func (p *Provider) changes(ctx context.Context, f *frame) []*providers.Change {
	var out []*providers.Change
	switch f.Type {
	case evCreated, evUpdated:
		var (
			users     *userList
			usersRead bool // once per frame, also when it failed
		)
		for i := range f.Messages {
			m := &f.Messages[i]
			if m.MessageID <= 0 {
				continue
			}
			p.track.see(m.MessageID)
			if m.ParentMessageID == 0 {
				// A room message: a thread (new, or its comment count or text
				// changed). Remember its room and title for Thread.
				p.rememberThread(m.MessageID, threadInfo{room: m.RoomID, title: title(m.Text)})
				continue
			}
			if f.Type == evCreated && !p.track.advance(m.ParentMessageID, m.MessageID) {
				continue // already emitted while catching up
			}
			p.noteComment(m)
			if !usersRead {
				users, usersRead = p.eventUsers(ctx), true
			}
			c := p.toComment(m, users)
			if f.Type == evCreated {
				out = append(out, &providers.Change{Key: createdKey(m.MessageID), Comments: []*model.Comment{c}})
			} else {
				out = append(out, &providers.Change{Key: updatedKey(m), UpdatedComments: []*model.Comment{c}})
			}
		}
	case evDeleted:
		d := f.Deleted
		if d.MessageID <= 0 {
			return nil
		}
		// One frame for a parent message however many comments go with it:
		// each comment the gateway was told of is deleted here.
		ch := &providers.Change{Key: "virola:" + ref(d.MessageID) + ":" + evDeleted}
		p.threadGone(ch, d.MessageID, d.ParentMessageID)
		out = append(out, ch)
	case evRoomCreated, evRoomUpdated:
		if f.Room == nil || f.Room.RoomID <= 0 {
			return nil
		}
		p.forgetRooms()
		out = append(out, &providers.Change{Key: fmt.Sprintf("virola:room:%d:%s:%d", f.Room.RoomID, f.Type, f.Room.LastModifiedUtc), Rooms: []*model.Room{p.toRoom(f.Room)}})
	case evRoomDeleted:
		if f.RoomID <= 0 {
			return nil
		}
		p.forgetRooms()
		// Its threads and their comments go with it, with no frame of their own.
		ch := &providers.Change{Key: "virola:room:" + ref(f.RoomID) + ":" + evRoomDeleted, DeletedRooms: []string{ref(f.RoomID)}}
		p.roomGone(ch, f.RoomID)
		out = append(out, ch)
	}
	return out
}

// eventUsers is the user list for mentions in pushed comments; without one
// the comments still go out, with no mentions, rather than not at all.
func (p *Provider) eventUsers(ctx context.Context) *userList {
	users, err := p.userDirectory(ctx)
	if err != nil {
		p.log.Warn("virola: no user list for event mentions", "err", err)
		return nil
	}
	return users
}

// CatchUpOptions bounds the catch-up that follows every reconnect of the
// events stream. Besides the threads the stream has seen or been told to
// Watch, it reads every room the token can list for threads changed since the
// connection was lost (room messages → their comments) and emits the comments
// created meanwhile. What lies past a bound is not read or not emitted: it is
// logged (WARN, with counts, never message text) and passed to OnDropped.
// Zero values take the defaults named.
type CatchUpOptions struct {
	// Rooms bounds how many rooms are read, the most recently active first.
	// 0: 100. Negative: no room is read; only the seen and watched threads
	// are caught up.
	Rooms int
	// Messages bounds how many of a room's newest top-level messages (its
	// threads) are read to find the ones changed since the cut. 0: 200.
	// Negative: as 0.
	Messages int
	// Threads bounds how many changed threads found in the rooms have their
	// comments read, the most recently changed first. 0: 500. Negative: as 0.
	Threads int
	// Comments bounds how many missed comments one catch-up emits; past it the
	// newest are kept. 0: 5000. Negative: as 0.
	Comments int
	// ClockSkew is how far the server's clock may be from the gateway's: a
	// thread changed up to this long before the connection was last heard
	// from is read again (at the cost of one call; its comments seen before
	// are not emitted again). 0: 2 min. Negative: as 0.
	ClockSkew time.Duration
	// OnDropped is told what one catch-up left out (metrics). Nil: nothing.
	// It runs on the stream's goroutine and must not block.
	OnDropped func(CatchUpDropped)
}

// CatchUpDropped is what one catch-up after a reconnect left out to stay
// within its CatchUpOptions, or could not read.
type CatchUpDropped struct {
	// Rooms is how many rooms were not read at all (past Rooms).
	Rooms int
	// PartialRooms is how many rooms were read only to Messages top-level
	// messages with a full last page (Virola has no has-more flag): older
	// threads there may hold missed comments.
	PartialRooms int
	// Threads is how many threads changed since the cut but had their
	// comments not read (past Threads), or not read back to the cut (past
	// catchUpPages pages).
	Threads int
	// Comments is how many missed comments were read but not emitted (past
	// Comments): the oldest of them.
	Comments int
	// Failed is how many reads failed (the room list, a room's messages, a
	// thread's comments): what they would have found is unknown.
	Failed int
}

func (d CatchUpDropped) zero() bool { return d == CatchUpDropped{} }

// SetCatchUp replaces the catch-up bounds. Call it before Stream; a Stream
// running with none set uses the zero CatchUpOptions, every default.
func (p *Provider) SetCatchUp(o CatchUpOptions) {
	p.track.mu.Lock()
	defer p.track.mu.Unlock()
	p.track.opts = o
}

// catchUpOptions returns the bounds with the defaults filled in.
func (t *tracker) catchUpOptions() CatchUpOptions {
	t.mu.Lock()
	o := t.opts
	t.mu.Unlock()
	positive(&o.Messages, 200)
	positive(&o.Threads, 500)
	positive(&o.Comments, 5000)
	positive(&o.ClockSkew, 2*time.Minute)
	if o.Rooms == 0 {
		o.Rooms = 100
	}
	return o
}

func positive[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// cutPoint is where a lost connection left off.
type cutPoint struct {
	floor     int64     // every message id at or below it was seen, or is older than the connection
	connected time.Time // when the lost connection came up
	alive     time.Time // when it was last heard from
}

// see raises the floor to id: Virola allocates message ids in one sequence
// across rooms, so a message past every id seen is new.
func (t *tracker) see(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.floor = max(t.floor, id)
}

// lose records that the connection up since connected, last heard from at
// alive, is gone. A cut not caught up yet (the connections since failed
// before their catch-up ran) is kept: it is the earlier one.
func (t *tracker) lose(connected, alive time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut == nil {
		t.cut = &cutPoint{floor: t.floor, connected: connected, alive: alive}
	}
}

func (t *tracker) takeCut() *cutPoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.cut
	t.cut = nil
	return c
}

// catchUpPages bounds how many pages of missed comments one thread is read
// for after a reconnect.
const catchUpPages = 10

// catchUpParallel bounds the catch-up's concurrent calls.
const catchUpParallel = 4

// missed gathers the comments a catch-up found, keeping the newest
// limit of them (so memory stays bounded) and counting the others.
type missed struct {
	mu      sync.Mutex
	limit   int
	msgs    []apiMessage
	dropped CatchUpDropped
	top     int64   // the newest message id read, kept or not
	gone    []int64 // tracked threads found deleted (404)
}

func (m *missed) add(msgs []apiMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range msgs {
		m.top = max(m.top, c.MessageID)
	}
	m.msgs = append(m.msgs, msgs...)
	if len(m.msgs) > 2*m.limit {
		m.trimLocked()
	}
}

// saw notes a message read that is no comment to emit (a room message).
func (m *missed) saw(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.top = max(m.top, id)
}

func (m *missed) count(f func(d *CatchUpDropped)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.dropped)
}

// trimLocked sorts the comments ascending, drops duplicates and all but the
// newest limit.
func (m *missed) trimLocked() {
	slices.SortFunc(m.msgs, func(a, b apiMessage) int { return cmpInt(a.MessageID, b.MessageID) })
	m.msgs = slices.CompactFunc(m.msgs, func(a, b apiMessage) bool { return a.MessageID == b.MessageID })
	if over := len(m.msgs) - m.limit; over > 0 {
		m.dropped.Comments += over
		m.msgs = slices.Delete(m.msgs, 0, over)
	}
}

// catchUp runs as a connection comes up, before its first frame. It emits,
// in creation order, the comments created while the stream was down: those
// after the last one seen in every tracked thread, and, after a lost
// connection, those created since the cut in every thread of every room the
// token can list (within CatchUpOptions). It baselines the watched threads
// not seen yet.
func (p *Provider) catchUp(ctx context.Context, emit func(context.Context, *providers.Change)) {
	opts := p.track.catchUpOptions()
	cut := p.track.takeCut()
	type todo struct {
		parent, last int64
		baselined    bool
	}
	p.track.mu.Lock()
	var work []todo
	for id, e := range p.track.byRef {
		work = append(work, todo{id, e.last, e.baselined})
	}
	p.track.mu.Unlock()

	found := &missed{limit: opts.Comments}
	done := make(map[int64]bool, len(work)) // threads read here: the room scan skips them
	for _, w := range work {
		if ctx.Err() != nil {
			return
		}
		if !w.baselined {
			p.baseline(ctx, w.parent)
			continue
		}
		done[w.parent] = true
		p.catchUpThread(ctx, w.parent, w.last, found)
	}
	if cut != nil && opts.Rooms > 0 {
		p.catchUpRooms(ctx, cut, opts, done, found)
	}
	if ctx.Err() != nil {
		return
	}

	found.mu.Lock()
	found.trimLocked()
	found.mu.Unlock()
	p.track.see(found.top)
	var users *userList
	for i := range found.msgs {
		m := &found.msgs[i]
		if !p.track.advance(m.ParentMessageID, m.MessageID) {
			continue // emitted before, live or by an earlier catch-up
		}
		if users == nil {
			users = p.eventUsers(ctx)
		}
		p.noteComment(m)
		emit(ctx, &providers.Change{Key: createdKey(m.MessageID), Comments: []*model.Comment{p.toComment(m, users)}})
	}
	slices.Sort(found.gone)
	for _, id := range found.gone {
		ch := &providers.Change{Key: "virola:" + ref(id) + ":" + evDeleted}
		p.threadGone(ch, id, 0)
		emit(ctx, ch)
	}
	if d := found.dropped; !d.zero() {
		p.log.Warn("virola: catch-up after reconnect left comments out",
			"emitted", len(found.msgs), "roomsUnread", d.Rooms, "roomsPartlyRead", d.PartialRooms,
			"threadsUnread", d.Threads, "commentsDropped", d.Comments, "readsFailed", d.Failed)
		if opts.OnDropped != nil {
			opts.OnDropped(d)
		}
	}
}

// catchUpThread gathers a tracked thread's comments after last.
func (p *Provider) catchUpThread(ctx context.Context, parent, last int64, found *missed) {
	for range catchUpPages {
		list, err := p.comments(ctx, parent, listQuery{cursor: last, limit: maxPage})
		if err != nil {
			var me *model.Error
			if errors.As(err, &me) && me.Code == model.CodeNotFound {
				// The thread is gone, deleted while the stream was down, so no
				// frame told of it.
				found.mu.Lock()
				found.gone = append(found.gone, parent)
				found.mu.Unlock()
				return
			}
			if ctx.Err() == nil {
				p.log.Warn("virola: catch-up failed", "thread", parent, "err", err)
				found.count(func(d *CatchUpDropped) { d.Failed++ })
			}
			return
		}
		msgs := strictlyBeyond(list.Messages, last, false)
		for i := range msgs {
			msgs[i].ParentMessageID = parent
			if msgs[i].RoomID == 0 {
				msgs[i].RoomID = list.RoomID
			}
		}
		found.add(msgs)
		if len(list.Messages) < maxPage || len(msgs) == 0 {
			return
		}
		last = msgs[len(msgs)-1].MessageID
	}
	found.count(func(d *CatchUpDropped) { d.Threads++ })
}

// catchUpRooms gathers the comments created since cut in the threads of the
// token's rooms, except the threads in skip (caught up already).
//
// Virola has no "changed since" query, so each room's newest top-level
// messages are read, and a message is a thread to read when it has comments
// and is newer than the floor or was modified since the connection was last
// heard from (less ClockSkew). Its comments are read newest first, back to
// the cut: a comment is missed when its id is past the floor (ids are one
// sequence: the floor is the newest id seen before the cut) and it was
// created after the lost connection came up (less ClockSkew), which keeps
// out older comments the gateway never saw when the floor is 0.
func (p *Provider) catchUpRooms(ctx context.Context, cut *cutPoint, opts CatchUpOptions, skip map[int64]bool, found *missed) {
	p.forgetRooms() // rooms created or opened to the token meanwhile
	rooms, err := p.roomDirectory(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("virola: catch-up could not list rooms", "err", err)
			found.count(func(d *CatchUpDropped) { d.Failed++ })
		}
		return
	}
	list := slices.Clone(rooms.rooms)
	slices.SortFunc(list, func(a, b apiRoom) int {
		if c := cmpInt(roomActivity(b), roomActivity(a)); c != 0 {
			return c
		}
		return cmpInt(b.RoomID, a.RoomID)
	})
	if len(list) > opts.Rooms {
		found.count(func(d *CatchUpDropped) { d.Rooms += len(list) - opts.Rooms })
		list = list[:opts.Rooms]
	}
	changedSince := cut.alive.Add(-opts.ClockSkew).UnixMilli()
	createdSince := cut.connected.Add(-opts.ClockSkew).UnixMilli()

	var (
		mu      sync.Mutex
		threads []apiMessage
		wg      sync.WaitGroup
		sem     = make(chan struct{}, catchUpParallel)
	)
	for _, r := range list {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			changed := p.changedThreads(ctx, r.RoomID, cut.floor, changedSince, opts.Messages, found)
			mu.Lock()
			defer mu.Unlock()
			for _, m := range changed {
				if !skip[m.MessageID] {
					threads = append(threads, m)
				}
			}
		})
	}
	wg.Wait()
	slices.SortFunc(threads, func(a, b apiMessage) int {
		if c := cmpInt(modified(b), modified(a)); c != 0 {
			return c
		}
		return cmpInt(b.MessageID, a.MessageID)
	})
	threads = slices.CompactFunc(threads, func(a, b apiMessage) bool { return a.MessageID == b.MessageID })
	if len(threads) > opts.Threads {
		found.count(func(d *CatchUpDropped) { d.Threads += len(threads) - opts.Threads })
		threads = threads[:opts.Threads]
	}
	for _, t := range threads {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p.missedComments(ctx, t.MessageID, cut.floor, createdSince, found)
		})
	}
	wg.Wait()
}

// changedThreads reads up to limit of room's newest top-level messages and
// returns those with comments that are past floor or modified since since
// (Unix ms).
func (p *Provider) changedThreads(ctx context.Context, room, floor, since int64, limit int, found *missed) []apiMessage {
	var (
		out    []apiMessage
		cursor int64
		read   int
		top    int64
	)
	defer func() { found.saw(top) }()
	for read < limit {
		size := min(maxPage, limit-read)
		list, err := p.roomMessages(ctx, room, listQuery{cursor: cursor, limit: size, backward: true})
		if err != nil {
			var me *model.Error
			if errors.As(err, &me) && (me.Code == model.CodeNotFound || me.Code == model.CodeForbidden) {
				return out // the room went away or out of reach since the room list
			}
			if ctx.Err() == nil {
				p.log.Warn("virola: catch-up could not read a room", "room", room, "err", err)
				found.count(func(d *CatchUpDropped) { d.Failed++ })
			}
			return out
		}
		msgs := strictlyBeyond(list.Messages, cursor, true)
		for _, m := range msgs {
			top = max(top, m.MessageID)
			if m.ParentMessageID == 0 && m.CommentCount > 0 && (m.MessageID > floor || modified(m) >= since || modified(m) == 0) {
				out = append(out, m)
			}
		}
		read += len(msgs)
		if len(list.Messages) < size || len(msgs) == 0 {
			return out // the room was read to its oldest message
		}
		cursor = msgs[0].MessageID
	}
	found.count(func(d *CatchUpDropped) { d.PartialRooms++ })
	return out
}

// missedComments gathers parent's comments past floor created since since
// (Unix ms), reading newest first until it meets an older one.
func (p *Provider) missedComments(ctx context.Context, parent, floor, since int64, found *missed) {
	var cursor int64
	for range catchUpPages {
		list, err := p.comments(ctx, parent, listQuery{cursor: cursor, limit: maxPage, backward: true})
		if err != nil {
			var me *model.Error
			if errors.As(err, &me) && (me.Code == model.CodeNotFound || me.Code == model.CodeForbidden) {
				return // deleted since the room was read
			}
			if ctx.Err() == nil {
				p.log.Warn("virola: catch-up failed", "thread", parent, "err", err)
				found.count(func(d *CatchUpDropped) { d.Failed++ })
			}
			return
		}
		msgs := strictlyBeyond(list.Messages, cursor, true)
		reached := len(list.Messages) < maxPage || len(msgs) == 0
		var keep []apiMessage
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i]
			// createdUtc 0 is unknown: the floor alone decides.
			if m.MessageID <= floor || (m.CreatedUtc != 0 && m.CreatedUtc < since) {
				reached = true
				break
			}
			m.ParentMessageID = parent
			if m.RoomID == 0 {
				m.RoomID = list.RoomID
			}
			keep = append(keep, m)
		}
		found.add(keep)
		if reached {
			return
		}
		cursor = msgs[0].MessageID
	}
	found.count(func(d *CatchUpDropped) { d.Threads++ })
}

// modified is when a message last changed (a comment added, an edit, a read).
func modified(m apiMessage) int64 { return max(m.LastModifiedUtc, m.LastEditedUtc) }

// roomActivity orders rooms for the catch-up: the latest change or message.
func roomActivity(r apiRoom) int64 {
	if r.LastMessage != nil {
		return max(r.LastModifiedUtc, r.LastMessage.CreatedUtc)
	}
	return r.LastModifiedUtc
}

// baseline records the newest comment of a watched thread, so the next
// catch-up starts after it. A thread with no comments yet starts at 0: all of
// its comments will be new.
func (p *Provider) baseline(ctx context.Context, parent int64) {
	list, err := p.comments(ctx, parent, listQuery{limit: 1, backward: true})
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) && me.Code == model.CodeNotFound {
			p.track.forget(parent)
			return
		}
		p.log.Warn("virola: watch baseline failed", "thread", parent, "err", err)
		return
	}
	var newest int64
	for _, m := range list.Messages {
		newest = max(newest, m.MessageID)
	}
	p.track.see(newest)
	p.track.mu.Lock()
	defer p.track.mu.Unlock()
	if e, ok := p.track.byRef[parent]; ok && !e.baselined {
		e.baselined = true
		e.last = max(e.last, newest)
	}
}
