package graphqlws

import (
	"net/http/httptest"
	"testing"
)

func TestCheckOrigin(t *testing.T) {
	tr := New(Options{AllowedOrigins: []string{
		"https://app.example.com",
		"http://localhost:3000",
		"*.example.org", // no scheme: https only
		"HTTPS://*.Example.NET:8443/",
		"https://[::1]:9000",
		"ftp://files.example.com", // not an http(s) origin: admits nothing
		"https://app.example.com/path",
	}})
	if len(tr.origins) != 5 {
		t.Fatalf("parsed %d entries, want 5 (two are not origins): %+v", len(tr.origins), tr.origins)
	}
	plain := "http://gw.test:8080/query"
	for _, tc := range []struct {
		name   string
		url    string            // the request's
		header map[string]string // Origin and others
		ok     bool
	}{
		{"no Origin: not a browser", plain, nil, true},

		{"an allowed https origin", plain, map[string]string{"Origin": "https://app.example.com"}, true},
		{"in other case", plain, map[string]string{"Origin": "https://APP.Example.com"}, true},
		{"with the default port spelt out", plain, map[string]string{"Origin": "https://app.example.com:443"}, true},
		{"the same host over http", plain, map[string]string{"Origin": "http://app.example.com"}, false},
		{"the same host on another port", plain, map[string]string{"Origin": "https://app.example.com:8443"}, false},
		{"an http entry admits http", plain, map[string]string{"Origin": "http://localhost:3000"}, true},
		{"an http entry does not admit https", plain, map[string]string{"Origin": "https://localhost:3000"}, false},
		{"an entry's port is not optional", plain, map[string]string{"Origin": "http://localhost"}, false},
		{"an IPv6 literal", plain, map[string]string{"Origin": "https://[::1]:9000"}, true},

		{"a schemeless pattern admits https", plain, map[string]string{"Origin": "https://a.example.org"}, true},
		{"a schemeless pattern does not admit http", plain, map[string]string{"Origin": "http://a.example.org"}, false},
		{"a pattern wants its dot", plain, map[string]string{"Origin": "https://example.org"}, false},
		{"a pattern is not a suffix", plain, map[string]string{"Origin": "https://a.example.org.evil.test"}, false},
		{"a pattern with a port", plain, map[string]string{"Origin": "https://x.example.net:8443"}, true},
		{"a pattern with a port, on another", plain, map[string]string{"Origin": "https://x.example.net"}, false},

		{"a refused entry's origin", plain, map[string]string{"Origin": "ftp://files.example.com"}, false},
		{"null", plain, map[string]string{"Origin": "null"}, false},
		{"an Origin with a path", plain, map[string]string{"Origin": "https://app.example.com/x"}, false},
		{"an Origin with user info", plain, map[string]string{"Origin": "https://eve@app.example.com"}, false},
		{"a ws Origin", plain, map[string]string{"Origin": "ws://app.example.com"}, false},
		{"a foreign origin", plain, map[string]string{"Origin": "https://evil.test"}, false},

		{"same origin over http", plain, map[string]string{"Origin": "http://gw.test:8080"}, true},
		{"same host, https page, plain request", plain, map[string]string{"Origin": "https://gw.test:8080"}, false},
		{"same origin over TLS", "https://gw.test/query", map[string]string{"Origin": "https://gw.test"}, true},
		{"same origin over TLS, default port in Host", "https://gw.test:443/query", map[string]string{"Origin": "https://gw.test"}, true},
		{"an http page on the host of a TLS request", "https://gw.test/query", map[string]string{"Origin": "http://gw.test"}, false},
		{"behind a TLS proxy", "http://gw.test/query", map[string]string{"Origin": "https://gw.test", "X-Forwarded-Proto": "https"}, true},
		{"behind proxies, the outermost's word", "http://gw.test/query", map[string]string{"Origin": "https://gw.test", "X-Forwarded-Proto": "https, http"}, true},
		{"an http page on the host, behind a TLS proxy", "http://gw.test/query", map[string]string{"Origin": "http://gw.test", "X-Forwarded-Proto": "https"}, false},
		{"a TLS request whatever X-Forwarded-Proto says", "https://gw.test/query", map[string]string{"Origin": "http://gw.test", "X-Forwarded-Proto": "http"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.url, nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			if got := tr.checkOrigin(r); got != tc.ok {
				t.Errorf("Origin %q to %s (%v): allowed %v, want %v", tc.header["Origin"], tc.url, tc.header, got, tc.ok)
			}
		})
	}
}
