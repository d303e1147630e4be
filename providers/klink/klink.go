// Package klink is the K-LINK (Klink CX) provider: comments in chat rooms.
//
// K-LINK has no user or room directory, no single-comment endpoint and no
// comment webhook. So users and rooms are learned from every payload that names
// them (comment senders and mentions, send-message answers, webhooks) into a
// providers.Directory; rooms to list come from config plus the ones learned;
// a comment is found by scanning its room's pages; and new comments are polled
// through ListComments. The comment list's order and pagination metadata are
// undocumented, so paging copes with newest-first and oldest-first lists, with
// and without the legacy {total, page, pageSize, lastPage} block.
package klink

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Defaults and limits of Options.
const (
	DefaultName     = "K-LINK"
	DefaultPageSize = 50
	// MaxPageSize is the legacy Pagination guide's maximum.
	MaxPageSize     = 100
	DefaultMaxPages = 40
	maxRefLength    = 128
	rememberFor     = 10 * time.Minute
)

// Options configures a Provider.
type Options struct {
	// ID is the instance id; it is the ProviderID of everything returned.
	// Required.
	ID string
	// Name is the display name. Empty: "K-LINK".
	Name string
	// BaseURL is the API origin, e.g. "https://apigw.klinkcx.com"; paths start
	// with /api/v1/. Required.
	BaseURL string
	// Token is the personal access token (kpt_…), sent as a Bearer token.
	// Required.
	Token string
	// WebhookSecret is the webhook's signing secret. Empty: every webhook
	// delivery is refused.
	WebhookSecret string
	// Directory keeps the users and rooms payloads name. Nil: an in-memory one.
	Directory providers.Directory
	// Rooms are room ids known from config; K-LINK cannot list rooms, so
	// ListThreads lists these plus the rooms learned since start. Empty: only
	// the rooms learned.
	Rooms []string
	// PageSize is the upstream pageSize of comment lists. 0: 50. Negative or
	// above 100: New fails.
	PageSize int
	// MaxPages bounds how many upstream pages one ListComments or GetComment
	// reads. 0: 40. Negative: New fails.
	MaxPages int
	// HTTPClient makes the calls. Nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives warnings and debug detail. Nil: discarded.
	Logger *slog.Logger
	// Now is the clock (webhook freshness). Nil: time.Now.
	Now func() time.Time
	// OnCall is told about every upstream exchange (metrics). Nil: nobody.
	OnCall func(providers.CallInfo)
}

// Provider is one K-LINK instance.
type Provider struct {
	opts   Options
	info   *model.Provider
	caller *providers.Caller
	log    *slog.Logger
	dir    providers.Directory
	scope  string

	mu      sync.Mutex
	rooms   []string // config rooms, then learned ones, in that order
	roomSet map[string]bool
	// remembered says when this process last saw a room in the Directory, so
	// naming it again without a name costs no Directory round trip for a
	// while (rememberFor: the Directory may expire entries, so not forever).
	remembered map[string]time.Time
}

var _ providers.Provider = (*Provider)(nil)

// New checks opts and builds a Provider. It makes no call.
func New(opts Options) (*Provider, error) {
	switch {
	case opts.ID == "":
		return nil, errors.New("klink: Options.ID is required")
	case opts.BaseURL == "":
		return nil, errors.New("klink: Options.BaseURL is required")
	case opts.Token == "":
		return nil, errors.New("klink: Options.Token is required")
	case opts.PageSize < 0 || opts.PageSize > MaxPageSize:
		return nil, fmt.Errorf("klink: Options.PageSize %d is outside 1..%d", opts.PageSize, MaxPageSize)
	case opts.MaxPages < 0:
		return nil, fmt.Errorf("klink: Options.MaxPages %d is negative", opts.MaxPages)
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxPages == 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.Directory == nil {
		opts.Directory = &providers.MemoryDirectory{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Provider{
		opts: opts,
		info: &model.Provider{
			ID: opts.ID, Kind: model.ProviderKindKlink, Name: opts.Name,
			Capabilities: []model.Capability{
				model.CapabilityListComments, model.CapabilityCreateComment,
				model.CapabilityMentions, model.CapabilityListThreads,
				model.CapabilitySendMessage,
			},
		},
		log:        opts.Logger.With("provider", opts.ID),
		dir:        opts.Directory,
		scope:      opts.ID + ":" + providers.Fingerprint(opts.Token),
		roomSet:    make(map[string]bool),
		remembered: make(map[string]time.Time),
	}
	p.caller = p.newCaller()
	for _, r := range opts.Rooms {
		if err := checkRef(opts.ID, "room", r); err != nil {
			return nil, fmt.Errorf("klink: Options.Rooms: %w", err)
		}
		p.addRoom(r)
	}
	return p, nil
}

// Info describes the instance.
func (p *Provider) Info() *model.Provider { return p.info }

func init() { providers.Register("klink", build) }

// build is K-LINK's factory: the configured rooms are listed and polled
// (K-LINK has no room directory and documents no comment event).
func build(cfg providers.Config, deps providers.Deps) (*providers.Instance, error) {
	p, err := New(Options{
		ID: cfg.ID, Name: cfg.Name, BaseURL: cfg.BaseURL, Token: cfg.Token, WebhookSecret: cfg.WebhookSecret,
		Directory: deps.Directory, Rooms: cfg.Threads, HTTPClient: deps.HTTPClient, Logger: deps.Logger, OnCall: deps.OnCall,
	})
	if err != nil {
		return nil, err
	}
	inst := &providers.Instance{Provider: p, Webhook: p.ReceiveWebhook}
	for _, ref := range cfg.Threads {
		inst.Poll = append(inst.Poll, providers.PollThread{Kind: model.ThreadKindRoom, Ref: ref})
	}
	return inst, nil
}
