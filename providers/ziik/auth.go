package ziik

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// session holds the JWT. Concurrent callers that find it stale share one
// renewal: the first starts a flight, the rest wait for it. A JWT given as
// the credential (Options.Token) is never renewed nor replaced: see
// givenToken.
type session struct {
	mu      sync.Mutex
	jwt     string
	expires time.Time
	// fixed marks a JWT given as the credential; refused, one Ziik refused.
	fixed, refused bool
	// retryRenewAt defers the next renewal attempt after one failed while the
	// old token is still valid, so an outage does not turn every call into a
	// renewal.
	retryRenewAt time.Time
	flight       *flight
}

type flight struct {
	done chan struct{}
	jwt  string
	err  error
}

// refreshTimeout bounds a renewal that runs detached from the callers waiting
// on it.
const refreshTimeout = 30 * time.Second

// token returns a usable JWT, renewing or re-authenticating when it is about
// to expire.
func (p *Provider) token(ctx context.Context) (string, error) {
	p.auth.mu.Lock()
	if p.auth.fixed {
		defer p.auth.mu.Unlock()
		return p.givenToken()
	}
	now := p.now()
	valid := p.auth.jwt != "" && now.Before(p.auth.expires)
	if valid && (now.Before(p.auth.expires.Add(-p.renewBefore)) || now.Before(p.auth.retryRenewAt)) {
		jwt := p.auth.jwt
		p.auth.mu.Unlock()
		return jwt, nil
	}
	f := p.auth.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		p.auth.flight = f
		old := ""
		if valid {
			old = p.auth.jwt
		}
		// The renewal serves every waiter, so one caller going away must not
		// cancel it; it keeps the first caller's values but not its deadline,
		// nor its call budget, which must neither pay for nor stop it.
		go p.refresh(providers.WithoutCallBudget(context.WithoutCancel(ctx)), f, old)
	}
	p.auth.mu.Unlock()
	select {
	case <-f.done:
		return f.jwt, f.err
	case <-ctx.Done():
		return "", providers.TransportError(p.id, ctx.Err())
	}
}

// refresh renews old (when it is still valid) or authenticates, then lands
// the flight.
func (p *Provider) refresh(ctx context.Context, f *flight, old string) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	var (
		jwt     string
		expires time.Time
		err     error
	)
	if old != "" {
		jwt, expires, err = p.exchange(ctx, providers.Request{Method: http.MethodPost, Endpoint: "/renew", Path: "/renew",
			Header: http.Header{"Authorization": {"Bearer " + old}}})
		switch {
		case err == nil:
			p.log.Debug("ziik: token renewed", "provider", p.id, "expires", expires)
		case model.IsCode(err, model.CodeUnauthenticated):
			p.log.Info("ziik: renewal refused, authenticating again", "provider", p.id, "err", err)
			jwt = ""
		default:
			// The old token still works: keep it and try again a little later.
			p.log.Warn("ziik: token renewal failed; keeping the current token", "provider", p.id, "err", err)
			p.auth.mu.Lock()
			p.auth.retryRenewAt = p.now().Add(15 * time.Second)
			p.auth.flight = nil
			p.auth.mu.Unlock()
			f.jwt, f.err = old, nil
			close(f.done)
			return
		}
	}
	if jwt == "" {
		jwt, expires, err = p.exchange(ctx, providers.Request{Method: http.MethodPost, Endpoint: "/authenticate", Path: "/authenticate",
			Body: map[string]string{"username": p.email, "password": p.password}})
		if err != nil {
			p.log.Warn("ziik: authentication failed", "provider", p.id, "err", err)
		} else {
			p.log.Debug("ziik: authenticated", "provider", p.id, "expires", expires)
		}
	}
	p.auth.mu.Lock()
	if err == nil {
		p.auth.jwt, p.auth.expires, p.auth.retryRenewAt = jwt, expires, time.Time{}
	}
	p.auth.flight = nil
	p.auth.mu.Unlock()
	f.jwt, f.err = jwt, err
	close(f.done)
}

// exchange performs an authenticate or renew call and reads its answer.
func (p *Provider) exchange(ctx context.Context, r providers.Request) (string, time.Time, error) {
	resp, err := p.caller.Do(ctx, r)
	if err != nil {
		return "", time.Time{}, err
	}
	jwt, expires, err := parseAuth(resp.Body, p.now())
	if err != nil {
		return "", time.Time{}, providers.GarbageError(p.id, fmt.Errorf("POST %s: %w", r.Endpoint, err))
	}
	return jwt, expires, nil
}

// given makes jwt, an end user's Ziik JWT, the session's for good. Its exp
// claim, when it has one, lets an expired JWT be refused without a call.
func (s *session) given(jwt string) {
	s.jwt, s.fixed = jwt, true
	s.expires = jwtExpiry(jwt)
}

// givenToken is the JWT given as the credential, or UNAUTHENTICATED once Ziik
// refused it or it expired. Without a password it cannot be renewed or
// replaced (and renewing would retire the JWT its holder keeps), so the user
// has to give a new one. p.auth.mu must be held.
func (p *Provider) givenToken() (string, error) {
	expired := !p.auth.expires.IsZero() && !p.now().Before(p.auth.expires)
	if p.auth.refused || expired {
		return "", &model.Error{Code: model.CodeUnauthenticated, Provider: p.id,
			Message: "the Ziik token was refused or has expired; a token cannot be renewed without the password, so a new one is needed"}
	}
	return p.auth.jwt, nil
}

// jwtExpiry reads a JWT's exp claim without checking its signature (only Ziik
// can); zero when it has none or the token is not a readable JWT, and then
// only Ziik's 401 tells it has expired.
func jwtExpiry(jwt string) time.Time {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return time.Time{}
	}
	exp, err := claims.Exp.Float64()
	if err != nil || exp <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(exp), 0)
}

// invalidate forgets jwt after the upstream refused it, unless another caller
// already replaced it. A given JWT is kept (the Caller redacts error text of
// the JWT a request carried) but marked refused: the retry that follows a
// 401 then answers UNAUTHENTICATED without calling again.
func (p *Provider) invalidate(jwt string) {
	p.auth.mu.Lock()
	defer p.auth.mu.Unlock()
	if p.auth.fixed {
		p.auth.refused = p.auth.refused || p.auth.jwt == jwt
		return
	}
	if p.auth.jwt == jwt {
		p.auth.jwt, p.auth.expires = "", time.Time{}
	}
}
