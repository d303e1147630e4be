package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
)

const (
	testIssuer   = "https://idp.test/"
	testAudience = "commentgraph"
	// testSub is a user claim that must never show in a log line, an error
	// or a metric.
	testSub = "user-SECRETSUB-1"
)

// testKey is a signing key made for one test; its public half is served by a
// jwksServer or written to a PEM file.
type testKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

func newRSAKey(t *testing.T, kid string) testKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, method: jwt.SigningMethodRS256, priv: k}
}

func newECKey(t *testing.T, kid string) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, method: jwt.SigningMethodES256, priv: k}
}

func newEdKey(t *testing.T, kid string) testKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, method: jwt.SigningMethodEdDSA, priv: k}
}

// jwk is the key's public half as a JWK (RFC 7517, 7518, 8037).
func (k testKey) jwk() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]any{"kid": k.kid, "use": "sig", "alg": k.method.Alg()}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes() // 0x04 || x || y
		n := (len(raw) - 1) / 2
		m["kty"], m["crv"], m["x"], m["y"] = "EC", pub.Curve.Params().Name, b64(raw[1:1+n]), b64(raw[1+n:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	}
	return m
}

// publicPEM is the key's public half, PKIX.
func (k testKey) publicPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// claims are a valid token's, changed by over (a nil value removes a claim).
func claims(over map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": testSub, "tenant": "acme", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (k testKey) sign(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, c)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwksServer serves a JWK set and counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []testKey
	fetches int
}

func newJWKSServer(t *testing.T, keys ...testKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.fetches++
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		for _, k := range s.keys {
			set.Keys = append(set.Keys, k.jwk())
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve replaces the keys served from the next fetch on.
func (s *jwksServer) serve(keys ...testKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func (s *jwksServer) fetchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// jwtConfig is auth.jwt with every default, verifying with the key set at
// jwksURL or the key in pemFile.
func jwtConfig(jwksURL, pemFile string) *config.JWT {
	return &config.JWT{
		Issuer: testIssuer, Audience: testAudience, JWKSURL: jwksURL, PublicKeyFile: pemFile,
		TenantClaim: "tenant", UserClaim: "sub", Leeway: config.Duration(30 * time.Second),
		RefreshInterval: config.Duration(time.Hour), UnknownKIDRefreshInterval: config.Duration(5 * time.Minute),
	}
}

// startGatewayWith is startGateway on a validated cfg: hook runs between New
// and Open, while nothing serves yet. Unlike MustStartGateway it sets no
// g.key: a request sends only the credential it names.
func startGatewayWith(t *testing.T, cfg *config.Config, hook func(*App)) *gateway {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, cfg, hook)
}

// authResult is what /query answered one credential, on any transport.
type authResult struct {
	status    int
	challenge string // WWW-Authenticate
	body      string
	closeCode int // WebSocket
	reason    string
}

// authPost POSTs a query with header as Authorization ("" for none).
func authPost(t *testing.T, g *gateway, header, accept, body string) authResult {
	t.Helper()
	h := http.Header{"Accept": {accept}}
	if header != "" {
		h.Set("Authorization", header)
	}
	resp := g.request(context.Background(), http.MethodPost, "", body, h)
	return authResult{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), body: readAll(resp)}
}

// authGetEventSource opens an EventSource-style GET subscription.
func authGetEventSource(t *testing.T, g *gateway, header string) authResult {
	t.Helper()
	h := http.Header{"Accept": {"text/event-stream"}}
	if header != "" {
		h.Set("Authorization", header)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := g.request(ctx, http.MethodGet, "?query="+url.QueryEscape("subscription { commentAdded { id } }"), "", h)
	if resp.StatusCode == http.StatusOK {
		resp.Body.Close() // a stream: its status is all this wants
		return authResult{status: resp.StatusCode}
	}
	return authResult{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), body: readAll(resp)}
}

// authSocket opens a graphql-transport-ws socket, with header on the upgrade
// or initPayload in connection_init, and reports the ack or the close.
func authSocket(t *testing.T, g *gateway, header string, initPayload map[string]any) authResult {
	t.Helper()
	var h http.Header
	if header != "" {
		h = http.Header{"Authorization": {header}}
	}
	c := wsDial(t, g, "graphql-transport-ws", h)
	payload, _ := json.Marshal(initPayload)
	_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: payload})
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m wsMsg
		err := c.ReadJSON(&m)
		if err == nil {
			if m.Type == "connection_ack" {
				return authResult{status: http.StatusSwitchingProtocols, body: "connection_ack"}
			}
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("socket: %v", err)
		}
		return authResult{closeCode: ce.Code, reason: ce.Text}
	}
}

