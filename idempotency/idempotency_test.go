package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/idempotency"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

func stores(t *testing.T) map[string]func() idempotency.Store {
	r := redistest.MustStart(t)
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	// Two Redis stores on one server stand for two gateway instances.
	shared := &idempotency.Redis{Client: client, PollInterval: 5 * time.Millisecond}
	return map[string]func() idempotency.Store{
		"memory": func() idempotency.Store { return &idempotency.Memory{} },
		"redis":  func() idempotency.Store { return shared },
	}
}

func TestSameKeyCreatesOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := mk()
			key := idempotency.Key("cred", "m-"+name)
			var creates atomic.Int32
			create := func(context.Context) (*model.Comment, error) {
				creates.Add(1)
				time.Sleep(20 * time.Millisecond) // the upstream write takes a while
				return &model.Comment{ProviderID: "p", Ref: fmt.Sprint("c", creates.Load()), ThreadKind: model.ThreadKindRoom, Markup: model.MarkupPlain}, nil
			}
			var wg sync.WaitGroup
			refs := make([]string, 8)
			for i := range refs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := s.Do(context.Background(), key, "fp", create)
					if err != nil {
						t.Error(err)
						return
					}
					refs[i] = c.Ref
				}()
			}
			wg.Wait()
			if creates.Load() != 1 {
				t.Errorf("%d creates, want 1", creates.Load())
			}
			for _, r := range refs {
				if r != refs[0] {
					t.Errorf("callers got different comments: %v", refs)
				}
			}
			if _, err := s.Do(context.Background(), key, "other", create); !model.IsCode(err, model.CodeBadUserInput) {
				t.Errorf("reuse with another request: %v", err)
			}
		})
	}
}

func TestFailedCreateIsForgotten(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := mk()
			key := idempotency.Key("cred", "fail-"+name)
			boom := errors.New("upstream down")
			if _, err := s.Do(context.Background(), key, "fp", func(context.Context) (*model.Comment, error) { return nil, boom }); !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			c, err := s.Do(context.Background(), key, "fp", func(context.Context) (*model.Comment, error) {
				return &model.Comment{Ref: "retried"}, nil
			})
			if err != nil || c.Ref != "retried" {
				t.Errorf("retry after failure: %v %v", c, err)
			}
		})
	}
}

func TestKeysAreScopedByCredential(t *testing.T) {
	if idempotency.Key("a", "m-1") == idempotency.Key("b", "m-1") {
		t.Error("two credentials share an idempotency key")
	}
}
