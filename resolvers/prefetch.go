package resolvers

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/commentgraph/commentgraph/graph/model"
)

// prefetchUsers looks ahead from a comment connection field (Query.comments,
// Thread.comments) into what the operation selects of its comments: when it
// asks for senders or mentioned users, the users of the whole page are looked
// up now, one batch per provider, and answered into the response's loaders
// (loaders.PrefetchUsers). The sender and mention resolvers stay one-line loader
// calls; they find their user in the loader's memo instead of each waiting
// out the batch window. A page that selects neither costs nothing extra.
func (r *Resolver) prefetchUsers(ctx context.Context, conn *model.CommentConnection) {
	if conn == nil || len(conn.Edges) == 0 || !graphql.HasOperationContext(ctx) {
		return
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return
	}
	sender, mentioned := selectsUsers(graphql.GetOperationContext(ctx), fc.Field.Selections)
	if !sender && !mentioned {
		return
	}
	refs := map[string][]string{}
	for _, e := range conn.Edges {
		c := e.Node
		if sender && c.SenderRef != "" {
			refs[c.ProviderID] = append(refs[c.ProviderID], c.SenderRef)
		}
		if mentioned {
			for _, m := range c.Mentions {
				if m != nil && m.UserRef != "" {
					refs[m.ProviderID] = append(refs[m.ProviderID], m.UserRef)
				}
			}
		}
	}
	ld := r.loaders(ctx)
	// Users this process holds are answered first, one provider after the
	// other: that takes microseconds, less than handing a provider to
	// another goroutine and waiting for it to be scheduled. Only providers
	// with users left to fetch go out, in parallel when more than one.
	type pending struct {
		provider string
		refs     []string // what the peek could not answer
	}
	var left []pending
	for p, rs := range refs {
		if rest := ld.PeekUsers(ctx, p, rs); len(rest) > 0 {
			left = append(left, pending{p, rest})
		}
	}
	if len(left) == 1 {
		ld.PrefetchUsers(ctx, left[0].provider, left[0].refs)
		return
	}
	var wg sync.WaitGroup
	for _, l := range left {
		wg.Go(func() { ld.PrefetchUsers(ctx, l.provider, l.refs) })
	}
	wg.Wait()
}

var (
	commentConnectionTypes = []string{"CommentConnection"}
	commentEdgeTypes       = []string{"CommentEdge"}
	commentTypes           = []string{"Comment", "Node"}
	mentionTypes           = []string{"Mention"}
)

// selectsUsers says whether a CommentConnection selection asks for its
// comments' senders and mentioned users, through edges.node or nodes, with
// fragments and @skip/@include applied as the executor will apply them.
func selectsUsers(op *graphql.OperationContext, conn ast.SelectionSet) (sender, mentioned bool) {
	var comment []ast.SelectionSet
	for _, f := range graphql.CollectFields(op, conn, commentConnectionTypes) {
		switch f.Name {
		case "nodes":
			comment = append(comment, f.Selections)
		case "edges":
			for _, g := range graphql.CollectFields(op, f.Selections, commentEdgeTypes) {
				if g.Name == "node" {
					comment = append(comment, g.Selections)
				}
			}
		}
	}
	for _, sel := range comment {
		for _, f := range graphql.CollectFields(op, sel, commentTypes) {
			switch f.Name {
			case "sender":
				sender = true
			case "mentions":
				for _, g := range graphql.CollectFields(op, f.Selections, mentionTypes) {
					if g.Name == "user" {
						mentioned = true
					}
				}
			}
		}
	}
	return sender, mentioned
}
