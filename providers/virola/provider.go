package virola

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// maxPage bounds one page of comments; a larger ask gets this many and
// HasNextPage/HasPreviousPage say there is more.
const maxPage = 100

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

func (p *Provider) badCursor() error {
	return &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "the cursor is not one this provider made"}
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
// as Virola has no get-one-message call) and returns it with its room. Title
// is known when the message was seen by ListThreads or the events stream.
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
	return p.newThread(id, info), nil
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

// ListComments pages through a thread's comments. Cursors are message ids.
// Virola answers ascending and has no has-more flag, so one more than asked
// is fetched (two with a cursor, in case the server includes the cursor's own
// message, which the docs leave open).
func (p *Provider) ListComments(ctx context.Context, thread *model.Thread, page providers.Page) (*providers.CommentPage, error) {
	parent, err := p.threadRef(thread.Kind, thread.Ref)
	if err != nil {
		return nil, err
	}
	cursorText := page.After
	if page.Backward() {
		cursorText = page.Before
	}
	var cursor int64
	if cursorText != "" {
		var ok bool
		if cursor, ok = parseRef(cursorText); !ok {
			return nil, p.badCursor()
		}
	}
	size := page.Size()
	if size <= 0 {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "first or last must be positive"}
	}
	size = min(size, maxPage)
	q := listQuery{cursor: cursor, limit: size + 1, backward: page.Backward()}
	if cursor > 0 {
		q.limit++
	}
	users, err := p.userDirectory(ctx)
	if err != nil {
		return nil, err
	}
	list, err := p.comments(ctx, parent, q)
	if err != nil {
		return nil, err
	}
	msgs := strictlyBeyond(list.Messages, cursor, page.Backward())
	out := &providers.CommentPage{}
	if page.Backward() {
		if len(msgs) > size {
			msgs = msgs[len(msgs)-size:]
			out.HasPreviousPage = true
		}
		out.HasNextPage = cursor > 0
	} else {
		if len(msgs) > size {
			msgs = msgs[:size]
			out.HasNextPage = true
		}
		out.HasPreviousPage = cursor > 0
	}
	out.Edges = make([]providers.CommentEdge, 0, len(msgs))
	for i := range msgs {
		msgs[i].ParentMessageID = parent
		c := p.toComment(&msgs[i], users)
		out.Edges = append(out.Edges, providers.CommentEdge{Cursor: c.Ref, Comment: c})
	}
	return out, nil
}

// strictlyBeyond sorts msgs ascending, drops duplicates and, with a cursor,
// every message not strictly past it in the walking direction.
func strictlyBeyond(msgs []apiMessage, cursor int64, backward bool) []apiMessage {
	msgs = slices.DeleteFunc(slices.Clone(msgs), func(m apiMessage) bool {
		if m.MessageID <= 0 {
			return true
		}
		if cursor == 0 {
			return false
		}
		if backward {
			return m.MessageID >= cursor
		}
		return m.MessageID <= cursor
	})
	slices.SortStableFunc(msgs, func(a, b apiMessage) int { return cmpInt(a.MessageID, b.MessageID) })
	return slices.CompactFunc(msgs, func(a, b apiMessage) bool { return a.MessageID == b.MessageID })
}

// GetComment finds one comment of a thread by listing backward from just past
// it (Virola has no get-one-message call).
func (p *Provider) GetComment(ctx context.Context, thread *model.Thread, commentRef string) (*model.Comment, error) {
	parent, err := p.threadRef(thread.Kind, thread.Ref)
	if err != nil {
		return nil, err
	}
	id, ok := parseRef(commentRef)
	if !ok {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "a Virola comment reference is a message id (a positive integer)"}
	}
	users, err := p.userDirectory(ctx)
	if err != nil {
		return nil, err
	}
	// limit 2: whether or not the server includes the cursor's own message,
	// the comment itself is among the two answered.
	list, err := p.comments(ctx, parent, listQuery{cursor: id + 1, limit: 2, backward: true})
	if err != nil {
		return nil, err
	}
	for i := range list.Messages {
		if list.Messages[i].MessageID == id {
			list.Messages[i].ParentMessageID = parent
			return p.toComment(&list.Messages[i], users), nil
		}
	}
	return nil, &model.Error{Code: model.CodeNotFound, Provider: p.opts.ID, Message: "no comment " + strconv.FormatInt(id, 10) + " in this thread"}
}

