// Package poller finds new comments on threads of providers that push none
// (Ziik has no chat push; K-LINK documents no comment webhook). One poller runs
// per thread across all gateway instances: each poll is guarded by a lease, so
// N instances cost the upstream what one does.
package poller

import (
	"context"
	"log/slog"
	"time"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Options tune a Poller. Every field says its default.
type Options struct {
	// Interval between polls of one thread. 0: 5s.
	Interval time.Duration
	// PageSize is how many comments one upstream call asks for. 0: 50.
	PageSize int
	// MaxPages bounds the calls of one poll (a burst larger than
	// PageSize*MaxPages is taken over several polls). 0: 4.
	MaxPages int
	// Leaser keeps one poller per thread across instances. Nil: an in-memory
	// one (single instance).
	Leaser events.Leaser
	Logger *slog.Logger
}

// releaseTimeout bounds the lease release as a poller stops: without it the
// next instance waits out the lease's ttl, so it is worth a try, but not
// worth holding up a shutdown for.
const releaseTimeout = time.Second

// Publish receives the new comments of one poll, oldest first.
type Publish func(ctx context.Context, comments []*model.Comment) error

// Thread polls one thread of p until ctx is done, calling publish with the
// comments that appear after it starts. It walks forward from the newest
// comment it has seen with the provider's own cursors, so nothing is skipped
// however many arrive between polls (bounded per poll by MaxPages).
//
// Thread returns as soon as ctx is done, however far a poll has got, provided
// p, publish and the Leaser return when their ctx is done; releasing its
// lease then takes at most a second more.
func Thread(ctx context.Context, p providers.Provider, kind model.ThreadKind, ref string, publish Publish, opts Options) {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = 4
	}
	if opts.Leaser == nil {
		opts.Leaser = events.NewMemoryLeaser(nil)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id := p.Info().ID
	log = log.With("provider", id, "thread", ref)
	key := "poll:" + model.ThreadID(id, kind, ref)
	ttl := 3 * opts.Interval
	var (
		thread *model.Thread
		cursor string
		primed bool
		held   bool
	)
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	defer func() {
		if held {
			// ctx is done by now; the release gets a moment of its own, no
			// more, so a stuck lease store cannot hold up shutdown.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			defer cancel()
			_ = opts.Leaser.Release(rctx, key)
		}
	}()
	for {
		var err error
		if held {
			held, err = opts.Leaser.Renew(ctx, key, ttl)
		}
		if !held && err == nil {
			held, err = opts.Leaser.Acquire(ctx, key, ttl)
			// Another instance may have polled meanwhile: start from now.
			primed = primed && held
		}
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "poll lease", "err", err)
		}
		if held {
			if thread == nil {
				thread, err = p.Thread(ctx, kind, ref)
			}
			if err == nil && !primed {
				// Whoever held the lease before may have missed the last moments:
				// offer what is recent; PublishOnce drops what was published.
				cursor, err = newest(ctx, p, thread, time.Now().Add(-2*ttl), publish, opts)
				primed = err == nil
			} else if err == nil {
				cursor, err = forward(ctx, p, thread, cursor, publish, opts)
			}
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "poll", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// newest is the cursor of the thread's newest comment ("" for an empty thread:
// then the next poll walks from the oldest). It publishes the comments of the
// newest page created after since.
func newest(ctx context.Context, p providers.Provider, th *model.Thread, since time.Time, publish Publish, opts Options) (string, error) {
	pg, err := p.ListComments(ctx, th, providers.Page{Last: opts.PageSize})
	if err != nil || len(pg.Edges) == 0 {
		return "", err
	}
	var recent []*model.Comment
	for _, e := range pg.Edges {
		if e.Comment.CreatedAt.After(since) {
			recent = append(recent, e.Comment)
		}
	}
	if len(recent) > 0 {
		if err := publish(ctx, recent); err != nil {
			return "", err
		}
	}
	return pg.Edges[len(pg.Edges)-1].Cursor, nil
}

func forward(ctx context.Context, p providers.Provider, th *model.Thread, cursor string, publish Publish, opts Options) (string, error) {
	for i := 0; i < opts.MaxPages; i++ {
		pg, err := p.ListComments(ctx, th, providers.Page{First: opts.PageSize, After: cursor})
		if err != nil {
			return cursor, err
		}
		if len(pg.Edges) == 0 {
			return cursor, nil
		}
		cs := make([]*model.Comment, len(pg.Edges))
		for j, e := range pg.Edges {
			cs[j] = e.Comment
		}
		if err := publish(ctx, cs); err != nil {
			return cursor, err // not advanced: the same comments are offered again
		}
		cursor = pg.Edges[len(pg.Edges)-1].Cursor
		if !pg.HasNextPage {
			return cursor, nil
		}
	}
	return cursor, nil
}
