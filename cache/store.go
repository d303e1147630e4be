package cache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// store is where entries live: Redis, or an in-process LRU that behaves the
// same way. Every method is one round trip.
type store interface {
	// get returns one value per key, in key order; nil where there is none.
	get(ctx context.Context, keys []string) ([][]byte, error)
	// set writes every entry with its own TTL.
	set(ctx context.Context, entries []entry) error
	// del drops keys; absent ones are fine.
	del(ctx context.Context, keys []string) error
	// addMembers adds each member to the set at its key, makes the set live
	// ttl from now and, past max members, drops some (Redis SADD, PEXPIRE,
	// SCARD, then SPOP of the excess when there is one).
	addMembers(ctx context.Context, ms []member) error
	// members returns the members of the set at each key, in key order; none
	// where there is no set (Redis SMEMBERS).
	members(ctx context.Context, keys []string) ([][]string, error)
	ping(ctx context.Context) error
}

type entry struct {
	key   string
	value []byte
	ttl   time.Duration
}

// member is one string to add to the set at key, which keeps at most max.
type member struct {
	key    string
	member string
	ttl    time.Duration
	max    int
}

// redisStore uses pipelines of single-key commands rather than MGET/MSET/DEL
// with many keys: one round trip all the same, and a Cluster client splits a
// pipeline by slot where a multi-key command across slots fails with CROSSSLOT.
type redisStore struct {
	rdb redis.UniversalClient
}

func (s redisStore) get(ctx context.Context, keys []string) ([][]byte, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	// Pipelined reports the first command's error, and a missing key is
	// redis.Nil: look at each command instead.
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis GET pipeline: %w", err)
	}
	out := make([][]byte, len(keys))
	for i, c := range cmds {
		b, err := c.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, fmt.Errorf("redis GET: %w", err)
		default:
			out[i] = b
		}
	}
	return out, nil
}

func (s redisStore) set(ctx context.Context, entries []entry) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.Set(ctx, e.key, e.value, e.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis SET pipeline: %w", err)
	}
	return nil
}

func (s redisStore) del(ctx context.Context, keys []string) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis DEL pipeline: %w", err)
	}
	return nil
}

func (s redisStore) addMembers(ctx context.Context, ms []member) error {
	sizes := make([]*redis.IntCmd, len(ms))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range ms {
			p.SAdd(ctx, m.key, m.member)
			p.PExpire(ctx, m.key, m.ttl)
			sizes[i] = p.SCard(ctx, m.key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis SADD pipeline: %w", err)
	}
	// Rare (a room with more cached threads than max): a second round trip.
	excess := map[string]int64{} // by key: one set may take several members
	for i, m := range ms {
		if n := sizes[i].Val() - int64(m.max); m.max > 0 && n > 0 {
			excess[m.key] = max(excess[m.key], n)
		}
	}
	if len(excess) == 0 {
		return nil
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, n := range excess {
			p.SPopN(ctx, k, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis SPOP pipeline: %w", err)
	}
	return nil
}

func (s redisStore) members(ctx context.Context, keys []string) ([][]string, error) {
	cmds := make([]*redis.StringSliceCmd, len(keys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.SMembers(ctx, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis SMEMBERS pipeline: %w", err)
	}
	out := make([][]string, len(keys))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

func (s redisStore) ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis PING: %w", err)
	}
	return nil
}

// memoryStore is an LRU with per-entry expiry on the injected clock. Values
// are the same encoded bytes Redis would hold, so a caller never shares a
// pointer with another request, exactly as with Redis.
type memoryStore struct {
	now func() time.Time
	max int

	mu    sync.Mutex
	lru   *list.List // front: most recently used; elements hold *memEntry
	items map[string]*list.Element
}

type memEntry struct {
	key     string
	value   []byte
	members []string // a set's (addMembers); value is nil then
	expires time.Time
}

func newMemoryStore(now func() time.Time, max int) *memoryStore {
	return &memoryStore{now: now, max: max, lru: list.New(), items: make(map[string]*list.Element)}
}

func (s *memoryStore) get(_ context.Context, keys []string) ([][]byte, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		el, ok := s.items[k]
		if !ok {
			continue
		}
		e := el.Value.(*memEntry)
		if !now.Before(e.expires) {
			s.lru.Remove(el)
			delete(s.items, k)
			continue
		}
		s.lru.MoveToFront(el)
		out[i] = e.value
	}
	return out, nil
}

func (s *memoryStore) set(_ context.Context, entries []entry) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range entries {
		if el, ok := s.items[in.key]; ok {
			e := el.Value.(*memEntry)
			e.value, e.members, e.expires = in.value, nil, now.Add(in.ttl)
			s.lru.MoveToFront(el)
			continue
		}
		s.put(&memEntry{key: in.key, value: in.value, expires: now.Add(in.ttl)})
	}
	return nil
}

func (s *memoryStore) del(_ context.Context, keys []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if el, ok := s.items[k]; ok {
			s.lru.Remove(el)
			delete(s.items, k)
		}
	}
	return nil
}

func (s *memoryStore) addMembers(_ context.Context, ms []member) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		el, ok := s.items[m.key]
		if !ok || !now.Before(el.Value.(*memEntry).expires) {
			s.put(&memEntry{key: m.key, members: []string{m.member}, expires: now.Add(m.ttl)})
			continue
		}
		e := el.Value.(*memEntry)
		if !slices.Contains(e.members, m.member) {
			e.members = append(e.members, m.member)
		}
		if m.max > 0 && len(e.members) > m.max { // the oldest go
			e.members = slices.Delete(e.members, 0, len(e.members)-m.max)
		}
		e.expires = now.Add(m.ttl)
		s.lru.MoveToFront(el)
	}
	return nil
}

func (s *memoryStore) members(_ context.Context, keys []string) ([][]string, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]string, len(keys))
	for i, k := range keys {
		if el, ok := s.items[k]; ok {
			if e := el.Value.(*memEntry); now.Before(e.expires) {
				out[i] = slices.Clone(e.members)
			}
		}
	}
	return out, nil
}

// put adds e as the newest entry, replacing any under its key, and evicts
// the least recently used past max. s.mu is held.
func (s *memoryStore) put(e *memEntry) {
	if el, ok := s.items[e.key]; ok {
		s.lru.Remove(el)
	}
	s.items[e.key] = s.lru.PushFront(e)
	for s.lru.Len() > s.max {
		oldest := s.lru.Back()
		s.lru.Remove(oldest)
		delete(s.items, oldest.Value.(*memEntry).key)
	}
}

func (s *memoryStore) ping(context.Context) error { return nil }

// ttl is what is left of key's life, like Redis's PTTL; 0 when absent.
func (s *memoryStore) ttl(key string) time.Duration {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		if left := el.Value.(*memEntry).expires.Sub(now); left > 0 {
			return left
		}
	}
	return 0
}

func (s *memoryStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// clear drops every entry.
func (s *memoryStore) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lru.Init()
	clear(s.items)
}
