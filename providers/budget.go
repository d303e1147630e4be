package providers

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/commentgraph/commentgraph/graph/model"
)

// The memo of one call scope is bounded: at most CallMemoMaxEntries calls (in
// flight or answered) and CallMemoMaxBytes of kept answers (bodies and keys).
// Past either, calls are still made but not shared, so one request cannot
// hold more than about that much memory in answers it has already used.
const (
	CallMemoMaxEntries = 512
	CallMemoMaxBytes   = 8 << 20
)

// WithCallBudget returns a context that is one request's scope for upstream
// calls: Caller.Do, under it or any context derived from it, from any
// goroutine,
//
//   - spends one unit of the budget before each call it makes; once max
//     calls were made, a further call is not made and Do returns
//     UPSTREAM_BUDGET_EXCEEDED. max <= 0: no limit (the scope still counts
//     and shares calls).
//   - makes identical GETs once: the same provider, full URL and request
//     headers (credentials included), without a body. Callers that ask while
//     the first is in flight wait for it (each as long as its own context
//     allows); later callers get its answer again. A shared answer spends no
//     budget. Kept for later callers are 2xx answers and the answers that
//     will not change on asking again (400, 401, 403, 404, 410, 422); any
//     other failure (429, 5xx, a timeout) reaches only those already waiting,
//     so a retry calls again. When the first caller's own context ends before
//     its call does, the waiters call again themselves.
//   - after a call other than GET (a write) to a provider, keeps none of that
//     provider's answers any longer, kept or in flight: the request may be
//     reading back what it wrote.
//
// Create it once per incoming request (one GraphQL operation), not per
// resolver: a context made by WithCallBudget inside another's starts a new,
// separate scope. Without a scope (background jobs, webhooks) Do makes every
// call it is asked to. The memo lives as long as the context and is bounded
// by CallMemoMaxEntries and CallMemoMaxBytes.
func WithCallBudget(ctx context.Context, max int) context.Context {
	return context.WithValue(ctx, scopeKey{}, &callScope{max: int64(max)})
}

// WithUnsharedCallBudget is WithCallBudget without the sharing of identical
// GETs: every call is made and counted. It is for the naive baseline the
// benchmarks compare batching and caching against, where each look-up must
// reach the upstream.
func WithUnsharedCallBudget(ctx context.Context, max int) context.Context {
	return context.WithValue(ctx, scopeKey{}, &callScope{max: int64(max), unshared: true})
}

// WithoutCallBudget returns ctx with no call scope: for work done on behalf of
// many requests (a shared token renewal), which no one request's budget should
// pay for or be able to stop.
func WithoutCallBudget(ctx context.Context) context.Context {
	if scopeFrom(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, (*callScope)(nil))
}

// CallBudgetUsage is what a call scope has done so far.
type CallBudgetUsage struct {
	// Limit is the max given to WithCallBudget (0: none).
	Limit int
	// Made is how many upstream calls were made (each spent one unit).
	Made int
	// Refused is how many calls were not made because the budget was spent.
	Refused int
	// Shared is how many calls were answered with another call's answer
	// instead of being made.
	Shared int
}

// CallBudgetUsed reports ctx's call scope, for metrics and logs: zero when ctx
// has none. It may be read while calls are in flight.
func CallBudgetUsed(ctx context.Context) CallBudgetUsage {
	s := scopeFrom(ctx)
	if s == nil {
		return CallBudgetUsage{}
	}
	return CallBudgetUsage{Limit: int(max(s.max, 0)), Made: int(s.made.Load()), Refused: int(s.refused.Load()), Shared: int(s.reused.Load())}
}

type scopeKey struct{}

func scopeFrom(ctx context.Context) *callScope {
	s, _ := ctx.Value(scopeKey{}).(*callScope)
	return s
}

// callScope is one request's budget and memo.
type callScope struct {
	max      int64
	unshared bool // every GET is made: WithUnsharedCallBudget
	made     atomic.Int64
	refused  atomic.Int64
	reused   atomic.Int64

	mu    sync.Mutex
	memo  map[string]*memoCall
	bytes int // kept answers' bodies and keys
	// wrote are the providers written to: their answers are no longer kept.
	wrote map[string]bool
}

