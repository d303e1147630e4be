package resolvers

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Provider.threads cursors are opaque to clients and carry the provider they
// came from: base64url (no padding) of "<providerId>\x00<adapter cursor>".
// The adapter's own cursor is only ever handed to the provider that made it.
//
// A cursor that does not decode is BAD_USER_INPUT, with no upstream call.
// A cursor of another provider is BAD_USER_INPUT on a single Provider
// (provider(id:), Thread.provider, …), with no upstream call. In a list of
// providers (providers { threads(after: X) }) X belongs to exactly one of
// them: that one answers the page after X, and every other provider answers
// an empty page (hasNextPage and hasPreviousPage false, no upstream call),
// since a client paging one provider's list through that field wants that
// list's next page and must not be handed the others' first pages again.

const threadCursorSep = "\x00"

func encodeThreadCursor(provider, cursor string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(provider + threadCursorSep + cursor))
}

func decodeThreadCursor(s string) (provider, cursor string, err error) {
	b, derr := base64.RawURLEncoding.DecodeString(s)
	if derr == nil {
		var ok bool
		provider, cursor, ok = strings.Cut(string(b), threadCursorSep)
		if ok && provider != "" && cursor != "" {
			return provider, cursor, nil
		}
	}
	return "", "", model.Errorf(model.CodeBadUserInput, "after is not a threads cursor")
}

// inProviderList reports whether the Provider whose field is being resolved
// is an element of a list (Query.providers) rather than a single Provider.
func inProviderList(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	return fc != nil && fc.Parent != nil && fc.Parent.Index != nil
}

// providerThreads serves Provider.threads with provider-tagged cursors.
func (r *Resolver) providerThreads(ctx context.Context, obj *model.Provider, first *int, after *string) (*model.ThreadConnection, error) {
	if after == nil || *after == "" {
		conn, err := r.threads(ctx, obj, first, nil)
		return tagThreadCursors(obj.ID, conn), err
	}
	owner, cursor, err := decodeThreadCursor(*after)
	if err != nil {
		return nil, err
	}
	if owner != obj.ID {
		if !inProviderList(ctx) {
			return nil, model.Errorf(model.CodeBadUserInput, "after is a cursor of another provider's threads")
		}
		if _, err := r.registry(ctx).Get(owner); err != nil {
			return nil, model.Errorf(model.CodeBadUserInput, "after is a cursor of no provider's threads")
		}
		// Still check first, as the owner's list does.
		if _, err := r.page(first, nil, nil, nil); err != nil {
			return nil, err
		}
		return &model.ThreadConnection{Edges: []*model.ThreadEdge{}, PageInfo: &model.PageInfo{}}, nil
	}
	conn, err := r.threads(ctx, obj, first, &cursor)
	return tagThreadCursors(obj.ID, conn), err
}

func tagThreadCursors(provider string, conn *model.ThreadConnection) *model.ThreadConnection {
	if conn == nil {
		return nil
	}
	for _, e := range conn.Edges {
		e.Cursor = encodeThreadCursor(provider, e.Cursor)
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn
}
