package virola

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// streaming runs Stream in the background and hands its Changes over a
// channel; it stops the stream when the test ends and checks it returned nil.
func streaming(t *testing.T, e *env) <-chan *providers.Change {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *providers.Change, 64)
	done := make(chan error, 1)
	go func() {
		done <- e.p.Stream(ctx, func(ctx context.Context, c *providers.Change) {
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
