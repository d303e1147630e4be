package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/idempotency"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

// TestOnRedisCluster runs two stores (two gateway instances, each with its
// own client) on a Redis Cluster of three masters. One cluster serves every
// subtest; keys are new on every run.
func TestOnRedisCluster(t *testing.T) {
	cl := redistest.MustStartCluster(t)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	instance := func(t *testing.T) *idempotency.Redis {
		t.Helper()
		s := &idempotency.Redis{Client: cl.NewClient(t), PollInterval: 5 * time.Millisecond}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}

	t.Run("a key sent to both instances posts once", func(t *testing.T) {
		a, b := instance(t), instance(t)
		// Many keys, so they land on every master; each is sent to both
		// instances at once.
		const keys = 20
		var creates [keys]atomic.Int32
		got := make([][2]*model.Comment, keys)
		var wg sync.WaitGroup
		for k := range keys {
			key := idempotency.Key("cred", fmt.Sprintf("%s-%d", run, k))
			for i, s := range []*idempotency.Redis{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := s.Do(context.Background(), key, "fp", func(context.Context) (*model.Comment, error) {
						n := creates[k].Add(1)
						return &model.Comment{ProviderID: "p", Ref: fmt.Sprintf("c%d-%d", k, n), ThreadKind: model.ThreadKindRoom, Markup: model.MarkupPlain}, nil
					})
					if err != nil {
						t.Error(err)
						return
					}
					got[k][i] = c
				}()
			}
		}
		wg.Wait()
		for k := range keys {
			if n := creates[k].Load(); n != 1 {
				t.Errorf("key %d: %d creates, want 1", k, n)
			}
			if a, b := got[k][0], got[k][1]; a == nil || b == nil || a.Ref != b.Ref {
				t.Errorf("key %d: the instances answered %+v and %+v, want one comment", k, a, b)
			}
		}
	})

	t.Run("a key reused with another request is refused on the other instance", func(t *testing.T) {
		a, b := instance(t), instance(t)
		key := idempotency.Key("cred", run+"-reused")
		create := func(context.Context) (*model.Comment, error) {
			return &model.Comment{ProviderID: "p", Ref: "c1", ThreadKind: model.ThreadKindRoom, Markup: model.MarkupPlain}, nil
		}
		if _, err := a.Do(context.Background(), key, "fp", create); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Do(context.Background(), key, "another", create); !model.IsCode(err, model.CodeBadUserInput) {
			t.Fatalf("reuse: %v", err)
		}
	})

	t.Run("a failed create is forgotten on every instance", func(t *testing.T) {
		a, b := instance(t), instance(t)
		key := idempotency.Key("cred", run+"-failed")
		boom := errors.New("upstream down")
		if _, err := a.Do(context.Background(), key, "fp", func(context.Context) (*model.Comment, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		c, err := b.Do(context.Background(), key, "fp", func(context.Context) (*model.Comment, error) { return &model.Comment{Ref: "retried"}, nil })
		if err != nil || c.Ref != "retried" {
			t.Fatalf("retry on the other instance: %+v %v", c, err)
		}
	})
}
