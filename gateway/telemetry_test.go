package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/internal/otlptest"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/internal/telemetry"
)

// Spans of a client that called the gateway, as in its traceparent.
const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

// otelEnv sets the OTEL_* variables the gateway reads for the test's
// duration: endpoint "" leaves tracing off.
func otelEnv(t *testing.T, endpoint string) {
	t.Helper()
	for k, v := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
		"OTEL_TRACES_EXPORTER": "", "OTEL_SDK_DISABLED": "", "OTEL_EXPORTER_OTLP_PROTOCOL": "",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "", "OTEL_TRACES_SAMPLER": "", "OTEL_SERVICE_NAME": "",
	} {
		t.Setenv(k, v)
	}
}

// jsonLogGateway is MustStartGateway logging JSON lines through the log
// handler main installs (internal/telemetry.LogHandler), with the access log
// as accessLog says. Close it (it flushes spans); the test's end closes it too.
func jsonLogGateway(t *testing.T, cfg *config.Config, accessLog bool) (*gateway, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	app, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	app.SetAccessLog(accessLog)
	if err := app.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { closeApp(t, app) })
	return &gateway{t: t, app: app, url: "http://" + app.Addr(), log: logs}, logs
}

func closeApp(t *testing.T, app *App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// logLines decodes the JSON log lines whose msg is msg.
func logLines(t *testing.T, logs *logBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// traceparentRecorder is a reverse proxy in front of an upstream emulator
// that remembers the traceparent of every call it passes on.
type traceparentRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func recordTraceparents(t *testing.T, upstreamURL string) *traceparentRecorder {
	t.Helper()
	target, err := url.Parse(upstreamURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	rec := &traceparentRecorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Header.Get("Traceparent"))
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *traceparentRecorder) traceparents() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.seen...)
}

// spanTree indexes spans by id to walk up from one to its ancestors.
type spanTree map[string]otlptest.Span

func newSpanTree(spans []otlptest.Span) spanTree {
	tree := spanTree{}
	for _, s := range spans {
		tree[s.SpanID] = s
	}
	return tree
}

// under reports whether span descends from ancestorID.
func (tree spanTree) under(s otlptest.Span, ancestorID string) bool {
	for s.ParentSpanID != "" {
		if s.ParentSpanID == ancestorID {
			return true
		}
		parent, ok := tree[s.ParentSpanID]
		if !ok {
			return false
		}
		s = parent
	}
	return false
}

