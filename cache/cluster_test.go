package cache

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

// TestOnRedisCluster runs two caches (two gateway instances) on a Redis
// Cluster of three masters, with the client the gateway builds. One cluster
// serves every subtest (starting one takes seconds); each subtest has scopes
// of its own, new on every run.
func TestOnRedisCluster(t *testing.T) {
	cl := redistest.MustStartCluster(t)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	rc := RedisConfig{Addrs: cl.Addrs, Cluster: true}
	side, err := rc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = side.Close() })
	// instance is one gateway's cache on the cluster; with NearTTL on, it is
	// listening for drops when returned.
	instance := func(t *testing.T, o Options) (*Cache, nearEvents) {
		t.Helper()
		rdb, err := rc.NewCacheClient()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		ev := make(nearEvents, 64)
		o.Redis, o.CallTimeout, o.nearHook = rdb, 2*time.Second, ev.hook
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if o.NearTTL != -1 {
			waitNear(t, ev, "near-on")
		}
		return c, ev
	}

	t.Run("entries are shared: read through, refresh, invalidate", func(t *testing.T) {
		ctx := context.Background()
		scope := run + ":shared"
		a, _ := instance(t, Options{NearTTL: -1})
		b, _ := instance(t, Options{NearTTL: -1})
		up := newUpstream("p", 0)
		var refs []string
		for i := range 30 {
			ref := fmt.Sprint("u", i)
			up.addUser(ref, "name "+ref)
			refs = append(refs, ref)
		}
		pa, pb := a.Wrap(up, scope), b.Wrap(up, scope)
		if got := mustUsers(t, pa, append(refs, "ghost")...); len(got) != 30 {
			t.Fatalf("a read %d users, want 30", len(got))
		}
		if got := mustUsers(t, pb, append(refs, "ghost")...); len(got) != 30 || up.userFetches() != 1 {
			t.Fatalf("b read %d users with %d upstream fetches in all; want 30 and 1 (a's)", len(got), up.userFetches())
		}
		// The entries spread over the masters: one read was a pipeline over
		// several nodes.
		if err := side.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			if n := len(m.Keys(ctx, keyPrefix+scope+":*").Val()); n == 0 {
				return fmt.Errorf("master %s holds none of the scope's entries", m.Options().Addr)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}

		up.addUser("u1", "Ann Bee")
		if err := a.Refresh(ctx, scope, []*model.User{{Ref: "u1", Name: "Ann Bee"}}, nil); err != nil {
			t.Fatal(err)
		}
		equalNames(t, mustUsers(t, pb, "u1"), map[string]string{"u1": "Ann Bee"})
		if err := b.Invalidate(ctx, scope, []string{"u2", "ghost"}, nil); err != nil {
			t.Fatal(err)
		}
		up.addUser("ghost", "Now Real")
		equalNames(t, mustUsers(t, pa, "u2", "u3", "ghost"), map[string]string{"u2": "name u2", "u3": "name u3", "ghost": "Now Real"})
		if n := up.userFetches(); n != 2 {
			t.Fatalf("%d upstream fetches, want 2: only the invalidated u2 and ghost fetched again", n)
		}
		if s := a.Stats(); s.FailOpen != 0 {
			t.Errorf("a failed open: %+v", s)
		}
	})

	t.Run("a change on one instance drops the copies on the other", func(t *testing.T) {
		ctx := context.Background()
		scope := run + ":near"
		a, _ := instance(t, Options{TTL: time.Hour, NearTTL: 10 * time.Second})
		b, bEvents := instance(t, Options{TTL: time.Hour, NearTTL: 10 * time.Second})
		up := newUpstream("p", 0)
		up.addUser("u1", "Ann")
		pa, pb := a.Wrap(up, scope), b.Wrap(up, scope)
		for range 3 {
			equalNames(t, mustUsers(t, pb, "u1"), map[string]string{"u1": "Ann"})
		}
		if up.userFetches() != 1 {
			t.Fatalf("%d upstream fetches, want 1", up.userFetches())
		}
		up.addUser("u1", "Ann Bee")
		if err := a.Refresh(ctx, scope, []*model.User{{Ref: "u1", Name: "Ann Bee"}}, nil); err != nil {
			t.Fatal(err)
		}
		waitNear(t, bEvents, "dropped")
		equalNames(t, mustUsers(t, pb, "u1"), map[string]string{"u1": "Ann Bee"})

		// A room's change drops its threads: the room's set of thread keys
		// and the threads live on different masters, and b's in-process
		// copy of the thread goes with them.
		thread := func(p interface {
			Thread(context.Context, model.ThreadKind, string) (*model.Thread, error)
		}) int {
			t.Helper()
			before := up.threadCalls
			if _, err := p.Thread(ctx, model.ThreadKindRoom, "t1@r1"); err != nil {
				t.Fatal(err)
			}
			return up.threadCalls - before
		}
		if n := thread(pb) + thread(pb) + thread(pa); n != 1 {
			t.Fatalf("three checks of a thread made %d upstream calls, want 1", n)
		}
		name := "Renamed"
		if err := a.Refresh(ctx, scope, nil, []*model.Room{{ProviderID: "p", Ref: "r1", Name: &name}}); err != nil {
			t.Fatal(err)
		}
		waitNear(t, bEvents, "dropped")
		if n := thread(pb); n != 1 {
			t.Fatalf("after its room changed on a, b's check of the thread made %d upstream calls, want 1", n)
		}
	})
}