const subscribeSSE = `{"query":"subscription { commentAdded { id } }"}`

// Every bad token is refused on every transport: 401 with an invalid_token
// challenge and UNAUTHENTICATED over HTTP and SSE, 4401 on a socket, with a
// reason and never the token.
func TestJWTRefusals(t *testing.T) {
	rsaKey, ecKey, edKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1"), newEdKey(t, "ed-1")
	stranger := newRSAKey(t, "rsa-1") // another key claiming the served kid
	jwks := newJWKSServer(t, rsaKey, ecKey, edKey)
	cfg := newTestConfig(t)
	cfg.Auth.JWT = jwtConfig(jwks.URL+"/jwks.json", "")
	g := startGatewayWith(t, cfg, nil)
	now := time.Now()

	rsaPEM := rsaKey.publicPEM(t)
	hsWithPublicKey := func(secret []byte, kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
		tok.Header["kid"] = kid
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
		tok.Header["kid"] = rsaKey.kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tampered := func() string {
		parts := strings.Split(rsaKey.sign(t, claims(map[string]any{"sub": "someone"})), ".")
		body, _ := json.Marshal(claims(map[string]any{"sub": "admin"}))
		parts[1] = base64.RawURLEncoding.EncodeToString(body)
		return strings.Join(parts, ".")
	}
	rsaSignedAsEC := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(nil))
		tok.Header["kid"] = ecKey.kid // an EC key's kid, an RSA signature
		s, _ := tok.SignedString(rsaKey.priv)
		return s
	}
	tests := []struct {
		name, token, reason string
	}{
		{"expired", rsaKey.sign(t, claims(map[string]any{"exp": now.Add(-2 * time.Minute).Unix(), "iat": now.Add(-time.Hour).Unix()})), "expired"},
		{"not valid yet", ecKey.sign(t, claims(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()})), "not valid yet"},
		{"issued in the future", edKey.sign(t, claims(map[string]any{"iat": now.Add(2 * time.Minute).Unix()})), "not valid yet"},
		{"wrong issuer", rsaKey.sign(t, claims(map[string]any{"iss": "https://evil.test/"})), "wrong issuer"},
		{"wrong audience", ecKey.sign(t, claims(map[string]any{"aud": "another-api"})), "wrong audience"},
		{"no audience", edKey.sign(t, claims(map[string]any{"aud": nil})), "no aud claim"},
		{"no issuer", edKey.sign(t, claims(map[string]any{"iss": nil})), "no iss claim"},
		{"audience list without ours", edKey.sign(t, claims(map[string]any{"aud": []string{"a", "b"}})), "wrong audience"},
		{"no exp", rsaKey.sign(t, claims(map[string]any{"exp": nil})), "no exp claim"},
		{"no user claim", rsaKey.sign(t, claims(map[string]any{"sub": nil})), "no sub claim naming the user"},
		{"tenant not a string", rsaKey.sign(t, claims(map[string]any{"tenant": 7})), "the tenant claim is not a string"},
		{"alg none", none(), "algorithm not allowed"},
		{"HS256 signed with the RSA public key (PEM)", hsWithPublicKey(rsaPEM, rsaKey.kid), "algorithm not allowed"},
		{"HS256 signed with the RSA modulus", hsWithPublicKey(rsaKey.priv.Public().(*rsa.PublicKey).N.Bytes(), rsaKey.kid), "algorithm not allowed"},
		{"RS256 naming an EC key", rsaSignedAsEC(), "algorithm not allowed"},
		{"signed by another key", stranger.sign(t, claims(nil)), "bad signature"},
		{"tampered claims", tampered(), "bad signature"},
		{"unknown kid", newEdKey(t, "ed-unknown").sign(t, claims(nil)), "unknown signing key"},
		{"malformed", "eyJhbGciOi.eyJzdWIiOi.c2ln", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bearer := "Bearer " + tt.token
			check := func(t *testing.T, r authResult) {
				t.Helper()
				if r.status != http.StatusUnauthorized || !strings.Contains(r.challenge, `error="invalid_token"`) {
					t.Errorf("status %d, WWW-Authenticate %q", r.status, r.challenge)
				}
				var out gqlResponse
				if err := json.Unmarshal([]byte(r.body), &out); err != nil || len(out.Errors) != 1 {
					t.Fatalf("body %s", r.body)
				}
				if c := out.codes(); c[0] != string(model.CodeUnauthenticated) {
					t.Errorf("code %v", c)
				}
				if msg := out.Errors[0].Message; !strings.Contains(msg, tt.reason) {
					t.Errorf("message %q does not say %q", msg, tt.reason)
				}
				if strings.Contains(r.body, tt.token) || strings.Contains(r.body, testSub) {
					t.Errorf("the refusal repeats the token or a claim: %s", r.body)
				}
			}
			t.Run("POST", func(t *testing.T) {
				check(t, authPost(t, g, bearer, "application/graphql-response+json", `{"query":"{ providers { id } }"}`))
			})
			t.Run("SSE", func(t *testing.T) { check(t, authPost(t, g, bearer, "text/event-stream", subscribeSSE)) })
			t.Run("EventSource GET", func(t *testing.T) { check(t, authGetEventSource(t, g, bearer)) })
			for where, r := range map[string]func() authResult{
				"WebSocket header":          func() authResult { return authSocket(t, g, bearer, nil) },
				"WebSocket connection_init": func() authResult { return authSocket(t, g, "", map[string]any{"Authorization": bearer}) },
				"WebSocket bare token":      func() authResult { return authSocket(t, g, "", map[string]any{"authorization": tt.token}) },
			} {
				t.Run(where, func(t *testing.T) {
					got := r()
					if got.closeCode != 4401 || !strings.Contains(got.reason, tt.reason) || strings.Contains(got.reason, tt.token) {
						t.Errorf("closed %d %q, want 4401 with %q", got.closeCode, got.reason, tt.reason)
					}
				})
			}
		})
	}
	t.Run("no credential", func(t *testing.T) {
		r := authPost(t, g, "", "", `{"query":"{ providers { id } }"}`)
		if r.status != http.StatusUnauthorized || r.challenge != `Bearer realm="commentgraph"` || !strings.Contains(r.body, "a valid JWT is required") {
			t.Errorf("%d %q %s", r.status, r.challenge, r.body)
		}
		if got := authSocket(t, g, "", nil); got.closeCode != 4401 {
			t.Errorf("socket closed %d", got.closeCode)
		}
	})
	t.Run("not shaped as a JWT", func(t *testing.T) {
		r := authPost(t, g, "Bearer not-a-jwt-at-all", "", `{"query":"{ providers { id } }"}`)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.challenge, "invalid_token") {
			t.Errorf("%d %q %s", r.status, r.challenge, r.body)
		}
	})
	for _, leak := range []string{testSub, tests[0].token, "SECRETSUB"} {
		if strings.Contains(g.log.String(), leak) {
			t.Errorf("a log line holds %q", leak)
		}
	}
	if _, _, body := do(t, mustRequest(t, http.MethodGet, g.url+"/metrics")); strings.Contains(string(body), "SECRETSUB") {
		t.Error("a metric holds a claim")
	}
}

