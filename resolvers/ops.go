package resolvers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers/loaders"
)

// node resolves any global ID. An ID that names nothing is null, not an error
// (Relay); a malformed one is BAD_USER_INPUT; an upstream failure is reported.
func (r *Resolver) node(ctx context.Context, id string) (model.Node, error) {
	gid, err := model.DecodeID(id)
	if err != nil {
		return nil, err
	}
	n, err := r.lookupNode(ctx, gid)
	if model.IsCode(err, model.CodeNotFound) {
		return nil, nil
	}
	return n, err
}

func (r *Resolver) lookupNode(ctx context.Context, gid model.GlobalID) (model.Node, error) {
	ld := r.loaders(ctx)
	switch gid.Type {
	case model.TypeThread:
		return nilNode(ld.Thread(ctx, gid.Provider, model.ThreadKind(gid.Ref[0]), gid.Ref[1]))
	case model.TypeRoom:
		return nilNode(ld.Room(ctx, gid.Provider, gid.Ref[0]))
	case model.TypeUser:
		return nilNode(ld.User(ctx, gid.Provider, gid.Ref[0]))
	case model.TypeComment:
		return nilNode(ld.Comment(ctx, gid.Provider, loaders.CommentKey{Thread: loaders.ThreadKey{Kind: model.ThreadKind(gid.Ref[0]), Ref: gid.Ref[1]}, Ref: gid.Ref[2]}))
	case model.TypeAttachment:
		c, err := ld.Comment(ctx, gid.Provider, loaders.CommentKey{Thread: loaders.ThreadKey{Kind: model.ThreadKind(gid.Ref[0]), Ref: gid.Ref[1]}, Ref: gid.Ref[2]})
		if err != nil {
			return nil, err
		}
		c.Link()
		for _, a := range c.Attachments {
			if a.Ref == gid.Ref[3] {
				return a, nil
			}
		}
		return nil, model.Errorf(model.CodeNotFound, "no such attachment")
	}
	return nil, model.Errorf(model.CodeBadUserInput, "ID names no object")
}

// nilNode keeps a typed nil pointer from becoming a non-nil interface.
func nilNode[T interface {
	model.Node
	comparable
}](v T, err error) (model.Node, error) {
	var zero T
	if err != nil || v == zero {
		return nil, err
	}
	return v, nil
}

// nodes resolves IDs concurrently; each failure is reported at its index and
// leaves null there, so one bad ID does not blank the others.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	if len(ids) > r.limits().MaxPageSize {
		return nil, model.Errorf(model.CodeBadUserInput, "ids may hold at most %d IDs", r.limits().MaxPageSize)
	}
	out := make([]model.Node, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = r.node(ctx, id)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			graphql.AddError(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i)), err)
		}
	}
	return out, nil
}

