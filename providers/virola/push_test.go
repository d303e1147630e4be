package virola

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/logtest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// streaming runs Stream in the background and hands its Changes over a
// channel; it stops the stream when the test ends and checks it returned nil.
func streaming(t *testing.T, e *env) <-chan *providers.Change {
	t.Helper()
	return streamingWith(t, e, e.p.Stream)
}

// streamingWith is streaming for any stream of e's server: a factory-built
// instance's, say.
func streamingWith(t *testing.T, e *env, stream providers.StreamFunc) <-chan *providers.Change {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *providers.Change, 64)
	done := make(chan error, 1)
	go func() {
		done <- stream(ctx, func(ctx context.Context, c *providers.Change) {
			select {
			case ch <- c:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Stream returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Stream did not return after cancel")
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := e.s.WaitStreams(wctx, 1); err != nil {
		t.Fatalf("stream never connected: %v", err)
	}
	return ch
}

func next(t *testing.T, ch <-chan *providers.Change) *providers.Change {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no change arrived")
		return nil
	}
}

func TestStreamLiveEvents(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	ch := streaming(t, e)
	bo := e.users["Bo Tan"]

	id := e.comment(t, e.parent, virolatest.Message{UserID: bo, Text: "👋 hi @Sato Yūki"})
	c := next(t, ch)
	if c.Key != fmt.Sprintf("virola:%d:TextMessagesCreated", id) || len(c.Comments) != 1 {
		t.Fatalf("change %+v", c)
	}
	got := c.Comments[0]
	if got.Ref != ref(id) || got.ThreadRef != ref(e.parent) || got.SenderRef != ref(bo) || len(got.Mentions) != 1 ||
		got.Mentions[0].UserRef != ref(e.users["Sato Yūki"]) || got.Mentions[0].Offset != 5 || got.Mentions[0].Length != 10 {
		t.Fatalf("comment %+v mentions %+v", got, got.Mentions)
	}

	// The parent's commentCount update is no comment change: the next change
	// is the edit.
	if err := e.s.EditMessage(id, "👋 hi @Sato Yūki (edited)"); err != nil {
		t.Fatal(err)
	}
	c = next(t, ch)
	if len(c.UpdatedComments) != 1 || c.UpdatedComments[0].Text != "👋 hi @Sato Yūki (edited)" || c.UpdatedComments[0].EditedAt == nil || len(c.Comments) != 0 {
		t.Fatalf("edit change %+v", c)
	}
	if err := e.s.DeleteMessage(id); err != nil {
		t.Fatal(err)
	}
	c = next(t, ch)
	if c.Key != fmt.Sprintf("virola:%d:TextMessageDeleted", id) || len(c.DeletedComments) != 1 || c.DeletedComments[0].Ref != ref(id) || c.DeletedComments[0].ThreadRef != ref(e.parent) {
		t.Fatalf("delete change %+v", c)
	}
	if err := e.s.RenameRoom(e.room, "General 2"); err != nil {
		t.Fatal(err)
	}
	c = next(t, ch)
	if len(c.Rooms) != 1 || c.Rooms[0].Ref != ref(e.room) || *c.Rooms[0].Name != "General 2" {
		t.Fatalf("room change %+v", c)
	}
	if err := e.s.DeleteMessage(e.parent); err != nil {
		t.Fatal(err)
	}
	c = next(t, ch)
	if len(c.DeletedThreads) != 1 || c.DeletedThreads[0] != ref(e.parent) {
		t.Fatalf("thread delete change %+v", c)
	}
	if err := e.s.DeleteRoom(e.room); err != nil {
		t.Fatal(err)
	}
	c = next(t, ch)
	if len(c.DeletedRooms) != 1 || c.DeletedRooms[0] != ref(e.room) {
		t.Fatalf("room delete change %+v", c)
	}
	// The room cache was dropped: the deleted room is gone from look-ups.
	rooms, err := e.p.Rooms(ctxT(t), []string{ref(e.room)})
	if err != nil || len(rooms) != 0 {
		t.Fatalf("rooms after delete %+v %v", rooms, err)
	}
}

func TestStreamCatchesUpAfterReconnect(t *testing.T) {
	for _, inclusive := range []bool{false, true} {
		t.Run(map[bool]string{false: "exclusive cursor", true: "inclusive cursor"}[inclusive], func(t *testing.T) {
			e := newEnv(t, virolatest.Options{InclusiveCursor: inclusive}, Options{})
			quiet, err := e.s.AddMessage(virolatest.Message{RoomID: e.room, Text: "quiet thread"})
			if err != nil {
				t.Fatal(err)
			}
			e.comment(t, quiet, virolatest.Message{Text: "old, before watching"})
			e.p.Watch(ref(quiet))
			ch := streaming(t, e)

			seen := e.comment(t, e.parent, virolatest.Message{Text: "live before the cut"})
			if c := next(t, ch); c.Key != fmt.Sprintf("virola:%d:TextMessagesCreated", seen) {
				t.Fatalf("live change %+v", c)
			}
			// The watched thread's baseline is taken as soon as the stream
			// connects; make sure it is, before comments go missing.
			waitFor(t, func() bool {
				e.p.track.mu.Lock()
				defer e.p.track.mu.Unlock()
				return e.p.track.byRef[quiet] != nil && e.p.track.byRef[quiet].baselined
			})

			// Cut the stream and keep it down while comments are posted.
			e.s.FailNext("GET /api/v1/events", virolatest.Fault{Status: 503, Times: 1 << 30})
			e.s.DropStreams()
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.s.WaitStreams(wctx, 0); err != nil {
				t.Fatal(err)
			}
			var missed []string
			for i := range 3 {
				missed = append(missed, fmt.Sprintf("virola:%d:TextMessagesCreated", e.comment(t, e.parent, virolatest.Message{Text: fmt.Sprint("missed ", i)})))
			}
			missed = append(missed, fmt.Sprintf("virola:%d:TextMessagesCreated", e.comment(t, quiet, virolatest.Message{Text: "missed in the watched thread"})))
			refused := e.s.Calls("GET /api/v1/events")
			waitFor(t, func() bool { return e.s.Calls("GET /api/v1/events") >= refused+2 }) // it keeps retrying
			e.s.ClearFaults()
			if err := e.s.WaitStreams(wctx, 1); err != nil {
				t.Fatal(err)
			}
			live := e.comment(t, e.parent, virolatest.Message{Text: "live after"})

			var keys []string
			for range len(missed) + 1 {
				keys = append(keys, next(t, ch).Key)
			}
			want := append(missed, fmt.Sprintf("virola:%d:TextMessagesCreated", live))
			// Catch-up goes thread by thread in no set order and may itself
			// find the live comment (then its frame is the duplicate dropped),
			// so compare as sets: each exactly once.
			if !sameSet(keys, want) {
				t.Fatalf("keys %v, want %v", keys, want)
			}
			// A duplicate would come before anything posted now.
			sentinel := e.comment(t, quiet, virolatest.Message{Text: "sentinel"})
			if c := next(t, ch); c.Key != fmt.Sprintf("virola:%d:TextMessagesCreated", sentinel) {
				t.Fatalf("extra change %s before the sentinel", c.Key)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s]--; m[s] < 0 {
			return false
		}
	}
	return true
}

// waitFor polls cond until it holds or 5 s pass: for state with no channel to
// wait on (the stream's retries, its baseline).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("condition never held")
		}
	}
}

func TestStreamRejectedTokenKeepsRetrying(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{Token: "revoked"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- e.p.Stream(ctx, func(context.Context, *providers.Change) { t.Error("change from a rejected stream") })
	}()
	waitFor(t, func() bool { return e.s.Calls("GET /api/v1/events") >= 3 })
	if e.s.Streams() != 0 {
		t.Fatal("a revoked token connected")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Stream returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stream did not stop")
	}
}

// hangingUpstream accepts TCP connections, reads what it is sent and never
// answers: an upstream that is up but stuck. read is closed when the first
// connection has sent something (a dial is then mid-handshake); gone is
// closed when that connection is closed by its client.
func hangingUpstream(t *testing.T) (addr string, read, gone <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	readc, gonec := make(chan struct{}), make(chan struct{})
	go func() {
		var first sync.Once
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				buf := make([]byte, 4096)
				_, err := c.Read(buf)
				first.Do(func() {
					close(readc)
					if err == nil {
						_, err = io.Copy(io.Discard, c) // until the client closes it
					}
					close(gonec)
				})
			}()
		}
	}()
	return ln.Addr().String(), readc, gonec
}

