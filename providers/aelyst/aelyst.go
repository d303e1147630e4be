// Package aelyst adapts the Aelyst Developer API (a near-clone of respond.io
// v2) to commentgraph. Threads are contacts ("id:123", "email:…", "phone:+…").
//
// Aelyst cannot list comments and its create answers with no id, so the
// adapter keeps a durable Journal of the comments the gateway created and the
// ones Aelyst delivered by webhook, and serves ListComments and GetComment
// from it (capability LIST_COMMENTS_FROM_JOURNAL).
package aelyst

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"golang.org/x/sync/singleflight"
)

// Options configures a Provider. Zero values are documented per field.
type Options struct {
	// ID is the instance id; it is in every model object's ProviderID. Required.
	ID string
	// Name is the display name. Empty: "Aelyst".
	Name string
	// BaseURL is the API root, e.g. "https://api.aelyst.ai/v1"; paths like
	// /contact/… are appended to it. Required.
	BaseURL string
	// Token is the workspace's API access token. Required.
	Token string
	// WebhookSecret is the signing key of the webhook endpoint. Empty: every
	// delivery is refused.
	WebhookSecret string
	// WebhookMaxAge is how old a delivered comment (by its created_at) may be
	// before the delivery is refused as stale. 0 or less: one hour.
	WebhookMaxAge time.Duration
	// Journal keeps the comments Aelyst cannot list. Nil: an in-memory journal
	// (lost on restart; use NewRedisJournal in production).
	Journal Journal
	// JournalScope names this instance's comments in the journal. Empty: ID
	// plus a fingerprint of Token. Set it to keep the journal across a token
	// rotation (the journal is the only record of the comments).
	JournalScope string
	// BotUserRef is the Aelyst user id the token belongs to; comments created
	// through the gateway name it as sender (Aelyst's answer and webhook name
	// no author, and it has no "who am I" call). Empty: BotUserEmail.
	BotUserRef string
	// BotUserEmail names the token's user by email instead, resolved to its id
	// by listing the space users (Aelyst has no look-up by email) when the
	// first comment is posted; a failed look-up is retried a minute later.
	// Used when BotUserRef is empty. Both empty: the sender of comments the
	// gateway posts is unknown (null).
	BotUserEmail string
	// HTTPClient makes the calls. Nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives boundary logs. Nil: discard.
	Logger *slog.Logger
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (retry waits). Nil: providers.Sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnCall is told about every upstream exchange (metrics). Nil: nobody.
	OnCall func(providers.CallInfo)
	// MaxRetryWait is the longest Retry-After the adapter waits out, and the
	// cap of the waits after a 449. 0 or less: 10 s.
	MaxRetryWait time.Duration
	// QueuedTries is how many times a request answered 449 (contact queued)
	// is tried in all. 0 or less: 5.
	QueuedTries int
	// QueuedBackoff is the first wait after a 449. Each later wait is about
	// twice the one before, up to MaxRetryWait, and every wait is randomised
	// by ±50 % (providers.Backoff) so that instances queued together do not
	// retry together. 0 or less: 500 ms.
	QueuedBackoff time.Duration
}

const (
	defaultName          = "Aelyst"
	defaultWebhookMaxAge = time.Hour
	defaultMaxRetryWait  = 10 * time.Second
	defaultQueuedTries   = 5
	defaultQueuedBackoff = 500 * time.Millisecond
	// readRateRetries and writeRateRetries bound how many 429s a call waits
	// out. A write is worth more patience: giving up loses the comment unless
	// the client retries.
	readRateRetries  = 2
	writeRateRetries = 20
	// maxBatch bounds Users/Rooms look-ups: each ref is one call, and each
	// path has its own 5/s bucket, so ten run in parallel comfortably.
	maxBatch = 10
	// lookupParallelism is how many look-ups run at once.
	lookupParallelism = 4
	userTTL           = 10 * time.Minute
	missingUserTTL    = time.Minute
)

