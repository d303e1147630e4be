// Package gateway is the commentgraph service: one App holds the providers,
// the cache, the event bus and the HTTP server, built from a config.Config.
// Its files follow its concerns: gateway.go (the App and New), lifecycle.go
// (Open, Drain, Close), routes.go (endpoints and the GraphQL handler),
// auth.go and jwt.go (who a request acts for: an API key or a verified JWT),
// errors.go (the error presenter), observe.go (access log and
// metrics around requests), metrics.go, post.go and sse.go (transports),
// webhooks.go, providers.go (building each configured provider) and bus.go
// (events to subscriptions).
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/cache"
	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/credstore"
	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/graph/persisted"
	"github.com/commentgraph/commentgraph/graphqlws"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers"
	"github.com/commentgraph/commentgraph/resolvers/loaders"
)

// App is one gateway: its providers, cache, event bus and HTTP server. Its
// dependencies are fields set by New from the config (wtf's Server style),
// so tests build it the same way main does.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *metrics

	// registry is the default tenant's providers; tenants every tenant's
	// (tenants.go), noTenant none, for a caller of no configured tenant.
	registry *providers.Registry
	tenants  map[string]*tenantState
	noTenant *tenantState
	// credentials stores end users' own upstream credentials
	// (connectProvider); nil when no provider takes them.
	credentials credstore.Store
	// access keeps whether a credential may read a thread, for live events
	// of providers with users' credentials (usercreds.go).
	access *expirable.LRU[string, bool]
	// readers keeps which credentials read which threads, for the deletions
	// of a thread that is gone (usercreds.go).
	readers *expirable.LRU[string, struct{}]
	// attachments signs and checks the Attachment.url links (attachments.go).
	attachments *attachmentSigner
	// origins are auth.allowedOrigins, read once for the CORS and upload
	// checks that consult them on every request.
	origins graphqlws.Origins
	// manifest is the trusted documents (persistedDocuments.manifest), nil
	// without one.
	manifest      persisted.Manifest
	resolver      *resolvers.Resolver
	loaderOptions loaders.Options
	apiKeys       []apiKey
	jwt           *jwtVerifier // auth.jwt, nil without
	readiness     map[string]func(context.Context) error
	webhooks      map[string]webhookFunc
	// background jobs (event streams, pollers), started by Open.
	jobs []func(ctx context.Context)
	// deps are what every adapter instance is lent (providerDeps): built
	// once, as the instances of users' credentials are built on demand.
	deps providers.Deps

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
	// tenant is the tenant the key acts for ("" the default).
	tenant string
	// forward honours X-Upstream-Credential-<id> headers.
	forward bool
}

// webhookFunc verifies and ingests one webhook delivery for a provider.
type webhookFunc func(ctx context.Context, header http.Header, body []byte) error

// New builds a gateway from cfg. Nothing listens until Open.
func New(cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{
		cfg:       cfg,
		log:       log,
		metrics:   newMetrics(),
		readiness: map[string]func(context.Context) error{},
		webhooks:  map[string]webhookFunc{},
		upstream:  newUpstreamTransport(cfg.Limits.UpstreamIdleConns),
	}
	a.closers = append(a.closers, a.upstream.CloseIdleConnections)
	a.attachments = newAttachmentSigner(cfg.Attachments)
	origins, errs := graphqlws.ParseOrigins(cfg.Auth.AllowedOrigins)
	for _, err := range errs {
		log.Warn("auth.allowedOrigins: an entry is ignored", "err", err)
	}
	a.origins = origins
	if err := a.openAuth(); err != nil {
		a.closeAll()
		return nil, err
	}
	if err := a.openStores(); err != nil {
		a.closeAll()
		return nil, err
	}
	a.access = newAccessCache(cfg.Events.AccessCheckTTL.D())
	a.readers = newReaderMemory()
	if cfg.Auth.CredentialKey != "" {
		store, err := credstore.New(cfg.Auth.CredentialKey, a.redis, credstore.Options{})
		if err != nil {
			a.closeAll()
			return nil, fmt.Errorf("auth.credentialKey: %w", err)
		}
		a.credentials = store
	}
	a.deps = a.providerDeps()
	if err := a.buildTenants(); err != nil {
		a.closeAll()
		return nil, err
	}
	for name, check := range a.readiness {
		a.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "commentgraph_dependency_up",
			Help:        "1 when a dependency the gateway can serve without (Redis) answers, 0 while the gateway runs degraded without it.",
			ConstLabels: prometheus.Labels{"dependency": name},
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if check(ctx) != nil {
				return 0
			}
			return 1
		}))
	}
	if path := cfg.PersistedDocuments.Manifest; path != "" {
		m, err := persisted.LoadManifest(path)
		if err != nil {
			a.closeAll()
			return nil, fmt.Errorf("persistedDocuments.manifest: %w", err)
		}
		a.manifest = m
	}
	a.loaderOptions = loaders.Options{Wait: cfg.Loaders.Wait.D(), Unbatched: cfg.Loaders.Disabled}
	stopping, endSubscriptions := context.WithCancel(context.Background())
	a.endSubscriptions = endSubscriptions
	a.closers = append(a.closers, endSubscriptions)
	a.resolver = &resolvers.Resolver{
		Providers: a.registry,
		Registry:  func(ctx context.Context) *providers.Registry { return a.tenantOf(ctx).registry },
		Bus: busAdapter{bus: a.bus, log: log, stopping: stopping, scope: a.responseScope,
			restrict: a.subscriptionFilter, allow: a.mayRead, prepare: a.subscriptionContext},
		Connections: connections{a: a},
		Idempotency: a.idempotencyStore(),
		Health:      a.metrics.isHealthy,
		Credential:  credential,
		AttachmentURL: func(ctx context.Context, at *model.Attachment) *string {
			return a.attachmentURL(ctx, at)
		},
		Limits:  resolvers.Limits{MaxPageSize: cfg.Limits.MaxPageSize},
		Uploads: uploadLimits(cfg.Attachments), // upload.go
		Logger:  log,
	}
	return a, nil
}

// responseScope gives one response (a query's, a mutation's, or one
// subscription event's) what lives exactly as long as it: its own loaders, so
// nothing is cached for a connection's lifetime, and its budget of upstream
// calls, identical ones made once (except in the naive baseline, where every
// look-up must be a call).
func (a *App) responseScope(ctx context.Context) context.Context {
	ts := a.tenantOf(ctx)
	if len(ts.users) > 0 {
		// Only these tenants' responses use a memo, so only they look for one
		// in the context.
		if _, has := ctx.Value(secretMemoKey{}).(*secretMemo); !has {
			ctx = withSecretMemo(ctx) // a subscription's events share its own
		}
	}
	ctx = loaders.With(ctx, loaders.New(ts.registry, a.loaderOptions))
	if a.cfg.Loaders.Disabled {
		return providers.WithUnsharedCallBudget(ctx, a.cfg.Limits.MaxUpstreamCalls)
	}
	return providers.WithCallBudget(ctx, a.cfg.Limits.MaxUpstreamCalls)
}
