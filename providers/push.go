package providers

import (
	"context"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Change is what a push (a webhook delivery, an event of a stream, a poll)
// tells the gateway, in one shape whatever the provider. Fields a provider
// never fills stay empty.
type Change struct {
	// Key identifies the delivery; a replay has the same Key. Empty: none.
	Key string
	// Comments are new comments.
	Comments []*model.Comment
	// UpdatedComments are comments changed: edited, read, an attachment ready.
	UpdatedComments []*model.Comment
	// DeletedComments name comments removed.
	DeletedComments []CommentRef
	// DeletedThreads are refs of threads removed with their comments.
	DeletedThreads []string
	// Users and Rooms were created or updated: the cache refreshes them.
	Users []*model.User
	Rooms []*model.Room
	// DeletedUsers and DeletedRooms are refs of ones removed: the cache
	// forgets them.
	DeletedUsers []string
	DeletedRooms []string
}

// CommentRef names a comment without its content.
type CommentRef struct {
	ThreadKind model.ThreadKind
	ThreadRef  string
	Ref        string
}

// WebhookFunc verifies one delivery's signature over its raw body, then reads
// it. A forged, unsigned or stale delivery is UNAUTHENTICATED and nothing is
// learned from it; a signed one that cannot be read is BAD_USER_INPUT.
type WebhookFunc func(ctx context.Context, header http.Header, body []byte) (*Change, error)

// StreamFunc follows a provider's push channel until ctx ends, reconnecting
// as needed, and calls emit for each change.
type StreamFunc func(ctx context.Context, emit func(context.Context, *Change)) error

// Backoff is the wait between reconnects or retries: exponential from min to
// max, each wait randomised by ±50 % so that instances and connections that
// failed together do not retry together.
func Backoff(min, max time.Duration) *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = min
	b.MaxInterval = max
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	b.Reset()
	return b
}

// Sleep waits d, or less if ctx ends first (its error then).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
