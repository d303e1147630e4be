package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// TestBehaviours runs one table of behaviours against both backends: a real
// Redis and the in-memory LRU must answer alike.
func TestBehaviours(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		run  func(t *testing.T, e *env)
	}{
		{"miss then hit", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			up.addUser("u1", "Ana Lee")
			up.addUser("u2", "Zoë Park")
			p := e.c.Wrap(up, "klink:aaaa")

			want := map[string]string{"u1": "Ana Lee", "u2": "Zoë Park"}
			equalNames(t, mustUsers(t, p, "u1", "u2"), want)
			equalNames(t, mustUsers(t, p, "u2", "u1", "u1"), want)
			if n := up.userFetches(); n != 1 {
				t.Fatalf("upstream fetched %d times, want 1", n)
			}
			if s := e.c.Stats(); s.Misses != 2 || s.Hits != 2 || s.FailOpen != 0 {
				t.Fatalf("stats %+v: want 2 misses then 2 hits", s)
			}
		}},
		{"only misses go upstream", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			for _, r := range []string{"a", "b", "c"} {
				up.addUser(r, "name "+r)
			}
			p := e.c.Wrap(up, "s")
			mustUsers(t, p, "a")
			mustUsers(t, p, "a", "b", "c")
			if got := up.userCalls[1]; !slices.Equal(got, []string{"b", "c"}) {
				t.Fatalf("second upstream call asked %q, want only the misses [b c]", got)
			}
		}},
		{"negative caching", Options{NegativeTTL: 400 * time.Millisecond, Jitter: -1}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			up.addUser("u1", "Ana Lee")
			p := e.c.Wrap(up, "s")
			equalNames(t, mustUsers(t, p, "u1", "ghost"), map[string]string{"u1": "Ana Lee"})
			equalNames(t, mustUsers(t, p, "ghost"), map[string]string{})
			if n := up.userFetches(); n != 1 {
				t.Fatalf("upstream fetched %d times, want 1: ghost should be remembered as missing", n)
			}
			if s := e.c.Stats(); s.NegativeHits != 1 {
				t.Fatalf("stats %+v: want 1 negative hit", s)
			}
			k := key("s", kindUser, "ghost")
			if d := e.pttl(t, k); d <= 0 || d > 400*time.Millisecond {
				t.Fatalf("negative entry TTL %v, want NegativeTTL (400ms)", d)
			}
			// A user created upstream is seen once the negative entry expires.
			up.addUser("ghost", "Bo Tan")
			e.expire(t, k, 400*time.Millisecond)
			equalNames(t, mustUsers(t, p, "ghost"), map[string]string{"ghost": "Bo Tan"})
		}},
		{"negative caching off", Options{NegativeTTL: -1}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			p := e.c.Wrap(up, "s")
			mustUsers(t, p, "ghost")
			mustUsers(t, p, "ghost")
			if n := up.userFetches(); n != 2 {
				t.Fatalf("upstream fetched %d times, want 2 with negative caching off", n)
			}
		}},
		{"TTL expiry", Options{TTL: 300 * time.Millisecond, Jitter: -1}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			up.addUser("u1", "Ana Lee")
			p := e.c.Wrap(up, "s")
			mustUsers(t, p, "u1")
			mustUsers(t, p, "u1")
			if n := up.userFetches(); n != 1 {
				t.Fatalf("upstream fetched %d times before expiry, want 1", n)
			}
			up.addUser("u1", "Ana Lee-Okafor")
			e.expire(t, key("s", kindUser, "u1"), 300*time.Millisecond)
			equalNames(t, mustUsers(t, p, "u1"), map[string]string{"u1": "Ana Lee-Okafor"})
			if n := up.userFetches(); n != 2 {
				t.Fatalf("upstream fetched %d times after expiry, want 2", n)
			}
		}},
		{"TTL jitter stays in range and spreads", Options{TTL: 100 * time.Second, Jitter: 0.1}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			var refs []string
			for i := range 40 {
				r := fmt.Sprintf("u%d", i)
				up.addUser(r, "n")
				refs = append(refs, r)
			}
			mustUsers(t, e.c.Wrap(up, "s"), refs...)
			lo, hi := time.Duration(1<<62), time.Duration(0)
			for _, r := range refs {
				d := e.pttl(t, key("s", kindUser, r))
				// Redis's PTTL counts down in real time: allow a few seconds of it.
				if d < 85*time.Second || d > 110*time.Second {
					t.Fatalf("TTL of %s is %v, want 100s ± 10%%", r, d)
				}
				lo, hi = min(lo, d), max(hi, d)
			}
			// 40 uniform draws over a 20 s window: a spread under 2 s would
			// mean the jitter is not applied.
			if hi-lo < 2*time.Second {
				t.Fatalf("TTLs span %v..%v: jitter is not spreading them", lo, hi)
			}
		}},
		{"invalidate drops", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			up.addUser("u1", "Ana Lee")
			up.addRoom("r1", "Launch")
			p := e.c.Wrap(up, "s")
			mustUsers(t, p, "u1")
			if _, err := p.Rooms(context.Background(), []string{"r1"}); err != nil {
				t.Fatal(err)
			}
			up.addUser("u1", "Ana Park")
			up.addRoom("r1", "Launch 🚀")
			if err := e.c.Invalidate(context.Background(), "s", []string{"u1"}, []string{"r1"}); err != nil {
				t.Fatal(err)
			}
			equalNames(t, mustUsers(t, p, "u1"), map[string]string{"u1": "Ana Park"})
			rooms, err := p.Rooms(context.Background(), []string{"r1"})
			if err != nil {
				t.Fatal(err)
			}
			if got := *rooms["r1"].Name; got != "Launch 🚀" {
				t.Fatalf("room after invalidate is %q, want the upstream's new name", got)
			}
			if up.userFetches() != 2 || up.roomFetches() != 2 {
				t.Fatalf("upstream fetches users %d rooms %d, want 2 each", up.userFetches(), up.roomFetches())
			}
		}},
		{"refresh overwrites", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			up.addUser("u1", "Ana Lee")
			up.addRoom("r1", "Launch")
			p := e.c.Wrap(up, "s")
			mustUsers(t, p, "u1")
			renamed := "Launch ✅"
			err := e.c.Refresh(context.Background(), "s",
				[]*model.User{{ProviderID: "klink", Ref: "u1", Name: "Ana Lee (she/her)"}, nil},
				[]*model.Room{{ProviderID: "klink", Ref: "r1", Name: &renamed}})
			if err != nil {
				t.Fatal(err)
			}
			equalNames(t, mustUsers(t, p, "u1"), map[string]string{"u1": "Ana Lee (she/her)"})
			rooms, err := p.Rooms(context.Background(), []string{"r1"})
			if err != nil {
				t.Fatal(err)
			}
			if got := *rooms["r1"].Name; got != renamed {
				t.Fatalf("room is %q, want the refreshed %q", got, renamed)
			}
			if up.userFetches() != 1 || up.roomFetches() != 0 {
				t.Fatalf("upstream fetches users %d rooms %d, want 1 and 0: refreshed entries are served from the cache", up.userFetches(), up.roomFetches())
			}
		}},
		{"one read and one write per batch", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			var refs []string
			for i := range 25 {
				r := fmt.Sprintf("u%d", i)
				if i%5 != 0 {
					up.addUser(r, "n")
				}
				refs = append(refs, r)
			}
			p := e.c.Wrap(up, "s")
			mustUsers(t, p, refs...)
			if g, s := e.calls.gets.Load(), e.calls.sets.Load(); g != 1 || s != 1 {
				t.Fatalf("cold batch: %d reads %d writes, want 1 and 1", g, s)
			}
			mustUsers(t, p, refs...)
			if g, s := e.calls.gets.Load(), e.calls.sets.Load(); g != 2 || s != 1 {
				t.Fatalf("warm batch: %d reads %d writes in all, want 2 and 1", g, s)
			}
			if e.redis != nil {
				if c, pl := e.redis.commands.Load(), e.redis.pipelines.Load(); c != 0 || pl != 3 {
					t.Fatalf("redis saw %d commands and %d pipelines, want 0 and 3 (read, write, read)", c, pl)
				}
			}
		}},
		{"chunks by MaxBatch", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 3)
			var refs []string
			for i := range 8 {
				r := fmt.Sprintf("u%d", i)
				up.addUser(r, "n"+r)
				refs = append(refs, r)
			}
			got := mustUsers(t, e.c.Wrap(up, "s"), refs...)
			if len(got) != 8 {
				t.Fatalf("got %d users, want 8", len(got))
			}
			var asked []string
			for _, call := range up.userCalls {
				if len(call) > 3 {
					t.Fatalf("upstream asked for %d refs, over MaxBatch 3", len(call))
				}
				asked = append(asked, call...)
			}
			slices.Sort(asked)
			if len(up.userCalls) != 3 || !slices.Equal(asked, refs) {
				t.Fatalf("upstream calls %q, want 3 chunks covering each ref once", up.userCalls)
			}
		}},
		{"upstream error is returned and not cached", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			up.addUser("u1", "Ana Lee")
			p := e.c.Wrap(up, "s")
			up.setErr(&model.Error{Code: model.CodeUpstreamRateLimited, Provider: "klink", Message: "slow down", RetryAfter: time.Second})
			_, err := p.Users(context.Background(), []string{"u1"})
			var me *model.Error
			if !errors.As(err, &me) || me.Code != model.CodeUpstreamRateLimited || me.Provider != "klink" {
				t.Fatalf("error %v, want the upstream's UPSTREAM_RATE_LIMITED from klink", err)
			}
			up.setErr(nil)
			equalNames(t, mustUsers(t, p, "u1"), map[string]string{"u1": "Ana Lee"})
			if n := up.userFetches(); n != 2 {
				t.Fatalf("upstream fetched %d times, want 2: a failure must not be cached as not-found", n)
			}
		}},
		{"unreadable entry is a miss", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			up.addUser("u1", "Ana Lee")
			e.rawSet(t, key("s", kindUser, "u1"), []byte(`{"ref":`))
			equalNames(t, mustUsers(t, e.c.Wrap(up, "s"), "u1"), map[string]string{"u1": "Ana Lee"})
			if n := up.userFetches(); n != 1 {
				t.Fatalf("upstream fetched %d times, want 1", n)
			}
		}},
		{"other methods pass through", Options{}, func(t *testing.T, e *env) {
			up := newUpstream("klink", 0)
			p := e.c.Wrap(up, "s")
			ctx := context.Background()
			// Thread is cached (TestThreadLookupsAreCached); listing is not.
			th := &model.Thread{ProviderID: "klink", Kind: model.ThreadKindRoom, Ref: "r1"}
			if _, err := p.ListThreads(ctx, providers.Page{First: 10}); err != nil {
				t.Fatal(err)
			}
			if _, err := p.ListComments(ctx, th, providers.Page{First: 10}); err != nil {
				t.Fatal(err)
			}
			if up.otherCalls != 2 || p.Info() != up.info {
				t.Fatalf("pass-through calls %d, want 2, and Info from the provider", up.otherCalls)
			}
			if e.calls.gets.Load() != 0 {
				t.Fatal("pass-through methods touched the cache")
			}
		}},
		{"scopes never share", Options{}, func(t *testing.T, e *env) {
			credA, credB := newUpstream("klink", 0), newUpstream("klink", 0)
			for i := range 10 {
				r := fmt.Sprintf("u%d", i)
				credA.addUser(r, "seen by A")
				credB.addUser(r, "seen by B")
			}
			credB.addUser("only-b", "B's secret")
			pa, pb := e.c.Wrap(credA, "klink:aaaa"), e.c.Wrap(credB, "klink:bbbb")
			refs := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "only-b"}
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for i := range 40 {
				p, want := pa, "seen by A"
				if i%2 == 1 {
					p, want = pb, "seen by B"
				}
				wg.Go(func() {
					got, err := p.Users(context.Background(), refs)
					if err != nil {
						errs <- err
						return
					}
					for r, u := range got {
						if r == "only-b" {
							if want != "seen by B" {
								errs <- fmt.Errorf("scope A was answered B's only-b")
							}
							continue
						}
						if u.Name != want {
							errs <- fmt.Errorf("%s: got %q, want %q", r, u.Name, want)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			equalNames(t, mustUsers(t, pa, "only-b"), map[string]string{})
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.run(t, b.open(t, tt.opts))
				})
			}
		})
	}
}
