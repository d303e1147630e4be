package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/graphqlws"
	"github.com/commentgraph/commentgraph/providers"
)

// identity is who a request acts for, as authentication found it.
type identity struct {
	// fingerprint names the credential for scoping caches, idempotency keys,
	// stream tokens and shared subscriptions: an API key's fingerprint, or
	// one of a JWT's issuer, tenant and user (never of the token, so a
	// refreshed token keeps its scope).
	fingerprint string
	// tenant is a JWT's tenant claim; "" is the default tenant (every API key).
	tenant string
	// user is a JWT's user claim; "" for an API key, which names no end user.
	user string
	// issuer is a JWT's iss; "" for an API key.
	issuer string
	// forward is set for an API key with forwardCredentials.
	forward bool
	// expires is a JWT's exp (zero for an API key): its sockets close then.
	expires time.Time
	// forwarded are the X-Upstream-Credential-<provider id> values of a
	// request whose API key has forwardCredentials, by provider id (lower
	// case, as configured); nil otherwise: the headers are then ignored.
	forwarded map[string]string
}

// forwardedPrefix starts the headers a server-side caller passes its end
// users' own upstream credentials in.
const forwardedPrefix = "X-Upstream-Credential-"

// forwardedFingerprint scopes a forwarding key's request by the end users'
// credentials it carries too: one backend's key serves many users, and one
// user's idempotency keys, signed links and shared subscriptions must not
// serve another.
func forwardedFingerprint(key string, fwd map[string]string) string {
	if len(fwd) == 0 {
		return key
	}
	ids := make([]string, 0, len(fwd))
	for id := range fwd {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	b.WriteString(key)
	for _, id := range ids {
		b.WriteString("\x00" + id + "\x00" + fwd[id])
	}
	return providers.Fingerprint(b.String())
}

// forwardedCredentials collects the X-Upstream-Credential-<id> headers of r.
func forwardedCredentials(h http.Header) map[string]string {
	var out map[string]string
	for name, vs := range h {
		id, ok := strings.CutPrefix(http.CanonicalHeaderKey(name), forwardedPrefix)
		if !ok || id == "" || len(vs) == 0 || vs[0] == "" {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[strings.ToLower(id)] = vs[0]
	}
	return out
}

// authKey holds the request's identity; authRefusedKey the refusal of a
// WebSocket upgrade's Authorization header, for websocketInit to close with.
type (
	authKey        struct{}
	authRefusedKey struct{}
)

func withIdentity(ctx context.Context, id identity) context.Context {
	return context.WithValue(ctx, authKey{}, id)
}

func identityOf(ctx context.Context) (identity, bool) {
	id, ok := ctx.Value(authKey{}).(identity)
	return id, ok
}

// credential is the fingerprint of the caller's credential ("" without auth).
func credential(ctx context.Context) string {
	id, _ := identityOf(ctx)
	return id.fingerprint
}

// tenant is the caller's tenant: a JWT's tenant claim, "" (the default
// tenant) for an API key, a JWT without the claim, or no auth.
func tenant(ctx context.Context) string {
	id, _ := identityOf(ctx)
	return id.tenant
}

// Refusals of a request's credential other than a JWT's (jwtRefusal).
var (
	errNoCredential = errors.New("no bearer credential")
	errWrongKey     = errors.New("not an API key")
)

// openAuth readies what authenticate checks: the API keys' hashes and, with
// auth.jwt, the JWT verifier (its key set fetched now, then refreshed in the
// background until Close).
func (a *App) openAuth() error {
	addKeys := func(tenant string, keys []config.APIKey) {
		for _, k := range keys {
			a.apiKeys = append(a.apiKeys, apiKey{
				hash: sha256.Sum256([]byte(k.Key)), fingerprint: providers.Fingerprint(k.Key),
				tenant: tenant, forward: k.ForwardCredentials,
			})
		}
	}
	addKeys(config.DefaultTenant, a.cfg.Auth.APIKeys)
	for _, t := range a.cfg.Tenants {
		addKeys(t.ID, t.APIKeys)
	}
	c := a.cfg.Auth.JWT
	if c == nil {
		return nil
	}
	ctx, stop := context.WithCancel(context.Background())
	a.closers = append(a.closers, stop)
	v, err := newJWTVerifier(ctx, *c, &http.Client{Transport: a.upstream}, a.log)
	if err != nil {
		return err
	}
	a.jwt = v
	return nil
}

// authRequired says whether /query needs a credential: an API key or a JWT.
func (a *App) authRequired() bool { return len(a.apiKeys) > 0 || a.jwt != nil }

// authenticate guards /query when API keys or JWTs are configured: a request
// needs `Authorization: Bearer <key or JWT>`. A WebSocket upgrade without the
// header may present it in connection_init instead (browsers cannot set
// headers on sockets); websocketInit checks it there, and closes with 4401 a
// socket whose upgrade header was refused, since a browser is never shown a
// refused upgrade's status.
func (a *App) authenticate(next http.Handler) http.Handler {
	if !a.authRequired() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" && isWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		id, err := a.identify(r.Context(), h)
		if err != nil {
			if isWebSocketUpgrade(r) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authRefusedKey{}, err)))
				return
			}
			challenge := `Bearer realm="commentgraph"`
			if !errors.Is(err, errNoCredential) {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeGraphQLError(w, http.StatusUnauthorized, model.CodeUnauthenticated, a.refusalMessage(err))
			return
		}
		if id.forward {
			id.forwarded = forwardedCredentials(r.Header)
			id.fingerprint = forwardedFingerprint(id.fingerprint, id.forwarded)
		}
		next.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), id)))
	})
}

