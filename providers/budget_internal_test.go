package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
)

// waitForWaiter returns once a caller of ctx's scope waits on a call in
// flight (it has made the call's done channel).
func waitForWaiter(ctx context.Context) {
	s := scopeFrom(ctx)
	for {
		s.mu.Lock()
		for _, m := range s.memo {
			if m.done != nil && !m.finished {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		runtime.Gosched()
	}
}

type result struct {
	body string
	err  error
}

func do(ctx context.Context, c *Caller, out chan<- result) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/page"})
	if err != nil {
		out <- result{err: err}
		return
	}
	out <- result{body: string(resp.Body)}
}

// TestSharedCallWaitHonoursEachContext: while the first call is held at the
// upstream, a second caller whose own context ends stops waiting at once;
// the first call goes on and is answered.
func TestSharedCallWaitHonoursEachContext(t *testing.T) {
	var calls atomic.Int64
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		close(arrived)
		<-release
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer srv.Close()
	c := &Caller{Provider: "p", BaseURL: srv.URL, Client: srv.Client()}
	scope := WithCallBudget(context.Background(), 0)

	first := make(chan result, 1)
	go do(scope, c, first)
	<-arrived
	waiterCtx, cancel := context.WithCancel(scope)
	second := make(chan result, 1)
	go do(waiterCtx, c, second)
	waitForWaiter(scope)
	cancel()
	if got := <-second; !errors.Is(got.err, context.Canceled) {
		t.Errorf("the waiter whose context ended got %+v, want context.Canceled", got)
	}
	close(release)
	if got := <-first; got.err != nil || got.body != `{"ok":true}` {
		t.Errorf("the first caller got %+v", got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

// TestWaitersCallAgainWhenTheFirstGivesUp: the first caller's context ends
// while its call is in flight; the caller waiting on it does not inherit
// that, it makes the call itself.
func TestWaitersCallAgainWhenTheFirstGivesUp(t *testing.T) {
	var calls atomic.Int64
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(arrived)
			<-r.Context().Done()
			return
		}
		fmt.Fprint(w, `{"call":2}`)
	}))
	defer srv.Close()
	c := &Caller{Provider: "p", BaseURL: srv.URL, Client: srv.Client()}
	scope := WithCallBudget(context.Background(), 0)

	leaderCtx, cancel := context.WithCancel(scope)
	first := make(chan result, 1)
	go do(leaderCtx, c, first)
	<-arrived
	second := make(chan result, 1)
	go do(scope, c, second)
	waitForWaiter(scope)
	cancel()
	if got := <-first; !errors.Is(got.err, context.Canceled) {
		t.Errorf("the first caller got %+v, want context.Canceled", got)
	}
	if got := <-second; got.err != nil || got.body != `{"call":2}` {
		t.Errorf("the waiter got %+v, want the answer of its own call", got)
	}
	if got, want := CallBudgetUsed(scope), (CallBudgetUsage{Made: 2}); got != want {
		t.Errorf("CallBudgetUsed = %+v, want %+v", got, want)
	}
}
