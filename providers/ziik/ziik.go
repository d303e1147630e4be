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
//
// Comments can be edited (an update, then finalize-update) and soft-deleted;
// a deleted comment keeps its place in the listing with Deleted set and
// nothing else (lifecycle.go).
package ziik

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Options configures a Provider. Zero values take the defaults named.
type Options struct {
	// ID is the instance id; it goes into every model object. Required.
	ID string
	// Name is the display name. Empty: "Ziik".
	Name string
	// BaseURL is the tenant's Ziik origin + "/api", e.g.
	// "https://acme.ziik.io/api". Required.
	BaseURL string
	// Email and Password are the credentials the adapter logs in with: the
	// integration user's (Ziik has no service tokens), or an end user's.
	// Required unless Token is set. Neither ever appears in logs or errors.
	Email    string
	Password string
	// Token is a Ziik JWT already issued to the user the adapter acts as
	// (an end user's credential): it is sent as is, with no login. It is not
	// renewed: POST /renew would retire the JWT the credential holder keeps
	// (and any other instance holding the same credential), so once Ziik
	// refuses it, or its exp claim has passed, every call is UNAUTHENTICATED
	// until the user gives a new one. When set, Email and Password are not
	// used, so a user's calls never fall back to another identity.
	Token string
	// HTTPClient sends every request. Nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives authentication and participant-loading trouble. Nil:
	// discard.
	Logger *slog.Logger
	// Now is the clock used for token expiry. Nil: time.Now.
	Now func() time.Time
	// OnCall is told about every upstream exchange (metrics). Nil: nothing.
	OnCall func(providers.CallInfo)
	// RenewBefore is how long before its expiry the JWT is renewed. 0 or
	// negative: 2 minutes.
	RenewBefore time.Duration
	// ParticipantsTTL is how long a conversation's participant list, used to
	// find mentions, is reused before it is fetched again. 0 or negative: 10
	// minutes.
	ParticipantsTTL time.Duration
}

// Provider is one Ziik tenant, acting as one user: the integration user, or
// the end user whose password or JWT it was given. Ziik shows a user only the
// conversations they take part in (403 otherwise, FORBIDDEN here).
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
	case opts.Token == "" && (opts.Email == "" || opts.Password == ""):
		return nil, fmt.Errorf("ziik %s: Options.Token, or Options.Email and Options.Password, are required", opts.ID)
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ziik %s: Options.BaseURL %q is not an http(s) URL", opts.ID, opts.BaseURL)
	}
	p := &Provider{
		id:          opts.ID,
		name:        opts.Name,
		log:         opts.Logger,
		now:         opts.Now,
		renewBefore: opts.RenewBefore,
	}
	if opts.Token != "" {
		p.auth.given(opts.Token)
	} else {
		p.email, p.password = opts.Email, opts.Password
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
	p.caller = p.newCaller(opts)
	return p, nil
}

// Info describes the instance.
func (p *Provider) Info() *model.Provider {
	return &model.Provider{
		ID:   p.id,
		Kind: model.ProviderKindZiik,
		Name: p.name,
		Capabilities: []model.Capability{
			model.CapabilityListComments, model.CapabilityCreateComment, model.CapabilityMentions,
			model.CapabilityReplies, model.CapabilityAttachments, model.CapabilityReactions,
			model.CapabilityUserDirectory, model.CapabilityListThreads,
			model.CapabilityEditComments, model.CapabilityDeleteComments,
		},
	}
}

func init() { providers.Register("ziik", build) }

// build is Ziik's factory: Ziik pushes no chat events, so the configured
// threads are polled (pollThreads). A Token is a user's Ziik JWT and wins
// over Email and Password (Options.Token).
func build(cfg providers.Config, deps providers.Deps) (*providers.Instance, error) {
	p, err := New(Options{
		ID: cfg.ID, Name: cfg.Name, BaseURL: cfg.BaseURL, Email: cfg.Email, Password: cfg.Password, Token: cfg.Token,
		HTTPClient: deps.HTTPClient, Logger: deps.Logger, OnCall: deps.OnCall,
	})
	if err != nil {
		return nil, err
	}
	return &providers.Instance{Provider: p, Poll: pollThreads(cfg.Threads)}, nil
}
