package cache

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Options configures a Cache. The zero value is usable: an in-memory LRU with
// the defaults below.
type Options struct {
	// Redis is where entries live, shared by every gateway instance. Any
	// redis.UniversalClient works, so a Redis Cluster does too (the cache never
	// sends a multi-key command, only pipelines of single-key ones, which a
	// cluster client splits by node; the drops channel is plain pub/sub, which
	// a cluster relays to every node). Give it few retries
	// (RedisConfig.NewCacheClient does): the cache has its own circuit breaker.
	//
	// nil: an in-process LRU of MaxEntries with the same TTL, jitter and
	// negative-caching behaviour, for a single instance.
	Redis redis.UniversalClient

	// TTL is how long a user or room fetched from an upstream is served from
	// the cache.
	//
	// default: 5 minutes.
	TTL time.Duration

	// Jitter spreads each entry's TTL uniformly over TTL ± Jitter×TTL, so the
	// entries one busy query wrote do not all expire, and refetch, together.
	// It applies to NegativeTTL and LearnedTTL too.
	//
	// default: 0.1; -1 disables jitter; values above 1 are treated as 1.
	Jitter float64

	// NegativeTTL is how long "this reference does not exist" is remembered, so
	// a client asking again and again for a missing user costs no upstream call.
	// Short, since the user may be created.
	//
	// default: 30 seconds; -1 disables negative caching.
	NegativeTTL time.Duration

	// LearnedTTL is how long users and rooms written through the Directory side
	// (RememberUsers, RememberRooms) are kept. They come from payloads of
	// providers with no directory endpoint (K-LINK), so nothing can refetch
	// them: keep them long.
	//
	// default: 30 days.
	LearnedTTL time.Duration

	// CallTimeout bounds every single Redis call (a read, a write pipeline, a
	// ping), whatever the request's own deadline, so a slow Redis costs a
	// request at most this much before it is served from the upstream.
	//
	// default: 50 milliseconds.
	CallTimeout time.Duration

	// Backoff is how long the cache stops using Redis after a failed call. Then
	// one request probes it; if that works the cache is used again. A dead
	// Redis therefore costs at most one CallTimeout per Backoff, not one per
	// request.
	//
	// default: 1 second.
	Backoff time.Duration

	// ThreadNearTTL is how long a thread's metadata and existence, once read
	// from Redis or fetched, are also kept in this process. Nearly every query
	// checks each of its threads first, so without it a page over three
	// threads costs three Redis round trips before its users' one per
	// provider. Threads are not invalidated by events (users and rooms are),
	// so this adds at most ThreadNearTTL to the staleness TTL already allows.
	// Ignored without Redis: the in-memory LRU is in the process already.
	//
	// default: 5 seconds; -1 disables it.
	ThreadNearTTL time.Duration

	// NearTTL is how long a user or room, once read from Redis or fetched, is
	// also kept in this process, so a page whose users are all cached costs
	// no Redis round trip at all. Entries changed through Refresh or
	// Invalidate on any instance are dropped on every instance: each one
	// publishes the keys it changed and listens for the others'. The copies
	// are served only while that subscription is known to be up; from each
	// (re)subscribe, and whenever it fails, they are cleared, so a drop is
	// never missed with copies held. A Redis entry expiring by its TTL may
	// still be served from here for up to NearTTL. Ignored without Redis.
	//
	// default: 10 seconds; -1 disables it. Values above TTL are treated as TTL.
	NearTTL time.Duration

	// MaxEntries caps the in-memory LRU (Redis == nil); the least recently used
	// entry goes first. Ignored with Redis, whose own maxmemory policy applies.
	//
	// default: 100_000.
	MaxEntries int

	// Now is the clock for the in-memory TTLs and the circuit breaker.
	//
	// default: time.Now.
	Now func() time.Time

	// Logger receives a line when Redis becomes unreachable and when it is
	// back. Keys, values and credentials are never logged.
	//
	// default: discard.
	Logger *slog.Logger

	// Registerer, when set, gets the cache's metrics:
	// commentgraph_cache_requests_total{kind,result},
	// commentgraph_cache_redis_errors_total and, with Redis,
	// commentgraph_cache_redis_up; with NearTTL on, also
	// commentgraph_cache_near_listening and commentgraph_cache_near_drops_total.
	// Registering two caches on one registry fails.
	//
	// default (nil): not registered; Stats still counts.
	Registerer prometheus.Registerer

	// nearHook, in tests, hears the users and rooms near store's events:
	// "near-on" (subscribed: served from now), "near-off" (subscription lost:
	// cleared, not served), "dropped" (another instance's drop applied).
	nearHook func(event string)
}

