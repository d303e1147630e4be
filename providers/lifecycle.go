package providers

import (
	"context"
	"io"

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

// MessageSender is a Provider that sends messages to contacts over its
// messaging channel (capability SEND_MESSAGE). It returns the message as the
// provider answered it. Input the provider cannot take (a malformed contact,
// empty text) is BAD_USER_INPUT, and attachments it cannot send UNSUPPORTED,
// both before any upstream call.
type MessageSender interface {
	SendMessage(ctx context.Context, in MessageInput) (*model.Message, error)
}

// MessageInput is a message to send: Text to the provider's contact Contact,
// with Attachments where the provider can send them.
type MessageInput struct {
	Contact     string
	Text        string
	Attachments []File
	// IdempotencyKey is the client's clientMutationId, where it gave one.
	IdempotencyKey string
}

// File is an uploaded file on its way to a provider. Content is read at most
// once; Size is what the client declared (-1 or 0: unknown).
type File struct {
	Name        string
	ContentType string
	Size        int64
	Content     io.Reader
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
