package guard_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/guard"
)

var schema = graph.NewExecutableSchema(graph.Config{}).Schema()

// bomb is a document whose fragment Fi spreads F(i+1) twice: expanded, it has
// 2^depth fields.
func bomb(depth int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range depth {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", depth)
	return b.String()
}

func check(t *testing.T, g *guard.Guard, query string, vars map[string]any) *gqlerror.Error {
	t.Helper()
	return g.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: query, Variables: vars})
}

func code(err *gqlerror.Error) string {
	if err == nil {
		return ""
	}
	c, _ := err.Extensions["code"].(string)
	return c
}

func TestGuardRefuses(t *testing.T) {
	g := guard.New(schema, guard.Options{MaxComplexity: 5000, MaxPageSize: 100})
	threads := make([]any, 50)
	for i := range threads {
		threads[i] = fmt.Sprintf("thread-%d", i)
	}
	var aliases strings.Builder
	aliases.WriteString("query($t: [ID!]!) {")
	for i := range 90 {
		fmt.Fprintf(&aliases, " a%d: comments(threads: $t, first: 1) { nodes { id } }", i)
	}
	aliases.WriteString(" }")

	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		want  string
	}{
		{"fragment bomb of depth 20", bomb(20), nil, guard.CodeComplexity},
		{"fragment bomb of depth 40", bomb(40), nil, guard.CodeComplexity},
		{"fragment bomb of depth 64", bomb(64), nil, guard.CodeComplexity},
		{"90 aliases of a 50-thread timeline", aliases.String(), map[string]any{"t": threads}, guard.CodeComplexity},
		{"one field repeated 4990 times", "{" + strings.Repeat(" __typename", 4990) + " }", nil, guard.CodeComplexity},
		{"one field repeated past the limit", "{" + strings.Repeat(" __typename", 21) + " }", nil, guard.CodeComplexity},
		{"repeats counted across inline fragments", "{" + strings.Repeat(" ... on Query { __typename }", 21) + " }", nil, guard.CodeComplexity},
		{"too many spreads in one set", "{" + strings.Repeat(" ...F", 51) + " } fragment F on Query { __typename }", nil, guard.CodeComplexity},
		{"page size from a variable", "query($n: Int) { providers { threads(first: $n) { nodes { comments(first: $n) { nodes { id text } } } } } }", map[string]any{"n": 100}, guard.CodeComplexity},
		{"nodes counts every id", "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", map[string]any{"ids": make([]any, 600)}, guard.CodeComplexity},
		{"introspection off", "{ __schema { types { name } } }", nil, guard.CodeIntrospection},
		{"introspection off, inside a fragment", "{ ...I } fragment I on Query { __type(name: \"Comment\") { name } }", nil, guard.CodeIntrospection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(check(t, g, tc.query, tc.vars)); got != tc.want {
				t.Errorf("code %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGuardAccepts(t *testing.T) {
	g := guard.New(schema, guard.Options{MaxComplexity: 5000, MaxPageSize: 100})
	threads := []any{"a", "b", "c"}
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"the walk-through's thread page", `{ thread(provider: "ziik", kind: CONVERSATION, ref: "57") { id title comments(last: 5) { edges { cursor node { id text sender { id name } mentions { offset length user { id name } } attachments { name url } reactions { emoji count users { name } } parent { text } } } pageInfo { hasPreviousPage startCursor } } } }`, nil},
		{"a 50-comment timeline over three threads", `query($t: [ID!]!) { comments(threads: $t, first: 50) { edges { node { id text createdAt sender { name } mentions { offset length user { name } } } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"t": threads}},
		{"4000 distinct aliases", "{" + aliasesOf("__typename", 4000) + " }", nil},
		{"a small bomb under the limit", bomb(10), nil},
		{"a skipped subtree is not counted", `query($no: Boolean = false) { providers @include(if: $no) { threads(first: 100) { nodes { comments(first: 100) { nodes { id } } } } } }`, nil},
		{"a fragment cycle is left to validation", "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", nil},
		{"an unknown field is left to validation", "{ nope { deeper } }", nil},
		{"__typename with introspection off", "{ __typename }", nil},
		{"a document that does not parse is left to gqlgen", "{ providers {", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := check(t, g, tc.query, tc.vars); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
	t.Run("introspection on", func(t *testing.T) {
		g := guard.New(schema, guard.Options{Introspection: true})
		if err := check(t, g, "{ __schema { types { name } } }", nil); err != nil {
			t.Errorf("refused: %v", err)
		}
	})
}

// TestGuardWatchesTheContext: a walk started for a client that has gone
// stops instead of finishing the document.
func TestGuardWatchesTheContext(t *testing.T) {
	g := guard.New(schema, guard.Options{MaxComplexity: 1 << 30})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := g.MutateOperationParameters(ctx, &graphql.RawParams{Query: "{" + aliasesOf("__typename", 1000) + " }"})
	if err == nil {
		t.Fatal("a canceled walk finished")
	}
}

func aliasesOf(field string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	return b.String()
}

// BenchmarkValidation runs documents through gqlgen's executor with Guard in
// front (parse, guard, validate): the time per field stays flat as the
// document grows, whether repeated fields are refused or distinct aliases
// validated.
func BenchmarkValidation(b *testing.B) {
	for _, shape := range []struct {
		name string
		doc  func(n int) string
	}{
		{"repeated", func(n int) string { return "{" + strings.Repeat(" __typename", n) + " }" }},
		{"aliased", func(n int) string { return "{" + aliasesOf("__typename", n) + " }" }},
	} {
		for _, n := range []int{1000, 2000, 4000} {
			b.Run(fmt.Sprintf("%s/%d", shape.name, n), func(b *testing.B) {
				exec := executor.New(graph.NewExecutableSchema(graph.Config{}))
				exec.SetQueryCache(lru.New[*ast.QueryDocument](1)) // every document is new to it: see below
				exec.SetParserTokenLimit(20000)
				exec.Use(guard.New(schema, guard.Options{TokenLimit: 20000}))
				docs := []string{shape.doc(n), shape.doc(n) + " "} // alternate so the cache never answers
				ctx := graphql.StartOperationTrace(context.Background())
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					exec.CreateOperationContext(ctx, &graphql.RawParams{Query: docs[i%2]})
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/field")
			})
		}
	}
}
