package cache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

// waiters is how many look-ups are waiting on the flight for key.
func waiters(c *Cache, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.inflight[key]; ok {
		return f.waiters
	}
	return 0
}

func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestSingleflight(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("20 requests for one missing user make one fetch", func(t *testing.T) {
				e := b.open(t, Options{})
				up := newUpstream("klink", 0)
				up.addUser("u1", "Sato Yūki")
				up.gate, up.entered = make(chan struct{}), make(chan struct{}, 1)
				p := e.c.Wrap(up, "s")

				var wg sync.WaitGroup
				results := make([]map[string]*model.User, 20)
				errs := make([]error, 20)
				for i := range 20 {
					wg.Go(func() { results[i], errs[i] = p.Users(context.Background(), []string{"u1"}) })
				}
				receive(t, up.entered, "the upstream fetch")
				waitFor(t, "19 look-ups to join the fetch", func() bool { return waiters(e.c, key("s", kindUser, "u1")) == 19 })
				close(up.gate)
				wg.Wait()

				for i := range 20 {
					if errs[i] != nil || results[i]["u1"] == nil || results[i]["u1"].Name != "Sato Yūki" {
						t.Fatalf("request %d: %v %v", i, results[i], errs[i])
					}
				}
				if n := up.userFetches(); n != 1 {
					t.Fatalf("upstream fetched %d times, want 1", n)
				}
			})

			t.Run("overlapping batches share only the common key", func(t *testing.T) {
				e := b.open(t, Options{})
				up := newUpstream("klink", 0)
				for _, r := range []string{"a", "b", "c"} {
					up.addUser(r, "name "+r)
				}
				up.gate, up.entered = make(chan struct{}), make(chan struct{}, 2)
				p := e.c.Wrap(up, "s")

				var wg sync.WaitGroup
				var first, second map[string]*model.User
				wg.Go(func() { first, _ = p.Users(context.Background(), []string{"a", "b"}) })
				receive(t, up.entered, "the first fetch")
				wg.Go(func() { second, _ = p.Users(context.Background(), []string{"b", "c"}) })
				receive(t, up.entered, "the second fetch")
				waitFor(t, "the second look-up to wait on b", func() bool { return waiters(e.c, key("s", kindUser, "b")) == 1 })
				close(up.gate)
				wg.Wait()

				equalNames(t, names(first), map[string]string{"a": "name a", "b": "name b"})
				equalNames(t, names(second), map[string]string{"b": "name b", "c": "name c"})
				calls := up.userCalls
				if len(calls) != 2 || !slices.Equal(calls[0], []string{"a", "b"}) || !slices.Equal(calls[1], []string{"c"}) {
					t.Fatalf("upstream calls %q, want [a b] then [c]", calls)
				}
			})

			t.Run("a waiter outlives the fetch it joined", func(t *testing.T) {
				e := b.open(t, Options{})
				up := newUpstream("klink", 0)
				up.addUser("u1", "Chidi Okafor")
				up.gate, up.entered = make(chan struct{}), make(chan struct{}, 1)
				p := e.c.Wrap(up, "s")

				ownerCtx, cancelOwner := context.WithCancel(context.Background())
				defer cancelOwner()
				ownerErr := make(chan error, 1)
				go func() {
					_, err := p.Users(ownerCtx, []string{"u1"})
					ownerErr <- err
				}()
				receive(t, up.entered, "the owner's fetch")
				var got map[string]*model.User
				var gotErr error
				done := make(chan struct{})
				go func() {
					got, gotErr = p.Users(context.Background(), []string{"u1"})
					close(done)
				}()
				waitFor(t, "the waiter to join", func() bool { return waiters(e.c, key("s", kindUser, "u1")) == 1 })

				cancelOwner()
				if err := <-ownerErr; !errors.Is(err, context.Canceled) {
					t.Fatalf("owner got %v, want context.Canceled", err)
				}
				receive(t, up.entered, "the waiter's own fetch")
				close(up.gate)
				<-done
				if gotErr != nil || got["u1"] == nil || got["u1"].Name != "Chidi Okafor" {
					t.Fatalf("waiter got %v %v, want Chidi Okafor from its own fetch", got, gotErr)
				}
				if n := up.userFetches(); n != 2 {
					t.Fatalf("upstream fetched %d times, want 2", n)
				}
			})
		})
	}
}
