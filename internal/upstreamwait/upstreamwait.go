// Package upstreamwait measures how much of a request's time was spent
// waiting on upstream calls, so the rest, the gateway's own share of its
// latency, can be reported on its own.
//
// A request's latency is the upstreams' latency plus what the gateway adds
// (parsing, the cache, Redis, merging, encoding, writing). The second is what
// the gateway's code controls and what a regression in it moves; the first
// swamps it in any end-to-end figure. A Tracker in the request's context
// counts the time at least one upstream call was in flight, from sending the
// request until its body has been read (providers.Caller tells it). Calls
// that overlap count once: three lists fetched at once for 10 ms wait 10 ms,
// not 30.
//
// What is not an upstream call counts as the gateway's own time, including
// Redis round trips and waiting on another request's fetch of the same key
// (the cache's singleflight runs that fetch under the other request's
// context).
package upstreamwait

import (
	"context"
	"sync"
	"time"
)

// Tracker accumulates the time one request had an upstream call in flight.
// It is safe for concurrent use: a request's calls run in parallel. A nil
// Tracker (a call made outside a timed request) records nothing.
type Tracker struct {
	now func() time.Time

	mu       sync.Mutex
	inFlight int
	since    time.Time // when inFlight last went from 0 to 1
	waited   time.Duration
}

// New returns a Tracker reading the time from now (time.Now when nil).
func New(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now}
}

// Waited is the time so far with at least one call in flight, counting a call
// still in flight up to now.
func (t *Tracker) Waited() time.Duration {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight > 0 {
		return t.waited + t.now().Sub(t.since)
	}
	return t.waited
}

// Begin records the start of a call. Each Begin must be followed by exactly
// one End.
func (t *Tracker) Begin() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight == 0 {
		t.since = t.now()
	}
	t.inFlight++
}

// End records the end of a call Begin started.
func (t *Tracker) End() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inFlight--
	if t.inFlight == 0 {
		t.waited += t.now().Sub(t.since)
	}
}

type contextKey struct{}

// NewContext returns ctx carrying t, for the calls made under it.
func NewContext(ctx context.Context, t *Tracker) context.Context {
	return context.WithValue(ctx, contextKey{}, t)
}

// FromContext returns the Tracker in ctx, or nil (on which every method is a
// no-op).
func FromContext(ctx context.Context) *Tracker {
	t, _ := ctx.Value(contextKey{}).(*Tracker)
	return t
}
