package resolvers

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/commentgraph/commentgraph/graph"
)

// selectsUsers reads the selection the way the executor will: through edges
// and nodes, fragments and aliases, with @skip and @include applied.
func TestSelectsUsers(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}}).Schema()
	for _, tc := range []struct {
		name              string
		query             string
		vars              map[string]any
		sender, mentioned bool
	}{
		{"neither", `{ comments(threads: ["t"]) { edges { cursor node { id text mentions { offset } } } } }`, nil, false, false},
		{"edges", `{ comments(threads: ["t"]) { edges { node { sender { name } mentions { user { name } } } } } }`, nil, true, true},
		{"nodes, sender only", `{ comments(threads: ["t"]) { nodes { sender { id } } } }`, nil, true, false},
		{"mentions only, aliased", `{ comments(threads: ["t"]) { nodes { m: mentions { u: user { name } } } } }`, nil, false, true},
		{"fragment spread", `{ comments(threads: ["t"]) { edges { node { ...C } } } } fragment C on Comment { sender { name } }`, nil, true, false},
		{"inline fragment on Node", `{ comments(threads: ["t"]) { nodes { ... on Node { ... on Comment { mentions { user { id } } } } } } }`, nil, false, true},
		{"skipped", `{ comments(threads: ["t"]) { nodes { sender @skip(if: true) { name } } } }`, nil, false, false},
		{"included by variable", `query($on: Boolean!) { comments(threads: ["t"]) { nodes { sender @include(if: $on) { name } } } }`, map[string]any{"on": true}, true, false},
		{"excluded by variable", `query($on: Boolean!) { comments(threads: ["t"]) { nodes { sender @include(if: $on) { name } } } }`, map[string]any{"on": false}, false, false},
		{"page info only", `{ comments(threads: ["t"]) { pageInfo { endCursor } } }`, nil, false, false},
		{"a skipped fragment spread", `query($no: Boolean!) { comments(threads: ["t"]) { nodes { ...C @skip(if: $no) } } } fragment C on Comment { sender { name } }`, map[string]any{"no": true}, false, false},
		{"fragments on the connection, the edge and the mention", `{ comments(threads: ["t"]) { ...Conn } } fragment Conn on CommentConnection { edges { ...E } } fragment E on CommentEdge { node { mentions { ... on Mention { user { name } } } } }`, nil, false, true},
		{"an included inline fragment", `query($on: Boolean!) { comments(threads: ["t"]) { edges @include(if: $on) { node { ... @include(if: $on) { sender { id } } } } } }`, map[string]any{"on": true}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := gqlparser.LoadQuery(schema, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			op := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: tc.vars}
			field := doc.Operations[0].SelectionSet[0].(*ast.Field)
			sender, mentioned := selectsUsers(op, field.SelectionSet)
			if sender != tc.sender || mentioned != tc.mentioned {
				t.Errorf("selectsUsers = sender %v, mentioned %v; want %v, %v", sender, mentioned, tc.sender, tc.mentioned)
			}
		})
	}
}

// The look-ahead runs once per comment connection of a response (a page
// through thread() has one per thread): reading the selection allocates
// nothing.
func TestSelectsUsersAllocatesNothing(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}}).Schema()
	doc, err := gqlparser.LoadQuery(schema, `query($on: Boolean!) { comments(threads: ["t"]) { ...Page } } fragment Page on CommentConnection { edges { node { id text sender @include(if: $on) { name } mentions { offset length user { name } } } } }`)
	if err != nil {
		t.Fatal(err)
	}
	op := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{"on": true}}
	sel := doc.Operations[0].SelectionSet[0].(*ast.Field).SelectionSet
	if n := testing.AllocsPerRun(100, func() {
		if s, m := selectsUsers(op, sel); !s || !m {
			t.Fatal("the page's users not seen")
		}
	}); n != 0 {
		t.Errorf("selectsUsers allocates %v times", n)
	}
}
