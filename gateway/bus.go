package gateway

import (
	"context"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
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
}

// Publish announces a comment created through the gateway. It uses the same
// dedupe key as every push source, so the comment's echo (an Aelyst webhook,
// the Virola stream, a poll) is not announced a second time.
func (b busAdapter) Publish(ctx context.Context, c *model.Comment) error {
	_, _, err := b.bus.PublishOnce(ctx, commentEventKey(c), c)
	return err
}

// commentEventKey names a comment for the bus's dedupe window: one event per
// comment, whichever sources and instances see it.
func commentEventKey(c *model.Comment) string { return c.ProviderID + ":" + c.ID() }

func (b busAdapter) Subscribe(ctx context.Context, threads, providerIDs []string, since string) (<-chan graphql.Event[*model.Comment], error) {
	sub, err := b.bus.Subscribe(ctx, events.Filter{Threads: threads, Providers: providerIDs}, since)
	if err != nil {
		return nil, err
	}
	// Unbuffered: the bus's own per-subscriber buffer is the only queue, so a
	// slow client is detected there and closed with ErrSlowConsumer.
	out := make(chan graphql.Event[*model.Comment])
	stopWatching := context.AfterFunc(b.stopping, sub.Close)
	go func() {
		defer close(out)
		defer stopWatching()
		defer sub.Close()
		for ev := range sub.C {
			select {
			case out <- graphql.Event[*model.Comment]{Context: b.scope(resolvers.WithEventID(ctx, ev.ID)), Value: ev.Comment}:
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
