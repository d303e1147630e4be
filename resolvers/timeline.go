package resolvers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers/loaders"
)

// timelineCursor records, per thread, where the timeline stopped: the
// provider cursor of the oldest comment already returned (Before), or Done
// when the thread has nothing older. Threads not in the map have not started.
type timelineCursor map[string]threadPos

type threadPos struct {
	Before string `json:"b,omitempty"`
	Done   bool   `json:"d,omitempty"`
}

const maxCursorLen = 16 << 10

func decodeTimelineCursor(s string) (timelineCursor, error) {
	c := timelineCursor{}
	if s == "" {
		return c, nil
	}
	bad := model.Errorf(model.CodeBadUserInput, "after is not a cursor of this timeline")
	if len(s) > maxCursorLen {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return nil, bad
	}
	return c, nil
}

func (c timelineCursor) encode() string {
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

type timelineThread struct {
	id     string
	thread *model.Thread
	p      providers.Provider
	page   *providers.CommentPage
	err    error
	next   int // index of the newest edge not yet taken (counting down)
}

// timeline merges several threads' comments, newest first. Each page asks every
// unfinished thread for its `first` newest comments before where it stopped,
// then takes the newest `first` of those by a k-way merge from the newest end
// of each thread. What a thread contributed is always its newest untaken
// comments, so its new position is the cursor of the oldest one taken: no
// comment is skipped or repeated across pages, whatever the providers' paging.
// A thread whose provider fails keeps its position (it is retried on the next
// page) and its error is reported at this field's path; the others' comments
// are still returned.
func (r *Resolver) timeline(ctx context.Context, threadIDs []string, first *int, after *string) (*model.CommentConnection, error) {
	l := r.limits()
	n := l.DefaultPageSize
	if first != nil {
		if *first < 1 || *first > l.MaxPageSize {
			return nil, model.Errorf(model.CodeBadUserInput, "first must be between 1 and %d", l.MaxPageSize)
		}
		n = *first
	}
	if len(threadIDs) == 0 {
		return nil, model.Errorf(model.CodeBadUserInput, "threads must name at least one thread")
	}
	if len(threadIDs) > l.MaxTimelineThreads {
		return nil, model.Errorf(model.CodeBadUserInput, "threads may name at most %d threads", l.MaxTimelineThreads)
	}
	cur := timelineCursor{}
	if after != nil {
		var err error
		if cur, err = decodeTimelineCursor(*after); err != nil {
			return nil, err
		}
	}
	var ths []*timelineThread
	seen := map[string]bool{}
	for _, id := range threadIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		gid, err := model.DecodeIDOf(id, model.TypeThread)
		if err != nil {
			return nil, err
		}
		p, err := r.provider(ctx, gid.Provider)
		if err != nil {
			return nil, err
		}
		if cur[id].Done {
			continue
		}
		ths = append(ths, &timelineThread{id: id, p: p, thread: &model.Thread{ProviderID: gid.Provider, Kind: model.ThreadKind(gid.Ref[0]), Ref: gid.Ref[1]}})
	}

	var wg sync.WaitGroup
	for _, t := range ths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil { // an adapter's panic fails its thread, not the process
					t.err = fmt.Errorf("timeline: thread %s: panic: %v", t.id, p)
				}
			}()
			// The thread check and the list go out together: every adapter
			// lists by the thread's kind and ref alone, which the global ID
			// holds, so a page waits for one round trip, not two. A thread
			// the check refuses (NOT_FOUND, UNSUPPORTED …) fails with the
			// check's error and its list is dropped. The check answers the
			// thread loader at once rather than after its batch window.
			ld := r.loaders(ctx)
			var th *model.Thread
			var thErr error
			checked := make(chan struct{})
			go func() {
				defer close(checked)
				defer func() {
					if p := recover(); p != nil {
						thErr = fmt.Errorf("timeline: thread %s: panic: %v", t.id, p)
					}
				}()
				ld.PrefetchThreads(ctx, t.thread.ProviderID, []loaders.ThreadKey{{Kind: t.thread.Kind, Ref: t.thread.Ref}})
				th, thErr = ld.Thread(ctx, t.thread.ProviderID, t.thread.Kind, t.thread.Ref)
			}()
			page, err := t.p.ListComments(ctx, t.thread, providers.Page{Last: n, Before: cur[t.id].Before})
			<-checked
			switch {
			case thErr != nil:
				t.err = thErr
			case err != nil:
				t.err = err
			default:
				t.thread, t.page = th, page
				t.next = len(page.Edges) - 1
			}
		}()
	}
	wg.Wait()

	conn := &model.CommentConnection{PageInfo: &model.PageInfo{HasPreviousPage: after != nil && *after != ""}}
	var live []*timelineThread
	for _, t := range ths {
		if t.err != nil {
			graphql.AddError(ctx, t.err)
			continue
		}
		live = append(live, t)
	}
	// The page's edges, their pointers and the cursor moves are each one
	// allocation, sized by what the threads returned.
	size := 0
	for _, t := range live {
		size += len(t.page.Edges)
	}
	size = min(size, n)
	edges := make([]model.CommentEdge, 0, size)
	conn.Edges = make([]*model.CommentEdge, 0, size)
	cursors := &timelineCursors{start: cur, moves: make([]threadMove, 0, size)}
	for len(conn.Edges) < n {
		var best *timelineThread
		for _, t := range live {
			if t.next < 0 {
				continue
			}
			if best == nil || newer(t.page.Edges[t.next].Comment, best.page.Edges[best.next].Comment) {
				best = t
			}
		}
		if best == nil {
			break
		}
		e := best.page.Edges[best.next]
		e.Comment.Link()
		best.next--
		i := len(conn.Edges)
		cursors.moves = append(cursors.moves, threadMove{id: best.id, pos: threadPos{Before: e.Cursor, Done: best.next < 0 && !best.page.HasPreviousPage}})
		edges = append(edges, model.LazyCommentEdge(cursors, i, e.Comment))
		conn.Edges = append(conn.Edges, &edges[i])
	}
	for _, t := range ths {
		if t.err != nil || t.next >= 0 || t.page.HasPreviousPage {
			conn.PageInfo.HasNextPage = true
		}
	}
	if k := len(conn.Edges); k > 0 {
		// The page's own cursors are made now, without the edges' between.
		start, end := cursors.encodeAt(0), cursors.encodeAt(k-1)
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	r.prefetchUsers(ctx, conn)
	return conn, nil
}

