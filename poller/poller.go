// Package poller finds new, edited and deleted comments on threads of
// providers that push none (Ziik has no chat push; K-LINK documents no comment
// webhook). One poller runs per thread across all gateway instances: each poll
// is guarded by a lease, so N instances cost the upstream what one does.
//
// # What a poll reports
//
// New comments are found by walking forward from the newest comment the
// poller has seen, with the provider's own cursors, so none is skipped.
//
// Edits and deletions are found by re-reading a window: the thread's newest
// Options.Window comments (one ListComments of Page{Last: Window}, the newest
// page). Each comment of the window the poller has seen before is compared
// with what it saw:
//
//   - Edited (reported in Change.UpdatedComments): its EditedAt changed (Ziik
//     gives edited_at), or its Body changed. K-LINK gives no edited time, so
//     there a changed text is the only sign of an edit; on Ziik the text also
//     catches a second edit within edited_at's one-second resolution.
//   - Deleted (Change.DeletedComments): it now reads Deleted: true (Ziik's soft
//     delete), or it is missing from the window although the window covers
//     its position (K-LINK lists a removed comment no more).
//
// The window covers a seen comment's position when the window reaches the
// thread's oldest comment (no HasPreviousPage), or when the comment is newer
// than a seen comment the window holds, or when it was created strictly after
// the window's oldest comment. A seen comment missing from the window
// otherwise sits beyond the window's older edge, where new comments pushed it:
// that is paging, not deletion, and it is forgotten unreported. So a comment
// deleted once more than Window newer comments exist is never reported.
//
// # State
//
// Per thread the poller keeps the cursor of its newest comment and, for at
// most Window comments, the ref, the creation time, the edit time, a hash of
// the text and the deleted flag. Nothing survives a restart or a change of
// lease holder: the first poll of a new holder reads the newest page as its
// baseline and reports no edit or deletion from it (it offers the comments of
// the last moments as new again, which the bus drops as published).
package poller

import (
	"context"
	"hash/maphash"
	"log/slog"
	"slices"
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
	// Window is how many of a thread's newest comments each poll re-reads to
	// find edits and deletions (see the package doc). When the newest comment
	// already seen is inside the window, that read finds the new comments too,
	// so a quiet thread costs one upstream call per poll. 0: PageSize.
	// Negative: no re-read; only new comments are reported.
	Window int
	// Leaser keeps one poller per thread across instances. Nil: an in-memory
	// one (single instance).
	Leaser events.Leaser
	Logger *slog.Logger
	// Now is the clock for how far back a new lease holder looks for comments
	// its predecessor may have missed. Nil: time.Now.
	Now func() time.Time
	// Ticks, when set, starts a poll on each receive instead of every
	// Interval (Interval still sets the lease's ttl). A send on an unbuffered
	// Ticks is received only once the previous poll is over, which is how
	// tests wait for a poll. Nil: a ticker of Interval.
	Ticks <-chan time.Time
}

// releaseTimeout bounds the lease release as a poller stops: without it the
// next instance waits out the lease's ttl, so it is worth a try, but not
// worth holding up a shutdown for.
const releaseTimeout = time.Second

// Publish receives what one poll found: new comments oldest first, then the
// comments edited and deleted since the previous poll. A Publish that fails is
// offered the same again by the next poll.
type Publish func(ctx context.Context, ch *providers.Change) error

