package virola

import (
	"context"
	"slices"
	"strconv"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Virola documents deleting a message and marking it read, and no edit: the
// Provider is a Deleter and a ReadMarker, not an Editor.
var (
	_ providers.Deleter    = (*Provider)(nil)
	_ providers.ReadMarker = (*Provider)(nil)
)

// maxMarkRead bounds the comments of one MarkRead: each is a call of its own.
const maxMarkRead = maxPage

// DeleteComment deletes one comment of a thread with
// DELETE /api/v1/messages/{id}. It first finds the comment among the
// thread's, so a ref that is not one of them (another thread's comment, one
// already deleted) is NOT_FOUND and nothing is deleted; the thread's own
// message is BAD_USER_INPUT, since Virola deletes a room message's whole
// discussion with it. Virola lets a user delete only what they wrote, where
// the room allows it: anything else is FORBIDDEN (the upstream's 403).
func (p *Provider) DeleteComment(ctx context.Context, thread *model.Thread, commentRef string) error {
	parent, id, err := p.commentOf(thread, commentRef)
	if err != nil {
		return err
	}
	held, err := p.findComments(ctx, parent, []int64{id})
	if err != nil {
		return err
	}
	if held[id] == nil {
		return p.noComment(id)
	}
	// A delete racing this one makes the upstream answer 404: NOT_FOUND too.
	return p.deleteMessage(ctx, id)
}

// MarkRead records the token's user as a reader of comments of a thread, one
// POST /api/v1/messages/{id}/read each, and returns them in the order asked
// (a ref given twice once) as Virola now holds them. Like DeleteComment it
// first finds them among the thread's comments: a ref that is not one of
// them is NOT_FOUND with nothing marked. A comment the user has read already
// is not marked again. When a call fails midway the comments before it stay
// read (marking again is harmless). At most maxMarkRead comments at once.
func (p *Provider) MarkRead(ctx context.Context, thread *model.Thread, refs []string) ([]*model.Comment, error) {
	parent, err := p.parentOf(thread)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(refs))
	for _, r := range refs {
		id, err := p.commentID(parent, r)
		if err != nil {
			return nil, err
		}
		if slices.Contains(ids, id) {
			continue
		}
		if len(ids) == maxMarkRead { // before more: refs can be many
			return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID,
				Message: "at most " + strconv.Itoa(maxMarkRead) + " comments can be marked read at once"}
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return []*model.Comment{}, nil
	}
	me, err := p.myID(ctx)
	if err != nil {
		return nil, err
	}
	users, err := p.userDirectory(ctx)
	if err != nil {
		return nil, err
	}
	held, err := p.findComments(ctx, parent, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if held[id] == nil {
			return nil, p.noComment(id)
		}
	}
	marked := false
	for _, id := range ids {
		if readBy(held[id], me) {
			continue
		}
		if err := p.markMessageRead(ctx, id); err != nil {
			return nil, err
		}
		marked = true
	}
	if marked {
		if held, err = p.findComments(ctx, parent, ids); err != nil {
			return nil, err
		}
	}
	now := p.opts.Now()
	out := make([]*model.Comment, 0, len(ids))
	for _, id := range ids {
		m := held[id]
		if m == nil { // deleted since it was marked
			return nil, p.noComment(id)
		}
		if !readBy(m, me) {
			// The upstream said 200 to the read, so the receipt is recorded;
			// a server whose lists lag behind its writes has not shown it
			// yet. The contract is that ReadBy includes the caller.
			m.ReadTimestamps = append(m.ReadTimestamps, apiRead{UserID: me, ReadUtc: now.UnixMilli()})
		}
		out = append(out, p.toComment(m, users))
	}
	return out, nil
}

func readBy(m *apiMessage, user int64) bool {
	return slices.ContainsFunc(m.ReadTimestamps, func(r apiRead) bool { return r.UserID == user })
}

// commentOf checks a thread and a comment reference in it before any call.
func (p *Provider) commentOf(thread *model.Thread, commentRef string) (parent, id int64, err error) {
	if parent, err = p.parentOf(thread); err != nil {
		return 0, 0, err
	}
	if id, err = p.commentID(parent, commentRef); err != nil {
		return 0, 0, err
	}
	return parent, id, nil
}

// parentOf is a thread's parent message id.
func (p *Provider) parentOf(thread *model.Thread) (int64, error) {
	if thread == nil {
		return 0, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "no thread given"}
	}
	return p.threadRef(thread.Kind, thread.Ref)
}

// commentID reads a comment reference under parent: a message id that is not
// parent's own.
func (p *Provider) commentID(parent int64, commentRef string) (int64, error) {
	id, ok := parseRef(commentRef)
	if !ok {
		return 0, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "a Virola comment reference is a message id (a positive integer)"}
	}
	if id == parent {
		return 0, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID,
			Message: "message " + ref(id) + " is the thread itself, not one of its comments"}
	}
	return id, nil
}

func (p *Provider) noComment(id int64) error {
	return &model.Error{Code: model.CodeNotFound, Provider: p.opts.ID, Message: "no comment " + ref(id) + " in this thread"}
}

// findComments reads the comments ids of parent (Virola has no get-one-message
// call), keyed by id; an id missing from the map is no comment of parent. It
// lists forward from just before the smallest id not settled yet, so comments
// close together (those a reader saw on one page) come in one call, and each
// further call settles at least one more id: at most len(ids) calls.
func (p *Provider) findComments(ctx context.Context, parent int64, ids []int64) (map[int64]*apiMessage, error) {
	want := slices.Compact(slices.Sorted(slices.Values(ids)))
	found := make(map[int64]*apiMessage, len(want))
	for len(want) > 0 {
		cursor := want[0] - 1
		list, err := p.comments(ctx, parent, listQuery{cursor: cursor, limit: maxPage})
		if err != nil {
			return nil, err
		}
		msgs := strictlyBeyond(list.Messages, cursor, false)
		for i := range msgs {
			if _, ok := slices.BinarySearch(want, msgs[i].MessageID); ok {
				msgs[i].ParentMessageID = parent
				found[msgs[i].MessageID] = &msgs[i]
			}
		}
		if len(list.Messages) < maxPage || len(msgs) == 0 {
			break // the end of the thread: the rest are not there
		}
		// Every id up to the page's last is settled.
		last := msgs[len(msgs)-1].MessageID
		i, _ := slices.BinarySearch(want, last+1)
		want = want[i:]
	}
	return found, nil
}
