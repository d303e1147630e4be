package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/fastpath"
	"github.com/commentgraph/commentgraph/graph/guard"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/graph/persisted"
	"github.com/commentgraph/commentgraph/graphiql"
	"github.com/commentgraph/commentgraph/graphqlws"
	"github.com/commentgraph/commentgraph/resolvers"
)

// routes builds every endpoint (README "Endpoints").
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/query", a.observe("query", a.withCORS(a.measureOwnTime(a.authenticate(a.limitBody(a.graphqlHandler()))))))
	mux.Handle("GET /attachments/{provider}/{ref}/{name}", a.observe("attachments", a.authenticate(http.HandlerFunc(a.serveAttachment))))
	mux.Handle("POST /webhooks/{providerId}", a.observe("webhooks", http.HandlerFunc(a.serveWebhook)))
	mux.Handle("GET /healthz", a.observe("healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	mux.Handle("GET /readyz", a.observe("readyz", http.HandlerFunc(a.serveReady)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	if *a.cfg.GraphiQL {
		// GraphiQL and its assets are embedded (graphiql/): the page works
		// without internet access.
		page := graphiql.Handler(graphiql.Options{Title: "commentgraph", Endpoint: "/query"})
		mux.Handle("GET /{$}", page)
		mux.Handle("GET /graphiql/", page)
	}
	return a.withRequestID(a.recoverHTTP(mux))
}

// graphqlHandler is gqlgen's handler.New with each transport and extension
// added on purpose (NewDefaultServer is for demos).
func (a *App) graphqlHandler() http.Handler {
	var es graphql.ExecutableSchema = graph.NewExecutableSchema(graph.Config{Resolvers: a.resolver})
	if !a.cfg.Loaders.Disabled {
		// Comment pages skip gqlgen's per-field machinery (graph/fastpath).
		// The fast path resolves a page's fields one after another, which
		// costs nothing only because the page's users were prefetched into
		// the loaders; with loaders disabled (the naive baseline) every
		// look-up is an upstream call, which the generated executor makes
		// concurrently.
		fp := fastpath.New(es, a.resolver)
		for _, executor := range []string{"fast", "generated"} {
			a.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "commentgraph_graphql_operations_total", Help: "GraphQL operations by executor: fast (graph/fastpath) or generated.",
				ConstLabels: prometheus.Labels{"executor": executor},
			}, func() float64 {
				fast, generated := fp.Served()
				if executor == "fast" {
					return float64(fast)
				}
				return float64(generated)
			}))
		}
		es = fp
	}
	srv := handler.New(es)

	ev := a.cfg.Events
	srv.AddTransport(graphqlws.New(graphqlws.Options{
		Init: a.websocketInit,
		// A JWT's socket closes (4401) at its exp; an API key's never.
		Expires:     func(ctx context.Context) time.Time { id, _ := identityOf(ctx); return id.expires },
		InitTimeout: ev.InitTimeout.D(),
		KeepAlive:   ev.KeepAlive.D(),
		// Browsers send Origin; only allowed ones may open a socket (same-origin
		// by default). Non-browser clients send none and are let through to auth.
		AllowedOrigins:                a.cfg.Auth.AllowedOrigins,
		MaxSubscriptionsPerConnection: ev.MaxSubscriptionsPerConnection,
		// Subscriptions share an execution only under the same API key: what
		// one key may see is never computed for another.
		Key:           credential,
		OnSubscribe:   a.metrics.subscribers.Inc,
		OnUnsubscribe: a.metrics.subscribers.Dec,
		Logger:        a.log,
	}))
	// Before GET and POST: graphql-sse's both modes and EventSource (sse.go).
	sse := newSSETransport(sseOptions{
		KeepAlive: ev.KeepAlive.D(), ReserveTimeout: ev.InitTimeout.D(), MaxOperations: ev.MaxSubscriptionsPerConnection,
		OnSubscribe: a.metrics.subscribers.Inc, OnUnsubscribe: a.metrics.subscribers.Dec,
	})
	srv.AddTransport(sse)
	srv.AddTransport(transport.Options{AllowedMethods: []string{"OPTIONS", "GET", "POST", "PUT", "DELETE"}})
	srv.AddTransport(getTransport{sse: sse})  // queries from the URL (post.go)
	srv.AddTransport(a.multipartTransport())  // createComment's attachments (upload.go)
	srv.AddTransport(postTransport{sse: sse}) // GraphQL over HTTP, writing the data as the executor made it (post.go)

	queryCache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queryCache)
	srv.SetParserTokenLimit(a.cfg.Limits.MaxTokens)
	// Operations sent by hash are filled in before the guard reads them.
	if a.manifest != nil {
		srv.Use(persisted.Trusted{Manifest: a.manifest, Only: a.cfg.PersistedDocuments.Only})
	}
	if *a.cfg.PersistedDocuments.APQ {
		var docs graphql.Cache[string] = lru.New[string](1000)
		if a.redis != nil {
			docs = &persisted.RedisCache{Client: a.redis}
		}
		srv.Use(extension.AutomaticPersistedQuery{Cache: docs})
	}
	// Guard refuses costly documents before gqlgen validates or plans them
	// (graph/guard); it is the only complexity limit, so cost is counted one way.
	lim := a.cfg.Limits
	srv.Use(guard.New(es.Schema(), guard.Options{
		MaxComplexity: lim.MaxComplexity, MaxPageSize: lim.MaxPageSize,
		MaxRepeatedFields: lim.MaxRepeatedFields, MaxSpreads: lim.MaxFragmentSpreads,
		TokenLimit: lim.MaxTokens, Introspection: *a.cfg.Introspection, Cache: queryCache,
	}))
	if *a.cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		// Suggestions ("Did you mean …") would map the schema anyway.
		srv.SetDisableSuggestion(true)
	}
	a.traceGraphQL(srv) // spans for each query, mutation and root field when tracing (telemetry.go)
	// A root field does not start once the request is over (its client gone,
	// its budget spent): aliases of one field would otherwise each run.
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if err := ctx.Err(); err != nil {
			graphql.AddError(ctx, err)
			return graphql.Null
		}
		return next(ctx)
	})
	srv.SetErrorPresenter(a.presentError)
	srv.SetRecoverFunc(a.recoverPanic)

	// A query or mutation gets its response scope here, and the request
	// timeout as its deadline. A subscription event's fields resolve before
	// this runs, on the event's own context, so the bus adapter gives each
	// event its scope (bus.go); here an event only gets its id added.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if !graphql.HasOperationContext(ctx) {
			return next(ctx) // a request refused before it became an operation
		}
		if id := resolvers.EventID(ctx); id != "" {
			// A subscription event: tell the client its id, to resume from.
			resp := next(ctx)
			if resp != nil {
				if resp.Extensions == nil {
					resp.Extensions = map[string]any{}
				}
				resp.Extensions["eventId"] = id
			}
			return resp
		}
		if op := graphql.GetOperationContext(ctx); op.Operation != nil && op.Operation.Operation != ast.Subscription {
			ctx = a.responseScope(ctx)
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, a.cfg.Limits.RequestTimeout.D())
			defer cancel()
		}
		return next(ctx)
	})
	return srv
}

