// Package providers defines what the gateway needs from an upstream comment
// product. Each upstream has its own package below this one (providers/klink,
// providers/virola, …) with an emulator beside it (providers/klink/klinktest).
// No provider imports GraphQL code, and no provider imports another.
package providers

import (
	"context"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Provider is one configured upstream instance.
//
// Every method takes the request's context first and honours its deadline.
// Errors are *model.Error with Provider set; upstream failures carry the codes
// UPSTREAM_UNAVAILABLE, UPSTREAM_TIMEOUT, UPSTREAM_RATE_LIMITED (with RetryAfter),
// and NOT_FOUND / FORBIDDEN / UNAUTHENTICATED / BAD_USER_INPUT where the upstream
// said so. A method the provider cannot serve returns UNSUPPORTED.
type Provider interface {
	// Info describes the instance: id, kind, display name, capabilities.
	Info() *model.Provider

	// Thread checks a native reference and returns the thread. A malformed ref is
	// BAD_USER_INPUT (and costs no upstream call); an unknown one NOT_FOUND; a
	// kind the provider does not have UNSUPPORTED.
	Thread(ctx context.Context, kind model.ThreadKind, ref string) (*model.Thread, error)

	// ListThreads lists the threads a person can open, where the provider can
	// (LIST_THREADS). Only First/After paging is used.
	ListThreads(ctx context.Context, page Page) (*ThreadPage, error)

	// ListComments returns one page of a thread's comments, oldest first, with
	// Relay semantics: First/After walks forward from the oldest, Last/Before
	// backward from the newest. Cursors are the provider's own opaque strings.
	ListComments(ctx context.Context, thread *model.Thread, page Page) (*CommentPage, error)

	// GetComment returns one comment of a thread; NOT_FOUND when there is none.
	GetComment(ctx context.Context, thread *model.Thread, ref string) (*model.Comment, error)

	// CreateComment posts a comment and returns it as the provider now holds it
	// (read back where the upstream returns no id).
	CreateComment(ctx context.Context, in CommentInput) (*model.Comment, error)

	// Users looks users up by reference. The map holds the ones found; a
	// reference missing from it does not exist. At most Info().MaxBatch refs
	// are passed at once when MaxBatch > 0.
	Users(ctx context.Context, refs []string) (map[string]*model.User, error)

	// Rooms looks rooms (or conversations, contacts) up by reference, like Users.
	Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error)
}

// Page asks for one page of a Relay connection. Exactly one of First and Last
// is positive; After and Before are cursors the provider made (empty: from the
// start or the end).
type Page struct {
	First  int
	After  string
	Last   int
	Before string
}

// Backward reports whether the page walks from the newest end.
func (p Page) Backward() bool { return p.Last > 0 }

// Size is the number of items asked for.
func (p Page) Size() int {
	if p.Last > 0 {
		return p.Last
	}
	return p.First
}

// CommentEdge is one comment with the provider's cursor for it.
type CommentEdge struct {
	Cursor  string
	Comment *model.Comment
}

// CommentPage is one page of comments, oldest first whichever way it was asked.
type CommentPage struct {
	Edges           []CommentEdge
	HasNextPage     bool // newer comments exist after the last edge
	HasPreviousPage bool // older comments exist before the first edge
}

// ThreadEdge is one thread with the provider's cursor for it.
type ThreadEdge struct {
	Cursor string
	Thread *model.Thread
}

// ThreadPage is one page of threads.
type ThreadPage struct {
	Edges       []ThreadEdge
	HasNextPage bool
}

// CommentInput is a comment to post. Text marks mention positions with {0},
// {1}, …; Mentions[i].Index names the placeholder. ParseTemplate checks and
// splits it.
type CommentInput struct {
	Thread    *model.Thread
	Text      string
	Mentions  []MentionRef
	ParentRef string
	// Attachments are files to attach, for a provider with ATTACHMENTS
	// (upload.go); the gateway has checked them against its limits.
	Attachments []Upload
	// IdempotencyKey is the client's clientMutationId, where it gave one;
	// providers whose writes are retried use it to never post twice.
	IdempotencyKey string
}

// MentionRef places a user at placeholder {Index}.
type MentionRef struct {
	Index   int
	UserRef string
}

// UserPeeker is a Provider that can answer users from what its process
// already holds, with no call of any kind (cache.Wrap's decorator). A ref it
// cannot answer at once is absent from the map, as is one it holds as not
// found: the caller looks those up the usual way. The users may be shared:
// treat them as read-only.
type UserPeeker interface {
	PeekUsers(ctx context.Context, refs []string) map[string]*model.User
}
