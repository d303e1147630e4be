package virola

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
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
// reconnect catches up from there and nothing is emitted twice.
type tracker struct {
	mu    sync.Mutex
	max   int
	seq   uint64
	byRef map[int64]*tracked
	watch chan int64 // new watches for a running Stream to baseline
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
// connected, catches up on every thread it has seen or been told to Watch
// through the comments endpoint, emitting what it missed; nothing is emitted
// twice. emit runs on Stream's goroutine, one Change at a time. Call Stream
// once per Provider.
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
	if t, ok := p.client.Transport.(*http.Transport); ok && t != nil {
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
	conn.SetReadLimit(maxFrame)
	deadline := func() { _ = conn.SetReadDeadline(time.Now().Add(2 * p.opts.PingInterval)) }
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
		var users *userList
		for i := range f.Messages {
			m := &f.Messages[i]
			if m.MessageID <= 0 {
				continue
			}
			if m.ParentMessageID == 0 {
				// A room message: a thread (new, or its comment count or text
				// changed). Remember its room and title for Thread.
				p.rememberThread(m.MessageID, threadInfo{room: m.RoomID, title: title(m.Text)})
				continue
			}
			if f.Type == evCreated && !p.track.advance(m.ParentMessageID, m.MessageID) {
				continue // already emitted while catching up
			}
			if users == nil {
				users = p.eventUsers(ctx)
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
		ch := &providers.Change{Key: "virola:" + ref(d.MessageID) + ":" + evDeleted}
		if d.ParentMessageID == 0 {
			p.track.forget(d.MessageID)
			ch.DeletedThreads = []string{ref(d.MessageID)}
		} else {
			ch.DeletedComments = []providers.CommentRef{{ThreadKind: model.ThreadKindMessage, ThreadRef: ref(d.ParentMessageID), Ref: ref(d.MessageID)}}
		}
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
		out = append(out, &providers.Change{Key: "virola:room:" + ref(f.RoomID) + ":" + evRoomDeleted, DeletedRooms: []string{ref(f.RoomID)}})
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

// catchUpPages bounds how many pages of missed comments one thread is read
// for after a reconnect.
const catchUpPages = 10

// catchUp emits, for every tracked thread, the comments newer than the last
// one seen, and baselines the watched threads not seen yet.
func (p *Provider) catchUp(ctx context.Context, emit func(context.Context, *providers.Change)) {
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
	for _, w := range work {
		if ctx.Err() != nil {
			return
		}
		if !w.baselined {
			p.baseline(ctx, w.parent)
			continue
		}
		p.catchUpThread(ctx, w.parent, w.last, emit)
	}
}

func (p *Provider) catchUpThread(ctx context.Context, parent, last int64, emit func(context.Context, *providers.Change)) {
	var users *userList
	for range catchUpPages {
		list, err := p.comments(ctx, parent, listQuery{cursor: last, limit: maxPage})
		if err != nil {
			var me *model.Error
			if errors.As(err, &me) && me.Code == model.CodeNotFound {
				p.track.forget(parent) // the thread is gone
				return
			}
			p.log.Warn("virola: catch-up failed", "thread", parent, "err", err)
			return
		}
		msgs := strictlyBeyond(list.Messages, last, false)
		for i := range msgs {
			m := &msgs[i]
			m.ParentMessageID = parent
			if !p.track.advance(parent, m.MessageID) {
				continue
			}
			if users == nil {
				users = p.eventUsers(ctx)
			}
			emit(ctx, &providers.Change{Key: createdKey(m.MessageID), Comments: []*model.Comment{p.toComment(m, users)}})
			last = m.MessageID
		}
		if len(list.Messages) < maxPage {
			return
		}
	}
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
	p.track.mu.Lock()
	defer p.track.mu.Unlock()
	if e, ok := p.track.byRef[parent]; ok && !e.baselined {
		e.baselined = true
		e.last = max(e.last, newest)
	}
}
