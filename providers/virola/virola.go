package virola

import (
	"context"

	"github.com/commentgraph/commentgraph/providers"
)

func init() { providers.Register("virola", build) }

// build is Virola's factory: comments arrive through the events stream, which
// every instance follows (the bus publishes each comment once); the
// configured threads are watched for catch-up after a reconnect.
func build(cfg providers.Config, deps providers.Deps) (*providers.Instance, error) {
	p, err := New(Options{
		ID: cfg.ID, Name: cfg.Name, BaseURL: cfg.BaseURL, Token: cfg.Token,
		HTTPClient: deps.HTTPClient, Logger: deps.Logger, OnCall: deps.OnCall,
	})
	if err != nil {
		return nil, err
	}
	for _, ref := range cfg.Threads {
		p.Watch(ref)
	}
	return &providers.Instance{Provider: p, Stream: func(ctx context.Context, emit func(context.Context, *providers.Change)) error {
		return p.Stream(ctx, func(ctx context.Context, ch Change) {
			emit(ctx, &providers.Change{Key: ch.Key, Comments: ch.Comments, Users: ch.Users, Rooms: ch.Rooms, DeletedUsers: ch.DeletedUsers, DeletedRooms: ch.DeletedRooms})
		})
	}}, nil
}