// Provider is one Aelyst workspace.
type Provider struct {
	opts   Options
	info   *model.Provider
	caller *providers.Caller
	log    *slog.Logger
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	scope  string

	mu       sync.Mutex
	contacts map[string]int64 // identifier → contact id
	users    map[string]cachedUser
	flight   singleflight.Group
	// bot is BotUserEmail's resolution, when it was tried (actingUser).
	bot *cachedUser
	// posting are the comments being posted now, so that a webhook echo
	// arriving before the POST's answer is known as the gateway's (postTrack).
	posting map[*pendingPost]bool
}

type cachedUser struct {
	user *model.User // nil: the user does not exist
	at   time.Time
}

var _ providers.Provider = (*Provider)(nil)

// New checks opts and builds a Provider. It makes no call.
func New(opts Options) (*Provider, error) {
	switch {
	case opts.ID == "":
		return nil, errors.New("aelyst: Options.ID is required")
	case opts.BaseURL == "":
		return nil, errors.New("aelyst: Options.BaseURL is required")
	case opts.Token == "":
		return nil, errors.New("aelyst: Options.Token is required")
	}
	if opts.Name == "" {
		opts.Name = defaultName
	}
	if opts.WebhookMaxAge <= 0 {
		opts.WebhookMaxAge = defaultWebhookMaxAge
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = defaultMaxRetryWait
	}
	if opts.QueuedTries <= 0 {
		opts.QueuedTries = defaultQueuedTries
	}
	if opts.QueuedBackoff <= 0 {
		opts.QueuedBackoff = defaultQueuedBackoff
	}
	if opts.Journal == nil {
		opts.Journal = NewMemoryJournal()
	}
	if opts.JournalScope == "" {
		opts.JournalScope = opts.ID + ":" + providers.Fingerprint(opts.Token)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	p := &Provider{
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Now,
		sleep:    opts.Sleep,
		scope:    opts.JournalScope,
		contacts: map[string]int64{},
		users:    map[string]cachedUser{},
		posting:  map[*pendingPost]bool{},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("provider", opts.ID)
	if p.now == nil {
		p.now = time.Now
	}
	if p.sleep == nil {
		p.sleep = providers.Sleep
	}
	p.caller = p.newCaller()
	p.info = &model.Provider{
		ID:   opts.ID,
		Kind: model.ProviderKindAelyst,
		Name: opts.Name,
		Capabilities: []model.Capability{
			model.CapabilityListCommentsFromJournal,
			model.CapabilityCreateComment,
			model.CapabilityMentions,
			model.CapabilityUserDirectory,
			model.CapabilityListThreads,
			model.CapabilityPushEvents,
		},
		MaxBatch: maxBatch,
	}
	return p, nil
}

// Info describes the instance.
func (p *Provider) Info() *model.Provider { return p.info }

func init() { providers.Register("aelyst", build) }

// build is Aelyst's factory: Aelyst cannot list comments, so the journal (in
// Redis when the gateway has one, shared by every instance) keeps those the
// gateway created or received by webhook.
func build(cfg providers.Config, deps providers.Deps) (*providers.Instance, error) {
	var journal Journal = NewMemoryJournal()
	if deps.Redis != nil {
		journal = NewRedisJournal(deps.Redis, "cg:v1:aelyst:")
	}
	p, err := New(Options{
		ID: cfg.ID, Name: cfg.Name, BaseURL: cfg.BaseURL, Token: cfg.Token, WebhookSecret: cfg.WebhookSecret,
		// A provider's email, meaningless to Aelyst's token auth, names the
		// token's user: the sender of the comments the gateway posts. Aelyst
		// has no "who am I" call (nor does respond.io v2, which it clones),
		// so an instance built on an end user's token ("credentials: user")
		// learns its user only from this: it must be that user's email, or
		// their comments name whoever it names (or no one, when empty).
		BotUserEmail: cfg.Email,
		Journal:      journal, HTTPClient: deps.HTTPClient, Logger: deps.Logger, OnCall: deps.OnCall,
	})
	if err != nil {
		return nil, err
	}
	return &providers.Instance{Provider: p, Webhook: p.ReceiveWebhook}, nil
}
