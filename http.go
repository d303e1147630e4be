package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/fastpath"
	"github.com/commentgraph/commentgraph/graph/guard"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/graphqlws"
	"github.com/commentgraph/commentgraph/internal/upstreamwait"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers"
	"github.com/commentgraph/commentgraph/resolvers/loaders"
)

// routes builds every endpoint (DESIGN "HTTP endpoints").
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/query", a.observe("query", a.measureOwnTime(a.authenticate(a.limitBody(a.graphqlHandler())))))
	mux.Handle("POST /webhooks/{providerId}", a.observe("webhooks", http.HandlerFunc(a.serveWebhook)))
	mux.Handle("GET /healthz", a.observe("healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	mux.Handle("GET /readyz", a.observe("readyz", http.HandlerFunc(a.serveReady)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	if *a.cfg.GraphiQL {
		mux.Handle("GET /{$}", playground.Handler("commentgraph", "/query"))
	}
	return a.recoverHTTP(mux)
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
		Init:        a.websocketInit,
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
	srv.AddTransport(sseTransport{KeepAlive: ev.KeepAlive.D(), OnSubscribe: a.metrics.subscribers.Inc, OnUnsubscribe: a.metrics.subscribers.Dec}) // before POST: both accept POST, SSE wants Accept: text/event-stream
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{}) // gqlgen's POST, writing the data as the executor made it (post.go)

	queryCache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queryCache)
	srv.SetParserTokenLimit(a.cfg.Limits.MaxTokens)
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

	// Each response — a query's one, or each event of a subscription — gets its
	// own loaders, so nothing is cached for a connection's lifetime, and a query
	// or mutation gets the request budget as its deadline.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		ctx = loaders.With(ctx, loaders.New(a.registry, a.loaderOptions))
		// Each response may make so many upstream calls, identical ones once
		// (except in the naive baseline, where every look-up is a call).
		if a.cfg.Loaders.Disabled {
			ctx = providers.WithUnsharedCallBudget(ctx, a.cfg.Limits.MaxUpstreamCalls)
		} else {
			ctx = providers.WithCallBudget(ctx, a.cfg.Limits.MaxUpstreamCalls)
		}
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
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, a.cfg.Limits.RequestTimeout.D())
			defer cancel()
		}
		return next(ctx)
	})
	return srv
}

type authKey struct{}

// authenticate guards /query when API keys are configured: a request needs
// `Authorization: Bearer <key>`. A WebSocket upgrade without the header may
// present the key in connection_init instead (browsers cannot set headers on
// sockets); websocketInit checks it there.
func (a *App) authenticate(next http.Handler) http.Handler {
	if len(a.apiKeys) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" && isWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		fp, ok := a.checkKey(h)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="commentgraph"`)
			writeGraphQLError(w, http.StatusUnauthorized, model.CodeUnauthenticated, "a valid API key is required: Authorization: Bearer <key>")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, fp)))
	})
}

// checkKey compares a bearer value with every configured key in constant time
// (hashes first, so neither content nor length leaks through timing) and
// returns the key's fingerprint.
func (a *App) checkKey(header string) (string, bool) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(header, "bearer ")
	}
	if !ok || token == "" {
		return "", false
	}
	got := sha256.Sum256([]byte(token))
	found := 0
	var fp string
	for _, k := range a.apiKeys {
		if subtle.ConstantTimeCompare(got[:], k.hash[:]) == 1 {
			found = 1
			fp = k.fingerprint
		}
	}
	return fp, found == 1
}

// websocketInit requires a key in connection_init when the upgrade carried
// none; a missing or wrong key closes the socket with 4401.
func (a *App) websocketInit(ctx context.Context, p map[string]any) (context.Context, error) {
	if len(a.apiKeys) == 0 || ctx.Value(authKey{}) != nil {
		return ctx, nil
	}
	v, _ := p["Authorization"].(string)
	if v == "" {
		v, _ = p["authorization"].(string)
	}
	if !strings.HasPrefix(strings.ToLower(v), "bearer ") && v != "" {
		v = "Bearer " + v
	}
	fp, ok := a.checkKey(v)
	if !ok {
		return ctx, graphqlws.CloseError{Code: 4401, Reason: "unauthorized"}
	}
	return context.WithValue(ctx, authKey{}, fp), nil
}

