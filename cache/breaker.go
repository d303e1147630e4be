package cache

import (
	"sync"
	"time"
)

// breaker keeps a failing Redis from costing every request a timeout. Closed,
// every call goes ahead. After a failure it opens for backoff: calls are
// skipped (the cache answers "unavailable" at once and the request goes
// upstream). When backoff has passed, exactly one call probes; its success
// closes the breaker, its failure opens it for another backoff.
type breaker struct {
	now     func() time.Time
	backoff time.Duration

	mu      sync.Mutex
	open    bool
	until   time.Time
	probing bool
}

// allow reports whether a Redis call may go ahead, and whether it is the one
// probe of an open breaker. The caller must report the outcome with done.
func (b *breaker) allow() (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true, false
	}
	if b.probing || b.now().Before(b.until) {
		return false, false
	}
	b.probing = true
	return true, true
}

// outcome of a Redis call, as the breaker sees it.
type outcome uint8

const (
	succeeded outcome = iota
	failed
	// abandoned: the caller's own context ended, which says nothing about Redis.
	abandoned
)

// done records a call's outcome and reports the breaker's change of state, if
// any, so the caller can log it once.
func (b *breaker) done(probe bool, o outcome) (opened, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch o {
	case succeeded:
		if b.open {
			b.open = false
			return false, true
		}
	case failed:
		opened = !b.open
		b.open = true
		b.until = b.now().Add(b.backoff)
	}
	return opened, false
}

// healthy reports whether the breaker is closed: the last Redis call worked.
func (b *breaker) healthy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.open
}
