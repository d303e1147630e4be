package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// LogHandler wraps h so that every record logged with a context (the
// *Context methods of slog.Logger) carries the request's id as requestId and,
// while tracing, its trace id as traceId. Loggers passed around pick both up
// from the context they are given; records logged without one carry neither.
// The attributes go where the record's own do (inside the logger's group,
// should it have one). Wrapping a handler twice wraps it once.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(contextHandler); ok {
		return h
	}
	return contextHandler{next: h}
}

type contextHandler struct{ next slog.Handler }

func (h contextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := RequestID(ctx); id != "" {
			r.AddAttrs(slog.String("requestId", id))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String("traceId", sc.TraceID().String()))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{next: h.next.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{next: h.next.WithGroup(name)}
}

// DurationsInSeconds is a slog.HandlerOptions.ReplaceAttr that writes every
// time.Duration as seconds in a float (0.0125), as Prometheus and most log
// pipelines expect, where slog's JSON handler writes integer nanoseconds.
func DurationsInSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}

// RedisLogger carries go-redis's own messages (redis.SetLogger) into log at
// WARN, instead of the plain-text lines go-redis writes to stderr by default.
// go-redis only logs what went wrong (a dial failing, a connection dropped
// with unread data), so WARN is their level.
type RedisLogger struct{ Log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.Log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	l.Log.WarnContext(ctx, "redis", "detail", strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}

// RouteOTelLogs sends what the OpenTelemetry SDK reports about itself (an
// export that failed, a bad OTEL_* setting) to log: errors at WARN (the
// gateway serves on without its traces), its internal messages at their own
// levels. By default the SDK writes plain-text lines to stderr. This sets
// process-wide state, as the SDK offers no other place: call it once, from
// main.
func RouteOTelLogs(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("opentelemetry", "err", err)
	}))
	otel.SetLogger(logr.FromSlogHandler(log.Handler()))
}
