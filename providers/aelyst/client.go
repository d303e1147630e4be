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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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
	// before the delivery is refused as stale. 0: one hour.
	WebhookMaxAge time.Duration
	// Journal keeps the comments Aelyst cannot list. Nil: an in-memory journal
	// (lost on restart; use NewRedisJournal in production).
	Journal Journal
	// JournalScope names this instance's comments in the journal. Empty: ID
	// plus a fingerprint of Token. Set it to keep the journal across a token
	// rotation (the journal is the only record of the comments).
	JournalScope string
	// BotUserRef is the Aelyst user id the token belongs to; comments created
	// through the gateway name it as sender. Empty: their sender is unknown.
	BotUserRef string
	// HTTPClient makes the calls. Nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives boundary logs. Nil: discard.
	Logger *slog.Logger
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (retry waits). Nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnCall is told about every upstream exchange (metrics).
	OnCall func(providers.CallInfo)
	// MaxRetryWait is the longest Retry-After the adapter waits out. 0: 10 s.
	MaxRetryWait time.Duration
	// QueuedTries is how many times a request answered 449 (contact queued)
	// is tried in all. 0: 5.
	QueuedTries int
	// QueuedBackoff is the first wait after a 449; it doubles each try. 0: 500 ms.
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
	p := &Provider{
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Now,
		sleep:    opts.Sleep,
		scope:    opts.JournalScope,
		contacts: map[string]int64{},
		users:    map[string]cachedUser{},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("provider", opts.ID)
	if p.now == nil {
		p.now = time.Now
	}
	if p.sleep == nil {
		p.sleep = sleep
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	p.caller = &providers.Caller{
		Provider: opts.ID,
		BaseURL:  strings.TrimRight(opts.BaseURL, "/"),
		Client:   client,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+opts.Token)
			return nil
		},
		ErrorText: errorText,
		Redact:    []string{opts.Token, opts.WebhookSecret},
		OnCall:    opts.OnCall,
	}
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errorText reads Aelyst's {code, message} error body.
func errorText(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	return string(body)
}

const statusQueued = 449

// call performs one exchange with Aelyst's retry rules:
//
//   - 429 (not processed): wait Retry-After (1 s when absent) and try again,
//     unless the wait exceeds MaxRetryWait or would pass ctx's deadline, or the
//     call has waited out too many already; then UPSTREAM_RATE_LIMITED with
//     RetryAfter set, answered at once.
//   - 449 (contact queued, not processed): back off and try again, QueuedTries
//     times in all; then UPSTREAM_UNAVAILABLE.
//   - anything else is returned as it is. A write is never sent again after a
//     timeout or 5xx: Aelyst may have stored it, and a second POST would post
//     the comment twice (see CreateComment).
func (p *Provider) call(ctx context.Context, write bool, req providers.Request, out any) error {
	rateLimited, queued := 0, 0
	backoff := p.opts.QueuedBackoff
	maxRate := readRateRetries
	if write {
		maxRate = writeRateRetries
	}
	for {
		_, err := p.caller.JSON(ctx, req, out)
		if err == nil {
			return nil
		}
		// The status comes with the error, also when the answer was another
		// call's, shared within the request (providers.WithCallBudget).
		status := providers.UpstreamStatus(err)
		var me *model.Error
		if !errors.As(err, &me) {
			return err
		}
		switch status {
		case http.StatusTooManyRequests:
			wait := me.RetryAfter
			if wait <= 0 {
				wait = time.Second
			}
			rateLimited++
			if rateLimited > maxRate || wait > p.opts.MaxRetryWait || !fits(ctx, wait) {
				limited := *me
				limited.RetryAfter = wait
				if write {
					limited.Message = "the upstream is rate limiting the gateway; the comment was not posted"
				}
				return &limited
			}
			p.log.DebugContext(ctx, "aelyst: rate limited, waiting", "endpoint", req.Endpoint, "wait", wait)
			if err := p.sleep(ctx, wait); err != nil {
				return providers.TransportError(p.opts.ID, fmt.Errorf("waiting out a rate limit: %w", err))
			}
		case statusQueued:
			queued++
			if queued >= p.opts.QueuedTries || !fits(ctx, backoff) {
				return &model.Error{
					Code:     model.CodeUpstreamUnavailable,
					Provider: p.opts.ID,
					Message:  "the contact is queued for processing upstream; try again in a few minutes",
					Err:      err,
				}
			}
			if err := p.sleep(ctx, backoff); err != nil {
				return providers.TransportError(p.opts.ID, fmt.Errorf("waiting out a queued contact: %w", err))
			}
			backoff *= 2
		default:
			return err
		}
	}
}

// fits reports whether waiting d still leaves time before ctx's deadline.
// Deadlines are wall-clock, so this uses the real clock, not Options.Now.
func fits(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d
}

// tag sets Provider on a *model.Error that has none (journal and input
// errors), so every error the gateway sees names its provider.
func (p *Provider) tag(err error) error {
	var me *model.Error
	if errors.As(err, &me) && me.Provider == "" {
		c := *me
		c.Provider = p.opts.ID
		return &c
	}
	return err
}
