package aelyst

import (
	"context"
	"net/http"

	"github.com/commentgraph/commentgraph/providers"
)

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
		Journal: journal, HTTPClient: deps.HTTPClient, Logger: deps.Logger, OnCall: deps.OnCall,
	})
	if err != nil {
		return nil, err
	}
	return &providers.Instance{Provider: p, Webhook: func(ctx context.Context, h http.Header, body []byte) (*providers.Change, error) {
		ch, err := p.ReceiveWebhook(ctx, h, body)
		if err != nil {
			return nil, err
		}
		return &providers.Change{Key: ch.Key, Comments: ch.Comments, Users: ch.Users, Rooms: ch.Rooms, DeletedUsers: ch.DeletedUserRefs, DeletedRooms: ch.DeletedRoomRefs}, nil
	}}, nil
}