// limitBody answers 413 for a body over the limit, before gqlgen reads any of it.
func (a *App) limitBody(next http.Handler) http.Handler {
	max := a.cfg.Limits.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Method == http.MethodGet || isWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		if isMultipart(r) {
			a.limitUpload(w, r, next) // bounded by the upload limits instead (upload.go)
			return
		}
		if r.ContentLength > max {
			writeTooLarge(w, max)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeTooLarge(w, max)
				return
			}
			writeGraphQLError(w, http.StatusBadRequest, model.CodeBadRequest, "request body could not be read")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// writeTooLarge answers 413 for a request body over max bytes.
func writeTooLarge(w http.ResponseWriter, max int64) {
	writeGraphQLError(w, http.StatusRequestEntityTooLarge, model.CodeBadRequest, fmt.Sprintf("request body is larger than %d bytes", max))
}

// serveReady answers whether this instance should get traffic: 503 once
// shutdown has begun, 200 otherwise. A dependency the gateway can serve
// without (Redis, behind a fail-open cache) makes it degraded, not unready:
// every instance shares that Redis, and pulling them all at once would turn a
// slower gateway into none.
func (a *App) serveReady(w http.ResponseWriter, r *http.Request) {
	if a.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "draining": true})
		return
	}
	checks := map[string]string{}
	degraded := false
	for name, check := range a.readiness {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		err := check(ctx)
		cancel()
		checks[name] = "ok"
		if err != nil {
			checks[name] = "unavailable"
			degraded = true
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "degraded": degraded, "checks": checks})
}