const (
	defaultTTL         = 5 * time.Minute
	defaultJitter      = 0.1
	defaultNegativeTTL = 30 * time.Second
	defaultLearnedTTL  = 30 * 24 * time.Hour
	defaultCallTimeout = 50 * time.Millisecond
	defaultBackoff     = time.Second
	defaultMaxEntries  = 100_000

	defaultThreadNearTTL = 5 * time.Second
	defaultNearTTL       = 10 * time.Second
	// maxNearEntries bounds the in-process users and rooms in Redis mode.
	maxNearEntries = 50_000
	// maxNearThreads bounds the in-process thread entries in Redis mode; a
	// gateway serves far fewer threads within ThreadNearTTL.
	maxNearThreads = 10_000
	// maxRoomThreads bounds a room's set of its cached threads' keys
	// (kindRoomThreads): a busy room's set is extended by every thread
	// cached, so it would otherwise grow for as long as the room is used.
	// A thread past the bound is not dropped when the room changes and
	// keeps its old title until its TTL.
	maxRoomThreads = 1_000
)

// withDefaults returns o with every zero option set to its default, or an
// error naming an option that makes no sense.
func (o Options) withDefaults() (Options, error) {
	if o.TTL < 0 {
		return o, errors.New("cache: TTL must not be negative")
	}
	if o.TTL == 0 {
		o.TTL = defaultTTL
	}
	switch {
	case o.Jitter == -1:
		o.Jitter = 0
	case o.Jitter < 0:
		return o, fmt.Errorf("cache: Jitter %v: want a fraction in [0,1] or -1", o.Jitter)
	case o.Jitter == 0:
		o.Jitter = defaultJitter
	case o.Jitter > 1:
		o.Jitter = 1
	}
	var err error
	if o.NegativeTTL, err = defaultOrOff("NegativeTTL", o.NegativeTTL, defaultNegativeTTL); err != nil {
		return o, err
	}
	if o.LearnedTTL < 0 {
		return o, errors.New("cache: LearnedTTL must not be negative")
	}
	if o.LearnedTTL == 0 {
		o.LearnedTTL = defaultLearnedTTL
	}
	if o.CallTimeout < 0 {
		return o, errors.New("cache: CallTimeout must not be negative")
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = defaultCallTimeout
	}
	if o.Backoff < 0 {
		return o, errors.New("cache: Backoff must not be negative")
	}
	if o.Backoff == 0 {
		o.Backoff = defaultBackoff
	}
	if o.ThreadNearTTL, err = defaultOrOff("ThreadNearTTL", o.ThreadNearTTL, defaultThreadNearTTL); err != nil {
		return o, err
	}
	if o.NearTTL, err = defaultOrOff("NearTTL", o.NearTTL, defaultNearTTL); err != nil {
		return o, err
	}
	if o.MaxEntries < 0 {
		return o, errors.New("cache: MaxEntries must not be negative")
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = defaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o, nil
}

// defaultOrOff applies the convention of the durations that can be turned
// off: 0 is def, -1 stays -1 (off), any other negative is an error.
func defaultOrOff(name string, d, def time.Duration) (time.Duration, error) {
	switch {
	case d == -1:
		return d, nil
	case d < 0:
		return d, fmt.Errorf("cache: %s must be positive, 0 (default) or -1 (off)", name)
	case d == 0:
		return def, nil
	}
	return d, nil
}
