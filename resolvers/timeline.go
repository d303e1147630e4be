package resolvers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
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
		p, err := r.provider(gid.Provider)
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
			th, err := r.loaders(ctx).Thread(ctx, t.thread.ProviderID, t.thread.Kind, t.thread.Ref)
			if err != nil {
				t.err = err
				return
			}
			t.thread = th
			t.page, t.err = t.p.ListComments(ctx, th, providers.Page{Last: n, Before: cur[t.id].Before})
			if t.err == nil {
				t.next = len(t.page.Edges) - 1
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
	// pos is where each thread stands after the edges taken so far; only the
	// thread an edge came from moves, and each edge's cursor is pos then.
	pos := make(timelineCursor, len(cur))
	for k, v := range cur {
		pos[k] = v
	}
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
		pos[best.id] = threadPos{Before: e.Cursor, Done: best.next < 0 && !best.page.HasPreviousPage}
		conn.Edges = append(conn.Edges, &model.CommentEdge{Node: e.Comment, Cursor: pos.encode()})
	}
	for _, t := range ths {
		if t.err != nil || t.next >= 0 || t.page.HasPreviousPage {
			conn.PageInfo.HasNextPage = true
		}
	}
	if k := len(conn.Edges); k > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[k-1].Cursor
	}
	return conn, nil
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
