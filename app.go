package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/cache"
	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/idempotency"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers"
	"github.com/commentgraph/commentgraph/resolvers/loaders"
)

// App is one gateway: its providers, cache, event bus and HTTP server. Its
// dependencies are fields set by NewApp from the config (wtf's Server style),
// so tests build it the same way main does.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *metrics

	registry      *providers.Registry
	resolver      *resolvers.Resolver
	loaderOptions loaders.Options
	apiKeys       []apiKey
	readiness     map[string]func(context.Context) error
	webhooks      map[string]webhookFunc
	// background jobs (event streams, pollers), started by Open.
	jobs []func(ctx context.Context)

	redis redis.UniversalClient
	cache *cache.Cache
	// upstream is the one connection pool every adapter's calls share.
	upstream *http.Transport
	bus      events.Bus

	srv *http.Server
	ln  net.Listener
	// draining is set when shutdown begins: /readyz answers 503 from then on,
	// so a load balancer stops sending new requests while in-flight ones finish.
	draining atomic.Bool
	stopBg   context.CancelFunc
	// endSubscriptions completes every open subscription (at shutdown).
	endSubscriptions context.CancelFunc
	bg               sync.WaitGroup
	closers          []func()
}

type apiKey struct {
	hash        [32]byte
	fingerprint string
}

// webhookFunc verifies and ingests one webhook delivery for a provider.
type webhookFunc func(ctx context.Context, header http.Header, body []byte) error

// NewApp builds a gateway from cfg. Nothing listens until Open.
func NewApp(cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{
		cfg:       cfg,
		log:       log,
		metrics:   newMetrics(),
		readiness: map[string]func(context.Context) error{},
		webhooks:  map[string]webhookFunc{},
		upstream:  newUpstreamTransport(cfg.Limits.UpstreamIdleConns),
	}
	a.closers = append(a.closers, a.upstream.CloseIdleConnections)
	for _, k := range cfg.Auth.APIKeys {
		a.apiKeys = append(a.apiKeys, apiKey{hash: sha256.Sum256([]byte(k)), fingerprint: providers.Fingerprint(k)})
	}
	if err := a.openStores(); err != nil {
		a.closeAll()
		return nil, err
	}
	var ps []providers.Provider
	for i, pc := range cfg.Providers {
		p, err := a.buildProvider(pc)
		if err != nil {
			a.closeAll()
			return nil, fmt.Errorf("providers[%d] (%s): %w", i, pc.ID, err)
		}
		ps = append(ps, p)
	}
	a.registry = providers.NewRegistry(ps...)
	a.loaderOptions = loaders.Options{Wait: cfg.Loaders.Wait.D(), Unbatched: cfg.Loaders.Disabled}
	stopping, endSubscriptions := context.WithCancel(context.Background())
	a.endSubscriptions = endSubscriptions
	a.closers = append(a.closers, endSubscriptions)
	a.resolver = &resolvers.Resolver{
		Providers: a.registry,
		Bus: busAdapter{bus: a.bus, log: log, stopping: stopping, loaders: func() *loaders.Loaders {
			return loaders.New(a.registry, a.loaderOptions)
		}},
		Idempotency: a.idempotencyStore(),
		Health:      a.metrics.isHealthy,
		Credential:  credential,
		Limits:      resolvers.Limits{MaxPageSize: cfg.Limits.MaxPageSize},
		Logger:      log,
	}
	return a, nil
}

// openStores connects Redis when configured, and builds the cache and bus on
// it, or in memory otherwise.
func (a *App) openStores() error {
	cacheOpts := cache.Options{Logger: a.log, Registerer: a.metrics.reg, TTL: a.cfg.Cache.TTL.D(), NearTTL: a.cfg.Cache.NearTTL.D()}
	if cacheOpts.NearTTL < 0 {
		cacheOpts.NearTTL = -1 // cache.Options' "off"
	}
	busOpts := events.Options{Logger: a.log, Registerer: a.metrics.reg}
	if a.cfg.Redis.URL != "" {
		client, err := cache.NewRedisClient(a.cfg.Redis.URL)
		if err != nil {
			return err
		}
		a.redis = client
		a.closers = append(a.closers, func() { _ = client.Close() })
		cacheOpts.Redis = client
	}
	c, err := cache.New(cacheOpts)
	if err != nil {
		return err
	}
	a.cache = c
	a.closers = append(a.closers, func() { _ = c.Close() }) // before the Redis client's: closers run last first
	if a.redis != nil {
		// The cache's Ping also closes its breaker when Redis answers, so the
		// cache is back in use as soon as readiness sees Redis.
		a.readiness["redis"] = c.Ping
	}
	if a.redis != nil {
		// The bus blocks on XREAD, so it gets its own connection pool settings:
		// the cache's client fails fast, the bus's waits.
		opt, _ := redis.ParseURL(a.cfg.Redis.URL)
		busClient := redis.NewClient(opt)
		a.closers = append(a.closers, func() { _ = busClient.Close() })
		b, err := events.NewRedis(busClient, busOpts)
		if err != nil {
			return err
		}
		a.bus = b
	} else {
		b, err := events.NewMemory(busOpts)
		if err != nil {
			return err
		}
		a.bus = b
	}
	a.closers = append(a.closers, func() { _ = a.bus.Close() })
	return nil
}

func (a *App) idempotencyStore() idempotency.Store {
	if a.redis != nil {
		s := &idempotency.Redis{Client: a.redis, Logger: a.log}
		// Before the Redis client's closer (closers run last first): Close
		// writes back what was recorded in process during an outage.
		a.closers = append(a.closers, func() { _ = s.Close() })
		return s
	}
	return &idempotency.Memory{}
}

