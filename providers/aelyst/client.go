package aelyst

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// newCaller sets up the Caller every call goes through: the token as a
// Bearer token, Aelyst's error body read, and the token and webhook secret
// kept out of what is logged.
func (p *Provider) newCaller() *providers.Caller {
	return &providers.Caller{
		Provider: p.opts.ID,
		BaseURL:  strings.TrimRight(p.opts.BaseURL, "/"),
		Client:   p.opts.HTTPClient,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+p.opts.Token)
			return nil
		},
		ErrorText: errorText,
		Redact:    []string{p.opts.Token, p.opts.WebhookSecret},
		OnCall:    p.opts.OnCall,
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
//   - 449 (contact queued, not processed): back off (jittered, from
//     QueuedBackoff) and try again, QueuedTries times in all; then
//     UPSTREAM_UNAVAILABLE.
//   - anything else is returned as it is. A write is never sent again after a
//     timeout or 5xx: Aelyst may have stored it, and a second POST would post
//     the comment twice (see CreateComment).
func (p *Provider) call(ctx context.Context, write bool, req providers.Request, out any) error {
	rateLimited, queued := 0, 0
	var queuedWaits *backoff.ExponentialBackOff // made at the first 449: most calls never need it
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
			if queuedWaits == nil {
				queuedWaits = providers.Backoff(p.opts.QueuedBackoff, max(p.opts.MaxRetryWait, p.opts.QueuedBackoff))
			}
			wait := queuedWaits.NextBackOff()
			if queued >= p.opts.QueuedTries || !fits(ctx, wait) {
				return &model.Error{
					Code:     model.CodeUpstreamUnavailable,
					Provider: p.opts.ID,
					Message:  "the contact is queued for processing upstream; try again in a few minutes",
					Err:      err,
				}
			}
			if err := p.sleep(ctx, wait); err != nil {
				return providers.TransportError(p.opts.ID, fmt.Errorf("waiting out a queued contact: %w", err))
			}
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

func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
