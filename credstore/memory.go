package credstore

import (
	"context"
	"sync"
	"time"
)

// memoryBackend keeps sealed values in this process, at most max of them
// (expired ones do not count). It holds the same sealed bytes Redis would, so
// both backends behave alike, and it copies them in and out.
type memoryBackend struct {
	now func() time.Time
	max int

	mu    sync.Mutex
	items map[string]memEntry
}

type memEntry struct {
	value   []byte
	expires time.Time // zero: never
}

func newMemoryBackend(now func() time.Time, max int) *memoryBackend {
	return &memoryBackend{now: now, max: max, items: make(map[string]memEntry)}
}

func (e memEntry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

func (m *memoryBackend) get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[key]
	if !ok {
		return nil, false, nil
	}
	if e.expired(now) {
		delete(m.items, key)
		return nil, false, nil
	}
	return append([]byte(nil), e.value...), true, nil
}

func (m *memoryBackend) set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := m.now()
	e := memEntry{value: append([]byte(nil), value...)}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[key]; !ok && len(m.items) >= m.max {
		// Full: make room from expired entries only. Evicting a live one
		// would silently disconnect its user.
		for k, old := range m.items {
			if old.expired(now) {
				delete(m.items, k)
			}
		}
		if len(m.items) >= m.max {
			return ErrFull
		}
	}
	m.items[key] = e
	return nil
}

func (m *memoryBackend) del(ctx context.Context, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[key]
	if !ok {
		return false, nil
	}
	delete(m.items, key)
	return !e.expired(now), nil
}
