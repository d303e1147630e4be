// Package ziik adapts a Ziik tenant's REST API to providers.Provider.
//
// Ziik threads are conversations (kind CONVERSATION, ref = conversation id) and
// parent messages with their replies (kind MESSAGE, ref =
// "<conversationId>:<messageId>"). Ziik has no chat push, so the gateway polls
// ListComments; paging from the newest end (Last, no Before) costs one call.
//
// What the Ziik notes leave undocumented is read defensively: list envelopes
// with or without `data`, cursors under `meta` or at the top level, reaction
// objects of several shapes, single objects with or without a `data` wrapper.
// Mentions have no documented markup: they are written as plain "@Name" and
// found again on read by matching the names of known users.
package ziik

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Options configures a Provider. Zero values take the defaults noted.
type Options struct {
	// ID is the instance id; it goes into every model object. Required.
	ID string
	// Name is the display name. Default "Ziik".
	Name string
	// BaseURL is the tenant's Ziik origin + "/api", e.g.
	// "https://acme.ziik.io/api". Required.
	BaseURL string
	// Email and Password are the integration user's credentials (Ziik has no
	// service tokens). Required. Neither ever appears in logs or errors.
	Email    string
	Password string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now is the clock used for token expiry. Default time.Now.
	Now func() time.Time
	// OnCall is told about every upstream exchange, for metrics.
	OnCall func(providers.CallInfo)
	// RenewBefore is how long before its expiry the JWT is renewed. Default 2
	// minutes.
	RenewBefore time.Duration
	// ParticipantsTTL is how long a conversation's participant list, used to
	// find mentions, is reused before it is fetched again. Default 10 minutes.
	ParticipantsTTL time.Duration
}

// Provider is one Ziik tenant, acting as the integration user.
type Provider struct {
	id          string
	name        string
	email       string
	password    string
	log         *slog.Logger
	now         func() time.Time
	renewBefore time.Duration
	caller      providers.Caller
	auth        session
	people      people
}

var _ providers.Provider = (*Provider)(nil)

// New checks opts and builds a Provider. It makes no call: the first request
// authenticates.
func New(opts Options) (*Provider, error) {
	switch {
	case opts.ID == "":
		return nil, errors.New("ziik: Options.ID is required")
	case opts.BaseURL == "":
		return nil, fmt.Errorf("ziik %s: Options.BaseURL is required", opts.ID)
	case opts.Email == "" || opts.Password == "":
		return nil, fmt.Errorf("ziik %s: Options.Email and Options.Password are required", opts.ID)
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ziik %s: Options.BaseURL %q is not an http(s) URL", opts.ID, opts.BaseURL)
	}
	p := &Provider{
		id:          opts.ID,
		name:        opts.Name,
		email:       opts.Email,
		password:    opts.Password,
		log:         opts.Logger,
		now:         opts.Now,
		renewBefore: opts.RenewBefore,
	}
	if p.name == "" {
		p.name = "Ziik"
	}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.renewBefore <= 0 {
		p.renewBefore = 2 * time.Minute
	}
	p.people.ttl = opts.ParticipantsTTL
	if p.people.ttl <= 0 {
		p.people.ttl = 10 * time.Minute
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	p.caller = providers.Caller{
		Provider:  p.id,
		BaseURL:   strings.TrimRight(opts.BaseURL, "/"),
		Client:    client,
		ErrorText: p.errorText,
		// The JWT is redacted as the Authorization header sent; the
		// credentials travel in /authenticate's body.
		Redact: []string{opts.Password, opts.Email},
		OnCall: opts.OnCall,
	}
	return p, nil
}

// errorText reads Ziik's {"error":{code,message}} body for the log, with the
// credentials scrubbed in case an upstream ever echoes them.
func (p *Provider) errorText(body []byte) string {
	var e struct {
		Error struct {
			Code    any    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	text := string(body)
	if json.Unmarshal(body, &e) == nil && (e.Error.Message != "" || e.Error.Code != nil) {
		text = strings.TrimSpace(fmt.Sprintf("%v: %s", e.Error.Code, e.Error.Message))
	}
	return p.scrub(text)
}

// scrub removes the password and the current JWT from s.
func (p *Provider) scrub(s string) string {
	secrets := []string{p.password}
	p.auth.mu.Lock()
	if p.auth.jwt != "" {
		secrets = append(secrets, p.auth.jwt)
	}
	p.auth.mu.Unlock()
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

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

// call performs one authenticated request and returns the 2xx body. A 401
// gets one fresh token and one retry: the upstream did nothing with the
// refused request, so even a POST is safe to repeat.
func (p *Provider) call(ctx context.Context, r providers.Request) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		jwt, err := p.token(ctx)
		if err != nil {
			return nil, err
		}
		r.Header = http.Header{"Authorization": {"Bearer " + jwt}}
		resp, err := p.caller.Do(ctx, r)
		if err == nil {
			return resp.Body, nil
		}
		// The status comes with the error, also when the answer was another
		// call's, shared within the request (providers.WithCallBudget).
		status := providers.UpstreamStatus(err)
		if attempt == 0 && status == http.StatusUnauthorized {
			p.invalidate(jwt)
			continue
		}
		return nil, p.statusError(err, status)
	}
}

// statusError adjusts the shared status mapping where Ziik's statuses mean
// something more specific: 410 Gone is a removed resource (NOT_FOUND for the
// client, not an outage); 503 is Ziik's maintenance answer and stays
// UPSTREAM_UNAVAILABLE.
func (p *Provider) statusError(err error, status int) error {
	var me *model.Error
	if status == http.StatusGone && errors.As(err, &me) {
		return &model.Error{Code: model.CodeNotFound, Provider: p.id, Message: "removed upstream (410 Gone)", Err: me.Err}
	}
	return err
}

// badInput is a BAD_USER_INPUT error from this provider.
func (p *Provider) badInput(format string, args ...any) *model.Error {
	e := model.Errorf(model.CodeBadUserInput, format, args...)
	e.Provider = p.id
	return e
}

// garbage reports an answer the adapter could not read.
func (p *Provider) garbage(endpoint string, err error) error {
	return providers.GarbageError(p.id, fmt.Errorf("%s: %w", endpoint, err))
}
