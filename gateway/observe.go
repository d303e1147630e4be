package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/commentgraph/commentgraph/internal/telemetry"
	"github.com/commentgraph/commentgraph/internal/upstreamwait"
)

type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int64
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
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// SetAccessLog turns the access log (a line per request at INFO, see observe)
// on or off; off, the lines are logged at DEBUG, as an answer with a 5xx
// status is still logged at WARN. On by default. Call it before Open.
func (a *App) SetAccessLog(on bool) { a.metrics.telemetry.accessLogOff = !on }

// observe counts and times requests, traces them (when tracing is on), and
// logs each at the boundary: the access log line "request" has method, route,
// status, duration (seconds), bytes (of the response body) and, through the
// log handler, requestId and traceId (internal/telemetry.LogHandler); never
// headers, bodies or query strings (they may hold keys). It is at INFO, or
// at DEBUG with the access log off; at WARN for a 5xx.
func (a *App) observe(route string, next http.Handler) http.Handler {
	quiet := a.metrics.telemetry.accessLogOff
	return a.traced(route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		level := slog.LevelInfo
		switch {
		case code >= 500:
			level = slog.LevelWarn
		case quiet:
			level = slog.LevelDebug
		}
		ctx := r.Context()
		if !a.log.Enabled(ctx, level) {
			return
		}
		a.log.LogAttrs(ctx, level, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", code),
			slog.Float64("duration", d.Seconds()), slog.Int64("bytes", rec.bytes))
	}))
}

// withRequestID gives every request an id: the X-Request-Id it came with, when
// that is fit to log (internal/telemetry.AcceptRequestID), or a new one. The
// id is answered in X-Request-Id and carried in the request's context, from
// where the log handler adds it to every line logged with that context and
// the error presenter to every error's extensions.requestId.
func (a *App) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := telemetry.AcceptRequestID(r.Header.Get(telemetry.RequestIDHeader))
		w.Header().Set(telemetry.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(telemetry.WithRequestID(r.Context(), id)))
	})
}

// isStreaming says r opens a subscription (a WebSocket or Server-Sent
// Events), which lasts as long as the client stays: it is counted, not timed.
func isStreaming(r *http.Request) bool {
	return isWebSocketUpgrade(r) || prefersEventStream(r) || r.Header.Get(streamTokenHeader) != ""
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
