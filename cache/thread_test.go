package cache

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// A thread's metadata and existence are cached like users and rooms; a thread
// that does not exist is remembered briefly; a malformed ref is not cached.
func TestThreadLookupsAreCached(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := b.open(t, Options{})
			up := newUpstream("p", 0)
			p := e.c.Wrap(up, "scope")
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				th, err := p.Thread(ctx, model.ThreadKindRoom, "r1")
				if err != nil || th.Title == nil || *th.Title != "Title of r1" || th.Kind != model.ThreadKindRoom {
					t.Fatalf("Thread: %+v %v", th, err)
				}
			}
			// Same ref, another kind: another thread.
			if _, err := p.Thread(ctx, model.ThreadKindMessage, "r1"); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if _, err := p.Thread(ctx, model.ThreadKindRoom, "missing-1"); !model.IsCode(err, model.CodeNotFound) {
					t.Fatalf("missing thread: %v", err)
				}
				if _, err := p.Thread(ctx, model.ThreadKindRoom, "bad-1"); !model.IsCode(err, model.CodeBadUserInput) {
					t.Fatalf("bad ref: %v", err)
				}
			}
			// r1 once, r1 as MESSAGE once, missing once (then negative), bad twice.
			if got := up.threadCalls; got != 5 {
				t.Errorf("%d upstream Thread calls, want 5", got)
			}
		})
	}
}

// With Redis, a thread once read is kept in the process for ThreadNearTTL:
// repeated checks cost no Redis round trip and no upstream call, until the
// near entry expires and the check reads Redis again. Scopes stay apart, a
// not-found is kept too, and -1 turns it off.
func TestThreadsAreKeptInTheProcessInFrontOfRedis(t *testing.T) {
	ctx := context.Background()
	t.Run("kept", func(t *testing.T) {
		e := openRedis(t, Options{ThreadNearTTL: 5 * time.Second})
		up := newUpstream("p", 0)
		p := e.c.Wrap(up, "scope")
		for range 3 {
			if th, err := p.Thread(ctx, model.ThreadKindRoom, "r1"); err != nil || *th.Title != "Title of r1" {
				t.Fatalf("Thread: %+v %v", th, err)
			}
			if _, err := p.Thread(ctx, model.ThreadKindRoom, "missing-1"); !model.IsCode(err, model.CodeNotFound) {
				t.Fatalf("missing thread: %v", err)
			}
		}
		if gets, calls := e.calls.gets.Load(), up.threadCalls; gets != 2 || calls != 2 {
			t.Errorf("3 rounds of 2 threads: %d Redis reads and %d upstream calls, want 2 and 2 (the first round's)", gets, calls)
		}
		if s := e.c.Stats(); s.Hits != 2 || s.NegativeHits != 2 {
			t.Errorf("near hits not counted as hits: %+v", s)
		}

		// Another scope (another credential) finds nothing of scope's.
		other := e.c.Wrap(up, "other-scope")
		if _, err := other.Thread(ctx, model.ThreadKindRoom, "r1"); err != nil {
			t.Fatal(err)
		}
		if gets, calls := e.calls.gets.Load(), up.threadCalls; gets != 3 || calls != 3 {
			t.Errorf("another scope: %d Redis reads and %d upstream calls, want 3 and 3", gets, calls)
		}

		// Past ThreadNearTTL the check reads Redis again, which still has it.
		e.clock.Advance(5*time.Second + time.Millisecond)
		if _, err := p.Thread(ctx, model.ThreadKindRoom, "r1"); err != nil {
			t.Fatal(err)
		}
		if gets, calls := e.calls.gets.Load(), up.threadCalls; gets != 4 || calls != 3 {
			t.Errorf("after the near TTL: %d Redis reads and %d upstream calls, want 4 and 3", gets, calls)
		}
	})
	t.Run("off", func(t *testing.T) {
		e := openRedis(t, Options{ThreadNearTTL: -1})
		up := newUpstream("p", 0)
		p := e.c.Wrap(up, "scope")
		for range 3 {
			if _, err := p.Thread(ctx, model.ThreadKindRoom, "r1"); err != nil {
				t.Fatal(err)
			}
		}
		if gets, calls := e.calls.gets.Load(), up.threadCalls; gets != 3 || calls != 1 {
			t.Errorf("near cache off: %d Redis reads and %d upstream calls, want 3 and 1", gets, calls)
		}
	})
}

