package klink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// ListComments returns one Relay page of a room's comments, oldest first.
func (p *Provider) ListComments(ctx context.Context, thread *model.Thread, pg providers.Page) (*providers.CommentPage, error) {
	if thread == nil {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "no thread given"}
	}
	if err := p.checkThread(thread.Kind, thread.Ref); err != nil {
		return nil, err
	}
	if (pg.First > 0) == (pg.Last > 0) || pg.First < 0 || pg.Last < 0 {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "exactly one of first and last must be positive"}
	}
	if (pg.After != "" && pg.Backward()) || (pg.Before != "" && !pg.Backward()) {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "after goes with first, before with last"}
	}
	var c *cursor
	if raw := pg.After + pg.Before; raw != "" {
		var err error
		if c, err = decodeCursor(p.opts.ID, raw); err != nil {
			return nil, err
		}
	}
	s := p.newScan(thread.Ref)
	w, start, end, err := s.collect(ctx, pg, c)
	if err != nil {
		return nil, err
	}
	p.learnFrom(ctx, thread.Ref, w.items)
	out := &providers.CommentPage{
		HasNextPage:     end < len(w.items) || !w.newest,
		HasPreviousPage: start > 0 || !w.oldest,
		Edges:           make([]providers.CommentEdge, 0, end-start),
	}
	for _, it := range w.items[start:end] {
		out.Edges = append(out.Edges, providers.CommentEdge{
			Cursor:  encodeCursor(it.c.ID, it.at),
			Comment: p.toComment(&it.c, thread.Ref),
		})
	}
	return out, nil
}

// learnFrom remembers the room and the users its comments name.
func (p *Provider) learnFrom(ctx context.Context, room string, items []item) {
	cs := make([]wireComment, len(items))
	for i := range items {
		cs[i] = items[i].c
	}
	p.learnUsers(ctx, dedupUsers(p.usersOf(cs)))
	p.learnRoom(ctx, room, "")
}

// GetComment finds a comment by reading its room's pages (at most MaxPages):
// K-LINK has no single-comment endpoint.
func (p *Provider) GetComment(ctx context.Context, thread *model.Thread, ref string) (*model.Comment, error) {
	if thread == nil {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "no thread given"}
	}
	if err := p.checkThread(thread.Kind, thread.Ref); err != nil {
		return nil, err
	}
	if err := checkRef(p.opts.ID, "comment", ref); err != nil {
		return nil, err
	}
	s := p.newScan(thread.Ref)
	for n := 1; ; n++ {
		l, err := s.fetch(ctx, n)
		if err != nil {
			return nil, err
		}
		for i := range l.Data {
			if l.Data[i].ID == ref {
				p.learnUsers(ctx, p.usersOf(l.Data[i:i+1]))
				return p.toComment(&l.Data[i], thread.Ref), nil
			}
		}
		if s.isLast(l, n) {
			return nil, &model.Error{Code: model.CodeNotFound, Provider: p.opts.ID, Message: "no such comment in the room"}
		}
	}
}

type createRequest struct {
	Text     string          `json:"text"`
	Mentions []wireMentionIn `json:"mentions"`
}

// CreateComment posts a comment: K-LINK takes the gateway's {n} template as is,
// with mentions[{index, userId}], and answers 201 with the comment rendered.
func (p *Provider) CreateComment(ctx context.Context, in providers.CommentInput) (*model.Comment, error) {
	if in.Thread == nil {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "no thread given"}
	}
	if err := p.checkThread(in.Thread.Kind, in.Thread.Ref); err != nil {
		return nil, err
	}
	if in.ParentRef != "" {
		return nil, providers.Unsupported(p.opts.ID, "replying to a comment")
	}
	if strings.TrimSpace(in.Text) == "" {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "text is empty"}
	}
	segs, err := providers.ParseTemplate(in.Text, in.Mentions)
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) {
			tagged := *me
			tagged.Provider = p.opts.ID
			return nil, &tagged
		}
		return nil, err
	}
	for _, m := range in.Mentions {
		if err := checkRef(p.opts.ID, "user", m.UserRef); err != nil {
			return nil, err
		}
	}
	path := "/api/v1/comments/rooms/" + url.PathEscape(in.Thread.Ref)
	var out commentEnvelope
	_, err = p.caller.JSON(ctx, providers.Request{
		Method: http.MethodPost, Endpoint: endpointComments, Path: path,
		Body: createRequest{Text: in.Text, Mentions: mentionsIn(segs)},
	}, &out)
	if err != nil {
		return nil, err
	}
	if out.Data == nil || out.Data.ID == "" {
		return nil, providers.GarbageError(p.opts.ID, fmt.Errorf("POST %s: answer has no data.id", endpointComments))
	}
	p.learnUsers(ctx, dedupUsers(p.usersOf([]wireComment{*out.Data})))
	p.learnRoom(ctx, in.Thread.Ref, "")
	return p.toComment(out.Data, in.Thread.Ref), nil
}
