// Package events is the comment event bus behind GraphQL subscriptions.
//
// Sources (mutations, webhooks, the Virola event stream, pollers) Publish new
// comments, and PublishChange edits and deletions; subscriptions receive them,
// filtered by thread, provider and event type. Two implementations share one
// contract:
//
//   - NewMemory: one gateway instance, events kept in process.
//   - NewRedis: several instances sharing a Redis stream, so a subscriber on
//     instance A receives a comment published on instance B.
//
// Every event has an ordered ID. A client that reconnects gives back the last ID
// it saw (SSE Last-Event-ID, or a `since` argument) and receives what it missed
// within the retention window, in order and none twice, and then live events
// with no gap between the two.
//
// Since semantics (both buses): "" means live only. A since that is not an event
// ID at all is refused with a *model.Error of code BAD_USER_INPUT. A well-formed
// ID older than the retention window (or from before a restart) replays from the
// oldest retained event: a reconnecting browser keeps its stream rather than
// failing forever on a Last-Event-ID it cannot change, at the cost of not being
// told that events older than the window are gone.
//
// A replay is paced by its subscriber: the store is read a page at a time
// (replayPage events), the next page only once the subscriber has taken the
// previous one from Subscription.C, so a backlog of any length inside the
// window never counts against the subscriber's buffer. Live events are not
// queued meanwhile; when a read reaches what the bus has fanned out, the
// subscription goes live from the last ID read (live events up to it are
// skipped), so the two meet with no gap and nothing twice. A replay so slow
// that retention drops events it has yet to read ends with ErrSlowConsumer.
// Subscription.FromReplay tells a transport which events it may pace to its
// client (graphqlws.AwaitRoom); live events must not wait.
//
// A subscriber that does not keep up with live events is closed with
// ErrSlowConsumer rather than holding up the publisher or the other
// subscribers.
package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Event is one published change to a comment.
//
// Events are shared by every subscriber that receives them: treat an Event and
// its Comment as read-only.
type Event struct {
	// Type is what happened: ADDED (a new comment), UPDATED or DELETED. An
	// event written by an instance that predates types reads as ADDED.
	Type model.CommentEventType
	// ID orders events on the bus; it is what SSE sends as `id:` and what a
	// client gives back as Last-Event-ID or `since`. IDs have the form
	// "<unix ms>-<seq>" (Redis stream IDs) and compare numerically, part by part.
	// A Redis Publish that could only queue the comment returns an empty ID.
	ID string
	// Comment is the comment as it now is; for DELETED, a model.Tombstone
	// (provider, thread and ref only).
	Comment *model.Comment
	// At is when the bus accepted the comment (the publishing instance's clock).
	At time.Time
}

// Filter selects the events a subscriber receives. An empty list matches all;
// when both lists are given, an event must match both.
type Filter struct {
	// Threads are global thread IDs: an event matches when
	// event.Comment.ThreadID() is one of them.
	Threads []string
	// Providers are provider instance IDs (model.Comment.ProviderID).
	Providers []string
	// Types are the event types wanted (commentAdded: ADDED only).
	Types []model.CommentEventType
}

// Bus publishes comments to subscribers.
type Bus interface {
	// Publish sends c to every matching subscriber. It does not wait for
	// subscribers. See NewRedis for what a nil error means while Redis is down.
	Publish(ctx context.Context, c *model.Comment) (Event, error)
	// PublishOnce publishes c unless key was published within the dedupe window
	// (Options.DedupeWindow), on any instance sharing the bus: a replayed webhook
	// delivery, or the same comment seen by two pollers, is published once.
	// published is false when key was seen before. An empty key never dedupes.
	PublishOnce(ctx context.Context, key string, c *model.Comment) (ev Event, published bool, err error)
	// PublishChange is PublishOnce for an event of any type: t UPDATED with
	// the comment as it now is, DELETED with a model.Tombstone. Give each type
	// its own keys (an edit's key names the edit), or the ADDED event's key
	// swallows it. PublishOnce(ctx, key, c) is PublishChange(ctx, ADDED, key, c).
	PublishChange(ctx context.Context, t model.CommentEventType, key string, c *model.Comment) (ev Event, published bool, err error)
	// Subscribe starts a subscription that ends when ctx is done, when the
	// subscriber falls behind (ErrSlowConsumer), or when the bus closes. since is
	// "" for live events only, or the last event ID the client saw (see the
	// package doc for IDs outside the retention window).
	Subscribe(ctx context.Context, f Filter, since string) (*Subscription, error)
	// Stats reports counters for metrics.
	Stats() Stats
	// Close ends every subscription with ErrClosed and refuses further use.
	Close() error
}

var (
	// ErrSlowConsumer ends a subscription whose buffer of undelivered events
	// filled up: the client did not read fast enough, and waiting for it would
	// hold up everyone else.
	ErrSlowConsumer = errors.New("events: subscriber too slow: its buffer of undelivered events is full")
	// ErrClosed ends subscriptions when the bus or the subscription itself is
	// closed, and is returned by a closed bus.
	ErrClosed = errors.New("events: closed")
	// ErrOutboxFull is returned by a Redis bus whose outbox of comments waiting
	// for Redis is full: the comment was not accepted.
	ErrOutboxFull = errors.New("events: outbox full while Redis is unreachable")
)

// checkComment refuses a comment that subscribers could not use, or that
// could not cross Redis: the enums must be valid for the JSON decoding on the
// other side to accept them. Both buses apply it, so a comment the memory bus
// takes in development is one the Redis bus takes in production.
func checkComment(t model.CommentEventType, c *model.Comment) error {
	switch {
	case !t.IsValid():
		return fmt.Errorf("events: event type %q", clip(string(t), 32))
	case c == nil:
		return errors.New("events: nil comment")
	case c.ProviderID == "":
		return errors.New("events: comment names no provider")
	case !c.ThreadKind.IsValid():
		return fmt.Errorf("events: comment %s has thread kind %q", clip(c.Ref, 64), clip(string(c.ThreadKind), 32))
	case !c.Markup.IsValid():
		return fmt.Errorf("events: comment %s has markup %q", clip(c.Ref, 64), clip(string(c.Markup), 32))
	}
	for _, a := range c.Attachments {
		if a != nil && !a.State.IsValid() {
			return fmt.Errorf("events: comment %s has an attachment in state %q", clip(c.Ref, 64), clip(string(a.State), 32))
		}
	}
	return nil
}
