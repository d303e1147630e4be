package poller_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/poller"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

const room = "3f1c2a9e-0000-4000-8000-00000000000a"

type sink struct {
	mu   sync.Mutex
	seen []string
	got  chan struct{}
}

func (s *sink) publish(_ context.Context, cs []*model.Comment) error {
	s.mu.Lock()
	for _, c := range cs {
		s.seen = append(s.seen, c.Text)
	}
	s.mu.Unlock()
	select {
	case s.got <- struct{}{}:
	default:
	}
	return nil
}

func (s *sink) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		if len(s.seen) >= n {
			out := append([]string(nil), s.seen...)
			s.mu.Unlock()
			return out
		}
		s.mu.Unlock()
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("saw %v, want %d comments", s.seen, n)
		}
	}
}

func TestPollerPublishesOnlyNewCommentsInOrder(t *testing.T) {
	k := klinktest.NewServer(klinktest.Options{})
	defer k.Close()
	k.AddUser("u1", "Ana Lee")
	k.AddRoom(room, "Jane")
	k.AddComment(room, "u1", "old, before the poller started")
	p, err := klink.New(klink.Options{ID: "klink", BaseURL: k.URL, Token: klinktest.DefaultToken, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &sink{got: make(chan struct{}, 1)}
	leaser := events.NewMemoryLeaser(nil)
	// Two pollers for the same thread with one leaser stand for two instances:
	// only the lease holder polls, so nothing is published twice.
	for range 2 {
		go poller.Thread(ctx, p, model.ThreadKindRoom, room, s.publish, poller.Options{Interval: 20 * time.Millisecond, PageSize: 10, MaxPages: 10, Leaser: leaser})
	}
	// Wait until the poller has taken its baseline (a thread check and a
	// newest-page read), so what follows is new to it.
	for deadline := time.Now().Add(10 * time.Second); k.Calls(klinktest.EndpointListComments) < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the poller never started")
		}
		time.Sleep(time.Millisecond)
	}
	// A burst larger than a page between polls.
	var want []string
	for i := 0; i < 25; i++ {
		text := fmt.Sprintf("new %02d", i)
		want = append(want, text)
		if _, err := k.AddComment(room, "u1", text); err != nil {
			t.Fatal(err)
		}
	}
	got := s.wait(t, 25)
	// The first poll after the lease is acquired may offer the recent old
	// comment too (a new holder looks back); drop it before comparing.
	if len(got) > 0 && got[0] == "old, before the poller started" {
		got = got[1:]
	}
	if len(got) < 25 {
		got = s.wait(t, 26)[1:]
	}
	for i, w := range want {
		if got[i] != w {
			t.Fatalf("published %v, want %v", got, want)
		}
	}
	if len(got) != 25 {
		t.Errorf("published %d, want 25 (a duplicate means two pollers ran): %v", len(got), got)
	}
}

// stuck is a provider whose upstream never answers: each call returns only
// when its ctx is done. calling is told about each call as it starts.
type stuck struct {
	providers.Provider
	calling chan<- struct{}
}

func (stuck) Info() *model.Provider { return &model.Provider{ID: "stuck"} }

func (s stuck) Thread(ctx context.Context, _ model.ThreadKind, _ string) (*model.Thread, error) {
	s.calling <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// stuckLeaser grants every lease and blocks in Release until its ctx is done,
// like a lease store that stopped answering; released reports whether that
// ctx had a deadline.
type stuckLeaser struct {
	events.Leaser
	released chan bool
}

func (l stuckLeaser) Release(ctx context.Context, _ string) error {
	_, bounded := ctx.Deadline()
	if bounded {
		<-ctx.Done()
	}
	l.released <- bounded
	return ctx.Err()
}

// A poller stops when its ctx is done, in the middle of a poll against an
// upstream that hangs, and gives up its lease without waiting on a lease
// store that hangs too.
func TestPollerStopsMidPollWhenCancelled(t *testing.T) {
	calling := make(chan struct{}, 1)
	leaser := stuckLeaser{Leaser: events.NewMemoryLeaser(nil), released: make(chan bool, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		poller.Thread(ctx, stuck{calling: calling}, model.ThreadKindRoom, room, func(context.Context, []*model.Comment) error { return nil },
			poller.Options{Interval: time.Hour, Leaser: leaser})
	}()
	deadline := time.After(10 * time.Second)
	select {
	case <-calling: // holding the lease, waiting on the upstream
	case <-deadline:
		t.Fatal("the poller never called the upstream")
	}
	cancel()
	select {
	case bounded := <-leaser.released:
		if !bounded {
			t.Error("the lease was released with no deadline: a stuck store would hold the poller forever")
		}
	case <-deadline:
		t.Fatal("the poller never released its lease")
	}
	select {
	case <-done:
	case <-deadline:
		t.Fatal("the poller did not return after its ctx was cancelled")
	}
}
