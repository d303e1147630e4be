package gateway

import (
	"context"
	"net/http"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/poller"
	"github.com/commentgraph/commentgraph/providers"

	// Each adapter registers its kind's factory (providers.Register).
	_ "github.com/commentgraph/commentgraph/providers/aelyst"
	_ "github.com/commentgraph/commentgraph/providers/klink"
	_ "github.com/commentgraph/commentgraph/providers/virola"
	_ "github.com/commentgraph/commentgraph/providers/ziik"
)

// providerDeps are what every adapter instance is lent.
func (a *App) providerDeps() providers.Deps {
	// Each adapter tags its own lines with provider (as the poller does):
	// given a logger already tagged, they wrote it twice.
	return providers.Deps{
		HTTPClient: a.upstreamClient(), Logger: a.log, OnCall: a.metrics.onCall,
		Directory: a.cache,
		CatchUp: providers.CatchUpBounds{
			Rooms: a.cfg.Events.CatchUp.Rooms, Messages: a.cfg.Events.CatchUp.Messages,
			Threads: a.cfg.Events.CatchUp.Threads, Comments: a.cfg.Events.CatchUp.Comments,
		},
		OnCatchUpDropped: a.metrics.onCatchUpDropped,
		Redis:            a.redis,
	}
}

// buildProvider makes the adapter for one configured instance (pc.ID the
// instance id, short the id in its tenant's config) with its kind's factory,
// wraps it with the users-and-rooms cache (scoped by instance and
// credential), and registers its webhook endpoint and background jobs. One
// with credentials: user is a userProvider; its service credential, when
// set, feeds only the background jobs.
func (a *App) buildProvider(pc config.Provider, short string) (providers.Provider, error) {
	scope := pc.ID + ":" + providers.Fingerprint(pc.Token+"\x00"+pc.Email+"\x00"+pc.Password)
	background := !pc.UserCredentials() || pc.HasServiceCredential()
	cfg := providers.Config{
		ID: pc.ID, Kind: pc.Kind, Name: pc.Name, BaseURL: pc.BaseURL,
		Token: pc.Token, Email: pc.Email, Password: pc.Password, WebhookSecret: pc.WebhookSecret, Threads: pc.Threads,
	}
	if !background {
		// The instance only describes the provider (Info) and reads its
		// webhooks; it never calls upstream, but factories want a credential.
		cfg.Token, cfg.Email, cfg.Password = "unused", "unused@invalid", "unused"
	}
	inst, err := providers.Build(cfg, a.deps)
	if err != nil {
		return nil, err
	}
	if inst.Webhook != nil {
		a.webhooks[pc.ID] = func(ctx context.Context, h http.Header, body []byte) error {
			ch, err := inst.Webhook(ctx, h, body)
			if err != nil {
				return err
			}
			return a.ingest(ctx, pc.ID, scope, ch)
		}
	}
	if inst.Stream != nil && background {
		// Every instance follows the stream; PublishOnce keeps each comment to
		// one event however many instances saw it.
		a.jobs = append(a.jobs, func(ctx context.Context) {
			err := inst.Stream(ctx, func(ctx context.Context, ch *providers.Change) {
				if err := a.ingest(ctx, pc.ID, scope, ch); err != nil {
					a.log.WarnContext(ctx, "provider event", "provider", pc.ID, "err", err)
				}
			})
			if err != nil && ctx.Err() == nil {
				a.log.ErrorContext(ctx, "provider events stream ended", "provider", pc.ID, "err", err)
			}
		})
	}
	if background {
		a.pollThreads(inst.Provider, inst.Poll, scope)
	}
	if pc.UserCredentials() {
		info := *inst.Provider.Info()
		info.Credentials = model.CredentialModeUser
		return &userProvider{a: a, short: short, pc: pc, info: &info, kind: inst.Provider, pool: newUserPool()}, nil
	}
	if a.cfg.Cache.Disabled {
		return inst.Provider, nil
	}
	return a.cache.Wrap(inst.Provider, scope), nil
}

// pollThreads runs a poller per thread of a provider that pushes no comments.
// The lease keeps one poller per thread across instances.
func (a *App) pollThreads(p providers.Provider, threads []providers.PollThread, scope string) {
	if len(threads) == 0 || a.cfg.Events.PollInterval < 0 {
		return
	}
	opts := poller.Options{Interval: a.cfg.Events.PollInterval.D(), Logger: a.log}
	if a.redis != nil {
		l, err := events.NewRedisLeaser(a.redis, "cg:v1:lease:")
		if err == nil {
			opts.Leaser = l
		}
	} else {
		opts.Leaser = events.NewMemoryLeaser(nil)
	}
	for _, th := range threads {
		a.jobs = append(a.jobs, func(ctx context.Context) {
			poller.Thread(ctx, p, th.Kind, th.Ref, func(ctx context.Context, ch *providers.Change) error {
				return a.ingest(ctx, p.Info().ID, scope, ch)
			}, opts)
		})
	}
}