// credential is the caller's API key fingerprint ("" without auth).
func credential(ctx context.Context) string {
	fp, _ := ctx.Value(authKey{}).(string)
	return fp
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// limitBody answers 413 for a body over the limit, before gqlgen reads any of it.
func (a *App) limitBody(next http.Handler) http.Handler {
	max := a.cfg.Limits.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Method == http.MethodGet || isWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			writeGraphQLError(w, http.StatusRequestEntityTooLarge, model.CodeBadUserInput, fmt.Sprintf("request body is larger than %d bytes", max))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeGraphQLError(w, http.StatusRequestEntityTooLarge, model.CodeBadUserInput, fmt.Sprintf("request body is larger than %d bytes", max))
				return
			}
			writeGraphQLError(w, http.StatusBadRequest, model.CodeBadUserInput, "request body could not be read")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// presentError gives every error extensions.code (and provider, retryAfter for
// upstream ones). Errors that are not ours are masked as INTERNAL; their
// detail goes to the log only.
func (a *App) presentError(ctx context.Context, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	code := model.CodeInternal
	var me *model.Error
	switch {
	case errors.As(err, &me):
		code = me.Code
		gerr.Message = me.Message
		if me.Provider != "" {
			gerr.Message = me.Provider + ": " + me.Message
			setExt(gerr, "provider", me.Provider)
		}
		if me.RetryAfter > 0 || me.Code == model.CodeUpstreamRateLimited {
			setExt(gerr, "retryAfter", int(math.Ceil(me.RetryAfter.Seconds())))
		}
		if me.Err != nil {
			a.log.DebugContext(ctx, "graphql error", "code", code, "provider", me.Provider, "path", gerr.Path.String(), "err", me.Err)
		}
		if code == model.CodeInternal {
			a.log.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", err)
			gerr.Message = "internal error"
		}
	case errors.Is(err, context.DeadlineExceeded):
		code = model.CodeUpstreamTimeout
		gerr.Message = "the request ran out of time"
	case errors.Is(err, context.Canceled):
		code = model.CodeUpstreamTimeout
		gerr.Message = "the request was canceled"
	case gerr.Err == nil || len(gerr.Path) == 0:
		// gqlgen's own, about the request rather than a field: unreadable JSON,
		// parse, validation, variable coercion, complexity.
		code = model.CodeBadUserInput
		switch c, _ := gerr.Extensions["code"].(string); c {
		case guard.CodeComplexity:
			code = model.CodeComplexityLimitExceeded
		case guard.CodeIntrospection:
			code = model.CodeIntrospectionDisabled
		}
	default:
		a.log.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", err)
		gerr.Message = "internal error"
		gerr.Err = nil
	}
	setExt(gerr, "code", string(code))
	a.metrics.gqlErrors.WithLabelValues(string(code)).Inc()
	return gerr
}

func setExt(e *gqlerror.Error, k string, v any) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions[k] = v
}

// recoverPanic masks a resolver panic as INTERNAL and logs the stack.
func (a *App) recoverPanic(ctx context.Context, p any) error {
	a.log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return &model.Error{Code: model.CodeInternal, Message: "internal error"}
}

// recoverHTTP keeps a panic outside gqlgen (a webhook parser, say) from killing
// the process; http.ErrAbortHandler passes through as net/http intends.
func (a *App) recoverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(r.Context(), "panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeGraphQLError(w, http.StatusInternalServerError, model.CodeInternal, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code != 0 {
		return
	}
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe counts and times requests and logs them at the boundary. The log
// line has method, route and status; never headers, bodies or query strings
// (they may hold keys).
func (a *App) observe(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		streaming := isStreaming(r)
		next.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		d := time.Since(start)
		a.metrics.observeHTTP(route, code, d, streaming)
		level := slog.LevelDebug
		if code >= 500 {
			level = slog.LevelWarn
		}
		a.log.Log(r.Context(), level, "http", "method", r.Method, "route", route, "status", code, "duration", d)
	})
}

// isStreaming says r opens a subscription (a WebSocket or Server-Sent
// Events), which lasts as long as the client stays: it is counted, not timed.
func isStreaming(r *http.Request) bool {
	return isWebSocketUpgrade(r) || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// measureOwnTime records each query's and mutation's own time, its latency
// less the time it had an upstream call in flight (internal/upstreamwait),
// in commentgraph_query_own_duration_seconds. The request latency alone
// cannot tell a slower gateway from a slower upstream; this can.
func (a *App) measureOwnTime(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStreaming(r) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		tr := upstreamwait.New(nil)
		next.ServeHTTP(w, r.WithContext(upstreamwait.NewContext(r.Context(), tr)))
		a.metrics.queryOwn.Observe((time.Since(start) - tr.Waited()).Seconds())
	})
}

func (a *App) serveReady(w http.ResponseWriter, r *http.Request) {
	if a.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "draining": true})
		return
	}
	checks := map[string]string{}
	ok := true
	for name, check := range a.readiness {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		err := check(ctx)
		cancel()
		if err != nil {
			checks[name] = "unavailable"
			ok = false
		} else {
			checks[name] = "ok"
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeGraphQLError answers outside gqlgen in GraphQL's error shape.
func writeGraphQLError(w http.ResponseWriter, status int, code model.Code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{
		"message": msg, "extensions": map[string]any{"code": code},
	}}})
}
