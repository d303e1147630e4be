package gateway

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/commentgraph/commentgraph/internal/telemetry"
)

// telemetryState is what the gateway tells about itself besides its metrics:
// its tracing and whether the access log is on. It lives beside the metrics
// (metrics.telemetry).
type telemetryState struct {
	once sync.Once
	// tracing is nil while tracing is off (the default): then no handler,
	// transport or Redis client is wrapped, and no span is ever started.
	tracing *telemetry.Tracing
	// accessLogOff logs each request at DEBUG instead of INFO (SetAccessLog).
	accessLogOff bool
}

// tracingFlushTimeout bounds the export of the last spans at Close. Closers
// get no context, and a collector that does not answer must not hold up a
// shutdown for the exporter's own 10 s timeout.
const tracingFlushTimeout = 5 * time.Second

// tracing is the gateway's tracing as the OTEL_* environment describes it
// (telemetry.SettingsFromEnv); nil when it is off. It starts on first use,
// while New and Open build the gateway, and flushes on Close after every
// other closer, so the spans of closing stores are exported too. A setting
// it cannot use is logged and leaves tracing off; main checks the same
// settings first and refuses to start on them.
func (a *App) tracing() *telemetry.Tracing {
	st := &a.metrics.telemetry
	st.once.Do(func() {
		s, err := telemetry.SettingsFromEnv(os.Getenv)
		if err != nil {
			a.log.Error("tracing off", "err", err)
			return
		}
		if !s.Enabled {
			return
		}
		t, err := telemetry.Start(context.Background(), s)
		if err != nil {
			a.log.Error("tracing off", "err", err)
			return
		}
		st.tracing = t
		// Closers run last first: this one goes first, to run last.
		a.closers = append([]func(){func() {
			ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
			defer cancel()
			if err := t.Shutdown(ctx); err != nil {
				a.log.Warn("tracing: spans left unexported at shutdown", "err", err)
			}
		}}, a.closers...)
		a.log.Info("tracing: exporting spans over OTLP", "protocol", t.Protocol)
	})
	return st.tracing
}

// traced gives next a server span when tracing is on (telemetry.Handler), and
// is next itself when it is off. Health probes are never traced: a load
// balancer asks every few seconds, and their spans would bury the rest.
func (a *App) traced(route string, next http.Handler) http.Handler {
	t := a.tracing()
	if t == nil || route == "healthz" || route == "readyz" {
		return next
	}
	return t.Handler(next)
}

// instrumentRedis gives each command c runs within a traced request a span
// (telemetry.Tracing.InstrumentRedis); with tracing off it does nothing.
func (a *App) instrumentRedis(c redis.UniversalClient) {
	t := a.tracing()
	if t == nil {
		return
	}
	if err := t.InstrumentRedis(c); err != nil {
		a.log.Warn("tracing: Redis commands will not be traced", "err", err)
	}
}

// traceGraphQL adds to srv, when tracing is on, the gqlgen extension that
// gives each query and mutation a span, and each of its root fields a span
// under it. With tracing off it adds nothing (gqlgen refuses an extension
// that intercepts nothing, and one that intercepted would cost each request).
//
// It traces root fields only, through RootFieldInterceptor: a
// FieldInterceptor (as in ravilushqa/otelgqlgen) would send every operation
// to gqlgen's generated executor, off graph/fastpath, and make a span per
// scalar. The upstream calls under a root field have their own client spans.
func (a *App) traceGraphQL(srv *handler.Server) {
	if t := a.tracing(); t != nil {
		srv.Use(graphqlTracer{tracer: t.TracerProvider().Tracer("github.com/commentgraph/commentgraph/gateway")})
	}
}

type graphqlTracer struct{ tracer trace.Tracer }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
	graphql.RootFieldInterceptor
} = graphqlTracer{}

func (graphqlTracer) ExtensionName() string                   { return "OpenTelemetry" }
func (graphqlTracer) Validate(graphql.ExecutableSchema) error { return nil }

// tracedOperation is the operation ctx runs when it is a query or a mutation.
// A subscription is left to its transport's span: it lasts as long as its
// client stays, and its events resolve outside any request.
func tracedOperation(ctx context.Context) *ast.OperationDefinition {
	if !graphql.HasOperationContext(ctx) {
		return nil // refused before it became an operation: the HTTP span says so
	}
	op := graphql.GetOperationContext(ctx).Operation
	if op == nil || op.Operation == ast.Subscription {
		return nil
	}
	return op
}

// InterceptResponse spans one query or mutation: "query ThreadPage", or
// "query" when the operation has no name. Its status is an error when the
// response has errors, listed by extensions.code.
func (g graphqlTracer) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	op := tracedOperation(ctx)
	if op == nil {
		return next(ctx)
	}
	kind := string(op.Operation)
	name := kind
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", kind)}
	if op.Name != "" {
		name += " " + op.Name
		attrs = append(attrs, attribute.String("graphql.operation.name", op.Name))
	}
	ctx, span := g.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		codeList := make([]string, 0, len(resp.Errors))
		for _, e := range resp.Errors {
			c, _ := e.Extensions["code"].(string)
			codeList = append(codeList, c)
		}
		span.SetAttributes(attribute.StringSlice("graphql.error.codes", codeList))
		span.SetStatus(codes.Error, resp.Errors[0].Message)
	}
	return resp
}

// InterceptRootField spans one root field with everything under it:
// "Query.thread". Its status is an error when an error's path starts at it.
func (g graphqlTracer) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	rf := graphql.GetRootFieldContext(ctx)
	op := tracedOperation(ctx)
	if rf == nil || op == nil {
		return next(ctx)
	}
	// The root type by its default name: gqlgen's RootFieldContext.Object
	// holds the field's name.
	kind := string(op.Operation)
	rootType := strings.ToUpper(kind[:1]) + kind[1:]
	alias := rf.Field.Alias
	if alias == "" {
		alias = rf.Field.Name
	}
	ctx, span := g.tracer.Start(ctx, rootType+"."+rf.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.name", rf.Field.Name),
		attribute.String("graphql.field.path", alias),
	))
	defer span.End()
	m := next(ctx)
	for _, e := range graphql.GetErrors(ctx) {
		if len(e.Path) > 0 && e.Path[0] == ast.PathName(alias) {
			span.SetStatus(codes.Error, e.Message)
			break
		}
	}
	return m
}
