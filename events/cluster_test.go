package events_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

// TestOnRedisCluster runs the bus and the leases on a Redis Cluster of three
// masters, each instance with a client of its own. One cluster serves every
// subtest (starting one takes seconds); each subtest has a stream and keys of
// its own, new on every run, so none sees another's events.
func TestOnRedisCluster(t *testing.T) {
	cl := redistest.MustStartCluster(t)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	// instance is one gateway's bus on the cluster, on the subtest's stream.
	instance := func(t *testing.T) *events.Redis {
		t.Helper()
		b, err := events.NewRedis(cl.NewClient(t), events.Options{
			Stream:     "cg:test:{" + run + ":" + t.Name() + "}",
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, ReadBlock: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("NewRedis: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}

	t.Run("published on one instance, received on another", func(t *testing.T) {
		a, b := instance(t), instance(t)
		sub, err := a.Subscribe(t.Context(), events.Filter{}, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for n := 1; n <= 50; n++ {
			ev, err := b.Publish(t.Context(), comment("klink", "r1", n))
			if err != nil || ev.ID == "" {
				t.Fatalf("publish %d: %+v, %v", n, ev, err)
			}
			ids = append(ids, ev.ID)
		}
		got := receive(t, sub, 50)
		if !slices.Equal(texts(got), seq(1, 50)) {
			t.Fatalf("got %v", texts(got))
		}
		for i, ev := range got {
			if ev.ID != ids[i] {
				t.Fatalf("event %d has id %s, the publisher got %s", i, ev.ID, ids[i])
			}
		}
	})

	t.Run("PublishOnce publishes a key once across instances", func(t *testing.T) {
		a, b := instance(t), instance(t)
		sub, err := a.Subscribe(t.Context(), events.Filter{}, "")
		if err != nil {
			t.Fatal(err)
		}
		// Many keys, so their guards would land on every master were they not
		// tagged with the stream's slot.
		for n := 1; n <= 20; n++ {
			key := fmt.Sprintf("delivery-%s-%d", run, n)
			if _, published, err := b.PublishOnce(t.Context(), key, comment("aelyst", "c1", n)); err != nil || !published {
				t.Fatalf("first PublishOnce of %s: published %v, %v", key, published, err)
			}
			if _, published, err := a.PublishOnce(t.Context(), key, comment("aelyst", "c1", n)); err != nil || published {
				t.Fatalf("second PublishOnce of %s, on the other instance: published %v, %v", key, published, err)
			}
		}
		if got := texts(receive(t, sub, 20)); !slices.Equal(got, seq(1, 20)) {
			t.Fatalf("got %v", got)
		}
		fence(t, b, sub, comment("aelyst", "c1", 21))
	})

	t.Run("a subscription resumes after the event it names", func(t *testing.T) {
		a, b := instance(t), instance(t)
		var ids []string
		for n := 1; n <= 5; n++ {
			ev, err := b.Publish(t.Context(), comment("virola", "t1", n))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
		}
		sub, err := a.Subscribe(t.Context(), events.Filter{}, ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Publish(t.Context(), comment("virola", "t1", 6)); err != nil {
			t.Fatal(err)
		}
		if got := texts(receive(t, sub, 4)); !slices.Equal(got, seq(3, 6)) {
			t.Fatalf("resumed after event 2, got %v", got)
		}
	})

	t.Run("a stream without a hash tag is refused", func(t *testing.T) {
		_, err := events.NewRedis(cl.NewClient(t), events.Options{Stream: "cg:test:" + run + ":untagged"})
		if err == nil || !strings.Contains(err.Error(), "hash tag") {
			t.Fatalf("NewRedis: %v", err)
		}
	})

	t.Run("one holder per lease among instances", func(t *testing.T) {
		a, err := events.NewRedisLeaser(cl.NewClient(t), "cg:v1:lease:")
		if err != nil {
			t.Fatal(err)
		}
		b, err := events.NewRedisLeaser(cl.NewClient(t), "cg:v1:lease:")
		if err != nil {
			t.Fatal(err)
		}
		// Both instances race for 30 keys, which spread over the masters.
		leasers := []events.Leaser{a, b}
		held := make([][]bool, len(leasers))
		var wg sync.WaitGroup
		for i, l := range leasers {
			held[i] = make([]bool, 30)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range held[i] {
					ok, err := l.Acquire(context.Background(), fmt.Sprintf("poll:%s:%d", run, k), time.Minute)
					if err != nil {
						t.Error(err)
					}
					held[i][k] = ok
				}
			}()
		}
		wg.Wait()
		for k := range held[0] {
			if held[0][k] == held[1][k] {
				t.Fatalf("key %d: held by A %v, by B %v; want exactly one", k, held[0][k], held[1][k])
			}
			holder, other := leasers[0], leasers[1]
			if held[1][k] {
				holder, other = other, holder
			}
			key := fmt.Sprintf("poll:%s:%d", run, k)
			if ok, err := other.Renew(t.Context(), key, time.Minute); err != nil || ok {
				t.Fatalf("key %d: the other instance renewed: %v %v", k, ok, err)
			}
			if ok, err := holder.Renew(t.Context(), key, time.Minute); err != nil || !ok {
				t.Fatalf("key %d: the holder could not renew: %v %v", k, ok, err)
			}
			if err := holder.Release(t.Context(), key); err != nil {
				t.Fatal(err)
			}
			if ok, err := other.Acquire(t.Context(), key, time.Minute); err != nil || !ok {
				t.Fatalf("key %d: not free after release: %v %v", k, ok, err)
			}
		}
	})
}
