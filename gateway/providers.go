package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/poller"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/aelyst"
	"github.com/commentgraph/commentgraph/providers/klink"
	"github.com/commentgraph/commentgraph/providers/virola"
	"github.com/commentgraph/commentgraph/providers/ziik"
)

// buildProvider makes the adapter for one configured instance, wraps it with
// the users-and-rooms cache (scoped by instance and credential), and registers
// its webhook endpoint and background jobs.
func (a *App) buildProvider(pc config.Provider) (providers.Provider, error) {
	scope := pc.ID + ":" + providers.Fingerprint(pc.Token+"\x00"+pc.Email+"\x00"+pc.Password)
	var p providers.Provider
	switch pc.Kind {
	case "klink":
		k, err := klink.New(klink.Options{
			ID: pc.ID, Name: pc.Name, BaseURL: pc.BaseURL, Token: pc.Token, WebhookSecret: pc.WebhookSecret,
			Directory: a.cache, Rooms: pc.Threads, HTTPClient: a.upstreamClient(),
			Logger: a.log.With("provider", pc.ID), OnCall: a.metrics.onCall,
		})
		if err != nil {
			return nil, err
		}
		a.webhooks[pc.ID] = func(ctx context.Context, h http.Header, body []byte) error {
			ch, err := k.ReceiveWebhook(ctx, h, body)
			if err != nil {
				return err
			}
			return a.ingest(ctx, pc.ID, scope, change{key: ch.Key, comments: ch.Comments, users: ch.Users, rooms: ch.Rooms, droppedUsers: ch.DeletedUsers, droppedRooms: ch.DeletedRooms})
		}
		p = k
		a.pollThreads(k, model.ThreadKindRoom, pc.Threads, scope)
	case "virola":
		v, err := virola.New(virola.Options{
			ID: pc.ID, Name: pc.Name, BaseURL: pc.BaseURL, Token: pc.Token, HTTPClient: a.upstreamClient(),
			Logger: a.log.With("provider", pc.ID), OnCall: a.metrics.onCall,
		})
		if err != nil {
			return nil, err
		}
		for _, ref := range pc.Threads {
			v.Watch(ref)
		}
		// Every instance follows the events stream; PublishOnce keeps each
		// comment to one event however many instances saw it.
		a.jobs = append(a.jobs, func(ctx context.Context) {
			err := v.Stream(ctx, func(ctx context.Context, ch virola.Change) {
				if err := a.ingest(ctx, pc.ID, scope, change{key: ch.Key, comments: ch.Comments, users: ch.Users, rooms: ch.Rooms, droppedUsers: ch.DeletedUsers, droppedRooms: ch.DeletedRooms}); err != nil {
					a.log.WarnContext(ctx, "virola event", "provider", pc.ID, "err", err)
				}
			})
			if err != nil && ctx.Err() == nil {
				a.log.ErrorContext(ctx, "virola events stream ended", "provider", pc.ID, "err", err)
			}
		})
		p = v
	case "aelyst":
		var journal aelyst.Journal = aelyst.NewMemoryJournal()
		if a.redis != nil {
			journal = aelyst.NewRedisJournal(a.redis, "cg:v1:aelyst:")
		}
		ae, err := aelyst.New(aelyst.Options{
			ID: pc.ID, Name: pc.Name, BaseURL: pc.BaseURL, Token: pc.Token, WebhookSecret: pc.WebhookSecret,
			Journal: journal, HTTPClient: a.upstreamClient(), Logger: a.log.With("provider", pc.ID), OnCall: a.metrics.onCall,
		})
		if err != nil {
			return nil, err
		}
		a.webhooks[pc.ID] = func(ctx context.Context, h http.Header, body []byte) error {
			ch, err := ae.ReceiveWebhook(ctx, h, body)
			if err != nil {
				return err
			}
			return a.ingest(ctx, pc.ID, scope, change{key: ch.Key, comments: ch.Comments, users: ch.Users, rooms: ch.Rooms, droppedUsers: ch.DeletedUserRefs, droppedRooms: ch.DeletedRoomRefs})
		}
		p = ae
	case "ziik":
		z, err := ziik.New(ziik.Options{
			ID: pc.ID, Name: pc.Name, BaseURL: pc.BaseURL, Email: pc.Email, Password: pc.Password,
			HTTPClient: a.upstreamClient(), Logger: a.log.With("provider", pc.ID), OnCall: a.metrics.onCall,
		})
		if err != nil {
			return nil, err
		}
		for _, ref := range pc.Threads {
			kind := model.ThreadKindConversation
			if strings.Contains(ref, ":") {
				kind = model.ThreadKindMessage
			}
			a.pollThreads(z, kind, []string{ref}, scope)
		}
		p = z
	default:
		return nil, fmt.Errorf("kind %q is not wired", pc.Kind)
	}
	if a.cfg.Cache.Disabled {
		return p, nil
	}
	return a.cache.Wrap(p, scope), nil
}

// pollThreads runs a poller per configured thread of a provider that pushes no
// comments. The lease keeps one poller per thread across instances.
func (a *App) pollThreads(p providers.Provider, kind model.ThreadKind, refs []string, scope string) {
	if len(refs) == 0 {
		return
	}
	opts := poller.Options{Interval: a.cfg.Events.PollInterval.D(), Logger: a.log.With("provider", p.Info().ID)}
	if a.redis != nil {
		l, err := events.NewRedisLeaser(a.redis, "cg:v1:lease:")
		if err == nil {
			opts.Leaser = l
		}
	} else {
		opts.Leaser = events.NewMemoryLeaser(nil)
	}
	for _, ref := range refs {
		a.jobs = append(a.jobs, func(ctx context.Context) {
			poller.Thread(ctx, p, kind, ref, func(ctx context.Context, cs []*model.Comment) error {
				return a.ingest(ctx, p.Info().ID, scope, change{comments: cs})
			}, opts)
		})
	}
}