// Thread polls one thread of p until ctx is done, calling publish with the
// comments that appear, change or go after it starts (see the package doc).
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
	if opts.Window == 0 {
		opts.Window = opts.PageSize
	}
	if opts.Leaser == nil {
		opts.Leaser = events.NewMemoryLeaser(nil)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ticks := opts.Ticks
	if ticks == nil {
		tick := time.NewTicker(opts.Interval)
		defer tick.Stop()
		ticks = tick.C
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
		st     *state
		held   bool
	)
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
		}
		if !held {
			// Another instance may poll meanwhile: once this one holds the
			// lease again it starts from a new baseline, not from state that
			// what the other reported has made stale.
			st = nil
		}
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "poll lease", "err", err)
		}
		if held {
			if thread == nil {
				thread, err = p.Thread(ctx, kind, ref)
			}
			if err == nil && st == nil {
				// Whoever held the lease before may have missed the last moments:
				// offer what is recent; PublishOnce drops what was published.
				st, err = baseline(ctx, p, thread, opts.Now().Add(-2*ttl), publish, opts)
			} else if err == nil {
				err = st.poll(ctx, p, thread, publish, opts)
			}
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "poll", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// state is what a poller knows of its thread between polls.
type state struct {
	// cursor is the provider's cursor of the newest comment seen, and ref that
	// comment's ref; both "" for a thread that was empty.
	cursor, ref string
	// seen are the newest comments seen, oldest first, at most Window of them.
	seen []seen
}

// seen is what is kept of a comment to tell whether it changed: no text, only
// its hash, so the state stays small whatever the comments hold.
type seen struct {
	ref     string
	created time.Time
	edited  time.Time // zero: never edited
	body    uint64
	deleted bool
}

// bodySeed hashes texts; hashes are compared only within this process.
var bodySeed = maphash.MakeSeed()

func seenOf(c *model.Comment) seen {
	s := seen{ref: c.Ref, created: c.CreatedAt, body: maphash.String(bodySeed, c.Body), deleted: c.Deleted}
	if c.EditedAt != nil {
		s.edited = *c.EditedAt
	}
	return s
}

// changed reports whether now differs from what was seen in what an edit
// changes.
func (s seen) changed(now seen) bool { return !s.edited.Equal(now.edited) || s.body != now.body }

// baseline reads the newest page as the state to compare later polls with and
// publishes its comments created after since as new.
func baseline(ctx context.Context, p providers.Provider, th *model.Thread, since time.Time, publish Publish, opts Options) (*state, error) {
	pg, err := p.ListComments(ctx, th, providers.Page{Last: opts.PageSize})
	if err != nil {
		return nil, err
	}
	st := &state{}
	if len(pg.Edges) == 0 {
		return st, nil // the next poll walks from the oldest
	}
	var recent []*model.Comment
	for _, e := range pg.Edges {
		if e.Comment.CreatedAt.After(since) {
			recent = append(recent, e.Comment)
		}
	}
	if len(recent) > 0 {
		if err := publish(ctx, &providers.Change{Comments: recent}); err != nil {
			return nil, err
		}
	}
	last := pg.Edges[len(pg.Edges)-1]
	st.cursor, st.ref = last.Cursor, last.Comment.Ref
	if opts.Window > 0 {
		st.remember(pg.Edges, opts.Window)
	}
	return st, nil
}

// remember adds edges, newer than every comment seen, to what is seen, and
// forgets the oldest past window.
func (st *state) remember(edges []providers.CommentEdge, window int) {
	for _, e := range edges {
		st.seen = append(st.seen, seenOf(e.Comment))
	}
	if over := len(st.seen) - window; over > 0 {
		st.seen = append(st.seen[:0], st.seen[over:]...)
	}
}

// poll re-reads the window, then, unless that read showed every new comment,
// walks forward from the cursor. State advances only past what publish took.
func (st *state) poll(ctx context.Context, p providers.Provider, th *model.Thread, publish Publish, opts Options) error {
	if opts.Window <= 0 {
		return st.forward(ctx, p, th, publish, opts)
	}
	pg, err := p.ListComments(ctx, th, providers.Page{Last: opts.Window})
	if err != nil {
		return err
	}
	ch, next := st.compare(th, pg)
	// The window shows every new comment when it holds a comment seen: what
	// was seen is a run of the thread up to the cursor, so the comments after
	// the newest of them are the new ones (the cursor's own comment may be
	// gone). Or when it reaches the oldest end of a thread that was empty.
	from := -1
	switch {
	case len(next) > 0:
		from = len(next)
	case st.ref == "" && !pg.HasPreviousPage:
		from = 0
	}
	var fresh []providers.CommentEdge
	if from >= 0 {
		fresh = pg.Edges[from:]
		for _, e := range fresh {
			ch.Comments = append(ch.Comments, e.Comment)
		}
	}
	if len(ch.Comments)+len(ch.UpdatedComments)+len(ch.DeletedComments) > 0 {
		if err := publish(ctx, ch); err != nil {
			return err // nothing advanced: the same is offered again
		}
	}
	st.seen = next
	if from < 0 {
		return st.forward(ctx, p, th, publish, opts)
	}
	if len(fresh) > 0 {
		last := fresh[len(fresh)-1]
		st.cursor, st.ref = last.Cursor, last.Comment.Ref
		st.remember(fresh, opts.Window)
	}
	return nil
}

// compare holds the window pg (the thread's newest comments, oldest first)
// against what was seen. It returns the edits and deletions found, and what
// is seen after them: pg up to the newest comment seen, as it is now; the
// comments in there not seen before were pushed back into the window by
// deletions, and are taken as they are, unreported. The comments of pg after
// the newest seen are new: they are left to be published, and seen only then.
// So next is a prefix of pg.Edges, empty when pg holds no comment seen.
func (st *state) compare(th *model.Thread, pg *providers.CommentPage) (*providers.Change, []seen) {
	ch := &providers.Change{}
	at := make(map[string]int, len(st.seen))
	for i := range st.seen {
		at[st.seen[i].ref] = i
	}
	inWindow := make([]bool, len(st.seen)) // by index in st.seen: pg holds it
	newest := -1                           // index in pg of the newest comment seen
	for i, e := range pg.Edges {
		if j, ok := at[e.Comment.Ref]; ok {
			inWindow[j] = true
			newest = i
		}
	}
	// oldest is the index in st.seen of the oldest comment pg holds: every
	// comment seen after it lies inside the window.
	oldest := slices.Index(inWindow, true)
	if oldest < 0 {
		oldest = len(st.seen)
	}
	covered := func(j int) bool {
		return !pg.HasPreviousPage || j > oldest ||
			(len(pg.Edges) > 0 && st.seen[j].created.After(pg.Edges[0].Comment.CreatedAt))
	}
	for j, s := range st.seen {
		if !inWindow[j] && covered(j) && !s.deleted {
			ch.DeletedComments = append(ch.DeletedComments, providers.CommentRef{ThreadKind: th.Kind, ThreadRef: th.Ref, Ref: s.ref})
		}
	}
	next := make([]seen, 0, newest+1)
	for i, e := range pg.Edges[:newest+1] {
		now := seenOf(e.Comment)
		if j, ok := at[e.Comment.Ref]; ok {
			was := st.seen[j]
			switch {
			case now.deleted && !was.deleted:
				ch.DeletedComments = append(ch.DeletedComments, providers.CommentRef{ThreadKind: th.Kind, ThreadRef: th.Ref, Ref: now.ref})
			case now.deleted:
			case was.deleted || was.changed(now):
				ch.UpdatedComments = append(ch.UpdatedComments, pg.Edges[i].Comment)
			}
		}
		next = append(next, now)
	}
	return ch, next
}

// forward walks from the cursor to the newest comment, at most MaxPages
// pages, publishing each page as new comments.
func (st *state) forward(ctx context.Context, p providers.Provider, th *model.Thread, publish Publish, opts Options) error {
	for i := 0; i < opts.MaxPages; i++ {
		pg, err := p.ListComments(ctx, th, providers.Page{First: opts.PageSize, After: st.cursor})
		if err != nil {
			return err
		}
		if len(pg.Edges) == 0 {
			return nil
		}
		cs := make([]*model.Comment, len(pg.Edges))
		for j, e := range pg.Edges {
			cs[j] = e.Comment
		}
		if err := publish(ctx, &providers.Change{Comments: cs}); err != nil {
			return err // not advanced: the same comments are offered again
		}
		last := pg.Edges[len(pg.Edges)-1]
		st.cursor, st.ref = last.Cursor, last.Comment.Ref
		if opts.Window > 0 {
			st.remember(pg.Edges, opts.Window)
		}
		if !pg.HasNextPage {
			return nil
		}
	}
	return nil
}
