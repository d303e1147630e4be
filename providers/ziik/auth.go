package ziik

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// session holds the JWT. Concurrent callers that find it stale share one
// renewal: the first starts a flight, the rest wait for it.
type session struct {
	mu      sync.Mutex
	jwt     string
	expires time.Time
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

// invalidate forgets jwt after the upstream refused it, unless another caller
// already replaced it.
func (p *Provider) invalidate(jwt string) {
	p.auth.mu.Lock()
	defer p.auth.mu.Unlock()
	if p.auth.jwt == jwt {
		p.auth.jwt, p.auth.expires = "", time.Time{}
	}
}