func mustRequest(t *testing.T, method, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// seenIdentity is what a resolver found in its context.
type seenIdentity struct{ tenant, user, credential string }

// A valid token of each key type is accepted on every transport, its tenant
// and user reach the resolvers, and its credential scope is its user's: a
// refreshed token (another key, later exp) keeps the scope, another user
// does not share it, and API keys keep working beside JWTs.
func TestJWTIdentityReachesResolvers(t *testing.T) {
	rsaKey, ecKey, edKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1"), newEdKey(t, "ed-1")
	jwks := newJWKSServer(t, rsaKey, ecKey, edKey)
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Auth.APIKeys = config.Keys(testAPIKey)
	cfg.Auth.JWT = jwtConfig(jwks.URL, "")
	var mu sync.Mutex
	var seen []seenIdentity
	g := startGatewayWith(t, cfg, func(a *App) {
		// createComment asks Credential(ctx) for its idempotency scope, with
		// the resolver's own context: record what that context carries.
		a.resolver.Credential = func(ctx context.Context) string {
			mu.Lock()
			defer mu.Unlock()
			id, _ := identityOf(ctx)
			seen = append(seen, seenIdentity{id.tenant, id.user, id.fingerprint})
			return id.fingerprint
		}
	})
	lastSeen := func(t *testing.T) seenIdentity {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			t.Fatal("no resolver asked for the credential")
		}
		return seen[len(seen)-1]
	}
	const create = `mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`
	createAs := func(t *testing.T, token, mutationID string) string {
		t.Helper()
		g.key = token
		resp := g.query(create, map[string]any{"in": map[string]any{"thread": model.ThreadID("klink", model.ThreadKindRoom, roomB), "text": "hi", "clientMutationId": mutationID}})
		resp.mustNoErrors(t)
		var out struct {
			CreateComment struct{ Comment struct{ ID string } } `json:"createComment"`
		}
		resp.decode(t, &out)
		return out.CreateComment.Comment.ID
	}

	var firstID, firstCredential string
	for _, key := range []testKey{rsaKey, ecKey, edKey} {
		t.Run(key.method.Alg(), func(t *testing.T) {
			token := key.sign(t, claims(map[string]any{"iat": time.Now().Add(-time.Minute).Unix()}))
			id := createAs(t, token, "m-1")
			got := lastSeen(t)
			if got.tenant != "acme" || got.user != testSub || got.credential == "" {
				t.Errorf("resolver saw %+v", got)
			}
			// Every key's token names the same user: one scope, so the
			// retried clientMutationId answers the first comment.
			if firstID == "" {
				firstID, firstCredential = id, got.credential
			} else if id != firstID || got.credential != firstCredential {
				t.Errorf("a refreshed token got comment %s scope %s, want %s %s", id, got.credential, firstID, firstCredential)
			}
		})
	}
	t.Run("another user has another scope", func(t *testing.T) {
		id := createAs(t, rsaKey.sign(t, claims(map[string]any{"sub": "user-2"})), "m-1")
		got := lastSeen(t)
		if id == firstID || got.credential == firstCredential || got.user != "user-2" {
			t.Errorf("user-2 got comment %s, scope %s (user-1's: %s %s)", id, got.credential, firstID, firstCredential)
		}
	})
	t.Run("the same user in another tenant has another scope", func(t *testing.T) {
		createAs(t, rsaKey.sign(t, claims(map[string]any{"tenant": "globex"})), "m-1")
		if got := lastSeen(t); got.tenant != "globex" || got.credential == firstCredential {
			t.Errorf("resolver saw %+v", got)
		}
	})
	t.Run("no tenant claim is the default tenant", func(t *testing.T) {
		createAs(t, edKey.sign(t, claims(map[string]any{"tenant": nil})), "m-2")
		if got := lastSeen(t); got.tenant != "" || got.user != testSub {
			t.Errorf("resolver saw %+v", got)
		}
	})
	t.Run("expired within the leeway", func(t *testing.T) {
		createAs(t, ecKey.sign(t, claims(map[string]any{"exp": time.Now().Add(-10 * time.Second).Unix()})), "m-3")
	})
	t.Run("an API key names no user", func(t *testing.T) {
		createAs(t, testAPIKey, "m-4")
		if got := lastSeen(t); got.tenant != "" || got.user != "" || got.credential == "" || got.credential == firstCredential {
			t.Errorf("resolver saw %+v", got)
		}
	})
	t.Run("over a socket", func(t *testing.T) {
		token := edKey.sign(t, claims(map[string]any{"sub": "user-3"}))
		for name, open := range map[string]func() *websocket.Conn{
			"header": func() *websocket.Conn {
				return wsDial(t, g, "graphql-transport-ws", http.Header{"Authorization": {"Bearer " + token}})
			},
			"connection_init": func() *websocket.Conn { return wsDial(t, g, "graphql-transport-ws", nil) },
		} {
			t.Run(name, func(t *testing.T) {
				c := open()
				_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: json.RawMessage(`{"Authorization":"Bearer ` + token + `"}`)})
				if m := wsRead(t, c); m.Type != "connection_ack" {
					t.Fatalf("got %+v", m)
				}
				payload, _ := json.Marshal(map[string]any{"query": create, "variables": map[string]any{"in": map[string]any{
					"thread": model.ThreadID("klink", model.ThreadKindRoom, roomB), "text": "hi", "clientMutationId": "ws-" + name}}})
				_ = c.WriteJSON(wsMsg{ID: "1", Type: "subscribe", Payload: payload})
				if m := wsRead(t, c); m.Type != "next" || strings.Contains(string(m.Payload), `"errors"`) {
					t.Fatalf("got %+v %s", m, m.Payload)
				}
				if got := lastSeen(t); got.tenant != "acme" || got.user != "user-3" {
					t.Errorf("resolver saw %+v", got)
				}
			})
		}
	})
	t.Run("over SSE", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		g.key = rsaKey.sign(t, claims(nil))
		resp := g.request(ctx, http.MethodPost, "", subscribeSSE, http.Header{"Accept": {"text/event-stream"}})
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	if jwks.fetchCount() != 1 {
		t.Errorf("the key set was fetched %d times; once at start is all", jwks.fetchCount())
	}
	if strings.Contains(g.log.String(), "SECRETSUB") {
		t.Error("a log line holds the user claim")
	}
}

