package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/graphqlws"
	"github.com/commentgraph/commentgraph/resolvers"
)

// busAdapter gives the resolvers the bus's events as comments.
type busAdapter struct {
	bus events.Bus
	log *slog.Logger
	// scope gives each event its own loaders and call budget: with
	// @subscriptionContext the event's fields resolve on the event's context,
	// so that is where they go (never one set for the connection's life).
	scope func(context.Context) context.Context
	// stopping is done when the gateway shuts down; every subscription ends
	// (completes) then.
	stopping context.Context
	// restrict narrows a filter to the subscriber's tenant; allow says
	// whether the subscriber's own credential may read an event's thread.
	// Nil: no narrowing, everything allowed.
	restrict func(context.Context, events.Filter) (events.Filter, error)
	allow    func(context.Context, *events.Event) bool
	// prepare gives the subscription's context what its checks keep for
	// its life. Nil: nothing.
	prepare func(context.Context) context.Context
}

// Publish announces a comment created through the gateway. It uses the same
// dedupe key as every push source, so the comment's echo (an Aelyst webhook,
// the Virola stream, a poll) is not announced a second time.
func (b busAdapter) Publish(ctx context.Context, c *model.Comment) error {
	_, _, err := b.bus.PublishOnce(ctx, commentEventKey(c), c)
	return err
}

// PublishEvent announces a comment edited or deleted through the gateway,
// under the key a push source would give the same change, so its echo is
// not announced again.
func (b busAdapter) PublishEvent(ctx context.Context, t model.CommentEventType, c *model.Comment) error {
	_, _, err := b.bus.PublishChange(ctx, t, changeEventKey(t, c, ""), c)
	return err
}

// commentEventKey names a comment for the bus's dedupe window: one event per
// comment, whichever sources and instances see it.
func commentEventKey(c *model.Comment) string { return c.ProviderID + ":" + c.ID() }

// changeEventKey names an edit or a deletion for the dedupe window, apart
// from the comment's ADDED key. A deletion happens once: "<key>:deleted". An
// edit is named by its EditedAt and a hash of its body ("<key>:updated:<unix
// ns>:<hash>"; the body tells apart two edits within Ziik's one-second
// edited_at), so the gateway's own edit and its echo from a poll are one
// event. A push that says more (Virola's update key counts read receipts,
// which change no EditedAt) gives its delivery key instead. An update named by
// neither (K-LINK gives no edit time) is never deduplicated.
func changeEventKey(t model.CommentEventType, c *model.Comment, delivery string) string {
	switch {
	case t == model.CommentEventTypeDeleted:
		return commentEventKey(c) + ":deleted"
	case delivery != "":
		return commentEventKey(c) + ":updated:" + delivery
	case c.EditedAt != nil:
		sum := sha256.Sum256([]byte(c.Body))
		return commentEventKey(c) + ":updated:" + strconv.FormatInt(c.EditedAt.UnixNano(), 10) + ":" + hex.EncodeToString(sum[:8])
	}
	return ""
}

// Subscribe delivers new comments only (commentAdded).
func (b busAdapter) Subscribe(ctx context.Context, threads, providerIDs []string, since string) (<-chan graphql.Event[*model.Comment], error) {
	return relay(ctx, b, events.Filter{Threads: threads, Providers: providerIDs, Types: []model.CommentEventType{model.CommentEventTypeAdded}}, since,
		func(ev *events.Event) *model.Comment { return ev.Comment })
}

// SubscribeEvents delivers every event type (commentEvents).
func (b busAdapter) SubscribeEvents(ctx context.Context, threads, providerIDs []string, since string) (<-chan graphql.Event[*model.CommentEvent], error) {
	return relay(ctx, b, events.Filter{Threads: threads, Providers: providerIDs}, since,
		func(ev *events.Event) *model.CommentEvent {
			return &model.CommentEvent{Type: ev.Type, Subject: ev.Comment}
		})
}

// relay subscribes to the bus and hands each event to gqlgen as value(ev),
// on the event's own context.
func relay[T any](ctx context.Context, b busAdapter, f events.Filter, since string, value func(*events.Event) T) (<-chan graphql.Event[T], error) {
	if b.restrict != nil {
		var err error
		if f, err = b.restrict(ctx, f); err != nil {
			return nil, err
		}
	}
	if b.prepare != nil {
		ctx = b.prepare(ctx)
	}
	sub, err := b.bus.Subscribe(ctx, f, since)
	if err != nil {
		return nil, err
	}
	// Unbuffered: the bus's own per-subscriber buffer is the only queue, so a
	// slow client is detected there and closed with ErrSlowConsumer.
	out := make(chan graphql.Event[T])
	stopWatching := context.AfterFunc(b.stopping, sub.Close)
	go func() {
		defer close(out)
		defer stopWatching()
		defer sub.Close()
		for ev := range sub.C {
			// A replay flows at the client's pace: over WebSocket it waits
			// for the socket to write what is queued, where a live event
			// would overflow it (4429). SSE writes each event before asking
			// for the next, so it paces itself.
			if sub.FromReplay(ev) {
				if graphqlws.AwaitRoom(ctx) != nil {
					return
				}
			}
			if b.allow != nil && !b.allow(ctx, ev) {
				continue
			}
			select {
			case out <- graphql.Event[T]{Context: b.scope(resolvers.WithEventID(ctx, ev.ID)), Value: value(ev)}:
			case <-ctx.Done():
				return
			}
		}
		if err := sub.Err(); err != nil && ctx.Err() == nil && b.stopping.Err() == nil {
			b.log.WarnContext(ctx, "subscription ended by the gateway", "reason", err)
		}
	}()
	return out, nil
}