// timelineCursors makes a timeline page's edge cursors: the cursor of edge i
// is every thread's position once edges 0..i are taken. Only the thread an
// edge came from moves, so the page keeps the positions before it and one
// move per edge, and encodes the cursors only when a query asks for one.
type timelineCursors struct {
	start timelineCursor
	moves []threadMove

	once    sync.Once
	encoded []string
}

type threadMove struct {
	id  string
	pos threadPos
}

// CursorAt is edge i's cursor; the first call encodes every edge's.
func (c *timelineCursors) CursorAt(i int) string {
	c.once.Do(func() {
		c.encoded = make([]string, len(c.moves))
		pos := c.positions(0)
		for i, m := range c.moves {
			pos[m.id] = m.pos
			c.encoded[i] = pos.encode()
		}
	})
	return c.encoded[i]
}

// encodeAt encodes edge i's cursor on its own.
func (c *timelineCursors) encodeAt(i int) string {
	pos := c.positions(i + 1)
	return pos.encode()
}

// positions is every thread's position once the first n edges are taken.
func (c *timelineCursors) positions(n int) timelineCursor {
	pos := make(timelineCursor, len(c.start)+len(c.moves))
	for k, v := range c.start {
		pos[k] = v
	}
	for _, m := range c.moves[:n] {
		pos[m.id] = m.pos
	}
	return pos
}

// newer orders comments newest first, with a stable tie-break so the same
// inputs always merge the same way.
func newer(a, b *model.Comment) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	if a.ProviderID != b.ProviderID {
		return a.ProviderID > b.ProviderID
	}
	if a.ThreadRef != b.ThreadRef {
		return a.ThreadRef > b.ThreadRef
	}
	return a.Ref > b.Ref
}
