package virola

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// maxPage bounds one page of comments; a larger ask gets this many and
// HasNextPage/HasPreviousPage say there is more.
const maxPage = 100

// ListComments pages through a thread's comments. Cursors are message ids.
// Virola answers ascending and has no has-more flag, so one more than asked
// is fetched (two with a cursor, in case the server includes the cursor's own
// message, which the docs leave open).
func (p *Provider) ListComments(ctx context.Context, thread *model.Thread, page providers.Page) (*providers.CommentPage, error) {
	parent, err := p.parentOf(thread)
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
	parent, err := p.parentOf(thread)
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
	return nil, p.noComment(id)
}

// readBackPage is how many of the newest comments each read-back try looks at.
const readBackPage = 50

// CreateComment posts a comment and reads it back, since Virola answers a post
// with its status only. Mentions become "@Name" text. The new comment is the
// one newer than the newest before posting, by the token's user, with the
// posted text; it is never posted twice. Replies to a comment are
// UNSUPPORTED: Virola discussions are flat.
func (p *Provider) CreateComment(ctx context.Context, in providers.CommentInput) (*model.Comment, error) {
	parent, err := p.parentOf(in.Thread)
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
			if err := providers.Sleep(ctx, p.opts.ReadBackWait); err != nil {
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
			if len(in.Attachments) > 0 {
				return p.attach(ctx, parent, found, users, in.Attachments), nil // upload.go
			}
			return p.toComment(found, users), nil
		}
	}
	p.log.Warn("virola: posted comment not found on read-back", "thread", parent, "tries", p.opts.ReadBackTries, "err", lastErr)
	msg := "the comment was posted but could not be read back yet; it will appear in the thread"
	if len(in.Attachments) > 0 {
		msg += ", without its files: they are attached by the comment's id, which is not known"
	}
	return nil, &model.Error{Code: model.CodeUpstreamUnavailable, Provider: p.opts.ID, Message: msg, Err: lastErr}
}

// sameText compares a read-back text with what was posted, allowing for a
// server that trims the whitespace around it.
func sameText(stored, posted string) bool {
	return stored == posted || strings.TrimSpace(stored) == strings.TrimSpace(posted)
}
