package events_test

import (
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

func TestRedisLeaseExclusiveAndTakeover(t *testing.T) {
	s := redistest.MustStart(t)
	a, err := events.NewRedisLeaser(redisClient(t, s), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := events.NewRedisLeaser(redisClient(t, s), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const key = "poll:ziik:thread-1"
	check := func(what string, got bool, err error, want bool) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s: %v, err %v; want %v", what, got, err, want)
		}
	}
	ok, err := a.Acquire(ctx, key, time.Minute)
	check("A acquires a free lease", ok, err, true)
	ok, err = b.Acquire(ctx, key, time.Minute)
	check("B acquires A's lease", ok, err, false)
	ok, err = a.Acquire(ctx, key, time.Minute)
	check("A acquires its own held lease again", ok, err, false)
	ok, err = b.Renew(ctx, key, time.Minute)
	check("B renews A's lease", ok, err, false)
	if err := b.Release(ctx, key); err != nil {
		t.Fatal(err)
	}
	ok, err = b.Acquire(ctx, key, time.Minute)
	check("B acquires after releasing what it did not hold", ok, err, false)
	ok, err = a.Renew(ctx, key, time.Minute)
	check("A renews", ok, err, true)
	ok, err = b.Acquire(ctx, "poll:ziik:thread-2", time.Minute)
	check("B acquires another key", ok, err, true)

	// A's instance stops renewing: its lease expires and B takes over; A
	// learns on its next renewal that the lease is gone.
	ok, err = a.Renew(ctx, key, 50*time.Millisecond)
	check("A renews briefly", ok, err, true)
	eventually(t, "B takes over the expired lease", func() bool {
		ok, err := b.Acquire(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	ok, err = a.Renew(ctx, key, time.Minute)
	check("A renews after the takeover", ok, err, false)
	if err := a.Release(ctx, key); err != nil {
		t.Fatal(err)
	}
	ok, err = b.Renew(ctx, key, time.Minute)
	check("B keeps its lease after A's release", ok, err, true)
	if err := b.Release(ctx, key); err != nil {
		t.Fatal(err)
	}
	ok, err = a.Acquire(ctx, key, time.Minute)
	check("A acquires after B released", ok, err, true)
}

func TestMemoryLease(t *testing.T) {
	clock := newFakeClock()
	l := events.NewMemoryLeaser(clock.Now)
	ctx := t.Context()
	steps := []struct {
		what    string
		advance time.Duration
		op      func() (bool, error)
		want    bool
	}{
		{"acquire a free key", 0, func() (bool, error) { return l.Acquire(ctx, "k", time.Minute) }, true},
		{"acquire a held key", 0, func() (bool, error) { return l.Acquire(ctx, "k", time.Minute) }, false},
		{"renew before expiry", 59 * time.Second, func() (bool, error) { return l.Renew(ctx, "k", time.Minute) }, true},
		{"still held within the renewed ttl", 59 * time.Second, func() (bool, error) { return l.Acquire(ctx, "k", time.Minute) }, false},
		{"renew after expiry", time.Minute, func() (bool, error) { return l.Renew(ctx, "k", time.Minute) }, false},
		{"acquire after expiry", 0, func() (bool, error) { return l.Acquire(ctx, "k", time.Minute) }, true},
		{"release then acquire", 0, func() (bool, error) {
			if err := l.Release(ctx, "k"); err != nil {
				return false, err
			}
			return l.Acquire(ctx, "k", time.Minute)
		}, true},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		got, err := st.op()
		if err != nil || got != st.want {
			t.Fatalf("%s: %v, err %v; want %v", st.what, got, err, st.want)
		}
	}
	if _, err := l.Acquire(ctx, "k2", 0); err == nil {
		t.Fatal("acquire with ttl 0: no error")
	}
}
