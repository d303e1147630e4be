package events_test

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

// Two buses on one Redis stand in for two gateway instances: A subscribes,
// B publishes.
func TestRedisCrossInstanceOnceAndInOrder(t *testing.T) {
	s := redistest.MustStart(t)
	a := newRedisBus(t, s, events.Options{})
	b := newRedisBus(t, s, events.Options{})
	ctx := t.Context()
	// Several subscribers on A share its one reader; each gets every event.
	var subs []*events.Subscription
	for range 3 {
		sub, err := a.Subscribe(ctx, events.Filter{}, "")
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	var ids []string
	published := make(chan struct{})
	go func() {
		defer close(published)
		for n := 1; n <= 200; n++ {
			ev, err := b.Publish(ctx, comment("klink", "r1", n))
			if err != nil {
				t.Error(err)
				return
			}
			ids = append(ids, ev.ID)
		}
	}()
	// Each subscriber reads on its own, as each client connection would.
	got := make([][]*events.Event, len(subs))
	var wg sync.WaitGroup
	for i, sub := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = collect(sub, 200)
		}()
	}
	wg.Wait()
	<-published
	for i, evs := range got {
		if !slices.Equal(texts(evs), seq(1, 200)) {
			t.Fatalf("subscriber %d got %v", i, texts(evs))
		}
		for j, ev := range evs {
			if ev.ID != ids[j] {
				t.Fatalf("subscriber %d event %d has id %s, publisher got %s", i, j, ev.ID, ids[j])
			}
		}
	}
	// The comment survives the trip through Redis intact.
	want := comment("klink", "r1", 200)
	if g := got[0][199].Comment; g.ID() != want.ID() || g.ThreadID() != want.ThreadID() || !g.CreatedAt.Equal(want.CreatedAt) || g.Markup != want.Markup {
		t.Fatalf("comment after the trip: %+v, want %+v", g, want)
	}
	// One more event is the next (and only next) thing each subscriber gets.
	if _, err := b.Publish(ctx, comment("klink", "r1", 201)); err != nil {
		t.Fatal(err)
	}
	for i, sub := range subs {
		if got := texts(receive(t, sub, 1)); got[0] != "201" {
			t.Fatalf("subscriber %d: after 200 came %v, want 201", i, got)
		}
	}
	if st := a.Stats(); st.Delivered != 3*201 || st.Published != 0 || st.Subscribers != 3 {
		t.Fatalf("A's stats %+v", st)
	}
	if st := b.Stats(); st.Published != 201 || st.OutboxDepth != 0 {
		t.Fatalf("B's stats %+v", st)
	}
}

// A Redis restart in the middle of a stream of publishes loses nothing the
// publisher was told was accepted, and duplicates nothing.
func TestRedisRestartLosesNothing(t *testing.T) {
	s := redistest.MustStart(t)
	a := newRedisBus(t, s, events.Options{})
	b := newRedisBus(t, s, events.Options{Outbox: 1000})
	ctx := t.Context()
	sub, err := a.Subscribe(ctx, events.Filter{}, "")
	if err != nil {
		t.Fatal(err)
	}

	// The publisher runs 1..150 without stopping; the test pauses it only
	// around the kill itself. Redis here keeps nothing on disk, so an entry
	// written in the instant before a crash and not yet read by any instance
	// dies with the server: that is Redis's durability (run it with AOF in
	// production), not something a bus can recover, so the test does not
	// crash Redis in that instant.
	var hold sync.Mutex
	queuedWhileDown := make(chan struct{})
	var downCount int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; n <= 150; n++ {
			hold.Lock()
			ev, err := b.Publish(ctx, comment("klink", "r1", n))
			hold.Unlock()
			if err != nil {
				t.Errorf("publish %d: %v", n, err)
				return
			}
			if ev.ID == "" {
				downCount++
				if downCount == 20 {
					close(queuedWhileDown)
				}
			}
		}
	}()

	// The subscriber reads all the time, as a client connection would.
	var mu sync.Mutex
	var received []*events.Event
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(received)
	}
	all := make(chan struct{})
	go func() {
		defer close(all)
		for ev := range sub.C {
			mu.Lock()
			received = append(received, ev)
			n := len(received)
			mu.Unlock()
			if n == 150 {
				return
			}
		}
	}()

	eventually(t, "30 events before the restart", func() bool { return count() >= 30 })
	hold.Lock()
	// Everything B has written so far reaches A before Redis dies.
	n := int(b.Stats().Published)
	eventually(t, "A to read what B wrote", func() bool { return count() >= n })
	s.Kill()
	hold.Unlock()
	<-queuedWhileDown // publishing went on, into B's outbox
	s.Restart()
	select {
	case <-all:
	case <-time.After(wait):
		t.Fatalf("after the restart the subscriber has %d of 150 events (%v)", count(), sub.Err())
	}
	<-done
	got := texts(received)
	if !slices.Equal(got, seq(1, 150)) {
		t.Fatalf("after the restart the subscriber has %v", got)
	}
	fence(t, b, sub, comment("klink", "r1", 151))
	if sub.Err() != nil {
		t.Fatalf("subscription ended: %v", sub.Err())
	}
	if st := b.Stats(); st.OutboxDepth != 0 || st.Published != 151 {
		t.Fatalf("publisher's stats after the restart: %+v", st)
	}

	// A client that resumes from an id of the old stream gets the new
	// stream's events (the old ones died with the server).
	resumed, err := a.Subscribe(ctx, events.Filter{}, received[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// The old stream's first event is gone; the new one starts where the
	// publisher was when Redis died.
	if replayed := texts(receive(t, resumed, 1)); replayed[0] != strconv.Itoa(n+1) {
		t.Fatalf("replay after restart began with %v, want %d", replayed, n+1)
	}
}

// With the outbox full, Publish says so instead of dropping silently.
func TestRedisOutboxFull(t *testing.T) {
	s := redistest.MustStart(t)
	b := newRedisBus(t, s, events.Options{Outbox: 3})
	ctx := t.Context()
	s.Kill()
	// The first publish notices the outage (it waits for its write until the
	// writer finds Redis gone); the next ones queue at once.
	for n := 1; n <= 3; n++ {
		ev, err := b.Publish(ctx, comment("klink", "r1", n))
		if err != nil || ev.ID != "" {
			t.Fatalf("publish %d while down: id %q, err %v; want queued", n, ev.ID, err)
		}
	}
	if d := b.Stats().OutboxDepth; d != 3 {
		t.Fatalf("outbox depth %d, want 3", d)
	}
	if _, err := b.Publish(ctx, comment("klink", "r1", 4)); !errors.Is(err, events.ErrOutboxFull) {
		t.Fatalf("publish beyond the outbox: %v, want ErrOutboxFull", err)
	}
	s.Restart()
	sub, err := b.Subscribe(ctx, events.Filter{}, "0-0")
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(receive(t, sub, 3)); !slices.Equal(got, seq(1, 3)) {
		t.Fatalf("after the restart: %v", got)
	}
	fence(t, b, sub, comment("klink", "r1", 5))
}

// collect is receive for another goroutine: it takes up to n events and
// stops early when the subscription ends or the wait runs out; the caller
// checks what came.
func collect(sub *events.Subscription, n int) []*events.Event {
	var out []*events.Event
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for len(out) < n {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return out
			}
			out = append(out, ev)
		case <-deadline.C:
			return out
		}
	}
	return out
}
