package gateway

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/internal/upstreamwait"
)

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