// A key rotated in after start is picked up by one fetch; a burst of unknown
// kids fetches at most once per interval, and a request is never what
// fetches a known key.
func TestJWKSRotation(t *testing.T) {
	old, rotated := newECKey(t, "2026-01"), newEdKey(t, "2026-02")
	start := func(t *testing.T) (*gateway, *jwksServer) {
		jwks := newJWKSServer(t, old)
		cfg := newTestConfig(t)
		cfg.Auth.JWT = jwtConfig(jwks.URL, "")
		cfg.Auth.JWT.UnknownKIDRefreshInterval = config.Duration(time.Hour)
		g := startGatewayWith(t, cfg, nil)
		// The burst leaves connections dialed but never used, which the
		// server's Shutdown would wait 5s on: close them first (cleanups
		// run last first).
		t.Cleanup(http.DefaultClient.CloseIdleConnections)
		if n := jwks.fetchCount(); n != 1 {
			t.Fatalf("fetched %d times at start", n)
		}
		return g, jwks
	}
	status := func(g *gateway, token string) int {
		return authPost(t, g, "Bearer "+token, "", `{"query":"{ providers { id } }"}`).status
	}

	t.Run("a new kid is fetched once", func(t *testing.T) {
		g, jwks := start(t)
		for range 5 {
			if s := status(g, old.sign(t, claims(nil))); s != http.StatusOK {
				t.Fatalf("old key: %d", s)
			}
		}
		jwks.serve(old, rotated)
		for i := range 5 {
			if s := status(g, rotated.sign(t, claims(nil))); s != http.StatusOK {
				t.Fatalf("rotated key, request %d: %d", i, s)
			}
		}
		if s := status(g, old.sign(t, claims(nil))); s != http.StatusOK {
			t.Fatalf("old key after the rotation: %d", s)
		}
		if n := jwks.fetchCount(); n != 2 {
			t.Errorf("fetched %d times, want 2 (start, the new kid)", n)
		}
	})

	t.Run("a burst of unknown kids fetches once per interval", func(t *testing.T) {
		g, jwks := start(t)
		var wg sync.WaitGroup
		statuses := make(chan int, 40)
		for i := range 40 {
			token := newEdKey(t, "made-up-"+string(rune('a'+i%26))+string(rune('a'+i/26))).sign(t, claims(nil))
			wg.Go(func() { statuses <- status(g, token) })
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != http.StatusUnauthorized {
				t.Errorf("a made-up kid got %d", s)
			}
		}
		if n := jwks.fetchCount(); n != 2 {
			t.Errorf("fetched %d times, want 2 (start, one for the burst)", n)
		}
		// Within the interval even a real new kid waits for the background
		// refresh: the limiter is what bounds the fetches.
		jwks.serve(old, rotated)
		if s := status(g, rotated.sign(t, claims(nil))); s != http.StatusUnauthorized {
			t.Errorf("rotated key within the interval: %d", s)
		}
		if n := jwks.fetchCount(); n != 2 {
			t.Errorf("fetched %d times, want still 2", n)
		}
		if s := status(g, old.sign(t, claims(nil))); s != http.StatusOK {
			t.Errorf("known key: %d", s)
		}
	})
}

