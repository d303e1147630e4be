package ziik

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Editing and deleting, as the Ziik notes describe them (§4 "Other message
// operations"):
//
//   - An edit is two calls: the update, PATCH
//     /conversations/{c}/messages/{m} with {"message": text} (path and body
//     undocumented; the notes' assumption), then POST
//     /conversations/{c}/messages/{m}/finalize-update, which answers the
//     final message.
//   - A delete is a soft delete, DELETE /conversations/{c}/messages/{m} (the
//     notes' assumption): the message stays in the listing with
//     `deleted: true` and its reactions, files and voice note stripped.
//
// Ziik offers no idempotency key. Neither write needs one to be repeated
// safely: an edit sets the same text again, and a repeated delete finds the
// message deleted (NOT_FOUND, as providers.Deleter asks). Replays of one
// clientMutationId are answered by the gateway's idempotency store.
//
// Both read the message first: a MESSAGE thread may only change its parent
// and the parent's replies (as GetComment reads them), and a message already
// deleted is NOT_FOUND whatever Ziik would answer to a second delete or to
// an edit of it.

var (
	_ providers.Editor  = (*Provider)(nil)
	_ providers.Deleter = (*Provider)(nil)
)

// Endpoints of the lifecycle calls, for metrics.
const (
	epMessage  = "/conversations/{conversation}/messages/{message}"
	epFinalize = "/conversations/{conversation}/messages/{message}/finalize-update"
)

// parseTarget checks a thread and a message ref before any call.
func (p *Provider) parseTarget(th *model.Thread, ref string) (threadRef, int64, error) {
	if th == nil {
		return threadRef{}, 0, p.badInput("no thread given")
	}
	t, err := p.parseThread(th.Kind, th.Ref)
	if err != nil {
		return threadRef{}, 0, err
	}
	id, ok := parseID(ref)
	if !ok {
		return threadRef{}, 0, p.badInput("%q is not a Ziik message id", truncate(ref))
	}
	return t, id, nil
}

// target reads message id: it must belong to thread t and not be deleted.
func (p *Provider) target(ctx context.Context, t threadRef, id int64) (*wireMessage, error) {
	m, err := p.message(ctx, t, id)
	if err != nil {
		return nil, err
	}
	switch {
	case t.msg != 0 && id != t.msg && m.parentID() != t.msg:
		return nil, &model.Error{Code: model.CodeNotFound, Provider: p.id, Message: fmt.Sprintf("message %d does not reply to %d", id, t.msg)}
	case bool(m.Deleted):
		return nil, &model.Error{Code: model.CodeNotFound, Provider: p.id, Message: fmt.Sprintf("message %d is deleted", id)}
	}
	return m, nil
}

func messagePath(t threadRef, m *wireMessage) string {
	return "/conversations/" + t.convRef() + "/messages/" + m.ID.String()
}

// UpdateComment replaces a message's text, mentions written as on create,
// and returns it as finalize-update answers it. When the update went through
// but the finalize did not, the error says so and keeps the finalize's code:
// the edit may be pending in Ziik, and repeating the whole update is safe.
func (p *Provider) UpdateComment(ctx context.Context, in providers.CommentUpdate) (*model.Comment, error) {
	segs, err := p.parseText(in.Text, in.Mentions)
	if err != nil {
		return nil, err
	}
	t, id, err := p.parseTarget(in.Thread, in.Ref)
	if err != nil {
		return nil, err
	}
	text, err := p.render(ctx, segs, in.Mentions)
	if err != nil {
		return nil, err
	}
	m, err := p.target(ctx, t, id)
	if err != nil {
		return nil, err
	}
	p.refreshParticipants(ctx, t.convRef())
	path := messagePath(t, m)
	if _, err := p.call(ctx, providers.Request{Method: http.MethodPatch, Endpoint: epMessage, Path: path,
		Body: map[string]any{"message": text}}); err != nil {
		return nil, err
	}
	raw, err := p.call(ctx, providers.Request{Method: http.MethodPost, Endpoint: epFinalize, Path: path + "/finalize-update"})
	if err != nil {
		p.log.Warn("ziik: message updated but not finalized", "provider", p.id, "conversation", t.conv, "message", int64(m.ID), "err", err)
		return nil, p.unfinalized(err)
	}
	final, err := p.finalMessage(ctx, t, m, raw)
	if err != nil {
		return nil, err
	}
	c := p.comment(in.Thread, t, final)
	if c.EditedAt == nil {
		// Ziik answered the final message without edited_at: it was edited
		// now, to the second Ziik keeps.
		now := p.now().UTC().Truncate(time.Second)
		c.EditedAt = &now
	}
	return c, nil
}

// finalMessage reads finalize-update's answer: the final message, or, when
// the answer is empty, the message read back.
func (p *Provider) finalMessage(ctx context.Context, t threadRef, m *wireMessage, raw []byte) (*wireMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return p.message(ctx, t, int64(m.ID))
	}
	final, err := parseMessage(raw)
	if err != nil {
		return nil, p.garbage("POST "+epFinalize, err)
	}
	if final.ID != m.ID {
		return nil, p.garbage("POST "+epFinalize, fmt.Errorf("answered message %d for message %d", final.ID, m.ID))
	}
	if final.Author != nil && final.Author.ID > 0 {
		p.people.learn(user(p.id, final.Author))
	}
	return final, nil
}

// unfinalized keeps err's code (and Retry-After) but, when Ziik could not
// answer, tells the client what state the edit is in. A refusal (NOT_FOUND,
// FORBIDDEN, …) stays as it is: repeating would not help.
func (p *Provider) unfinalized(err error) error {
	var me *model.Error
	if !errors.As(err, &me) {
		return err
	}
	switch me.Code {
	case model.CodeUpstreamUnavailable, model.CodeUpstreamTimeout, model.CodeUpstreamRateLimited:
		return &model.Error{Code: me.Code, Provider: p.id, RetryAfter: me.RetryAfter, Err: err,
			Message: "Ziik took the new text but did not finalize the edit; repeat the update"}
	}
	return err
}

// DeleteComment soft-deletes a message. Afterwards it lists with Deleted set
// and no text, attachments or reactions; deleting it again is NOT_FOUND.
func (p *Provider) DeleteComment(ctx context.Context, th *model.Thread, ref string) error {
	t, id, err := p.parseTarget(th, ref)
	if err != nil {
		return err
	}
	m, err := p.target(ctx, t, id)
	if err != nil {
		return err
	}
	_, err = p.call(ctx, providers.Request{Method: http.MethodDelete, Endpoint: epMessage, Path: messagePath(t, m)})
	return err
}
