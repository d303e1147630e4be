// Package resolvers holds the thin GraphQL resolvers: arguments in, a loader or
// provider call, the result out.
package resolvers

import (
	"context"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/idempotency"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers/loaders"
)

// Resolver is the root resolver; the server sets its dependencies.
type Resolver struct {
	Providers *providers.Registry
	// Registry is the registry of the caller's tenant. Nil: Providers.
	Registry func(ctx context.Context) *providers.Registry
	// Bus carries comment events to subscribers.
	Bus CommentBus
	// Idempotency makes clientMutationId create one comment. Nil: keys ignored.
	Idempotency idempotency.Store
	// Health says whether a provider's recent calls succeeded. Nil: always healthy.
	Health func(providerID string) bool
	// Credential names the caller's credential (an API key fingerprint) for
	// scoping idempotency keys. Nil: one scope for all.
	Credential func(ctx context.Context) string
	// AttachmentURL is Attachment.url for the caller of ctx (a signed
	// gateway link). Nil: the URL the adapter mapped.
	AttachmentURL func(ctx context.Context, a *model.Attachment) *string
	// Connections are the callers' own upstream credentials (providers with
	// credentials: user). Nil: every provider acts with its service one.
	Connections Connections
	Limits      Limits
	// Uploads bound createComment's attachments (upload.go).
	Uploads UploadLimits
	Logger  *slog.Logger
}

// Limits bound paging.
type Limits struct {
	// MaxPageSize bounds first/last. Default 100.
	MaxPageSize int
	// DefaultPageSize is used when neither first nor last is given. Default 20.
	DefaultPageSize int
	// MaxTimelineThreads bounds Query.comments' threads. Default 50.
	MaxTimelineThreads int
}

// CommentBus is what the resolvers need of the event bus.
type CommentBus interface {
	// Publish announces a comment created through the gateway.
	Publish(ctx context.Context, c *model.Comment) error
	// PublishEvent announces a comment changed through the gateway: t
	// UPDATED with the comment as it now is, DELETED with a model.Tombstone.
	PublishEvent(ctx context.Context, t model.CommentEventType, c *model.Comment) error
	// Subscribe delivers new comments matching the filters until ctx is done,
	// each with a context derived from ctx that carries its event id
	// (WithEventID). threads are global thread IDs, providers instance ids;
	// empty means all. since resumes after an event id the client saw ("" =
	// live only).
	Subscribe(ctx context.Context, threads, providers []string, since string) (<-chan graphql.Event[*model.Comment], error)
	// SubscribeEvents is Subscribe for every event type (ADDED, UPDATED,
	// DELETED), on the same event ids.
	SubscribeEvents(ctx context.Context, threads, providers []string, since string) (<-chan graphql.Event[*model.CommentEvent], error)
}

type eventIDKey struct{}

// WithEventID marks a subscription event's context with the bus event id.
func WithEventID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, eventIDKey{}, id)
}

// EventID is the bus event id of the subscription event ctx belongs to.
func EventID(ctx context.Context) string {
	id, _ := ctx.Value(eventIDKey{}).(string)
	return id
}

func (r *Resolver) loaders(ctx context.Context) *loaders.Loaders {
	return loaders.For(ctx, r.registry(ctx))
}

func (r *Resolver) registry(ctx context.Context) *providers.Registry {
	if r.Registry != nil {
		return r.Registry(ctx)
	}
	return r.Providers
}

// provider is the instance id names in the caller's tenant, acting for the
// caller (its own credential where the provider takes users' credentials).
func (r *Resolver) provider(ctx context.Context, id string) (providers.Provider, error) {
	p, err := r.registry(ctx).Get(id)
	if err != nil {
		return nil, err
	}
	return providers.ForCaller(ctx, p)
}

// providerInfo is the instance id names in the caller's tenant, for what
// needs no credential (its description).
func (r *Resolver) providerInfo(ctx context.Context, id string) (*model.Provider, error) {
	p, err := r.registry(ctx).Get(id)
	if err != nil {
		return nil, err
	}
	return p.Info(), nil
}

func (r *Resolver) limits() Limits {
	l := r.Limits
	if l.MaxPageSize <= 0 {
		l.MaxPageSize = 100
	}
	if l.DefaultPageSize <= 0 {
		l.DefaultPageSize = 20
	}
	if l.DefaultPageSize > l.MaxPageSize {
		l.DefaultPageSize = l.MaxPageSize
	}
	if l.MaxTimelineThreads <= 0 {
		l.MaxTimelineThreads = 50
	}
	return l
}

// page checks Relay arguments: at most one of first/last, each within
// 1..MaxPageSize, cursors only with their direction.
func (r *Resolver) page(first *int, after *string, last *int, before *string) (providers.Page, error) {
	l := r.limits()
	var p providers.Page
	switch {
	case first != nil && last != nil:
		return p, model.Errorf(model.CodeBadUserInput, "give first or last, not both")
	case after != nil && last != nil:
		return p, model.Errorf(model.CodeBadUserInput, "after goes with first; use before with last")
	case before != nil && first != nil:
		return p, model.Errorf(model.CodeBadUserInput, "before goes with last; use after with first")
	case before != nil && last == nil:
		return p, model.Errorf(model.CodeBadUserInput, "before needs last")
	}
	if last != nil {
		if *last < 1 || *last > l.MaxPageSize {
			return p, model.Errorf(model.CodeBadUserInput, "last must be between 1 and %d", l.MaxPageSize)
		}
		p.Last = *last
		if before != nil {
			p.Before = *before
		}
		return p, nil
	}
	p.First = l.DefaultPageSize
	if first != nil {
		if *first < 1 || *first > l.MaxPageSize {
			return p, model.Errorf(model.CodeBadUserInput, "first must be between 1 and %d", l.MaxPageSize)
		}
		p.First = *first
	}
	if after != nil {
		p.After = *after
	}
	return p, nil
}

func commentConnection(pg *providers.CommentPage) *model.CommentConnection {
	conn := &model.CommentConnection{Edges: make([]*model.CommentEdge, 0, len(pg.Edges)), PageInfo: &model.PageInfo{
		HasNextPage: pg.HasNextPage, HasPreviousPage: pg.HasPreviousPage,
	}}
	for _, e := range pg.Edges {
		e.Comment.Link()
		conn.Edges = append(conn.Edges, model.NewCommentEdge(e.Cursor, e.Comment))
	}
	if n := len(pg.Edges); n > 0 {
		conn.PageInfo.StartCursor = &pg.Edges[0].Cursor
		conn.PageInfo.EndCursor = &pg.Edges[n-1].Cursor
	}
	return conn
}

// userOrHint resolves a user through the loader, falling back to what the
// payload said of them when the provider cannot look them up (K-LINK has no
// user directory; a user seen on another instance may not be cached yet).
func (r *Resolver) userOrHint(ctx context.Context, provider, ref string, hint *model.User) (*model.User, error) {
	u, err := r.loaders(ctx).User(ctx, provider, ref)
	if err != nil && hint != nil {
		return hint, nil
	}
	return u, err
}
