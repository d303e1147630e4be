// Package idempotency makes createComment's clientMutationId an idempotency
// key: the same key twice (concurrently, or later, on any gateway instance
// sharing Redis) creates one comment, and the second caller gets the first
// caller's comment back.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

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
	done        chan struct{} // closed when finished
	// finished, comment, err and expires are set under Memory.mu before done
	// is closed.
	finished bool
	comment  *model.Comment
	err      error
	expires  time.Time
}

// Do implements Store.
func (m *Memory) Do(ctx context.Context, key, fingerprint string, create func(context.Context) (*model.Comment, error)) (*model.Comment, error) {
	retention := m.Retention
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	return m.do(ctx, key, fingerprint, func(ctx context.Context) (*model.Comment, time.Duration, error) {
		c, err := create(ctx)
		return c, retention, err
	})
}

// do runs decide at most once at a time per key: a second caller with the key
// waits for the first and gets its comment, or, if the first failed, runs
// decide itself. decide says how long its comment is then kept for later
// callers (0: only the callers already waiting get it). A failure is never
// kept.
func (m *Memory) do(ctx context.Context, key, fingerprint string, decide func(context.Context) (*model.Comment, time.Duration, error)) (*model.Comment, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	for {
		m.mu.Lock()
		if m.entries == nil {
			m.entries = make(map[string]*memEntry)
		}
		e, ok := m.entries[key]
		if ok && e.finished && e.expires.Before(now()) {
			delete(m.entries, key)
			ok = false
		}
		if !ok {
			e = &memEntry{fingerprint: fingerprint, done: make(chan struct{})}
			m.entries[key] = e
			m.sweep(now())
			m.mu.Unlock()
			c, keep, err := decide(ctx)
			m.mu.Lock()
			e.finished, e.comment, e.err, e.expires = true, c, err, now().Add(keep)
			if (err != nil || keep <= 0) && m.entries[key] == e {
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

// forget drops key's finished entry if it holds c.
func (m *Memory) forget(key string, c *model.Comment) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && e.finished && e.comment == c {
		delete(m.entries, key)
	}
}

// sweep drops a few expired entries so the map does not grow without bound.
func (m *Memory) sweep(now time.Time) {
	n := 0
	for k, e := range m.entries {
		if n++; n > 16 {
			return
		}
		if e.finished && e.expires.Before(now) {
			delete(m.entries, k)
		}
	}
}
