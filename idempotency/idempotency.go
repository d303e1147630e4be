// Package idempotency makes createComment's clientMutationId an idempotency
// key: the same key twice (concurrently, or later, on any gateway instance
// sharing Redis) creates one comment, and the second caller gets the first
// caller's comment back.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Store runs create at most once per key within its retention. A failed create
// is forgotten, so the client may retry with the same key. A key reused with a
// different request (fingerprint) is BAD_USER_INPUT.
type Store interface {
	Do(ctx context.Context, key, fingerprint string, create func(context.Context) (*model.Comment, error)) (*model.Comment, error)
}

// Key scopes a client's idempotency key by the credential that sent it, so two
// API keys can never collide on (or read) each other's results.
func Key(credential, clientKey string) string {
	sum := sha256.Sum256([]byte(credential + "\x00" + clientKey))
	return hex.EncodeToString(sum[:16])
}

var errReused = model.Errorf(model.CodeBadUserInput, "clientMutationId was already used for a different comment")

// Memory is a Store for one gateway instance.
type Memory struct {
	// Retention is how long a result is remembered. Default 24h.
	Retention time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*memEntry
}

type memEntry struct {
	fingerprint string
	done        chan struct{}
	comment     *model.Comment
	err         error
	expires     time.Time
}

// Do implements Store.
func (m *Memory) Do(ctx context.Context, key, fingerprint string, create func(context.Context) (*model.Comment, error)) (*model.Comment, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	retention := m.Retention
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	for {
		m.mu.Lock()
		if m.entries == nil {
			m.entries = make(map[string]*memEntry)
		}
		e, ok := m.entries[key]
		if ok && e.expires.Before(now()) {
			delete(m.entries, key)
			ok = false
		}
		if !ok {
			e = &memEntry{fingerprint: fingerprint, done: make(chan struct{}), expires: now().Add(retention)}
			m.entries[key] = e
			m.sweep(now())
			m.mu.Unlock()
			c, err := create(ctx)
			m.mu.Lock()
			e.comment, e.err = c, err
			if err != nil {
				delete(m.entries, key)
			}
			close(e.done)
			m.mu.Unlock()
			return c, err
		}
		m.mu.Unlock()
		if e.fingerprint != fingerprint {
			return nil, errReused
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return e.comment, nil
		}
		// The first attempt failed and was forgotten: try again as the owner.
	}
}

// sweep drops a few expired entries so the map does not grow without bound.
func (m *Memory) sweep(now time.Time) {
	n := 0
	for k, e := range m.entries {
		if n++; n > 16 {
			return
		}
		select {
		case <-e.done:
			if e.expires.Before(now) {
				delete(m.entries, k)
			}
		default:
		}
	}
}

// Redis is a Store shared by every gateway instance on one Redis.
type Redis struct {
	Client redis.UniversalClient
	// Retention is how long a result is remembered. Default 24h.
	Retention time.Duration
	// PendingTTL bounds how long a claimed-but-unfinished key blocks others (a
	// crashed instance's claim expires). Default 2m.
	PendingTTL time.Duration
	// PollInterval is how often a second caller checks a pending key. Default 50ms.
	PollInterval time.Duration
}

type redisRecord struct {
	State       string         `json:"s"` // "pending" or "done"
	Owner       string         `json:"o,omitempty"`
	Fingerprint string         `json:"f"`
	Comment     *model.Comment `json:"c,omitempty"`
}

// release deletes the claim only if it is still ours.
var release = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.find(v, ARGV[1], 1, true) then return redis.call('DEL', KEYS[1]) end
return 0`)

// Do implements Store. When Redis is unreachable it fails open: the comment is
// created without the cross-instance guarantee rather than refused.
func (r *Redis) Do(ctx context.Context, key, fingerprint string, create func(context.Context) (*model.Comment, error)) (*model.Comment, error) {
	retention, pendingTTL, poll := r.Retention, r.PendingTTL, r.PollInterval
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	if pendingTTL <= 0 {
		pendingTTL = 2 * time.Minute
	}
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	rk := "cg:v1:idem:" + key
	owner := fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(time.Now().UnixNano(), key))))[:24]
	claim, _ := json.Marshal(redisRecord{State: "pending", Owner: owner, Fingerprint: fingerprint})
	for {
		ok, err := r.Client.SetNX(ctx, rk, claim, pendingTTL).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return create(ctx) // fail open
		}
		if ok {
			c, err := create(ctx)
			if err != nil {
				release.Run(context.WithoutCancel(ctx), r.Client, []string{rk}, owner)
				return nil, err
			}
			done, _ := json.Marshal(redisRecord{State: "done", Fingerprint: fingerprint, Comment: c})
			r.Client.Set(context.WithoutCancel(ctx), rk, done, retention)
			return c, nil
		}
		raw, err := r.Client.Get(ctx, rk).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // released or expired between our SETNX and GET
		}
		if err != nil {
			return create(ctx)
		}
		var rec redisRecord
		if json.Unmarshal(raw, &rec) != nil {
			return nil, fmt.Errorf("idempotency: unreadable record for a key")
		}
		if rec.Fingerprint != fingerprint {
			return nil, errReused
		}
		if rec.State == "done" && rec.Comment != nil {
			return rec.Comment, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