// upstreamClient is the HTTP client every adapter uses: each call bounded by
// the upstream timeout, under the request budget, over one shared pool of
// keep-alive connections (see newUpstreamTransport). The transport is the
// *http.Transport itself, not a wrapper: with Timeout set, net/http runs a
// goroutine and a timer per call for any other RoundTripper.
func (a *App) upstreamClient() *http.Client {
	return &http.Client{Timeout: a.cfg.Limits.UpstreamTimeout.D(), Transport: a.upstream}
}

// upstreamReadBuffer is each upstream connection's read buffer. A page of
// comments is 10-30 KB; through Go's default 4 KiB buffer it costs a read(2)
// per 4 KiB.
const upstreamReadBuffer = 32 << 10

// newUpstreamTransport is Go's default transport (proxy from the environment,
// dial and TLS timeouts, HTTP/2) keeping idlePerHost idle connections per
// upstream host instead of 2, each reading through upstreamReadBuffer. A page
// of comments calls each of its threads' upstreams at once, so with 2 idle
// connections concurrent queries dial and close a TCP (and TLS) connection
// for most calls: measured at 12% of the gateway's CPU in the benchmark.
func newUpstreamTransport(idlePerHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = idlePerHost
	t.MaxIdleConns = 0 // no bound across hosts: the per-host bound is what matters
	t.ReadBufferSize = upstreamReadBuffer
	// The transport sets up HTTP/2 on first use, writing TLSClientConfig;
	// adapters read that config to dial their event sockets (Virola's
	// dialer), so do it now, before the transport is shared.
	t.CloseIdleConnections()
	return t
}

// Open listens on the configured address and serves until Close.
func (a *App) Open() error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	a.ln = ln
	a.srv = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopBg = cancel
	for _, job := range a.jobs {
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			job(ctx)
		}()
	}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("serve", "err", err)
		}
	}()
	a.log.Info("listening", "addr", ln.Addr().String(), "graphiql", *a.cfg.GraphiQL, "providers", len(a.cfg.Providers), "redis", a.redis != nil, "auth", len(a.apiKeys) > 0)
	return nil
}

// Addr is the address Open bound (useful with ":0").
func (a *App) Addr() string { return a.ln.Addr().String() }

// Drain marks the gateway as shutting down: /readyz answers 503 while every
// other endpoint goes on serving. Close drains too; calling Drain first, some
// time before, gives load balancers that time to stop sending requests.
func (a *App) Drain() { a.draining.Store(true) }

// Close stops accepting requests and background jobs, lets in-flight
// requests finish until ctx is done, then closes stores. Nothing it waits on
// outlasts ctx: a job that ignores its context is left behind and reported.
func (a *App) Close(ctx context.Context) error {
	a.Drain()
	if a.stopBg != nil {
		a.stopBg() // jobs stop while in-flight requests finish, both within ctx
	}
	var err error
	if a.srv != nil {
		// Subscriptions never finish on their own, and an SSE stream is an
		// ordinary active request that Shutdown would wait on until ctx ends:
		// complete them as Shutdown begins, so it waits only for real
		// in-flight requests.
		a.srv.RegisterOnShutdown(a.endSubscriptions)
		err = a.srv.Shutdown(ctx)
	}
	if a.stopBg != nil && !waitDone(ctx, &a.bg) {
		a.log.Warn("shutdown: background jobs still running at the deadline", "err", ctx.Err())
		err = errors.Join(err, fmt.Errorf("background jobs: %w", ctx.Err()))
	}
	a.closeAll()
	return err
}

// waitDone waits for wg until ctx is done; false if ctx ended first.
func waitDone(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
}

func (a *App) closeAll() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// busAdapter gives the resolvers the bus's events as comments.
type busAdapter struct {
	bus events.Bus
	log *slog.Logger
	// loaders makes each event's own loaders: with @subscriptionContext the
	// event's fields resolve on the event's context, so that is where fresh
	// loaders go (never one set for the connection's life).
	loaders func() *loaders.Loaders
	// stopping is done when the gateway shuts down; every subscription ends
	// (completes) then.
	stopping context.Context
}

// Publish announces a comment created through the gateway. It uses the same
// dedupe key as every push source, so the comment's echo (an Aelyst webhook,
// the Virola stream, a poll) is not announced a second time.
func (b busAdapter) Publish(ctx context.Context, c *model.Comment) error {
	_, _, err := b.bus.PublishOnce(ctx, commentEventKey(c), c)
	return err
}

// commentEventKey names a comment for the bus's dedupe window: one event per
// comment, whichever sources and instances see it.
func commentEventKey(c *model.Comment) string { return c.ProviderID + ":" + c.ID() }

func (b busAdapter) Subscribe(ctx context.Context, threads, providerIDs []string, since string) (<-chan graphql.Event[*model.Comment], error) {
	sub, err := b.bus.Subscribe(ctx, events.Filter{Threads: threads, Providers: providerIDs}, since)
	if err != nil {
		return nil, err
	}
	// Unbuffered: the bus's own per-subscriber buffer is the only queue, so a
	// slow client is detected there and closed with ErrSlowConsumer.
	out := make(chan graphql.Event[*model.Comment])
	stopWatching := context.AfterFunc(b.stopping, sub.Close)
	go func() {
		defer close(out)
		defer stopWatching()
		defer sub.Close()
		for ev := range sub.C {
			select {
			case out <- graphql.Event[*model.Comment]{Context: loaders.With(resolvers.WithEventID(ctx, ev.ID), b.loaders()), Value: ev.Comment}:
			case <-ctx.Done():
				return
			}
		}
		if err := sub.Err(); err != nil && ctx.Err() == nil && b.stopping.Err() == nil {
			b.log.WarnContext(ctx, "subscription ended by the gateway", "reason", err)
		}
	}()
	return out, nil
}