// Stream returns as soon as its ctx is done, whatever the dial is waiting
// for: here an upstream that accepts the connection and never answers the
// upgrade (plain) or the TLS handshake (https), which without cancellation
// would hold Stream, and the gateway's shutdown, for handshakeTimeout.
func TestStreamCancelledMidHandshakeReturnsAtOnce(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			addr, read, gone := hangingUpstream(t)
			p, err := New(Options{ID: "vir", BaseURL: scheme + "://" + addr, Token: "t"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- p.Stream(ctx, func(context.Context, *providers.Change) {}) }()

			// Well inside handshakeTimeout, so only cancellation can end it.
			deadline := time.After(handshakeTimeout / 2)
			select {
			case <-read:
			case <-deadline:
				t.Fatal("Stream never dialled the upstream")
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Stream returned %v, want nil", err)
				}
			case <-deadline:
				t.Fatal("Stream still dialling after its ctx was cancelled")
			}
			select {
			case <-gone:
			case <-deadline:
				t.Fatal("the upstream connection was left open")
			}
		})
	}
}

// The factory's stream is Stream itself: edits and deletions reach the
// gateway as they are pushed, not only new comments.
func TestFactoryStreamPassesEveryChange(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	id := e.comment(t, e.parent, virolatest.Message{Text: "to be edited"})
	inst, err := providers.Build(providers.Config{ID: "vir", Kind: "virola", BaseURL: e.s.URL, Token: e.s.Token()}, providers.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *providers.Change, 64)
	done := make(chan error, 1)
	go func() {
		done <- inst.Stream(ctx, func(ctx context.Context, c *providers.Change) {
			select {
			case ch <- c:
			case <-ctx.Done():
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Stream returned %v", err)
		}
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := e.s.WaitStreams(wctx, 1); err != nil {
		t.Fatalf("stream never connected: %v", err)
	}

	if err := e.s.EditMessage(id, "edited"); err != nil {
		t.Fatal(err)
	}
	if c := next(t, ch); len(c.UpdatedComments) != 1 || c.UpdatedComments[0].Text != "edited" {
		t.Fatalf("edit change %+v", c)
	}
	if err := e.s.DeleteMessage(id); err != nil {
		t.Fatal(err)
	}
	if c := next(t, ch); len(c.DeletedComments) != 1 || c.DeletedComments[0].Ref != ref(id) {
		t.Fatalf("delete change %+v", c)
	}
	if err := e.s.DeleteMessage(e.parent); err != nil {
		t.Fatal(err)
	}
	if c := next(t, ch); len(c.DeletedThreads) != 1 || c.DeletedThreads[0] != ref(e.parent) {
		t.Fatalf("thread delete change %+v", c)
	}
}

// outage cuts the events stream and keeps it refused (503) until the
// returned func is called, which waits until the stream has noticed (it is
// retrying), lets it back in and waits until it is connected again.
func outage(t *testing.T, e *env) (reconnect func()) {
	t.Helper()
	e.s.FailNext("GET /api/v1/events", virolatest.Fault{Status: 503, Times: 1 << 30})
	e.s.DropStreams()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if err := e.s.WaitStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}
	refused := e.s.Calls("GET /api/v1/events")
	return func() {
		t.Helper()
		waitFor(t, func() bool { return e.s.Calls("GET /api/v1/events") > refused })
		e.s.ClearFaults()
		if err := e.s.WaitStreams(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
}

// ticking is a server clock a millisecond further on at every reading, so
// the order of the emulator's createdUtc and lastModifiedUtc is the order of
// the test's steps even within one real millisecond.
func ticking() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return time.Now().Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

func (e *env) roomMessage(t *testing.T, room int64, text string) int64 {
	t.Helper()
	id, err := e.s.AddMessage(virolatest.Message{RoomID: room, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func createdKeys(ids ...int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprintf("virola:%d:TextMessagesCreated", id)
	}
	return out
}

// nextKeys takes n changes and returns their keys.
func nextKeys(t *testing.T, ch <-chan *providers.Change, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = next(t, ch).Key
	}
	return keys
}

// expectOnlySentinel posts a comment and requires it to be the next change:
// a duplicate or a stray old comment from the catch-up would come first.
func expectOnlySentinel(t *testing.T, e *env, ch <-chan *providers.Change, parent int64) {
	t.Helper()
	sentinel := e.comment(t, parent, virolatest.Message{Text: "sentinel"})
	if c := next(t, ch); c.Key != createdKeys(sentinel)[0] {
		t.Fatalf("extra change %s before the sentinel", c.Key)
	}
}

// After the events stream comes back, the comments posted while it was down
// arrive in creation order from every room the token can list: in a thread
// the gateway never read or watched, in a new thread, in a room created
// meanwhile; and no comment from before the cut comes again. With no event
// seen before the cut (no id floor), the comments' creation times keep the
// old ones out.
func TestStreamCatchUpCoversThreadsNeverRead(t *testing.T) {
	for _, liveFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "after a live event", false: "with nothing live before the cut"}[liveFirst], func(t *testing.T) {
			e := newEnv(t, virolatest.Options{Now: ticking()}, Options{})
			unread := e.roomMessage(t, e.room, "never read")
			old := virolatest.Message{Text: "old"}
			if !liveFirst {
				// Older than the connection, as comments posted during it
				// would have raised the floor.
				old.Created = time.Now().Add(-time.Hour)
			}
			e.comment(t, unread, old)
			e.comment(t, e.parent, old)
			ch := streaming(t, e)
			if liveFirst {
				live := e.comment(t, e.parent, virolatest.Message{Text: "live"})
				if c := next(t, ch); c.Key != createdKeys(live)[0] {
					t.Fatalf("live change %+v", c)
				}
			}

			reconnect := outage(t, e)
			var want []int64
			want = append(want, e.comment(t, unread, virolatest.Message{Text: "missed 1"}))
			fresh := e.roomMessage(t, e.room, "new during the outage")
			want = append(want, e.comment(t, fresh, virolatest.Message{Text: "missed in a new thread"}))
			room := e.s.AddRoom(virolatest.Room{Name: "Opened during the outage"}).ID
			elsewhere := e.roomMessage(t, room, "in a new room")
			want = append(want, e.comment(t, elsewhere, virolatest.Message{Text: "missed in a new room"}))
			want = append(want, e.comment(t, unread, virolatest.Message{Text: "missed 2"}))
			reconnect()

			var got []*providers.Change
			for range want {
				got = append(got, next(t, ch))
			}
			for i, c := range got {
				if c.Key != createdKeys(want[i])[0] || len(c.Comments) != 1 {
					t.Fatalf("change %d: %+v, want the comments %v in creation order", i, c, want)
				}
			}
			if c := got[2].Comments[0]; c.ThreadRef != ref(elsewhere) || c.Text != "missed in a new room" {
				t.Fatalf("comment from the new room %+v", c)
			}
			expectOnlySentinel(t, e, ch, unread)
		})
	}
}

type syncBuffer = logtest.Buffer

// Past each bound of the catch-up, what is left out is logged with counts
// (and no message text) and passed to OnDropped, and the rest is delivered.
func TestStreamCatchUpBudget(t *testing.T) {
	// Each case posts during the outage into room A (threads t1 older, t2
	// newer, both never read) and, through newRoom, a thread in a room made
	// meanwhile; it returns the comments it expects, in order.
	type world struct {
		e      *env
		t1, t2 int64
	}
	tests := []struct {
		name   string
		opts   CatchUpOptions
		outage func(t *testing.T, w world) []int64
		want   CatchUpDropped
		log    string
	}{
		{
			name: "comments: the newest are kept",
			opts: CatchUpOptions{Comments: 2},
			outage: func(t *testing.T, w world) []int64 {
				w.e.comment(t, w.t1, virolatest.Message{Text: "secret 1"})
				w.e.comment(t, w.t2, virolatest.Message{Text: "secret 2"})
				w.e.comment(t, w.t1, virolatest.Message{Text: "secret 3"})
				a := w.e.comment(t, w.t2, virolatest.Message{Text: "secret 4"})
				b := w.e.comment(t, w.t1, virolatest.Message{Text: "secret 5"})
				return []int64{a, b}
			},
			want: CatchUpDropped{Comments: 3},
			log:  "commentsDropped=3",
		},
		{
			name: "threads: the latest changed is read",
			opts: CatchUpOptions{Threads: 1},
			outage: func(t *testing.T, w world) []int64 {
				a := w.e.comment(t, w.t1, virolatest.Message{Text: "secret 1"})
				w.e.comment(t, w.t2, virolatest.Message{Text: "secret 2"})
				b := w.e.comment(t, w.t1, virolatest.Message{Text: "secret 3"})
				return []int64{a, b}
			},
			want: CatchUpDropped{Threads: 1},
			log:  "threadsUnread=1",
		},
		{
			name: "rooms: the latest active is read",
			opts: CatchUpOptions{Rooms: 1},
			outage: func(t *testing.T, w world) []int64 {
				w.e.comment(t, w.t1, virolatest.Message{Text: "secret 1"})
				room := w.e.s.AddRoom(virolatest.Room{Name: "B"}).ID
				return []int64{w.e.comment(t, w.e.roomMessage(t, room, "in B"), virolatest.Message{Text: "secret 2"})}
			},
			want: CatchUpDropped{Rooms: 1},
			log:  "roomsUnread=1",
		},
		{
			name: "messages: the newest threads of a room are read",
			opts: CatchUpOptions{Messages: 1},
			outage: func(t *testing.T, w world) []int64 {
				w.e.comment(t, w.t1, virolatest.Message{Text: "secret 1"})
				return []int64{w.e.comment(t, w.t2, virolatest.Message{Text: "secret 2"})}
			},
			want: CatchUpDropped{PartialRooms: 1},
			log:  "roomsPartlyRead=1",
		},
		{
			name: "negative rooms: only tracked threads, by choice",
			opts: CatchUpOptions{Rooms: -1},
			outage: func(t *testing.T, w world) []int64 {
				w.e.comment(t, w.t1, virolatest.Message{Text: "secret 1"})
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			e := newEnv(t, virolatest.Options{Now: ticking()}, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
			drops := make(chan CatchUpDropped, 4)
			opts := tt.opts
			opts.OnDropped = func(d CatchUpDropped) { drops <- d }
			e.p.SetCatchUp(opts)
			w := world{e: e, t1: e.roomMessage(t, e.room, "t1"), t2: e.roomMessage(t, e.room, "t2")}
			ch := streaming(t, e)
			live := e.comment(t, e.parent, virolatest.Message{Text: "live"})
			if c := next(t, ch); c.Key != createdKeys(live)[0] {
				t.Fatalf("live change %+v", c)
			}

			reconnect := outage(t, e)
			want := tt.outage(t, w)
			reconnect()
			if got := nextKeys(t, ch, len(want)); !slices.Equal(got, createdKeys(want...)) {
				t.Fatalf("delivered %v, want %v", got, createdKeys(want...))
			}
			expectOnlySentinel(t, e, ch, e.parent) // the catch-up is over

			var got CatchUpDropped
			select {
			case got = <-drops:
			default:
			}
			if got != tt.want {
				t.Fatalf("OnDropped %+v, want %+v", got, tt.want)
			}
			select {
			case d := <-drops:
				t.Fatalf("OnDropped called again with %+v", d)
			default:
			}
			out := logs.String()
			if tt.log == "" {
				if strings.Contains(out, "catch-up") {
					t.Fatalf("catch-up logged with nothing left out:\n%s", out)
				}
				return
			}
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, tt.log) {
				t.Fatalf("log lacks a WARN with %s:\n%s", tt.log, out)
			}
			if strings.Contains(out, "secret") {
				t.Fatalf("log holds message text:\n%s", out)
			}
		})
	}
}

func deletedIn(thread int64, ids ...int64) []providers.CommentRef {
	out := make([]providers.CommentRef, len(ids))
	for i, id := range ids {
		out[i] = providers.CommentRef{ThreadKind: model.ThreadKindMessage, ThreadRef: ref(thread), Ref: ref(id)}
	}
	return out
}

// A parent message deleted takes its comments with it in one
// TextMessageDeleted: the change deletes the thread and each of its comments
// the stream told of, in creation order, and nothing else comes.
func TestStreamDeletedThreadDeletesItsComments(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	other := e.roomMessage(t, e.room, "another thread")
	ch := streaming(t, e)

	var kept []int64
	for _, text := range []string{"a", "b"} {
		id := e.comment(t, e.parent, virolatest.Message{Text: text})
		if c := next(t, ch); c.Key != createdKeys(id)[0] {
			t.Fatalf("live change %+v", c)
		}
		kept = append(kept, id)
	}
	alone := e.comment(t, e.parent, virolatest.Message{Text: "deleted on its own"})
	next(t, ch)
	if err := e.s.DeleteMessage(alone); err != nil {
		t.Fatal(err)
	}
	if c := next(t, ch); !slices.Equal(c.DeletedComments, deletedIn(e.parent, alone)) {
		t.Fatalf("comment delete change %+v", c)
	}

	if err := e.s.DeleteMessage(e.parent); err != nil {
		t.Fatal(err)
	}
	c := next(t, ch)
	if c.Key != fmt.Sprintf("virola:%d:TextMessageDeleted", e.parent) || !slices.Equal(c.DeletedThreads, []string{ref(e.parent)}) ||
		!slices.Equal(c.DeletedComments, deletedIn(e.parent, kept...)) {
		t.Fatalf("thread delete change %+v, want the thread and the comments %v", c, kept)
	}
	expectOnlySentinel(t, e, ch, other)
}

// A room deleted takes its threads and their comments with it in one
// RoomDeleted: the change deletes the room, its threads the stream knows and
// their comments; another room's are untouched.
func TestStreamDeletedRoomDeletesItsComments(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	room := e.s.AddRoom(virolatest.Room{Name: "Doomed"}).ID
	t1, t2 := e.roomMessage(t, room, "t1"), e.roomMessage(t, room, "t2")
	ch := streaming(t, e)

	c1 := e.comment(t, t1, virolatest.Message{Text: "in t1"})
	c2 := e.comment(t, t2, virolatest.Message{Text: "in t2"})
	c3 := e.comment(t, e.parent, virolatest.Message{Text: "elsewhere"})
	if got := nextKeys(t, ch, 3); !slices.Equal(got, createdKeys(c1, c2, c3)) {
		t.Fatalf("live changes %v", got)
	}

	if err := e.s.DeleteRoom(room); err != nil {
		t.Fatal(err)
	}
	c := next(t, ch)
	if !slices.Equal(c.DeletedRooms, []string{ref(room)}) || !slices.Equal(c.DeletedThreads, []string{ref(t1), ref(t2)}) ||
		!slices.Equal(c.DeletedComments, append(deletedIn(t1, c1), deletedIn(t2, c2)...)) {
		t.Fatalf("room delete change %+v", c)
	}

	// The other room's thread still knows its comment.
	if err := e.s.DeleteMessage(e.parent); err != nil {
		t.Fatal(err)
	}
	if c := next(t, ch); !slices.Equal(c.DeletedComments, deletedIn(e.parent, c3)) {
		t.Fatalf("thread delete change %+v", c)
	}
}

// A thread deleted while the stream was down sends no frame ever: the
// catch-up finds it gone and deletes it and the comments the stream told of.
func TestStreamCatchUpDeletesThreadGoneDuringOutage(t *testing.T) {
	e := newEnv(t, virolatest.Options{Now: ticking()}, Options{})
	other := e.roomMessage(t, e.room, "another thread")
	ch := streaming(t, e)
	live := e.comment(t, e.parent, virolatest.Message{Text: "live"})
	if c := next(t, ch); c.Key != createdKeys(live)[0] {
		t.Fatalf("live change %+v", c)
	}

	reconnect := outage(t, e)
	if err := e.s.DeleteMessage(e.parent); err != nil {
		t.Fatal(err)
	}
	reconnect()
	c := next(t, ch)
	if c.Key != fmt.Sprintf("virola:%d:TextMessageDeleted", e.parent) || !slices.Equal(c.DeletedThreads, []string{ref(e.parent)}) ||
		!slices.Equal(c.DeletedComments, deletedIn(e.parent, live)) {
		t.Fatalf("catch-up change %+v", c)
	}
	expectOnlySentinel(t, e, ch, other)
}

// Virola's API lets any message be a thread (the emulator keeps comments
// under room messages): a deleted comment that heads a thread of its own is
// a deleted comment of its parent and a deleted thread with its comments.
func TestChangesDeletedCommentHeadingAThread(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	frame := func(raw string) *frame {
		t.Helper()
		f, err := parseFrame([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ctx := ctxT(t)
	e.p.changes(ctx, frame(`{"type":"TextMessagesCreated","data":{"messages":[
		{"messageId":11,"parentMessageId":10,"roomId":1,"userId":1,"text":"a comment"},
		{"messageId":12,"parentMessageId":11,"roomId":1,"userId":1,"text":"a comment on it"},
		{"messageId":13,"parentMessageId":10,"roomId":1,"userId":1,"text":"a sibling"}]}}`))

	got := e.p.changes(ctx, frame(`{"type":"TextMessageDeleted","data":{"messageId":11,"roomId":1,"parentMessageId":10}}`))
	if len(got) != 1 || !slices.Equal(got[0].DeletedThreads, []string{"11"}) ||
		!slices.Equal(got[0].DeletedComments, append(deletedIn(11, 12), deletedIn(10, 11)...)) {
		t.Fatalf("changes %+v", got)
	}
	got = e.p.changes(ctx, frame(`{"type":"TextMessageDeleted","data":{"messageId":10,"roomId":1,"parentMessageId":0}}`))
	if len(got) != 1 || !slices.Equal(got[0].DeletedThreads, []string{"10"}) || !slices.Equal(got[0].DeletedComments, deletedIn(10, 13)) {
		t.Fatalf("changes %+v", got)
	}
}

// The remembered comments stay within their bound: the least recently used
// thread goes first, and one thread alone keeps its newest.
func TestKnownBound(t *testing.T) {
	var k known
	k.init(3)
	k.add(1, 9, 1)
	k.add(1, 9, 2)
	k.add(2, 9, 3)
	k.add(2, 9, 3) // again: no change
	k.add(2, 9, 4)
	if got := k.take(1); got != nil {
		t.Fatalf("thread 1 kept %v", got)
	}
	if got := k.take(2); !slices.Equal(got, []int64{3, 4}) {
		t.Fatalf("thread 2 %v", got)
	}
	for id := range int64(5) {
		k.add(5, 9, id+1)
	}
	if k.n != 3 {
		t.Fatalf("holding %d ids", k.n)
	}
	threads, ids := k.takeRoom(9)
	if !slices.Equal(threads, []int64{5}) || !slices.Equal(ids[5], []int64{3, 4, 5}) || k.n != 0 {
		t.Fatalf("room 9: %v %v, %d left", threads, ids, k.n)
	}
}

// The factory applies the gateway's catch-up bounds and tells
// OnCatchUpDropped, with the instance id, what a catch-up left out.
func TestFactoryCatchUpBoundsAndDropped(t *testing.T) {
	e := newEnv(t, virolatest.Options{Now: ticking()}, Options{})
	type drop struct {
		provider string
		d        providers.CatchUpDropped
	}
	drops := make(chan drop, 4)
	inst, err := providers.Build(providers.Config{ID: "vir", Kind: "virola", BaseURL: e.s.URL, Token: e.s.Token()}, providers.Deps{
		CatchUp:          providers.CatchUpBounds{Comments: 1},
		OnCatchUpDropped: func(p string, d providers.CatchUpDropped) { drops <- drop{p, d} },
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := streamingWith(t, e, inst.Stream)
	live := e.comment(t, e.parent, virolatest.Message{Text: "live"})
	if c := next(t, ch); c.Key != createdKeys(live)[0] {
		t.Fatalf("live change %+v", c)
	}

	reconnect := outage(t, e)
	var newest int64
	for i := range 3 {
		newest = e.comment(t, e.parent, virolatest.Message{Text: fmt.Sprint("missed ", i)})
	}
	reconnect()
	if c := next(t, ch); c.Key != createdKeys(newest)[0] {
		t.Fatalf("caught up %s, want only the newest %d", c.Key, newest)
	}
	select {
	case got := <-drops:
		if want := (drop{"vir", providers.CatchUpDropped{Comments: 2}}); got != want {
			t.Fatalf("OnCatchUpDropped %+v, want %+v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnCatchUpDropped not called")
	}
}
