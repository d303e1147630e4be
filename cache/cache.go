// Package cache keeps users and rooms from the upstream providers in Redis (or,
// with no Redis configured, in an in-process LRU that behaves the same), so
// the gateway asks an upstream for each user or room at most once per TTL.
//
// Wrap decorates a providers.Provider: its Users and Rooms read the cache
// first, in one round trip per batch, fetch only the misses upstream, with one
// in-flight fetch per key in the process, and write them back. Keys are scoped
// by the caller's scope (provider instance plus credential fingerprint), so one
// credential's data never answers for another.
//
// The cache fails open: when Redis is down or slow every request is still
// served from the upstream, each Redis call is bounded by CallTimeout, and a
// circuit breaker skips Redis for Backoff after a failure so a dead Redis does
// not cost every request a timeout. When Redis answers again the cache is used
// again, without a restart.
//
// *Cache also implements providers.Directory for providers with no directory
// endpoint (K-LINK): users and rooms learned from payloads, kept for
// LearnedTTL.
package cache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// ErrUnavailable is returned by the writing methods while the cache is
// skipping a Redis that failed a moment ago.
var ErrUnavailable = errors.New("cache: redis is unavailable")

// Cache is a users and rooms cache. It is safe for concurrent use.
type Cache struct {
	opts  Options
	store store
	br    *breaker // nil for the in-memory store, which cannot fail
	m     *metrics
	// near keeps thread entries in the process in front of Redis (see
	// Options.ThreadNearTTL); nil without Redis or when disabled.
	near *nearStore
	// dirNear does the same for users and rooms (Options.NearTTL), served
	// only while listenForDrops hears the other instances' drops; nil without
	// Redis or when disabled.
	dirNear       *nearStore
	instance      string             // tells this cache's drops from the others'
	stopListening context.CancelFunc // nil when not listening
	subscription  atomic.Pointer[redis.PubSub]
	listenDone    chan struct{}

	mu       sync.Mutex
	inflight map[string]*flight // by key: the upstream fetch under way for it
}

var _ providers.Directory = (*Cache)(nil)

// New returns a Cache over opts.Redis, or over an in-memory LRU when it is nil.
// It fails only on invalid options or when the metrics cannot be registered.
func New(opts Options) (*Cache, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cache{opts: o, inflight: make(map[string]*flight)}
	if o.Redis != nil {
		c.store = redisStore{rdb: o.Redis}
		c.br = &breaker{now: o.Now, backoff: o.Backoff}
		c.m = newMetrics(c.br.healthy)
		if o.ThreadNearTTL > 0 {
			c.near = newNearStore(o.Now, maxNearThreads, o.ThreadNearTTL, true)
		}
		if o.NearTTL > 0 {
			c.dirNear = newNearStore(o.Now, maxNearEntries, min(o.NearTTL, o.TTL), false)
			c.m.nearOn = c.dirNear.live.Load
			c.instance = rand.Text()
			ctx, cancel := context.WithCancel(context.Background())
			c.stopListening, c.listenDone = cancel, make(chan struct{})
			go c.listenForDrops(ctx)
		}
	} else {
		c.store = newMemoryStore(o.Now, o.MaxEntries)
		c.m = newMetrics(nil)
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(c.m); err != nil {
			return nil, fmt.Errorf("cache: register metrics: %w", err)
		}
	}
	return c, nil
}

// Stats returns the counters since New.
func (c *Cache) Stats() Stats { return c.m.stats() }

// Healthy reports whether the cache is using Redis: false from a failed Redis
// call until a later one (a probe after Backoff, or Ping) succeeds. Always
// true for the in-memory cache. It makes no call.
func (c *Cache) Healthy() bool { return c.br == nil || c.br.healthy() }

// Ping checks Redis with one PING bounded by CallTimeout, whatever the
// breaker's state, and records the answer: a success puts a skipped Redis
// back into use at once. nil for the in-memory cache. For /readyz.
func (c *Cache) Ping(ctx context.Context) error {
	if c.br == nil {
		return nil
	}
	return c.do(ctx, true, c.store.ping)
}

