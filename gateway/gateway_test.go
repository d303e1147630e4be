package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/internal/logtest"
)

// gateway is a real App serving on 127.0.0.1:0 for one test.
type gateway struct {
	t   *testing.T
	app *App
	url string
	key string // API key sent with every request, when set
	log *logBuffer
}

func newTestConfig(t *testing.T, providers ...config.Provider) *config.Config {
	t.Helper()
	cfg, err := config.Parse(nil, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Providers = providers
	cfg.Limits.RequestTimeout = config.Duration(5 * time.Second)
	cfg.Limits.UpstreamTimeout = config.Duration(2 * time.Second)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type logBuffer = logtest.Buffer

// MustStartGateway runs the real gateway on a free port until the test ends.
func MustStartGateway(t *testing.T, cfg *config.Config) *gateway {
	t.Helper()
	g := startGateway(t, cfg, nil)
	if len(cfg.Auth.APIKeys) > 0 {
		g.key = cfg.Auth.APIKeys[0].Key
	}
	return g
}

// startGateway runs the gateway cfg describes, logging at DEBUG into the
// gateway's log buffer, until the test ends; hook, when set, runs between
// New and Open, while nothing serves yet.
func startGateway(t *testing.T, cfg *config.Config, hook func(*App)) *gateway {
	t.Helper()
	logs := &logBuffer{}
	app, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if hook != nil {
		hook(app)
	}
	if err := app.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = app.Close(ctx)
	})
	return &gateway{t: t, app: app, url: "http://" + app.Addr(), log: logs}
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (r gqlResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// codes lists the errors' extensions.code values.
func (r gqlResponse) codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

func (r gqlResponse) mustNoErrors(t *testing.T) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
}

// query POSTs a GraphQL request.
func (g *gateway) query(q string, vars map[string]any) gqlResponse {
	g.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	return g.post(body, nil)
}

func (g *gateway) post(body []byte, header http.Header) gqlResponse {
	g.t.Helper()
	resp := g.request(context.Background(), http.MethodPost, "", string(body), header)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gqlResponse{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		g.t.Fatalf("POST /query answered %d %q: %v", resp.StatusCode, raw, err)
	}
	return out
}

func TestHealthAndMetrics(t *testing.T) {
	g := MustStartGateway(t, newTestConfig(t))
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(g.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s = %d %s", path, resp.StatusCode, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), "commentgraph_http_requests_total") {
			t.Errorf("/metrics lacks the gateway's metrics")
		}
	}
}
