package virola

import (
	"context"
	"errors"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// threadInfo is what is known of a parent message without fetching it (Virola
// has no get-one-message endpoint).
type threadInfo struct {
	room  int64
	title string
}

// maxTitles bounds the remembered parent message titles.
const maxTitles = 10_000

// threadRef checks a MESSAGE thread reference before any call.
func (p *Provider) threadRef(kind model.ThreadKind, ref string) (int64, error) {
	if kind != model.ThreadKindMessage {
		return 0, providers.Unsupported(p.opts.ID, "a "+string(kind)+" thread")
	}
	id, ok := parseRef(ref)
	if !ok {
		return 0, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID,
			Message: "a Virola thread reference is a message id (a positive integer)"}
	}
	return id, nil
}

func (p *Provider) rememberThread(id int64, info threadInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.titles) >= maxTitles {
		clear(p.titles) // rebuilt as threads are listed again
	}
	if old, ok := p.titles[id]; ok && info.title == "" {
		info.title = old.title
	}
	p.titles[id] = info
}

func (p *Provider) newThread(id int64, info threadInfo) *model.Thread {
	t := &model.Thread{ProviderID: p.opts.ID, Kind: model.ThreadKindMessage, Ref: ref(id)}
	if info.room > 0 {
		t.RoomRef = ref(info.room)
	}
	if info.title != "" {
		title := info.title
		t.Title = &title
	}
	return t
}

// Thread checks that the parent message exists (listing its newest comment,
// as Virola has no get-one-message call) and returns it with its room and its
// title: the parent message's first line, as ListThreads gives it. A title
// not yet known (the thread was never listed, nor seen on the events stream)
// costs one more call, reading the parent from its room's messages, so a
// thread looked up before it is listed is titled all the same.
func (p *Provider) Thread(ctx context.Context, kind model.ThreadKind, threadRef string) (*model.Thread, error) {
	id, err := p.threadRef(kind, threadRef)
	if err != nil {
		return nil, err
	}
	page, err := p.comments(ctx, id, listQuery{limit: 1, backward: true})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	info := p.titles[id]
	p.mu.Unlock()
	if page.RoomID > 0 {
		info.room = page.RoomID
	}
	if info.title == "" && info.room > 0 {
		info.title = p.parentTitle(ctx, info.room, id)
	}
	if info.room > 0 {
		p.rememberThread(id, info)
	}
	return p.newThread(id, info), nil
}

// parentTitle reads message id from its room's list and returns its title, or
// "" when it cannot be read. The list is read backward from id+1, two
// messages, so the message is in the answer whether the server counts the
// cursor's own message in (the notes cannot tell) or not, and whether or not
// a message id+1 exists. A failure only costs the title: the thread exists.
func (p *Provider) parentTitle(ctx context.Context, room, id int64) string {
	l, err := p.roomMessages(ctx, room, listQuery{cursor: id + 1, limit: 2, backward: true})
	if err != nil {
		p.log.WarnContext(ctx, "virola: could not read a thread's parent message for its title", "message", id, "room", room, "err", err)
		return ""
	}
	for _, m := range l.Messages {
		if m.MessageID == id {
			return title(m.Text)
		}
	}
	return ""
}

// ListThreads lists the top-level messages that have comments across the
// caller's rooms, newest first. The cursor is the last thread's message id:
// Virola allocates message ids in one sequence across rooms. Each round reads
// the newest ThreadScan messages older than the cursor in each room (at most
// ThreadRooms rooms, four at a time); rounds repeat, at most threadRounds
// times, while the page is not full and some room may hold more.
func (p *Provider) ListThreads(ctx context.Context, page providers.Page) (*providers.ThreadPage, error) {
	var before int64
	if page.After != "" {
		var ok bool
		if before, ok = parseRef(page.After); !ok {
			return nil, p.badCursor()
		}
	}
	size := page.Size()
	if size <= 0 {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "first must be positive"}
	}
	size = min(size, maxPage)
	rooms, err := p.roomDirectory(ctx)
	if err != nil {
		return nil, err
	}
	list := rooms.rooms
	if len(list) > p.opts.ThreadRooms {
		// The rooms with the latest messages are the likeliest to hold the
		// threads someone wants to open.
		list = slices.Clone(list)
		slices.SortFunc(list, func(a, b apiRoom) int { return cmpInt(lastActivity(b), lastActivity(a)) })
		list = list[:p.opts.ThreadRooms]
	}
	out := &providers.ThreadPage{Edges: []providers.ThreadEdge{}}
	for range threadRounds {
		found, horizon, err := p.scanThreads(ctx, list, before)
		if err != nil {
			return nil, err
		}
		for _, m := range found {
			if m.MessageID < horizon {
				break // the next round reads on from the horizon
			}
			if len(out.Edges) == size {
				out.HasNextPage = true
				return out, nil
			}
			info := threadInfo{room: m.RoomID, title: title(m.Text)}
			p.rememberThread(m.MessageID, info)
			out.Edges = append(out.Edges, providers.ThreadEdge{Cursor: ref(m.MessageID), Thread: p.newThread(m.MessageID, info)})
		}
		if horizon == 0 {
			return out, nil // every room was read to its oldest message
		}
		before = horizon
		if len(out.Edges) == size {
			out.HasNextPage = true
			return out, nil
		}
	}
	// Rounds ran out with rooms unread further back: say so only when the
	// page has a cursor to go on from.
	out.HasNextPage = len(out.Edges) > 0
	return out, nil
}

// threadRounds bounds the scan rounds of one ListThreads page.
const threadRounds = 5

// scanThreads reads one round: the threads (top-level messages with comments)
// older than before, newest first, and the horizon: the oldest message read in
// a room that may hold more, below which threads may still be unread (0 when
// every room was read to its oldest message).
func (p *Provider) scanThreads(ctx context.Context, rooms []apiRoom, before int64) ([]apiMessage, int64, error) {
	var (
		mu      sync.Mutex
		found   []apiMessage
		horizon int64
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, r := range rooms {
		g.Go(func() error {
			msgs, err := p.roomMessages(gctx, r.RoomID, listQuery{cursor: before, limit: p.opts.ThreadScan, backward: true})
			if err != nil {
				var me *model.Error
				if errors.As(err, &me) && (me.Code == model.CodeNotFound || me.Code == model.CodeForbidden) {
					return nil // the room went away or out of reach since the room list
				}
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			var oldest int64
			for _, m := range msgs.Messages {
				if m.MessageID <= 0 || (before > 0 && m.MessageID >= before) {
					continue // garbage, or an inclusive cursor's own message
				}
				if oldest == 0 || m.MessageID < oldest {
					oldest = m.MessageID
				}
				if m.ParentMessageID == 0 && m.CommentCount > 0 {
					if m.RoomID == 0 {
						m.RoomID = r.RoomID
					}
					found = append(found, m)
				}
			}
			if len(msgs.Messages) >= p.opts.ThreadScan && oldest > horizon {
				horizon = oldest
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	slices.SortFunc(found, func(a, b apiMessage) int { return cmpInt(b.MessageID, a.MessageID) })
	found = slices.CompactFunc(found, func(a, b apiMessage) bool { return a.MessageID == b.MessageID })
	return found, horizon, nil
}

func lastActivity(r apiRoom) int64 {
	if r.LastMessage != nil {
		return r.LastMessage.CreatedUtc
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