// identify checks an Authorization value: an API key (compared first, so a
// key keeps working whatever its shape), else, with auth.jwt, a value shaped
// as a JWT. ctx bounds a fetch of the key set for a JWT's unknown kid.
func (a *App) identify(ctx context.Context, header string) (identity, error) {
	token, ok := bearerToken(header)
	if !ok {
		return identity{}, errNoCredential
	}
	if k, ok := a.checkKey(token); ok {
		return identity{fingerprint: k.fingerprint, tenant: k.tenant, forward: k.forward}, nil
	}
	if a.jwt == nil || !looksLikeJWT(token) {
		return identity{}, errWrongKey
	}
	id, err := a.jwt.verify(ctx, token)
	if err != nil {
		// The reason only: never the token or its claims.
		a.log.DebugContext(ctx, "jwt refused", "reason", err.Error())
		return identity{}, err
	}
	if len(a.cfg.Tenants) > 0 && a.tenants[id.tenant] == nil {
		// With tenants configured a claim naming none is a token of another
		// deployment, not the default tenant's.
		return identity{}, jwtRefusal{"the " + a.cfg.Auth.JWT.TenantClaim + " claim names no configured tenant"}
	}
	return id, nil
}

// refusalMessage is the client's explanation of a refused credential: what
// is expected, or why a JWT was refused. It never repeats the credential.
func (a *App) refusalMessage(err error) string {
	var jr jwtRefusal
	switch {
	case errors.As(err, &jr):
		return "the bearer JWT is not valid: " + jr.reason
	case a.jwt == nil:
		return "a valid API key is required: Authorization: Bearer <key>"
	case len(a.apiKeys) == 0:
		return "a valid JWT is required: Authorization: Bearer <JWT>"
	}
	return "a valid API key or JWT is required: Authorization: Bearer <key or JWT>"
}

// bearerToken is the credential of an `Authorization: Bearer <token>` value
// (the scheme is case-insensitive, RFC 9110).
func bearerToken(header string) (string, bool) {
	const scheme = "Bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	return header[len(scheme):], true
}

// looksLikeJWT says whether token has a JWS compact serialization's shape:
// three base64url parts, the signature's possibly empty (as alg "none"
// makes it, which is then refused by name rather than as a wrong key).
func looksLikeJWT(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkKey compares a bearer token with every configured key in constant time
// (hashes first, so neither content nor length leaks through timing) and
// returns the key's fingerprint.
func (a *App) checkKey(token string) (apiKey, bool) {
	if token == "" {
		return apiKey{}, false
	}
	got := sha256.Sum256([]byte(token))
	found := 0
	var key apiKey
	for _, k := range a.apiKeys {
		if subtle.ConstantTimeCompare(got[:], k.hash[:]) == 1 {
			found = 1
			key = k
		}
	}
	return key, found == 1
}

// websocketInit requires a credential in connection_init when the upgrade
// carried none; a missing or refused one (there or in the upgrade's header)
// closes the socket with 4401.
func (a *App) websocketInit(ctx context.Context, p map[string]any) (context.Context, error) {
	if !a.authRequired() {
		return ctx, nil
	}
	if err, refused := ctx.Value(authRefusedKey{}).(error); refused {
		return ctx, a.closeUnauthorized(err)
	}
	if _, ok := identityOf(ctx); ok {
		return ctx, nil
	}
	v, _ := p["Authorization"].(string)
	if v == "" {
		v, _ = p["authorization"].(string)
	}
	if _, ok := bearerToken(v); !ok && v != "" {
		v = "Bearer " + v
	}
	id, err := a.identify(ctx, v)
	if err != nil {
		return ctx, a.closeUnauthorized(err)
	}
	return withIdentity(ctx, id), nil
}

// closeUnauthorized is the 4401 close for a refused credential; a JWT's
// reason goes with it, so a client knows to renew an expired token.
func (a *App) closeUnauthorized(err error) graphqlws.CloseError {
	var jr jwtRefusal
	if errors.As(err, &jr) {
		return graphqlws.CloseError{Code: 4401, Reason: "invalid token: " + jr.reason} // graphqlws cuts it to a close frame's 123 bytes
	}
	return graphqlws.CloseError{Code: 4401, Reason: "unauthorized"}
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