// call runs one store operation through the breaker and under CallTimeout.
func (c *Cache) call(ctx context.Context, op func(context.Context) error) error {
	return c.do(ctx, false, op)
}

func (c *Cache) do(ctx context.Context, force bool, op func(context.Context) error) error {
	if c.br == nil {
		return op(ctx)
	}
	probe := false
	if !force {
		ok, p := c.br.allow()
		if !ok {
			return ErrUnavailable
		}
		probe = p
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	err := op(cctx)
	cancel()
	o := succeeded
	if err != nil {
		o = failed
		if ctx.Err() != nil {
			o = abandoned
		}
	}
	if o == failed {
		c.m.redisErrors.Add(1)
	}
	opened, closed := c.br.done(probe, o)
	if opened {
		c.opts.Logger.Warn("cache: redis unavailable; serving users and rooms from the upstreams",
			"err", err, "retry_in", c.opts.Backoff)
	}
	if closed {
		c.opts.Logger.Info("cache: redis is back; using it again")
	}
	return err
}

// jittered spreads d over d ± Jitter×d.
func (c *Cache) jittered(d time.Duration) time.Duration {
	if c.opts.Jitter == 0 {
		return d
	}
	j := time.Duration(float64(d) * (1 + c.opts.Jitter*(2*mrand.Float64()-1)))
	return max(j, time.Millisecond)
}

// Invalidate drops the cached entries of users and rooms in scope, learned
// ones included, in one round trip: for an upstream event or webhook saying
// they changed or were deleted. The next look-up fetches them again.
func (c *Cache) Invalidate(ctx context.Context, scope string, userRefs, roomRefs []string) error {
	keys := make([]string, 0, 2*(len(userRefs)+len(roomRefs)))
	for _, r := range userRefs {
		keys = append(keys, key(scope, kindUser, r), key(scope, kindLearnedUser, r))
	}
	for _, r := range roomRefs {
		keys = append(keys, key(scope, kindRoom, r), key(scope, kindLearnedRoom, r))
	}
	keys = append(keys, c.roomThreads(ctx, scope, roomRefs)...)
	if len(keys) == 0 {
		return nil
	}
	err := c.call(ctx, func(ctx context.Context) error { return c.store.del(ctx, keys) })
	c.dropLocal(keys)
	if err != nil {
		return fmt.Errorf("cache: invalidate: %w", err)
	}
	if err := c.publishDrops(ctx, keys); err != nil {
		return fmt.Errorf("cache: invalidate: announce to other instances: %w", err)
	}
	return nil
}

// Refresh overwrites the cached entries of users and rooms in scope with what
// an upstream event or webhook says they now are, with the normal TTL, in one
// round trip. Entries without a Ref are skipped. Learned entries are the
// Directory's: providers with no directory update them with RememberUsers and
// RememberRooms.
func (c *Cache) Refresh(ctx context.Context, scope string, users []*model.User, rooms []*model.Room) error {
	entries := make([]entry, 0, len(users)+len(rooms))
	for _, u := range users {
		if u != nil && u.Ref != "" {
			if b, err := encode(u); err == nil {
				entries = append(entries, entry{key(scope, kindUser, u.Ref), b, c.jittered(c.opts.TTL)})
			}
		}
	}
	var roomRefs []string
	for _, r := range rooms {
		if r != nil && r.Ref != "" {
			roomRefs = append(roomRefs, r.Ref)
			if b, err := encode(r); err == nil {
				entries = append(entries, entry{key(scope, kindRoom, r.Ref), b, c.jittered(c.opts.TTL)})
			}
		}
	}
	if len(entries) == 0 {
		return nil
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.key
	}
	err := c.call(ctx, func(ctx context.Context) error { return c.store.set(ctx, entries) })
	if threads := c.roomThreads(ctx, scope, roomRefs); len(threads) > 0 {
		err = errors.Join(err, c.call(ctx, func(ctx context.Context) error { return c.store.del(ctx, threads) }))
		keys = append(keys, threads...)
	}
	c.dropLocal(keys)
	if err != nil {
		return fmt.Errorf("cache: refresh: %w", err)
	}
	if err := c.publishDrops(ctx, keys); err != nil {
		return fmt.Errorf("cache: refresh: announce to other instances: %w", err)
	}
	return nil
}

// roomThreads is the keys of the cached threads in scope that hang off the
// rooms roomRefs (their Thread.RoomRef), and of the sets listing them: what a
// pushed change to those rooms drops besides the rooms, since a thread's
// title is often its room's name (a K-LINK room, an Aelyst contact). When
// the sets cannot be read it is the sets alone, and the threads keep their
// old title until their TTL.
func (c *Cache) roomThreads(ctx context.Context, scope string, roomRefs []string) []string {
	if len(roomRefs) == 0 {
		return nil
	}
	keys := make([]string, len(roomRefs))
	for i, r := range roomRefs {
		keys[i] = key(scope, kindRoomThreads, r)
	}
	var sets [][]string
	_ = c.call(ctx, func(ctx context.Context) (err error) {
		sets, err = c.store.members(ctx, keys)
		return err
	})
	for _, members := range sets {
		keys = append(keys, members...)
	}
	return keys
}

// RememberUsers keeps users a payload named, for LearnedTTL (providers.Directory).
// An error means they were not kept (Redis unavailable); the caller can go on,
// and the next payload naming them teaches them again.
func (c *Cache) RememberUsers(ctx context.Context, scope string, users []*model.User) error {
	return remember(ctx, c, scope, kindLearnedUser, users, func(u *model.User) string { return u.Ref })
}

// RememberRooms keeps rooms a payload named, like RememberUsers.
func (c *Cache) RememberRooms(ctx context.Context, scope string, rooms []*model.Room) error {
	return remember(ctx, c, scope, kindLearnedRoom, rooms, func(r *model.Room) string { return r.Ref })
}

// LookupUsers returns the remembered users among refs (providers.Directory).
// It fails open: while Redis is unavailable it knows nobody, returns an empty
// map and no error, and callers fall back to what the payload says.
func (c *Cache) LookupUsers(ctx context.Context, scope string, refs []string) (map[string]*model.User, error) {
	return recall[*model.User](ctx, c, scope, kindLearnedUser, refs)
}

// LookupRooms returns the remembered rooms among refs, like LookupUsers.
func (c *Cache) LookupRooms(ctx context.Context, scope string, refs []string) (map[string]*model.Room, error) {
	return recall[*model.Room](ctx, c, scope, kindLearnedRoom, refs)
}

func remember[T comparable](ctx context.Context, c *Cache, scope string, k kind, vals []T, ref func(T) string) error {
	var zero T
	entries := make([]entry, 0, len(vals))
	for _, v := range vals {
		if v == zero || ref(v) == "" {
			continue
		}
		b, err := encode(v)
		if err != nil {
			continue
		}
		entries = append(entries, entry{key(scope, k, ref(v)), b, c.jittered(c.opts.LearnedTTL)})
	}
	if len(entries) == 0 {
		return nil
	}
	if err := c.call(ctx, func(ctx context.Context) error { return c.store.set(ctx, entries) }); err != nil {
		return fmt.Errorf("cache: remember %ss: %w", k, err)
	}
	return nil
}

func recall[T any](ctx context.Context, c *Cache, scope string, k kind, refs []string) (map[string]T, error) {
	refs, vals, _, err := readBatch(ctx, c, scope, k, refs)
	out := make(map[string]T, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return out, nil
	}
	for i, v := range vals {
		if got, ok := decode[T](v); ok {
			out[refs[i]] = got
		}
	}
	return out, nil
}

// readBatch reads refs (deduplicated, as returned) of kind k in one round
// trip, the near store first when k has one. It also returns the near
// store's generation from before the read, for keepNear: what the caller
// fetches upstream for the misses is as old as this read. With no refs it
// makes no call.
func readBatch(ctx context.Context, c *Cache, scope string, k kind, refs []string) ([]string, [][]byte, uint64, error) {
	refs = dedupe(refs)
	if len(refs) == 0 {
		return refs, nil, 0, nil
	}
	keys := keysOf(scope, k, refs)
	near := c.nearFor(k)
	if near == nil {
		var vals [][]byte
		err := c.call(ctx, func(ctx context.Context) (err error) {
			vals, err = c.store.get(ctx, keys)
			return err
		})
		return refs, vals, 0, err
	}
	// The near store first (in the process: it cannot fail), then the store
	// for what it lacks, whose answers it keeps.
	since := near.generation()
	vals, _ := near.mem.get(ctx, keys)
	var farKeys []string
	var farAt []int
	for i, v := range vals {
		if v == nil {
			farKeys, farAt = append(farKeys, keys[i]), append(farAt, i)
		}
	}
	if len(farKeys) == 0 {
		return refs, vals, since, nil
	}
	var far [][]byte
	err := c.call(ctx, func(ctx context.Context) (err error) {
		far, err = c.store.get(ctx, farKeys)
		return err
	})
	if err != nil {
		return refs, nil, since, err
	}
	var found []entry
	for j, v := range far {
		vals[farAt[j]] = v
		if v != nil {
			found = append(found, entry{key: farKeys[j], value: v})
		}
	}
	c.keepNear(k, found, since)
	return refs, vals, since, nil
}

// peek answers refs of kind k from what this process holds, with no Redis
// round trip and no upstream call: the in-memory store when there is no
// Redis, else the near copies while they may be served (nearFor); with
// neither, nothing. Absent refs (not held, held as not found, or not
// decodable) are for lookup. Hits are counted; absent refs are not, as the
// lookup that follows counts them.
func peek[T comparable](ctx context.Context, c *Cache, scope string, k kind, refs []string) map[string]T {
	var get func(context.Context, []string) ([][]byte, error)
	switch near := c.nearFor(k); {
	case near != nil:
		get = near.mem.get
	case c.br == nil: // the in-memory store
		get = c.store.get
	default:
		return nil
	}
	refs = dedupe(refs)
	if len(refs) == 0 {
		return nil
	}
	vals, err := get(ctx, keysOf(scope, k, refs))
	if err != nil {
		return nil
	}
	out := make(map[string]T, len(refs))
	for i, v := range vals {
		if v == nil || isNegative(v) {
			continue
		}
		if got, ok := decode[T](v); ok {
			out[refs[i]] = got
		}
	}
	c.m.count(k, resultHit, len(out))
	return out
}

// keysOf is the store keys of refs of kind k.
func keysOf(scope string, k kind, refs []string) []string {
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = key(scope, k, r)
	}
	return keys
}

// nearFor is the in-process store kept in front of Redis for entries of kind
// k (threads: Options.ThreadNearTTL; users and rooms: Options.NearTTL), or nil
// when there is none or it may not be used now.
func (c *Cache) nearFor(k kind) *nearStore {
	var n *nearStore
	switch k {
	case kindThread:
		n = c.near
	case kindUser, kindRoom:
		n = c.dirNear
	}
	if n == nil || !n.live.Load() {
		return nil
	}
	return n
}

// keepNear copies entries of kind k, as read from or written to the store,
// into its near store, unless an entry was dropped there since generation
// since (see nearStore).
func (c *Cache) keepNear(k kind, entries []entry, since uint64) {
	near := c.nearFor(k)
	if near == nil || len(entries) == 0 {
		return
	}
	near.keep(entries, since, c.opts.NegativeTTL)
}

// dedupe returns refs without repeats, in first-seen order; refs itself when
// it has none.
func dedupe(refs []string) []string {
	if len(refs) < 2 {
		return refs
	}
	seen := make(map[string]struct{}, len(refs))
	out := refs[:0:0]
	for _, r := range refs {
		if _, ok := seen[r]; ok {
			continue
		}
		seen[r] = struct{}{}
		out = append(out, r)
	}
	return out
}