// The key set is fetched again in the background every refreshInterval,
// with no request asking, and a key rotated in is then accepted.
func TestJWKSRefreshedInBackground(t *testing.T) {
	old, rotated := newEdKey(t, "a"), newEdKey(t, "b")
	jwks := newJWKSServer(t, old)
	cfg := newTestConfig(t)
	cfg.Auth.JWT = jwtConfig(jwks.URL, "")
	cfg.Auth.JWT.RefreshInterval = config.Duration(20 * time.Millisecond)
	cfg.Auth.JWT.UnknownKIDRefreshInterval = config.Duration(time.Hour)
	g := startGatewayWith(t, cfg, nil)
	jwks.serve(rotated)
	rotatedAt := jwks.fetchCount()
	// Fetches run one after another, so once a second fetch has begun after
	// the rotation the first one's keys are stored.
	deadline := time.Now().Add(10 * time.Second)
	for jwks.fetchCount() < rotatedAt+2 {
		if time.Now().After(deadline) {
			t.Fatalf("no background fetch: %d", jwks.fetchCount())
		}
		time.Sleep(5 * time.Millisecond) // a condition poll, not a wait for the event itself
	}
	if s := authPost(t, g, "Bearer "+rotated.sign(t, claims(nil)), "", `{"query":"{ providers { id } }"}`).status; s != http.StatusOK {
		t.Errorf("rotated key: %d", s)
	}
	// The set replaces the old one: a key withdrawn is refused.
	if s := authPost(t, g, "Bearer "+old.sign(t, claims(nil)), "", `{"query":"{ providers { id } }"}`).status; s != http.StatusUnauthorized {
		t.Errorf("withdrawn key: %d", s)
	}
}