// readBackPage is how many of the newest comments each read-back try looks at.
const readBackPage = 50

// CreateComment posts a comment and reads it back, since Virola answers a post
// with its status only. Mentions become "@Name" text. The new comment is the
// one newer than the newest before posting, by the token's user, with the
// posted text; it is never posted twice. Replies to a comment are
// UNSUPPORTED: Virola discussions are flat.
func (p *Provider) CreateComment(ctx context.Context, in providers.CommentInput) (*model.Comment, error) {
	if in.Thread == nil {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "no thread given"}
	}
	parent, err := p.threadRef(in.Thread.Kind, in.Thread.Ref)
	if err != nil {
		return nil, err
	}
	if in.ParentRef != "" {
		return nil, providers.Unsupported(p.opts.ID, "replying to a comment")
	}
	need := make([]string, 0, len(in.Mentions))
	for _, m := range in.Mentions {
		need = append(need, m.UserRef)
	}
	users, err := p.userDirectory(ctx, need...)
	if err != nil {
		return nil, err
	}
	content, _, err := render(p.opts.ID, in.Text, in.Mentions, users)
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) && me.Provider == "" {
			me.Provider = p.opts.ID
		}
		return nil, err
	}
	if content == "" {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "the comment text is empty"}
	}
	me, err := p.myID(ctx)
	if err != nil {
		return nil, err
	}
	newest, err := p.comments(ctx, parent, listQuery{limit: 1, backward: true})
	if err != nil {
		return nil, err
	}
	var before int64
	for _, m := range newest.Messages {
		before = max(before, m.MessageID)
	}
	if err := p.postComment(ctx, parent, content); err != nil {
		return nil, err
	}
	var lastErr error
	for try := range p.opts.ReadBackTries {
		if try > 0 {
			if err := wait(ctx, p.opts.ReadBackWait); err != nil {
				lastErr = err
				break
			}
		}
		list, err := p.comments(ctx, parent, listQuery{limit: readBackPage, backward: true})
		if err != nil {
			lastErr = err
			continue
		}
		// The oldest match: the comment this call posted, even if the same
		// text was posted again since.
		var found *apiMessage
		for i := range list.Messages {
			m := &list.Messages[i]
			if m.MessageID > before && m.UserID == me && sameText(m.Text, content) && (found == nil || m.MessageID < found.MessageID) {
				found = m
			}
		}
		if found != nil {
			found.ParentMessageID = parent
			return p.toComment(found, users), nil
		}
	}
	p.log.Warn("virola: posted comment not found on read-back", "thread", parent, "tries", p.opts.ReadBackTries, "err", lastErr)
	return nil, &model.Error{Code: model.CodeUpstreamUnavailable, Provider: p.opts.ID,
		Message: "the comment was posted but could not be read back yet; it will appear in the thread", Err: lastErr}
}

// Users looks users up in the user list (Virola has only the full list).
func (p *Provider) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	valid := slices.DeleteFunc(slices.Clone(refs), func(r string) bool { _, ok := parseRef(r); return !ok })
	out := make(map[string]*model.User, len(refs))
	if len(valid) == 0 {
		return out, nil
	}
	l, err := p.userDirectory(ctx, valid...)
	if err != nil {
		return nil, err
	}
	for _, r := range valid {
		if u, ok := l.byRef[r]; ok {
			out[r] = u
		}
	}
	return out, nil
}

// Rooms looks rooms up in the caller's room list.
func (p *Provider) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	valid := slices.DeleteFunc(slices.Clone(refs), func(r string) bool { _, ok := parseRef(r); return !ok })
	out := make(map[string]*model.Room, len(refs))
	if len(valid) == 0 {
		return out, nil
	}
	l, err := p.roomDirectory(ctx, valid...)
	if err != nil {
		return nil, err
	}
	for _, r := range valid {
		if room, ok := l.byRef[r]; ok {
			out[r] = room
		}
	}
	return out, nil
}

// sameText compares a read-back text with what was posted, allowing for a
// server that trims the whitespace around it.
func sameText(stored, posted string) bool {
	return stored == posted || strings.TrimSpace(stored) == strings.TrimSpace(posted)
}
