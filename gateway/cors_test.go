package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
)

func TestCORS(t *testing.T) {
	k := klinkWorld(t, 1)
	do := func(t *testing.T, g *gateway, method, origin string, header http.Header) *http.Response {
		t.Helper()
		var body *strings.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"query":"{ __typename }"}`)
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, g.url+"/query", body)
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	preflight := http.Header{"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"}}

	t.Run("default: no cross-origin access", func(t *testing.T) {
		g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
		if resp := do(t, g, http.MethodOptions, "https://app.example.com", preflight); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight allowed: %v", resp.Header)
		}
		if resp := do(t, g, http.MethodPost, "https://app.example.com", nil); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("request allowed: %v", resp.Header)
		}
	})

	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Auth.AllowedOrigins = []string{"https://app.example.com", "http://localhost:3000"}
	cfg.CORS = config.CORS{AllowCredentials: true, MaxAge: config.Duration(time.Minute)}
	g := MustStartGateway(t, cfg)
	for _, tc := range []struct {
		name, origin string
		allowed      bool
	}{
		{"a listed https origin", "https://app.example.com", true},
		{"a listed http origin", "http://localhost:3000", true},
		{"the listed host over another scheme", "http://app.example.com", false},
		{"another port", "http://localhost:3001", false},
		{"another host", "https://evil.example.com", false},
		{"null", "null", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, g, http.MethodOptions, tc.origin, preflight)
			got := resp.Header.Get("Access-Control-Allow-Origin")
			if tc.allowed != (got == tc.origin) {
				t.Errorf("preflight: Allow-Origin %q", got)
			}
			if tc.allowed {
				if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Credentials") != "true" || resp.Header.Get("Access-Control-Max-Age") != "60" ||
					!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
					t.Errorf("preflight answered %d %v", resp.StatusCode, resp.Header)
				}
			}
			resp = do(t, g, http.MethodPost, tc.origin, nil)
			if got := resp.Header.Get("Access-Control-Allow-Origin"); tc.allowed != (got == tc.origin) {
				t.Errorf("request: Allow-Origin %q", got)
			}
		})
	}
}
