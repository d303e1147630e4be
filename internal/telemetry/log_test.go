package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// jsonLines decodes each line buf holds.
func jsonLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogHandlerAddsRequestAndTraceIDsFromContext(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("provider", "klink")

	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := WithRequestID(context.Background(), "req-1")
	ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))

	log.InfoContext(ctx, "with both")
	log.InfoContext(WithRequestID(context.Background(), "req-2"), "request id only")
	log.Info("no context")

	lines := jsonLines(t, &buf)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	for i, want := range []struct{ requestID, traceID any }{
		{"req-1", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"req-2", nil},
		{nil, nil},
	} {
		if got := lines[i]["requestId"]; got != want.requestID {
			t.Errorf("line %d requestId = %v, want %v", i, got, want.requestID)
		}
		if got := lines[i]["traceId"]; got != want.traceID {
			t.Errorf("line %d traceId = %v, want %v", i, got, want.traceID)
		}
		if lines[i]["provider"] != "klink" {
			t.Errorf("line %d lost the logger's own attributes: %v", i, lines[i])
		}
	}
}

func TestLogHandlerWrapsOnce(t *testing.T) {
	var buf bytes.Buffer
	h := LogHandler(LogHandler(slog.NewJSONHandler(&buf, nil)))
	slog.New(h).InfoContext(WithRequestID(context.Background(), "r"), "x")
	if n := strings.Count(buf.String(), `"requestId"`); n != 1 {
		t.Fatalf("requestId appears %d times in %s", n, buf.String())
	}
}

func TestDurationsInSecondsInJSON(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: DurationsInSeconds}))
	log.Info("x", "duration", 1500*time.Millisecond, "timeout", 20*time.Second, "n", 3)
	line := jsonLines(t, &buf)[0]
	if line["duration"] != 1.5 || line["timeout"] != 20.0 || line["n"] != 3.0 {
		t.Fatalf("line = %v, want duration 1.5, timeout 20 (seconds), n 3", line)
	}
}

func TestRedisLoggerWritesOneJSONLineAtWarn(t *testing.T) {
	var buf bytes.Buffer
	l := RedisLogger{Log: slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))}
	l.Printf(WithRequestID(context.Background(), "r1"), "redis: %s:%d: connection pool: %v", "pool.go", 42, "dial tcp: refused")
	var none context.Context // go-redis may pass none
	l.Printf(none, "no context")
	lines := jsonLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	if lines[0]["level"] != "WARN" || lines[0]["msg"] != "redis" || lines[0]["detail"] != "pool.go:42: connection pool: dial tcp: refused" || lines[0]["requestId"] != "r1" {
		t.Fatalf("line = %v", lines[0])
	}
}

func TestRedisLoggerSkipsWorkBelowTheLevel(t *testing.T) {
	var buf bytes.Buffer
	l := RedisLogger{Log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))}
	l.Printf(context.Background(), "%v", "dropped")
	if buf.Len() != 0 {
		t.Fatalf("logged below the handler's level: %s", buf.String())
	}
}
