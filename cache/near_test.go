package cache

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/commentgraph/commentgraph/graph/model"
)

// nearEvents collects a cache's near store events for waitNear.
type nearEvents chan string

func (ev nearEvents) hook(event string) {
	select {
	case ev <- event:
	default: // a test that stopped reading does not block the cache
	}
}

// waitNear waits, deadline-bounded, until the cache reports event.
func waitNear(t *testing.T, ev nearEvents, event string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case got := <-ev:
			if got == event {
				return
			}
		case <-deadline.C:
			t.Fatalf("timed out waiting for the near store's %q", event)
		}
	}
}

// openNear is a Redis env whose users and rooms near store is on and
// listening, with its metrics on reg.
func openNear(t *testing.T) (*env, nearEvents, *prometheus.Registry) {
	t.Helper()
	ev := make(nearEvents, 64)
	reg := prometheus.NewRegistry()
	e := openRedis(t, Options{NearTTL: 10 * time.Second, nearHook: ev.hook, Registerer: reg})
	t.Cleanup(func() { _ = e.c.Close() })
	waitNear(t, ev, "near-on")
	return e, ev, reg
}

// metric is the value of the unlabelled metric name on reg; -1 when absent.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	return -1
}

// secondInstance is another gateway's cache on e's Redis, listening too.
func secondInstance(t *testing.T, e *env) (*Cache, nearEvents) {
	t.Helper()
	rdb, err := NewRedisClient(e.server.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	ev := make(nearEvents, 64)
	c, err := New(Options{Redis: rdb, Now: e.clock.Now, CallTimeout: 2 * time.Second, NearTTL: 10 * time.Second, nearHook: ev.hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	waitNear(t, ev, "near-on")
	return c, ev
}

// With Redis, users once read are kept in the process: a repeat costs no
// Redis round trip. A Refresh or Invalidate on one instance drops the copy on
// every instance, so the next read sees the change.
func TestUsersAreKeptInTheProcessUntilAnyInstanceChangesThem(t *testing.T) {
	ctx := context.Background()
	a, aEvents, aMetrics := openNear(t)
	b, bEvents := secondInstance(t, a)
	up := newUpstream("p", 0)
	up.addUser("u1", "Ann")
	pa, pb := a.c.Wrap(up, "scope"), b.Wrap(up, "scope")

	for range 3 {
		equalNames(t, mustUsers(t, pa, "u1", "ghost"), map[string]string{"u1": "Ann"})
	}
	if gets, fetches := a.calls.gets.Load(), up.userFetches(); gets != 1 || fetches != 1 {
		t.Fatalf("3 reads on one instance: %d Redis reads, %d upstream fetches; want 1 and 1", gets, fetches)
	}
	if s := a.c.Stats(); s.Hits != 2 || s.NegativeHits != 2 {
		t.Errorf("near hits not counted as hits: %+v", s)
	}
	// Another credential's scope finds nothing of scope's in the process.
	other := a.c.Wrap(up, "other-scope")
	mustUsers(t, other, "u1")
	if gets, fetches := a.calls.gets.Load(), up.userFetches(); gets != 2 || fetches != 2 {
		t.Fatalf("another scope: %d Redis reads, %d upstream fetches; want 2 and 2", gets, fetches)
	}
	// The second instance reads Redis once, then keeps it too.
	equalNames(t, mustUsers(t, pb, "u1"), map[string]string{"u1": "Ann"})
	equalNames(t, mustUsers(t, pb, "u1"), map[string]string{"u1": "Ann"})
	if fetches := up.userFetches(); fetches != 2 {
		t.Fatalf("second instance fetched upstream: %d fetches", fetches)
	}

	// A webhook on instance a renames u1: a reads the new name at once, b as
	// soon as a's drop reaches it.
	up.addUser("u1", "Ann Bee")
	if err := a.c.Refresh(ctx, "scope", []*model.User{{Ref: "u1", Name: "Ann Bee"}}, nil); err != nil {
		t.Fatal(err)
	}
	equalNames(t, mustUsers(t, pa, "u1"), map[string]string{"u1": "Ann Bee"})
	waitNear(t, bEvents, "dropped")
	equalNames(t, mustUsers(t, pb, "u1"), map[string]string{"u1": "Ann Bee"})

	// A deletion seen on b: a fetches again instead of answering from its copy.
	gets := a.calls.gets.Load()
	if err := b.Invalidate(ctx, "scope", []string{"u1"}, nil); err != nil {
		t.Fatal(err)
	}
	waitNear(t, aEvents, "dropped")
	if got := metric(t, aMetrics, "commentgraph_cache_near_drops_total"); got != 1 {
		t.Errorf("commentgraph_cache_near_drops_total = %v on a, want 1 (b's; its own are not counted)", got)
	}
	mustUsers(t, pa, "u1")
	if a.calls.gets.Load() != gets+1 || up.userFetches() != 3 {
		t.Errorf("after b's Invalidate: a made %d Redis reads and the upstream has %d fetches; want 1 and 3",
			a.calls.gets.Load()-gets, up.userFetches())
	}

	// Past NearTTL a copy is gone and Redis is read again.
	gets = a.calls.gets.Load()
	mustUsers(t, pa, "u1")
	a.clock.Advance(10*time.Second + time.Millisecond)
	mustUsers(t, pa, "u1")
	if got := a.calls.gets.Load() - gets; got != 1 {
		t.Errorf("around NearTTL: %d Redis reads, want 1 (after it)", got)
	}
}

// With its drops subscription down (Redis killed), an instance serves no
// copies, since it could not hear a change: reads fail open to the upstream.
// When Redis is back it listens again and keeps copies again.
func TestUserCopiesAreNotServedWhileDropsCannotBeHeard(t *testing.T) {
	e, ev, reg := openNear(t)
	if got := metric(t, reg, "commentgraph_cache_near_listening"); got != 1 {
		t.Fatalf("commentgraph_cache_near_listening = %v while subscribed, want 1", got)
	}
	up := newUpstream("p", 0)
	up.addUser("u1", "Ann")
	p := e.c.Wrap(up, "scope")
	mustUsers(t, p, "u1")
	mustUsers(t, p, "u1")
	if up.userFetches() != 1 {
		t.Fatalf("%d upstream fetches before the kill, want 1", up.userFetches())
	}

	e.server.Kill()
	waitNear(t, ev, "near-off")
	if got := metric(t, reg, "commentgraph_cache_near_listening"); got != 0 {
		t.Errorf("commentgraph_cache_near_listening = %v with Redis down, want 0", got)
	}
	equalNames(t, mustUsers(t, p, "u1"), map[string]string{"u1": "Ann"})
	if up.userFetches() != 2 {
		t.Fatalf("Redis down: %d upstream fetches, want 2 (the copy must not be served)", up.userFetches())
	}

	e.server.Restart()
	waitNear(t, ev, "near-on")
	if err := e.c.Ping(context.Background()); err != nil {
		t.Fatalf("Redis back: %v", err)
	}
	mustUsers(t, p, "u1") // the restarted Redis is empty: fetched and kept
	gets := e.calls.gets.Load()
	mustUsers(t, p, "u1")
	if e.calls.gets.Load() != gets || up.userFetches() != 3 {
		t.Errorf("listening again: %d Redis reads, %d upstream fetches; want 0 more reads and 3 fetches",
			e.calls.gets.Load()-gets, up.userFetches())
	}
}

// A read that began before a drop may return the value the drop replaced;
// it must not be kept after the drop.
func TestNearStoreKeepsNothingReadBeforeADrop(t *testing.T) {
	clk := newClock()
	n := newNearStore(clk.Now, 10, time.Minute, true)
	ctx := context.Background()
	since := n.generation()
	n.drop([]string{"k"})
	n.keep([]entry{{key: "k", value: []byte("old")}}, since, time.Second)
	if v, _ := n.mem.get(ctx, []string{"k"}); v[0] != nil {
		t.Errorf("kept a value read before the drop: %q", v[0])
	}
	n.keep([]entry{{key: "k", value: []byte("new")}}, n.generation(), time.Second)
	if v, _ := n.mem.get(ctx, []string{"k"}); string(v[0]) != "new" {
		t.Errorf("a value read after the drop: %q, want new", v[0])
	}
	n.reset(false)
	n.keep([]entry{{key: "k2", value: []byte("v")}}, n.generation(), time.Second)
	if v, _ := n.mem.get(ctx, []string{"k", "k2"}); v[0] != nil || v[1] != nil {
		t.Errorf("a store that is not listening keeps or serves: %q", v)
	}
}

// A room changed on one instance drops the other instances' in-process
// copies of the threads that hang off it, not only their copy of the room:
// the next check there asks the upstream for the new title.
func TestRoomChangeOnOneInstanceDropsTheOthersThreadCopies(t *testing.T) {
	ctx := context.Background()
	a, _, _ := openNear(t)
	b, bEvents := secondInstance(t, a)
	up := newUpstream("p", 0)
	pb := b.Wrap(up, "scope")
	check := func() int {
		t.Helper()
		before := up.threadCalls
		if _, err := pb.Thread(ctx, model.ThreadKindRoom, "t1@r1"); err != nil {
			t.Fatal(err)
		}
		return up.threadCalls - before
	}
	check()
	if n := check(); n != 0 {
		t.Fatalf("b's second check made %d upstream calls, want 0", n)
	}
	name := "Renamed"
	if err := a.c.Refresh(ctx, "scope", nil, []*model.Room{{ProviderID: "p", Ref: "r1", Name: &name}}); err != nil {
		t.Fatal(err)
	}
	waitNear(t, bEvents, "dropped")
	if n := check(); n != 1 {
		t.Errorf("after a refreshed room r1, b's check made %d upstream calls, want 1 (its copy of the thread dropped)", n)
	}
}
