// Package telemetry is what commentgraph tells about itself besides its
// Prometheus metrics: request ids and the log handler that carries them
// (with the trace id) into every line of a request, and OpenTelemetry tracing
// set up from the standard OTEL_* environment variables: server spans for
// incoming requests, client spans for upstream HTTP calls and Redis commands,
// exported over OTLP.
//
// Tracing is off unless the environment asks for it (see SettingsFromEnv);
// off, nothing here is in a request's path.
package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// ServiceName is service.name unless OTEL_SERVICE_NAME (or service.name in
// OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const ServiceName = "commentgraph"

// Protocols the OTLP exporter speaks, as OTEL_EXPORTER_OTLP_PROTOCOL names them.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// Settings is what the OTEL_* environment says about traces.
type Settings struct {
	// Enabled is whether spans are made and exported at all.
	Enabled bool
	// Protocol is ProtocolHTTP (the default) or ProtocolGRPC.
	Protocol string
}

// SettingsFromEnv applies this rule to the standard variables:
//
//   - OTEL_SDK_DISABLED=true: off, whatever else is set.
//   - OTEL_TRACES_EXPORTER=otlp: on; =none: off; any other exporter is an
//     error (commentgraph exports OTLP only).
//   - OTEL_TRACES_EXPORTER unset: on when OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, off otherwise. (The
//     specification's default exporter is otlp, so other SDKs export to
//     localhost:4318 with nothing set; commentgraph needs to be told.)
//   - The protocol is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
//     OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf; grpc is the other
//     one served (the Go SDK has no http/json exporter).
//
// Everything else (endpoint, headers, timeout, compression, certificates,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and its
// argument, OTEL_BSP_*) the SDK reads itself, as the specification says.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return Settings{}, nil
	}
	var s Settings
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "":
		s.Enabled = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	case "otlp":
		s.Enabled = true
	case "none":
		return Settings{}, nil
	default:
		return Settings{}, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: commentgraph exports traces over OTLP only: otlp, or none", exp)
	}
	if !s.Enabled {
		return Settings{}, nil
	}
	s.Protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if s.Protocol == "" {
		s.Protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	switch s.Protocol {
	case "":
		s.Protocol = ProtocolHTTP
	case ProtocolHTTP, ProtocolGRPC:
	default:
		return Settings{}, fmt.Errorf("OTLP protocol %q (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL): want %s or %s", s.Protocol, ProtocolHTTP, ProtocolGRPC)
	}
	return s, nil
}

// Incoming reads a caller's W3C traceparent (and tracestate) and baggage.
var Incoming propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Outgoing writes traceparent and tracestate on upstream calls, and no
// baggage: what a client put there is not for third-party upstreams.
var Outgoing propagation.TextMapPropagator = propagation.TraceContext{}

// Tracing is a tracer provider exporting spans over OTLP in batches.
type Tracing struct {
	provider *sdktrace.TracerProvider
	// Protocol is the OTLP protocol the exporter speaks.
	Protocol string
}

// Start builds the exporter and tracer provider s describes. It does not
// connect: spans are sent in the background, and an unreachable collector
// costs the spans, reported through the OpenTelemetry error handler (see
// RouteOTelLogs), never a request.
func Start(ctx context.Context, s Settings) (*Tracing, error) {
	if !s.Enabled {
		return nil, fmt.Errorf("telemetry: tracing is not enabled")
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch s.Protocol {
	case ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// The variables come after the default name, so they win.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		if res == nil {
			_ = exp.Shutdown(ctx)
			return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
		}
		// A malformed OTEL_RESOURCE_ATTRIBUTES: what could be read is kept.
		otel.Handle(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{provider: tp, Protocol: s.Protocol}, nil
}

// TracerProvider is the provider every span is started from.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Shutdown exports the spans still buffered and stops the exporter, giving
// up when ctx is done.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// Handler wraps next in a server span named after the request's method and
// route pattern ("POST /query"), parented by the caller's traceparent when
// it sends one. The span carries method, route, path (never the query
// string), status and sizes.
func (t *Tracing) Handler(next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(Incoming),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
}

// Transport wraps base so that each call made within a traced request is a
// client span ("HTTP GET") with the call's traceparent sent upstream. Calls
// outside any request (pollers, event streams) make no span and send no
// traceparent. The span's url.full leaves out the query string (cursors and
// ids today, maybe a key tomorrow).
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(withoutQuery{base},
		otelhttp.WithTracerProvider(childSpansOnly{tp: t.provider}),
		otelhttp.WithPropagators(Outgoing),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
}

// withoutQuery sits under otelhttp's Transport, which has set url.full on
// the call's span by the time the call gets here: it sets it again without
// the query string (the last value of an attribute wins).
type withoutQuery struct{ next http.RoundTripper }

func (w withoutQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.RawQuery != "" {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			u := *r.URL
			u.RawQuery, u.User, u.Fragment = "", nil, ""
			span.SetAttributes(attribute.String("url.full", u.String()))
		}
	}
	return w.next.RoundTrip(r)
}

// InstrumentRedis adds a client span for each command c runs within a
// traced request (a background loop's blocking XREAD, say, makes none).
// Spans name the command, never its arguments: keys hold credential
// fingerprints and values hold cached users.
func (t *Tracing) InstrumentRedis(c redis.UniversalClient) error {
	return redisotel.InstrumentTracing(c,
		redisotel.WithTracerProvider(childSpansOnly{tp: t.provider}),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
	)
}

// childSpansOnly starts spans only under a span already in the context, so
// work done outside any request (a poll every few seconds per thread, a
// blocking read of the event stream) does not fill the trace store with
// one-span traces.
type childSpansOnly struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p childSpansOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childSpansOnlyTracer{t: p.tp.Tracer(name, opts...)}
}

type childSpansOnlyTracer struct {
	embedded.Tracer
	t trace.Tracer
}

func (t childSpansOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx) // the no-op span: nothing is recorded
	}
	return t.t.Start(ctx, name, opts...)
}
