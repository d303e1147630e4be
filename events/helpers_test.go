package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

// wait bounds every wait for an event; generous because -race on a shared
// 2-core machine is slow, and a passing test never waits this long.
const wait = 20 * time.Second

// comment makes the n-th test comment in a provider's room thread; Text
// carries n so tests can tell comments apart.
func comment(provider, thread string, n int) *model.Comment {
	return &model.Comment{
		ProviderID: provider, ThreadKind: model.ThreadKindRoom, ThreadRef: thread,
		Ref: fmt.Sprintf("c%d", n), Text: fmt.Sprintf("%d", n), Body: fmt.Sprintf("%d", n),
		Markup: model.MarkupPlain, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func threadID(provider, thread string) string {
	return model.ThreadID(provider, model.ThreadKindRoom, thread)
}

// receive takes n events from sub, failing the test if they do not arrive
// in time or the subscription ends first.
func receive(t *testing.T, sub *events.Subscription, n int) []*events.Event {
	t.Helper()
	out := make([]*events.Event, 0, n)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for len(out) < n {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(out), n, sub.Err())
			}
			out = append(out, ev)
		case <-deadline.C:
			t.Fatalf("received %d of %d events within %v", len(out), n, wait)
		}
	}
	return out
}

// texts lists the events' comment texts.
func texts(evs []*events.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Comment.Text
	}
	return out
}

// seq is the texts "from".."to".
func seq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%d", i))
	}
	return out
}

// fence publishes a marker and checks it is the next event sub receives: no
// stray or duplicate event was queued ahead of it.
func fence(t *testing.T, pub events.Bus, sub *events.Subscription, c *model.Comment) {
	t.Helper()
	if _, err := pub.Publish(context.Background(), c); err != nil {
		t.Fatalf("publish fence: %v", err)
	}
	got := receive(t, sub, 1)
	if got[0].Comment.Text != c.Text {
		t.Fatalf("after the expected events came %q, want only the fence %q", got[0].Comment.Text, c.Text)
	}
}

// waitEnded waits for sub's channel to close and returns Err.
func waitEnded(t *testing.T, sub *events.Subscription) error {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		select {
		case _, ok := <-sub.C:
			if !ok {
				return sub.Err()
			}
		case <-deadline.C:
			t.Fatalf("subscription still open after %v", wait)
		}
	}
}

// eventually polls cond until it holds or the deadline passes: for state
// that has no channel to wait on (a lease expiring inside Redis).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, wait)
		}
	}
}

func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
}

// redisClient connects to s for the test's duration.
func redisClient(t *testing.T, s *redistest.Server) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Fail fast while the server is down in restart tests; the bus's own
	// backoff does the waiting.
	opt.MaxRetries = 1
	opt.DialTimeout = time.Second
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newRedisBus opens a bus (one "gateway instance") on s with its own client.
func newRedisBus(t *testing.T, s *redistest.Server, opts events.Options) *events.Redis {
	t.Helper()
	opts.MinBackoff, opts.MaxBackoff = 10*time.Millisecond, 100*time.Millisecond
	opts.ReadBlock = 200 * time.Millisecond
	b, err := events.NewRedis(redisClient(t, s), opts)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// pair is a publishing and a subscribing bus: the same memory bus, or two
// Redis buses on one server standing in for two gateway instances.
type pair struct {
	pub, sub events.Bus
}

type busKind struct {
	name string
	open func(t *testing.T, opts events.Options) pair
}

func busKinds() []busKind {
	return []busKind{
		{"memory", func(t *testing.T, opts events.Options) pair {
			b, err := events.NewMemory(opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return pair{b, b}
		}},
		{"redis", func(t *testing.T, opts events.Options) pair {
			s := redistest.MustStart(t)
			return pair{newRedisBus(t, s, opts), newRedisBus(t, s, opts)}
		}},
	}
}