// memoCall is one GET of a scope, in flight or answered.
type memoCall struct {
	provider string
	// done is closed once the call is answered; it is made by the first
	// caller to wait, so a call nobody waits for allocates no channel.
	done     chan struct{}
	finished bool
	resp     *Response
	err      error
	// retry: the first caller's context ended before its call did; the
	// answer is not one, so those waiting call again.
	retry bool
	size  int // counted in bytes while kept
}

// spend takes one unit of the budget, or says the call may not be made.
func (s *callScope) spend(provider string) error {
	if n := s.made.Add(1); s.max > 0 && n > s.max {
		// Give the unit back: Made counts calls made. Every call refused
		// here found max calls already made, so refusals stay correct while
		// concurrent ones are still giving theirs back.
		s.made.Add(-1)
		s.refused.Add(1)
		return &model.Error{Code: model.CodeUpstreamBudgetExceeded, Provider: provider,
			Message: "the request reached its limit of upstream calls; this one was not made"}
	}
	return nil
}

// write spends a unit for a call that is not shared and, for one that is not
// a GET, stops keeping the provider's answers.
func (s *callScope) write(provider string) error {
	if err := s.spend(provider); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote == nil {
		s.wrote = make(map[string]bool)
	}
	s.wrote[provider] = true
	for k, m := range s.memo {
		if m.provider == provider && m.finished {
			s.bytes -= m.size
			delete(s.memo, k)
		}
	}
	return nil
}

// shared performs the GET req through the memo: the first caller with key
// makes the call (send), the others wait for its answer or take the one kept.
func (s *callScope) shared(ctx context.Context, provider, key string, send func() (*Response, error)) (*Response, error) {
	for {
		s.mu.Lock()
		m, ok := s.memo[key]
		if !ok {
			if err := s.spend(provider); err != nil {
				s.mu.Unlock()
				return nil, err
			}
			if len(s.memo) >= CallMemoMaxEntries {
				s.mu.Unlock()
				return send()
			}
			if s.memo == nil {
				s.memo = make(map[string]*memoCall)
			}
			m = &memoCall{provider: provider}
			s.memo[key] = m
			s.mu.Unlock()
			resp, err := send()
			s.finish(key, m, resp, err, err != nil && ctx.Err() != nil)
			return resp, err
		}
		if m.finished {
			s.mu.Unlock()
			s.reused.Add(1)
			return m.result()
		}
		if m.done == nil {
			m.done = make(chan struct{})
		}
		done := m.done
		s.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, TransportError(provider, ctx.Err())
		}
		if m.retry {
			continue
		}
		s.reused.Add(1)
		return m.result()
	}
}

// finish records m's answer for those waiting and, when it may be kept and
// fits, for later callers; otherwise it forgets key.
func (s *callScope) finish(key string, m *memoCall, resp *Response, err error, abandoned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.finished, m.err, m.retry = true, err, abandoned
	if resp != nil {
		// The caller gets resp itself; what the memo hands out is a copy it
		// cannot reassign fields of.
		kept := *resp
		m.resp = &kept
		m.size = len(resp.Body) + len(key)
	}
	if abandoned || !keepable(err) || s.wrote[m.provider] || s.bytes+m.size > CallMemoMaxBytes {
		delete(s.memo, key)
	} else {
		s.bytes += m.size
	}
	if m.done != nil {
		close(m.done)
	}
}

// result hands out m's answer: a Response of one's own over the shared body
// and header (read them, never modify), or a copy of its *model.Error.
func (m *memoCall) result() (*Response, error) {
	if m.err != nil {
		if me, ok := m.err.(*model.Error); ok {
			c := *me
			return nil, &c
		}
		return nil, m.err
	}
	r := *m.resp
	return &r, nil
}

// keepable says whether an answer holds for a later identical call of the
// same request: a success, or a refusal that asking again will not change.
func keepable(err error) bool {
	if err == nil {
		return true
	}
	switch UpstreamStatus(err) {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusGone, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// memoKey names a GET: provider, URL and every request header (sorted), so
// calls with other credentials or other Accept headers are not shared.
func memoKey(provider, url string, h http.Header) string {
	var names [8]string
	keys := names[:0]
	n := len(provider) + len(url) + 2
	for k, vs := range h {
		keys = append(keys, k)
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 1
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(provider)
	b.WriteByte(0)
	b.WriteString(url)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(':')
		for i, v := range h[k] {
			if i > 0 {
				b.WriteByte(1)
			}
			b.WriteString(v)
		}
	}
	return b.String()
}