func (r *Resolver) threads(ctx context.Context, obj *model.Provider, first *int, after *string) (*model.ThreadConnection, error) {
	p, err := r.provider(ctx, obj.ID)
	if err != nil {
		return nil, err
	}
	if !obj.Has(model.CapabilityListThreads) {
		return nil, providers.Unsupported(obj.ID, "listing threads")
	}
	pg, err := r.page(first, after, nil, nil)
	if err != nil {
		return nil, err
	}
	res, err := p.ListThreads(ctx, pg)
	if err != nil {
		return nil, err
	}
	conn := &model.ThreadConnection{Edges: make([]*model.ThreadEdge, 0, len(res.Edges)), PageInfo: &model.PageInfo{HasNextPage: res.HasNextPage, HasPreviousPage: pg.After != ""}}
	for _, e := range res.Edges {
		conn.Edges = append(conn.Edges, &model.ThreadEdge{Cursor: e.Cursor, Node: e.Thread})
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

func (r *Resolver) threadComments(ctx context.Context, obj *model.Thread, first *int, after *string, last *int, before *string) (*model.CommentConnection, error) {
	p, err := r.provider(ctx, obj.ProviderID)
	if err != nil {
		return nil, err
	}
	pg, err := r.page(first, after, last, before)
	if err != nil {
		return nil, err
	}
	res, err := p.ListComments(ctx, obj, pg)
	if err != nil {
		return nil, err
	}
	conn := commentConnection(res)
	r.prefetchUsers(ctx, conn)
	return conn, nil
}

func (r *Resolver) users(ctx context.Context, provider string, refs []string) ([]*model.User, error) {
	us, errs := r.loaders(ctx).Users(ctx, provider, refs)
	out := us[:0]
	for i, u := range us {
		if errs[i] != nil {
			if !model.IsCode(errs[i], model.CodeNotFound) {
				return nil, errs[i]
			}
			continue // a user who left: the reaction still counts them
		}
		out = append(out, u)
	}
	return out, nil
}

func (r *Resolver) createComment(ctx context.Context, in model.CreateCommentInput) (*model.CreateCommentPayload, error) {
	tid, err := model.DecodeIDOf(in.Thread, model.TypeThread)
	if err != nil {
		return nil, err
	}
	p, err := r.provider(ctx, tid.Provider)
	if err != nil {
		return nil, err
	}
	if !p.Info().Has(model.CapabilityCreateComment) {
		return nil, providers.Unsupported(tid.Provider, "creating comments")
	}
	ci := providers.CommentInput{Text: in.Text}
	if ci.Mentions, err = mentionRefs(tid.Provider, in.Mentions); err != nil {
		return nil, err
	}
	// Refuse a bad template before anything else is asked of the upstream.
	if _, err := providers.ParseTemplate(ci.Text, ci.Mentions); err != nil {
		return nil, err
	}
	if in.Parent != nil {
		cid, err := model.DecodeIDOf(*in.Parent, model.TypeComment)
		if err != nil {
			return nil, err
		}
		if cid.Provider != tid.Provider || cid.Ref[0] != tid.Ref[0] || cid.Ref[1] != tid.Ref[1] {
			return nil, model.Errorf(model.CodeBadUserInput, "parent is a comment of another thread")
		}
		ci.ParentRef = cid.Ref[2]
	}
	// Files are checked (count, size, type, first bytes) before any upstream call.
	if ci.Attachments, err = r.uploads(p.Info(), in.Attachments); err != nil {
		return nil, err
	}
	create := func(ctx context.Context) (*model.Comment, error) {
		th, err := r.loaders(ctx).Thread(ctx, tid.Provider, model.ThreadKind(tid.Ref[0]), tid.Ref[1])
		if err != nil {
			return nil, err
		}
		ci.Thread = th
		c, err := p.CreateComment(ctx, ci)
		if err != nil {
			return nil, err
		}
		c.Link()
		r.announce(ctx, model.CommentEventTypeAdded, c)
		return c, nil
	}
	if in.ClientMutationID != nil && r.Idempotency != nil {
		ci.IdempotencyKey = *in.ClientMutationID
	}
	// A create's key is not scoped by operation, as it was before the other
	// mutations took a clientMutationId: records already kept are still found.
	c, err := r.onceIn(ctx, "", in.ClientMutationID, func() string { return fingerprint(in) }, create)
	if err != nil {
		return nil, err
	}
	if len(ci.Attachments) > 0 {
		flagFailedUploads(ctx, c)
	}
	return &model.CreateCommentPayload{Comment: c, ClientMutationID: in.ClientMutationID}, nil
}

// fingerprint identifies a create request, so a reused clientMutationId with a
// different request is refused rather than answered with the wrong comment.
func fingerprint(in model.CreateCommentInput) string {
	raw, _ := json.Marshal(in)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:12])
}

func (r *Resolver) commentAdded(ctx context.Context, threads, providerIDs []string, since *string) (<-chan graphql.Event[*model.Comment], error) {
	from, err := r.subscriptionArgs(ctx, threads, providerIDs, since)
	if err != nil {
		return nil, err
	}
	return r.Bus.Subscribe(ctx, threads, providerIDs, from)
}
