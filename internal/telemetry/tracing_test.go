package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/commentgraph/commentgraph/internal/otlptest"
)

func TestSettingsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Settings
		wantErr string
	}{
		{name: "nothing set: off", env: nil, want: Settings{}},
		{name: "endpoint: on over HTTP", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, want: Settings{Enabled: true, Protocol: ProtocolHTTP}},
		{name: "traces endpoint: on", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, want: Settings{Enabled: true, Protocol: ProtocolHTTP}},
		{name: "exporter otlp alone: on", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, want: Settings{Enabled: true, Protocol: ProtocolHTTP}},
		{name: "exporter none beats an endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, want: Settings{}},
		{name: "SDK disabled beats everything", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, want: Settings{}},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, want: Settings{Enabled: true, Protocol: ProtocolGRPC}},
		{name: "traces protocol beats the general one", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, want: Settings{Enabled: true, Protocol: ProtocolHTTP}},
		{name: "another exporter is refused", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{name: "http/json is refused", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: "http/json"},
		{name: "a protocol with tracing off is no error", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, want: Settings{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SettingsFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("SettingsFromEnv = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// upstream is an httptest server that remembers the traceparent of each call.
type upstream struct {
	*httptest.Server
	mu           sync.Mutex
	traceparents []string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.traceparents = append(u.traceparents, r.Header.Get("Traceparent"))
		u.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(u.Close)
	return u
}

// startTracing points the exporter at a fresh receiver of the protocol's
// kind, with env set besides (and no OTEL_SERVICE_NAME unless env has one).
func startTracing(t *testing.T, protocol string, env map[string]string) (*Tracing, *otlptest.Receiver) {
	t.Helper()
	var rcv *otlptest.Receiver
	if protocol == ProtocolGRPC {
		rcv = otlptest.MustStartGRPC(t)
	} else {
		rcv = otlptest.MustStart(t)
	}
	vars := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.Endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
		"OTEL_SERVICE_NAME": "", "OTEL_RESOURCE_ATTRIBUTES": "",
	}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	s, err := SettingsFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return tr, rcv
}

func TestTracingExportsServerAndClientSpans(t *testing.T) {
	for _, protocol := range []string{ProtocolHTTP, ProtocolGRPC} {
		t.Run(protocol, func(t *testing.T) {
			tr, rcv := startTracing(t, protocol, map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test"})
			up := newUpstream(t)
			client := &http.Client{Transport: tr.Transport(http.DefaultTransport)}
			mux := http.NewServeMux()
			mux.Handle("GET /page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, up.URL+"/rooms/r1?cursor=secretish&limit=10", nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				w.WriteHeader(http.StatusNoContent)
			}))
			srv := httptest.NewServer(tr.Handler(mux))
			defer srv.Close()

			const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/page?q=1", nil)
			req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			spans := rcv.Spans()
			if len(spans) != 2 {
				t.Fatalf("%d spans, want the server's and the client's:\n%s", len(spans), rcv)
			}
			var server, client2 otlptest.Span
			for _, s := range spans {
				switch s.Kind {
				case tracepb.Span_SPAN_KIND_SERVER:
					server = s
				case tracepb.Span_SPAN_KIND_CLIENT:
					client2 = s
				}
			}
			if server.TraceID != clientTrace || server.ParentSpanID != clientSpan || server.Name != "GET /page" {
				t.Errorf("server span = %+v; want %q in trace %s under span %s", server, "GET /page", clientTrace, clientSpan)
			}
			if client2.TraceID != clientTrace || client2.ParentSpanID != server.SpanID {
				t.Errorf("client span = %+v; want it under the server span %s", client2, server.SpanID)
			}
			if u := client2.Attributes["url.full"]; u != up.URL+"/rooms/r1" {
				t.Errorf("client span url.full = %q, want %q (no query string)", u, up.URL+"/rooms/r1")
			}
			if res := server.Resource; res["service.name"] != ServiceName || res["deployment.environment"] != "test" {
				t.Errorf("resource = %v, want service.name %s and OTEL_RESOURCE_ATTRIBUTES'", res, ServiceName)
			}
			up.mu.Lock()
			defer up.mu.Unlock()
			if want := "00-" + clientTrace + "-" + client2.SpanID + "-01"; len(up.traceparents) != 1 || up.traceparents[0] != want {
				t.Errorf("upstream got traceparent %q, want %q", up.traceparents, want)
			}
		})
	}
}

func TestServiceNameFromEnv(t *testing.T) {
	tr, rcv := startTracing(t, ProtocolHTTP, map[string]string{"OTEL_SERVICE_NAME": "gateway-eu"})
	_, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "x")
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rcv.Spans()
	if len(spans) != 1 || spans[0].Resource["service.name"] != "gateway-eu" {
		t.Fatalf("spans = %+v, want one from service gateway-eu", spans)
	}
}

func TestChildSpansOnlyStartsNoRootSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := childSpansOnly{tp: tp}.Tracer("redis")

	ctx, span := tracer.Start(context.Background(), "xread")
	if span.IsRecording() || span.SpanContext().IsValid() || ctx != context.Background() {
		t.Fatal("a span was started with no parent")
	}
	span.End()

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	_, child := tracer.Start(ctx, "get")
	child.End()
	parent.End()
	ended := rec.Ended()
	if len(ended) != 2 || ended[0].Name() != "get" || ended[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans = %v, want get under request", ended)
	}
}
