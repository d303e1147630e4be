package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/graphqlws"
)

type authKey struct{}

// authenticate guards /query when API keys are configured: a request needs
// `Authorization: Bearer <key>`. A WebSocket upgrade without the header may
// present the key in connection_init instead (browsers cannot set headers on
// sockets); websocketInit checks it there.
func (a *App) authenticate(next http.Handler) http.Handler {
	if len(a.apiKeys) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" && isWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		fp, ok := a.checkKey(h)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="commentgraph"`)
			writeGraphQLError(w, http.StatusUnauthorized, model.CodeUnauthenticated, "a valid API key is required: Authorization: Bearer <key>")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, fp)))
	})
}

// checkKey compares a bearer value with every configured key in constant time
// (hashes first, so neither content nor length leaks through timing) and
// returns the key's fingerprint.
func (a *App) checkKey(header string) (string, bool) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(header, "bearer ")
	}
	if !ok || token == "" {
		return "", false
	}
	got := sha256.Sum256([]byte(token))
	found := 0
	var fp string
	for _, k := range a.apiKeys {
		if subtle.ConstantTimeCompare(got[:], k.hash[:]) == 1 {
			found = 1
			fp = k.fingerprint
		}
	}
	return fp, found == 1
}

// websocketInit requires a key in connection_init when the upgrade carried
// none; a missing or wrong key closes the socket with 4401.
func (a *App) websocketInit(ctx context.Context, p map[string]any) (context.Context, error) {
	if len(a.apiKeys) == 0 || ctx.Value(authKey{}) != nil {
		return ctx, nil
	}
	v, _ := p["Authorization"].(string)
	if v == "" {
		v, _ = p["authorization"].(string)
	}
	if !strings.HasPrefix(strings.ToLower(v), "bearer ") && v != "" {
		v = "Bearer " + v
	}
	fp, ok := a.checkKey(v)
	if !ok {
		return ctx, graphqlws.CloseError{Code: 4401, Reason: "unauthorized"}
	}
	return context.WithValue(ctx, authKey{}, fp), nil
}

// credential is the caller's API key fingerprint ("" without auth).
func credential(ctx context.Context) string {
	fp, _ := ctx.Value(authKey{}).(string)
	return fp
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