// publicKeyFile holds one key of any supported type and PEM form; tokens it
// signs are accepted, tokens of another algorithm or key refused.
func TestJWTPublicKeyFile(t *testing.T) {
	rsaKey, ecKey, edKey := newRSAKey(t, ""), newECKey(t, ""), newEdKey(t, "")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec384 := testKey{method: jwt.SigningMethodES384, priv: p384}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaKey.priv.Public().(*rsa.PublicKey))})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ecKey.priv.Public(), ecKey.priv)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	ps256 := testKey{method: jwt.SigningMethodPS256, priv: rsaKey.priv}

	tests := []struct {
		name    string
		pem     []byte
		signers []testKey // accepted
		other   testKey   // same type, another key: refused
	}{
		{"RSA PKIX", rsaKey.publicPEM(t), []testKey{rsaKey, ps256}, newRSAKey(t, "")},
		{"RSA PKCS1", pkcs1, []testKey{rsaKey}, newRSAKey(t, "")},
		{"EC P-256", ecKey.publicPEM(t), []testKey{ecKey}, newECKey(t, "")},
		{"EC P-384", ec384.publicPEM(t), []testKey{ec384}, newECKey(t, "")},
		{"EC certificate", cert, []testKey{ecKey}, newECKey(t, "")},
		{"Ed25519", edKey.publicPEM(t), []testKey{edKey}, newEdKey(t, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jwt.pem")
			if err := os.WriteFile(path, tt.pem, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := newTestConfig(t)
			cfg.Auth.JWT = jwtConfig("", path)
			g := startGatewayWith(t, cfg, nil)
			post := func(token string) authResult {
				return authPost(t, g, "Bearer "+token, "", `{"query":"{ providers { id } }"}`)
			}
			for _, k := range tt.signers {
				if r := post(k.sign(t, claims(nil))); r.status != http.StatusOK {
					t.Errorf("%s: %d %s", k.method.Alg(), r.status, r.body)
				}
			}
			if r := post(tt.other.sign(t, claims(nil))); r.status != http.StatusUnauthorized {
				t.Errorf("another key: %d", r.status)
			}
			hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
			forged, _ := hs.SignedString(tt.pem)
			if r := post(forged); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "algorithm not allowed") {
				t.Errorf("HS256 with the file as secret: %d %s", r.status, r.body)
			}
		})
	}
}