// A pushed change to a room (Refresh or Invalidate) drops the cached threads
// that hang off it, in the scope it came from only, so the next check asks
// the upstream for the thread's new title; other rooms' threads stay cached.
// With Redis this includes the in-process copies of the threads.
func TestRoomChangeDropsItsThreads(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := b.open(t, Options{TTL: time.Hour})
			up := newUpstream("p", 0)
			p, other := e.c.Wrap(up, "scope"), e.c.Wrap(up, "other-credential")
			refs := []string{"t1@r1", "t2@r1", "t3@r2", "t4"}
			check := func(p providers.Provider, refs ...string) int {
				t.Helper()
				before := up.threadCalls
				for _, r := range refs {
					if _, err := p.Thread(ctx, model.ThreadKindRoom, r); err != nil {
						t.Fatal(err)
					}
				}
				return up.threadCalls - before
			}
			check(p, refs...)
			check(other, "t1@r1")
			if n := check(p, refs...); n != 0 {
				t.Fatalf("warm checks made %d upstream calls, want 0", n)
			}

			name := "Renamed"
			if err := e.c.Refresh(ctx, "scope", nil, []*model.Room{{ProviderID: "p", Ref: "r1", Name: &name}}); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				p    providers.Provider
				ref  string
				want int
			}{
				{p, "t1@r1", 1}, {p, "t2@r1", 1}, {p, "t3@r2", 0}, {p, "t4", 0},
				{other, "t1@r1", 0}, // another scope's copy is not this push's
				{p, "t1@r1", 0},     // fetched again, cached again
			} {
				if n := check(tc.p, tc.ref); n != tc.want {
					t.Errorf("after room r1 was refreshed, checking %s made %d upstream calls, want %d", tc.ref, n, tc.want)
				}
			}

			if err := e.c.Invalidate(ctx, "scope", nil, []string{"r2"}); err != nil {
				t.Fatal(err)
			}
			if n := check(p, "t3@r2"); n != 1 {
				t.Errorf("after room r2 was dropped, checking t3@r2 made %d upstream calls, want 1", n)
			}
			if n := check(p, "t1@r1", "t2@r1", "t4"); n != 0 {
				t.Errorf("dropping r2 made %d other threads be fetched again, want 0", n)
			}
		})
	}
}

// A room's set of cached threads keeps at most max members, so a busy room's
// set does not grow for as long as the room is used; in memory the oldest
// go first.
func TestRoomThreadSetsAreBounded(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := b.open(t, Options{})
			k := key("scope", kindRoomThreads, "r1")
			var ms []member
			for i := range 5 {
				ms = append(ms, member{key: k, member: fmt.Sprint("t", i), ttl: time.Minute, max: 3})
			}
			// Two at a time, then the rest in one call: bounded either way.
			for _, batch := range [][]member{ms[:2], ms[2:]} {
				if err := e.c.store.addMembers(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			got, err := e.c.store.members(ctx, []string{k, key("scope", kindRoomThreads, "r2")})
			if err != nil {
				t.Fatal(err)
			}
			if len(got[0]) != 3 || len(got[1]) != 0 {
				t.Fatalf("members = %q, want 3 in r1's set and none in r2's", got)
			}
			if b.name == "memory" && !slices.Equal(got[0], []string{"t2", "t3", "t4"}) {
				t.Errorf("memory kept %q, want the newest three", got[0])
			}
		})
	}
}
