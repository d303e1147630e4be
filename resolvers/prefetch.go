package resolvers

import (
	"context"
	"slices"
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
// fragments and @skip/@include applied as the executor will apply them. It
// walks the selection itself rather than through graphql.CollectFields,
// which would allocate the fields it collects for every thread of a
// response, to be thrown away.
func selectsUsers(op *graphql.OperationContext, conn ast.SelectionSet) (sender, mentioned bool) {
	comment := func(f *ast.Field) {
		switch f.Name {
		case "sender":
			sender = true
		case "mentions":
			eachField(op, f.SelectionSet, mentionTypes, func(g *ast.Field) {
				if g.Name == "user" {
					mentioned = true
				}
			})
		}
	}
	eachField(op, conn, commentConnectionTypes, func(f *ast.Field) {
		switch f.Name {
		case "nodes":
			eachField(op, f.SelectionSet, commentTypes, comment)
		case "edges":
			eachField(op, f.SelectionSet, commentEdgeTypes, func(g *ast.Field) {
				if g.Name == "node" {
					eachField(op, g.SelectionSet, commentTypes, comment)
				}
			})
		}
	})
	return sender, mentioned
}

// eachField calls visit for every field of sel that graphql.CollectFields
// would collect on an object of the types satisfies: through fragments
// whose type condition is among them, leaving out what @skip or @include
// leaves out. A field selected twice is visited twice.
func eachField(op *graphql.OperationContext, sel ast.SelectionSet, satisfies []string, visit func(*ast.Field)) {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if included(op, s.Directives) {
				visit(s)
			}
		case *ast.InlineFragment:
			if included(op, s.Directives) && (s.TypeCondition == "" || slices.Contains(satisfies, s.TypeCondition)) {
				eachField(op, s.SelectionSet, satisfies, visit)
			}
		case *ast.FragmentSpread:
			f := op.Doc.Fragments.ForName(s.Name)
			if f != nil && included(op, s.Directives) && slices.Contains(satisfies, f.TypeCondition) {
				eachField(op, f.SelectionSet, satisfies, visit)
			}
		}
	}
}

// included is gqlgen's rule for @skip(if:) and @include(if:).
func included(op *graphql.OperationContext, ds ast.DirectiveList) bool {
	if len(ds) == 0 {
		return true
	}
	return !directiveIf(op, ds.ForName("skip"), false) && directiveIf(op, ds.ForName("include"), true)
}

// directiveIf is d's if argument, or absent when there is no d.
func directiveIf(op *graphql.OperationContext, d *ast.Directive, absent bool) bool {
	if d == nil {
		return absent
	}
	arg := d.Arguments.ForName("if")
	if arg == nil {
		return absent
	}
	v, err := arg.Value.Value(op.Variables)
	b, ok := v.(bool)
	return err == nil && ok && b
}
