package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
)

// providerByID is Query.provider: null for an id no provider has.
func (r *Resolver) providerByID(id string) (*model.Provider, error) {
	p, err := r.provider(id)
	if model.IsCode(err, model.CodeNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p.Info(), nil
}

func (r *Resolver) updateComment(ctx context.Context, in model.UpdateCommentInput) (*model.UpdateCommentPayload, error) {
	return nil, model.Errorf(model.CodeUnsupported, "updateComment is not available yet")
}

func (r *Resolver) deleteComment(ctx context.Context, in model.DeleteCommentInput) (*model.DeleteCommentPayload, error) {
	return nil, model.Errorf(model.CodeUnsupported, "deleteComment is not available yet")
}

func (r *Resolver) markRead(ctx context.Context, in model.MarkReadInput) (*model.MarkReadPayload, error) {
	return nil, model.Errorf(model.CodeUnsupported, "markRead is not available yet")
}

func (r *Resolver) eventThread(ctx context.Context, ev *model.CommentEvent) (*model.Thread, error) {
	c := ev.Subject
	return &model.Thread{ProviderID: c.ProviderID, Kind: c.ThreadKind, Ref: c.ThreadRef}, nil
}

func (r *Resolver) commentEvents(ctx context.Context, threads, providerIDs []string, since *string) (<-chan graphql.Event[*model.CommentEvent], error) {
	return nil, model.Errorf(model.CodeUnsupported, "commentEvents is not available yet")
}
