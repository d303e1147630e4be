package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunRefusesAnUnusableTracingSetting(t *testing.T) {
	env := map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-listen", "127.0.0.1:0"}, func(k string) string { return env[k] }, &stderr)
	if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_EXPORTER") {
		t.Fatalf("run = %v, want a refusal naming OTEL_TRACES_EXPORTER", err)
	}
}

// lineWriter hands each write (a log line) to lines.
type lineWriter struct{ lines chan string }

func (w lineWriter) Write(p []byte) (int, error) {
	w.lines <- string(p)
	return len(p), nil
}

// With -log-json, every line is one JSON object, durations are seconds, and
// a request's access log line carries its id.
func TestRunLogsJSONWithRequestIDsAndSeconds(t *testing.T) {
	path := t.TempDir() + "/commentgraph.yaml"
	if err := writeFile(path, "listen: \"127.0.0.1:0\"\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := lineWriter{lines: make(chan string, 100)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", path, "-log-json", "-gc-heap-target", "0", "-shutdown-timeout", "5s"}, func(string) string { return "" }, out)
		close(out.lines)
	}()
	var lines []map[string]any
	next := func() map[string]any {
		t.Helper()
		select {
		case l, ok := <-out.lines:
			if !ok {
				t.Fatalf("run ended: %v", <-done)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q is not one JSON object: %v", l, err)
			}
			lines = append(lines, m)
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("no log line in 10s; so far: %v", lines)
			return nil
		}
	}
	var addr string
	for addr == "" {
		if m := next(); m["msg"] == "listening" {
			addr, _ = m["addr"].(string)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Request-Id", "probe-7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	access := next()
	if access["msg"] != "request" || access["requestId"] != "probe-7" || access["level"] != "INFO" || access["route"] != "healthz" {
		t.Fatalf("access log line = %v", access)
	}
	if _, ok := access["duration"].(float64); !ok {
		t.Errorf("duration = %v, want a number of seconds", access["duration"])
	}
	cancel()
	for m := next(); ; m = next() {
		if m["msg"] == "shutting down: letting in-flight requests finish" {
			if m["timeout"] != 5.0 {
				t.Errorf("timeout = %v, want 5 (seconds, not nanoseconds)", m["timeout"])
			}
			break
		}
	}
	for l := range out.lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("log line %q is not JSON", l)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
