package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Leaser hands out time-limited leases, so that one poller per thread runs
// across all gateway instances: a poller acquires the thread's lease, renews it
// while it polls, and releases it when it stops. If its instance dies, the
// lease expires and another instance takes over.
//
// A Leaser is one owner: each instance makes its own.
type Leaser interface {
	// Acquire takes key for ttl if nobody holds it, this Leaser included. It
	// reports whether the lease is now this Leaser's.
	Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Renew extends this Leaser's lease on key to ttl from now. false means the
	// lease expired and may belong to someone else: stop the work it guards.
	Renew(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release gives up this Leaser's lease on key; someone else's is untouched.
	Release(ctx context.Context, key string) error
}

var errBadTTL = errors.New("events: lease ttl must be at least 1ms")

// MemoryLeaser is the Leaser of a single instance.
type MemoryLeaser struct {
	now func() time.Time

	mu     sync.Mutex
	leases map[string]time.Time // key → expiry
}

var _ Leaser = (*MemoryLeaser)(nil)

// NewMemoryLeaser returns a Leaser for one instance. now is the clock (nil:
// time.Now).
func NewMemoryLeaser(now func() time.Time) *MemoryLeaser {
	if now == nil {
		now = time.Now
	}
	return &MemoryLeaser{now: now, leases: make(map[string]time.Time)}
}

// Acquire implements Leaser.
func (l *MemoryLeaser) Acquire(_ context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, errBadTTL
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if exp, ok := l.leases[key]; ok && now.Before(exp) {
		return false, nil
	}
	l.leases[key] = now.Add(ttl)
	return true, nil
}

// Renew implements Leaser.
func (l *MemoryLeaser) Renew(_ context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, errBadTTL
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	exp, ok := l.leases[key]
	if !ok || !now.Before(exp) {
		delete(l.leases, key)
		return false, nil
	}
	l.leases[key] = now.Add(ttl)
	return true, nil
}

// Release implements Leaser.
func (l *MemoryLeaser) Release(_ context.Context, key string) error {
	l.mu.Lock()
	delete(l.leases, key)
	l.mu.Unlock()
	return nil
}

// RedisLeaser keeps leases in Redis, shared by every instance: a lease is a
// key holding its owner's random token with a PX expiry, taken with SET NX
// and renewed or deleted only by a script that checks the token.
type RedisLeaser struct {
	client redis.UniversalClient
	prefix string
	token  string
}

var _ Leaser = (*RedisLeaser)(nil)

// NewRedisLeaser returns this instance's Leaser. prefix namespaces the keys
// ("": "commentgraph:lease:").
func NewRedisLeaser(client redis.UniversalClient, prefix string) (*RedisLeaser, error) {
	if prefix == "" {
		prefix = "commentgraph:lease:"
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, fmt.Errorf("events: lease owner token: %w", err)
	}
	return &RedisLeaser{client: client, prefix: prefix, token: hex.EncodeToString(tok[:])}, nil
}

var (
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
)

// Acquire implements Leaser.
func (l *RedisLeaser) Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, errBadTTL
	}
	ok, err := l.client.SetNX(ctx, l.prefix+key, l.token, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("events: acquire lease %q: %w", key, err)
	}
	return ok, nil
}

// Renew implements Leaser.
func (l *RedisLeaser) Renew(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, errBadTTL
	}
	n, err := renewScript.Run(ctx, l.client, []string{l.prefix + key}, l.token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("events: renew lease %q: %w", key, err)
	}
	return n == 1, nil
}

// Release implements Leaser.
func (l *RedisLeaser) Release(ctx context.Context, key string) error {
	if err := releaseScript.Run(ctx, l.client, []string{l.prefix + key}, l.token).Err(); err != nil {
		return fmt.Errorf("events: release lease %q: %w", key, err)
	}
	return nil
}
