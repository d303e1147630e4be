package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/cache"
	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/idempotency"
)

// openStores connects Redis (one server or a cluster) when configured, and
// builds the cache and bus on it, or in memory otherwise.
func (a *App) openStores() error {
	cacheOpts := cache.Options{Logger: a.log, Registerer: a.metrics.reg, TTL: a.cfg.Cache.TTL.D(), NearTTL: a.cfg.Cache.NearTTL.D()}
	if cacheOpts.NearTTL < 0 {
		cacheOpts.NearTTL = -1 // cache.Options' "off"
	}
	busOpts := events.Options{Logger: a.log, Registerer: a.metrics.reg}
	rc := a.cfg.Redis
	redisConfig := cache.RedisConfig{URL: rc.URL, Addrs: rc.Addrs, Cluster: rc.Cluster, Username: rc.Username, Password: rc.Password, TLS: rc.TLS}
	if rc.Enabled() {
		client, err := redisConfig.NewCacheClient()
		if err != nil {
			return err
		}
		a.instrumentRedis(client)
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
		// The bus blocks on XREAD, so it gets its own connection pool settings:
		// the cache's client fails fast, the bus's waits.
		busClient, err := redisConfig.NewClient()
		if err != nil {
			return err
		}
		a.instrumentRedis(busClient)
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
	a.log.Info("listening", "addr", ln.Addr().String(), "graphiql", *a.cfg.GraphiQL, "providers", len(a.cfg.Providers), "redis", a.redis != nil, "auth", a.authRequired(), "jwt", a.jwt != nil)
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
