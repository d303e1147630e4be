package cache

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// nearStore keeps copies of Redis entries in the process, so a hot entry
// costs no round trip. The values are the encoded bytes, so every hit decodes
// a copy of its own, as with Redis.
//
// An entry read from Redis, or fetched upstream, is kept only if no drop
// happened since the read began (the generation did not move): a read that
// started before another instance changed an entry may return the old value
// after the drop announcing the change has already been applied, and keeping
// it would undo the drop.
type nearStore struct {
	ttl time.Duration

	mu   sync.Mutex // orders keep against drop and reset
	mem  *memoryStore
	gen  atomic.Uint64
	live atomic.Bool // entries may be served and kept
}

func newNearStore(now func() time.Time, max int, ttl time.Duration, live bool) *nearStore {
	n := &nearStore{ttl: ttl, mem: newMemoryStore(now, max)}
	n.live.Store(live)
	return n
}

// generation is the drop count, to pass to keep.
func (n *nearStore) generation() uint64 { return n.gen.Load() }

// keep stores entries, each for the near TTL (a not-found for no longer than
// negativeTTL, and not at all if negative caching is off), unless a drop or
// reset happened since generation since.
func (n *nearStore) keep(entries []entry, since uint64, negativeTTL time.Duration) {
	kept := make([]entry, 0, len(entries))
	for _, e := range entries {
		ttl := n.ttl
		if isNegative(e.value) {
			if negativeTTL <= 0 {
				continue // this instance caches no not-found; another one wrote it
			}
			ttl = min(ttl, negativeTTL)
		}
		kept = append(kept, entry{key: e.key, value: e.value, ttl: ttl})
	}
	if len(kept) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gen.Load() != since || !n.live.Load() {
		return
	}
	_ = n.mem.set(context.Background(), kept) // in the process: it cannot fail
}

// drop forgets keys.
func (n *nearStore) drop(keys []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gen.Add(1)
	_ = n.mem.del(context.Background(), keys)
}

// reset forgets everything and says whether entries may be served from now.
func (n *nearStore) reset(live bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gen.Add(1)
	n.live.Store(live)
	n.mem.clear()
}

// dropsChannel is where every instance announces the user and room keys it
// refreshed or invalidated, so the others drop their near copies. A message
// is the sender's instance id then the keys, newline-separated (a key holds
// no newline: refs are escaped). A channel is not a key: it cannot collide
// with an entry.
const dropsChannel = keyPrefix + "drops"

// dropsCheckEvery is how long the drops subscription may stay quiet before
// the listener pings it; a ping unanswered by the next check means the
// connection is dead even if the kernel has not said so.
const dropsCheckEvery = time.Second

// publishDrops tells the other instances to drop their near copies of keys.
func (c *Cache) publishDrops(ctx context.Context, keys []string) error {
	if c.dirNear == nil || len(keys) == 0 {
		return nil
	}
	msg := c.instance + "\n" + strings.Join(keys, "\n")
	return c.call(ctx, func(ctx context.Context) error {
		return c.opts.Redis.Publish(ctx, dropsChannel, msg).Err()
	})
}

// dropLocal forgets keys from both near stores (a room's change drops the
// threads that hang off it too, Cache.roomThreads): after the store write
// that changed them, so no read of the old value that began before the write
// can keep it afterwards, or on another instance's announcement.
func (c *Cache) dropLocal(keys []string) {
	if c.dirNear != nil {
		c.dirNear.drop(keys)
	}
	if c.near != nil {
		c.near.drop(keys)
	}
}

// listenForDrops keeps a subscription to dropsChannel until ctx ends. The
// users and rooms near store is served only while the subscription is known
// to be listening: from each (re)subscribe confirmation, which clears it since
// drops may have been missed, until the first error or unanswered ping, which
// clears it again. A drop can therefore only be missed with the store empty.
func (c *Cache) listenForDrops(ctx context.Context) {
	defer close(c.listenDone)
	for ctx.Err() == nil {
		ps := c.opts.Redis.Subscribe(ctx, dropsChannel)
		c.subscription.Store(ps)
		if ctx.Err() != nil { // Close ran before the Store: it did not see ps
			_ = ps.Close()
			return
		}
		err := c.receiveDrops(ctx, ps)
		_ = ps.Close()
		c.dirNear.reset(false)
		c.hook("near-off")
		if ctx.Err() != nil {
			return
		}
		c.opts.Logger.Debug("cache: drops subscription lost; users and rooms are read from Redis until it is back", "err", err)
		t := time.NewTimer(c.opts.Backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (c *Cache) receiveDrops(ctx context.Context, ps *redis.PubSub) error {
	quiet := 0
	for {
		msg, err := ps.ReceiveTimeout(ctx, dropsCheckEvery)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				if quiet++; quiet > 1 {
					return errors.New("drops subscription: ping unanswered")
				}
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		quiet = 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == dropsChannel {
				c.dirNear.reset(true)
				c.hook("near-on")
			}
		case *redis.Message:
			from, keys, _ := strings.Cut(m.Payload, "\n")
			if from == c.instance {
				continue // dropped here already, by dropLocal
			}
			c.dropLocal(strings.Split(keys, "\n"))
			c.m.nearDrops.Add(1)
			c.hook("dropped")
		}
	}
}

// hook reports a near store event to a test.
func (c *Cache) hook(event string) {
	if c.opts.nearHook != nil {
		c.opts.nearHook(event)
	}
}

// Close stops listening for other instances' drops. The Redis client is the
// caller's to close, after this.
func (c *Cache) Close() error {
	if c.stopListening != nil {
		c.stopListening()
		// A blocked receive does not watch its context; closing the
		// subscription ends it.
		if ps := c.subscription.Load(); ps != nil {
			_ = ps.Close()
		}
		<-c.listenDone
	}
	return nil
}