func TestTracingFollowsAQueryFromItsClientToTheUpstream(t *testing.T) {
	rcv := otlptest.MustStart(t)
	otelEnv(t, rcv.Endpoint)
	k := klinkWorld(t, 3)
	proxy := recordTraceparents(t, k.URL)
	pc := klinkProvider(k)
	pc.BaseURL = proxy.URL
	g, logs := jsonLogGateway(t, newTestConfig(t, pc), true)

	body, _ := json.Marshal(map[string]any{
		"query":     `query ThreadPage($ref: String!) { thread(provider: "klink", kind: ROOM, ref: $ref) { id comments(first: 10) { edges { node { id text sender { name } } } } } }`,
		"variables": map[string]any{"ref": roomA},
	})
	resp := g.request(t.Context(), http.MethodPost, "", string(body), http.Header{"Traceparent": {"00-" + clientTraceID + "-" + clientSpanID + "-01"}, "X-Request-Id": {"client-req-42"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") != "client-req-42" {
		t.Fatalf("answer %d with X-Request-Id %q, want 200 and the client's id", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	closeApp(t, g.app) // flushes the spans

	spans := rcv.Spans()
	tree := newSpanTree(spans)
	find := func(name string) otlptest.Span {
		t.Helper()
		for _, s := range spans {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no span %q in:\n%s", name, rcv)
		return otlptest.Span{}
	}
	server := find("POST /query")
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER || server.TraceID != clientTraceID || server.ParentSpanID != clientSpanID {
		t.Errorf("server span = %+v, want a server span in the client's trace under its span", server)
	}
	if server.Resource["service.name"] != telemetry.ServiceName {
		t.Errorf("service.name = %q", server.Resource["service.name"])
	}
	op := find("query ThreadPage")
	if op.ParentSpanID != server.SpanID || op.Attributes["graphql.operation.type"] != "query" {
		t.Errorf("operation span = %+v, want it under the server span", op)
	}
	field := find("Query.thread")
	if field.ParentSpanID != op.SpanID {
		t.Errorf("root field span = %+v, want it under the operation span", field)
	}
	// The pollers of roomA and roomB call the same upstream outside any
	// request: those calls make no span and send no traceparent.
	clientSpans := map[string]bool{}
	for _, s := range spans {
		if s.Kind != tracepb.Span_SPAN_KIND_CLIENT || s.Attributes["http.request.method"] == "" {
			continue
		}
		clientSpans[s.SpanID] = true
		if s.TraceID != clientTraceID || !tree.under(s, field.SpanID) {
			t.Errorf("upstream call span %+v is not under the root field's span", s)
		}
		if strings.Contains(s.Attributes["url.full"], "?") {
			t.Errorf("upstream call span url.full %q has a query string", s.Attributes["url.full"])
		}
	}
	if len(clientSpans) == 0 {
		t.Fatalf("no span for an upstream call:\n%s", rcv)
	}
	var traced int
	for _, tp := range proxy.traceparents() {
		if tp == "" {
			continue // a poll
		}
		traced++
		parts := strings.Split(tp, "-")
		if len(parts) != 4 || parts[1] != clientTraceID || !clientSpans[parts[2]] {
			t.Errorf("upstream got traceparent %q, want the client's trace %s and an upstream call's span", tp, clientTraceID)
		}
	}
	if traced != len(clientSpans) {
		t.Errorf("upstream got %d calls with a traceparent, want one per upstream call span (%d)", traced, len(clientSpans))
	}

	access := logLines(t, logs, "request")
	if len(access) != 1 {
		t.Fatalf("%d access log lines, want 1:\n%s", len(access), logs)
	}
	if a := access[0]; a["requestId"] != "client-req-42" || a["traceId"] != clientTraceID || a["level"] != "INFO" {
		t.Errorf("access log line = %v, want the request id and the trace id at INFO", a)
	}
}

func TestTracingOffWrapsNothing(t *testing.T) {
	otelEnv(t, "")
	k := klinkWorld(t, 1)
	proxy := recordTraceparents(t, k.URL)
	pc := klinkProvider(k)
	pc.BaseURL = proxy.URL
	g := MustStartGateway(t, newTestConfig(t, pc))

	if g.app.tracing() != nil {
		t.Fatal("tracing is on with no OTEL_* variable set")
	}
	if _, ok := g.app.upstreamClient().Transport.(*http.Transport); !ok {
		t.Errorf("upstream transport is %T, want the *http.Transport itself", g.app.upstreamClient().Transport)
	}
	h := &markerHandler{}
	if got := g.app.traced("query", h); got != http.Handler(h) {
		t.Errorf("traced wrapped the handler with tracing off")
	}

	readAll(g.request(t.Context(), http.MethodPost, "", `{"query":"{ thread(provider: \"klink\", kind: ROOM, ref: \"`+roomA+`\") { id comments(first: 1) { edges { node { id } } } } }"}`, http.Header{"Traceparent": {"00-" + clientTraceID + "-" + clientSpanID + "-01"}}))
	seen := proxy.traceparents()
	if len(seen) == 0 {
		t.Fatal("the query made no upstream call")
	}
	for _, tp := range seen {
		if tp != "" {
			t.Errorf("upstream got traceparent %q with tracing off", tp)
		}
	}
}

type markerHandler struct{ http.Handler }

func TestTracingRedisCommandsOnlyWithinARequest(t *testing.T) {
	r := redistest.MustStart(t)
	rcv := otlptest.MustStart(t)
	otelEnv(t, rcv.Endpoint)
	k := klinkWorld(t, 2)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Redis.URL = r.URL
	g, _ := jsonLogGateway(t, cfg, true)

	readAll(g.request(t.Context(), http.MethodPost, "", `{"query":"{ thread(provider: \"klink\", kind: ROOM, ref: \"`+roomA+`\") { id comments(first: 5) { edges { node { id sender { name } } } } } }"}`, http.Header{"Traceparent": {"00-" + clientTraceID + "-" + clientSpanID + "-01"}}))
	closeApp(t, g.app)

	var inRequest int
	for _, s := range rcv.Spans() {
		if s.Attributes["db.system"] != "redis" && s.Attributes["db.system.name"] != "redis" {
			continue
		}
		if s.TraceID != clientTraceID {
			t.Errorf("Redis span %q outside the request's trace (the bus's and pollers' own loops make none)", s.Name)
			continue
		}
		inRequest++
		if _, ok := s.Attributes["db.statement"]; ok {
			t.Errorf("Redis span %q carries its command's arguments: %q", s.Name, s.Attributes["db.statement"])
		}
	}
	if inRequest == 0 {
		t.Fatalf("no Redis span in the request's trace:\n%s", rcv)
	}
}

func TestRequestIDs(t *testing.T) {
	otelEnv(t, "")
	g, logs := jsonLogGateway(t, newTestConfig(t), true)
	for _, tc := range []struct {
		name, sent string
		kept       bool
	}{
		{"kept", "0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"none sent: made", "", false},
		{"unsafe: replaced", `abc def "quoted"`, false},
		{"too long: replaced", strings.Repeat("x", telemetry.MaxRequestIDLen+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, g.url+"/healthz", nil)
			if tc.sent != "" {
				req.Header["X-Request-Id"] = []string{tc.sent}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Request-Id")
			if tc.kept && got != tc.sent {
				t.Fatalf("X-Request-Id = %q, want %q", got, tc.sent)
			}
			if !tc.kept && (got == "" || got == tc.sent || len(got) > telemetry.MaxRequestIDLen) {
				t.Fatalf("X-Request-Id = %q, want a new id", got)
			}
			var line map[string]any
			for _, l := range logLines(t, logs, "request") {
				if l["requestId"] == got {
					line = l
				}
			}
			if line == nil {
				t.Fatalf("no access log line with requestId %q:\n%s", got, logs)
			}
			if line["level"] != "INFO" || line["method"] != "GET" || line["route"] != "healthz" || line["status"] != 200.0 || line["bytes"] != 16.0 {
				t.Errorf("access log line = %v", line)
			}
			if d, ok := line["duration"].(float64); !ok || d <= 0 || d > 10 {
				t.Errorf("duration = %v, want seconds as a float", line["duration"])
			}
		})
	}
}

func TestAccessLogOffLogsAtDebug(t *testing.T) {
	otelEnv(t, "")
	g, logs := jsonLogGateway(t, newTestConfig(t), false)
	resp, err := http.Get(g.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	lines := logLines(t, logs, "request")
	if len(lines) != 1 || lines[0]["level"] != "DEBUG" {
		t.Fatalf("access log lines = %v, want one at DEBUG", lines)
	}
}
