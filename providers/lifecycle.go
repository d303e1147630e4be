package providers

import (
	"context"

	"github.com/commentgraph/commentgraph/graph/model"
)

// A comment's lifecycle past creation is optional: a Provider implements the
// interfaces below for what its upstream allows, and its Info().Capabilities
// says so. The gateway answers UNSUPPORTED, with no upstream call, for a
// provider that does not implement one.

// Editor is a Provider whose comments can be edited (capability
// EDIT_COMMENTS).
type Editor interface {
	// UpdateComment replaces a comment's text and mentions and returns the
	// comment as the provider now holds it (EditedAt set).
	UpdateComment(ctx context.Context, in CommentUpdate) (*model.Comment, error)
}

// CommentUpdate is an edit: Text and Mentions as in CommentInput.
type CommentUpdate struct {
	Thread   *model.Thread
	Ref      string
	Text     string
	Mentions []MentionRef
	// IdempotencyKey is the client's clientMutationId, where it gave one.
	IdempotencyKey string
}

// Deleter is a Provider whose comments can be deleted (capability
// DELETE_COMMENTS). Deleting a comment already gone is NOT_FOUND.
type Deleter interface {
	DeleteComment(ctx context.Context, thread *model.Thread, ref string) error
}

// ReadMarker is a Provider that records which comments the caller has read
// (capability MARK_READ). It returns the comments as the provider now holds
// them, their ReadBy including the caller.
type ReadMarker interface {
	MarkRead(ctx context.Context, thread *model.Thread, refs []string) ([]*model.Comment, error)
}

// Lifecycle returns p's implementation of an optional interface, looking
// through decorators (the cache) that expose the provider they wrap with
// Unwrap() Provider.
func Lifecycle[T any](p Provider) (T, bool) {
	for p != nil {
		if t, ok := p.(T); ok {
			return t, true
		}
		u, ok := p.(interface{ Unwrap() Provider })
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	var zero T
	return zero, false
}