// A key source that cannot be read stops the gateway at start, naming the key.
func TestJWTKeySourceRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ecPriv, _ := x509.MarshalECPrivateKey(newECKey(t, "").priv.(*ecdsa.PrivateKey))
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadGateway) }))
	defer down.Close()
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html>") }))
	defer notJSON.Close()
	tests := []struct {
		name, jwksURL, file, want string
	}{
		{"missing file", "", filepath.Join(dir, "nope.pem"), "auth.jwt.publicKeyFile: "},
		{"not PEM", "", write("plain.pem", []byte("hello")), "auth.jwt.publicKeyFile: no PEM block"},
		{"a private key", "", write("priv.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecPriv})), `auth.jwt.publicKeyFile: PEM block "EC PRIVATE KEY" is not a PUBLIC KEY`},
		{"JWKS answering 502", down.URL, "", "auth.jwt.jwksURL: "},
		{"JWKS not JSON", notJSON.URL, "", "auth.jwt.jwksURL: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newTestConfig(t)
			cfg.Auth.JWT = jwtConfig(tt.jwksURL, tt.file)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			app, err := New(cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				app.closeAll()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for token, want := range map[string]bool{
		"eyJh.eyJz.c2ln":         true,
		"eyJh.eyJz.":             true, // alg none: refused by name
		"eyJh..c2ln":             false,
		".eyJz.c2ln":             false,
		"eyJh.eyJz":              false,
		"a.b.c.d":                false,
		"eyJh.eyJz.c2l=":         false,
		"test-api-key-012345678": false,
		"a+b.c/d.e":              false,
	} {
		if got := looksLikeJWT(token); got != want {
			t.Errorf("looksLikeJWT(%q) = %v", token, got)
		}
	}
}

// FuzzJWTVerify: whatever a client sends as a bearer JWT, without the key it
// is refused, for a reason that never repeats what was sent.
func FuzzJWTVerify(f *testing.F) {
	key := testKey{method: jwt.SigningMethodEdDSA, priv: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))}
	other := testKey{method: jwt.SigningMethodEdDSA, priv: ed25519.NewKeyFromSeed([]byte("another key, another key, 32 byt"))}
	der, err := x509.MarshalPKIXPublicKey(key.priv.Public())
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "jwt.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		f.Fatal(err)
	}
	v, err := newJWTVerifier(context.Background(), *jwtConfig("", path), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	sign := func(k testKey, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(k.method, c).SignedString(k.priv)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	f.Add(sign(other, claims(nil)))
	f.Add(sign(key, claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()})))
	f.Add(sign(key, claims(map[string]any{"aud": "elsewhere"})))
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.verify(context.Background(), token)
		if err == nil {
			t.Fatalf("accepted %q as %+v", token, id)
		}
		var jr jwtRefusal
		if !errors.As(err, &jr) {
			t.Fatalf("refused with %T %v", err, err)
		}
		if len(token) >= 8 && strings.Contains(jr.reason, token) {
			t.Fatalf("the reason %q repeats the token", jr.reason)
		}
	})
}
