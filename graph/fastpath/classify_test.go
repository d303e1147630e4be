package fastpath

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/model"
)

var resolverRoot = reflect.TypeFor[graph.ResolverRoot]()

// Every field of every type a comment page reaches, from Query through the
// fields the fast path accepts, is classified; a plain one has no resolver,
// a resolved one has one, a declined one says why; and every table is of a
// type a page reaches. A field added to the schema, or made `resolver: true`
// in gqlgen.yml, fails here until its type's table says what it is.
func TestEveryFieldOfAPageIsClassified(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	types, possible, problems := classify(schema, resolverRoot, tables())
	for _, p := range problems {
		t.Error(p)
	}
	withResolver := resolverFields(resolverRoot)
	if !withResolver["Comment"]["sender"] || withResolver["Comment"]["text"] || !withResolver["Thread"]["comments"] || withResolver["User"][goName("avatarUrl")] {
		t.Fatalf("resolver methods read from graph.ResolverRoot: %v", withResolver)
	}
	byName := map[string]table{}
	for _, tb := range tables() {
		byName[tb.typeName()] = tb
	}

	reached := map[string]bool{}
	for queue := []string{"Query"}; len(queue) > 0; {
		name := queue[0]
		queue = queue[1:]
		if reached[name] {
			continue
		}
		reached[name] = true
		def := schema.Types[name]
		if def.Kind == ast.Interface || def.Kind == ast.Union {
			if len(possible[name]) == 0 {
				t.Errorf("%s: a page reaches it, but the fast path writes none of its types", name)
			}
			queue = append(queue, possible[name]...)
			continue
		}
		tb := byName[name]
		if tb == nil {
			t.Errorf("%s: a page reaches it, but no table classifies its fields", name)
			continue
		}
		for _, f := range def.Fields {
			d, ok := tb.describe(f.Name)
			if !ok {
				t.Errorf("%s.%s: not classified", name, f.Name)
				continue
			}
			hasResolver := withResolver[name][goName(f.Name)]
			switch d.kind {
			case declined:
				if d.why == "" {
					t.Errorf("%s.%s: declined without a reason", name, f.Name)
				}
				continue
			case plain:
				if hasResolver {
					t.Errorf("%s.%s: read from the model, but it has a resolver", name, f.Name)
				}
			case resolved:
				if !hasResolver {
					t.Errorf("%s.%s: resolved, but it has no resolver", name, f.Name)
				}
			default:
				t.Errorf("%s.%s: kind %d", name, f.Name, d.kind)
			}
			if _, ok := types[name].fields[f.Name]; !ok {
				t.Errorf("%s.%s: classified, but not accepted", name, f.Name)
			}
			if k := schema.Types[f.Type.Name()].Kind; k != ast.Scalar && k != ast.Enum {
				queue = append(queue, f.Type.Name())
			}
		}
	}
	for name := range byName {
		if !reached[name] {
			t.Errorf("%s: has a table, but no page reaches it", name)
		}
	}
	for _, want := range []string{"Query", "Thread", "Node", "CommentConnection", "CommentEdge", "PageInfo", "Comment", "Mention", "User", "Attachment", "Room"} {
		if !reached[want] {
			t.Errorf("%s: not reached", want)
		}
	}
}

// commentWithText is graph.CommentResolver as gqlgen would generate it if
// Comment.text were made `resolver: true`.
type commentWithText interface {
	graph.CommentResolver
	Text(ctx context.Context, obj *model.Comment) (string, error)
}

// rootWithCommentText is graph.ResolverRoot (the types a page reaches) with
// that Comment resolver.
type rootWithCommentText interface {
	Query() graph.QueryResolver
	Thread() graph.ThreadResolver
	Comment() commentWithText
	Mention() graph.MentionResolver
	User() graph.UserResolver
	Room() graph.RoomResolver
}

// A field the schema and the tables disagree on is reported and not
// accepted, so an operation selecting it runs on the generated executor:
// above all a field given a resolver is never read from the model.
func TestAFieldTheTablesGetWrongIsNotAccepted(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	// withComment is tables() with Comment's table changed by change.
	withComment := func(change func(map[string]field[*model.Comment])) []table {
		fields := maps.Clone(commentType.fields)
		change(fields)
		out := tables()
		out[slices.Index(out, table(commentType))] = &object[*model.Comment]{name: "Comment", fields: fields}
		return out
	}
	for _, tc := range []struct {
		name    string
		root    reflect.Type
		tables  []table
		problem string
	}{
		{"a field made resolver: true", reflect.TypeFor[rootWithCommentText](), tables(), "Comment.text: has a resolver, but the fast path reads it from the model"},
		{"a resolver the schema does not have", resolverRoot, withComment(func(f map[string]field[*model.Comment]) {
			f["text"] = field[*model.Comment]{fieldDesc: fieldDesc{kind: resolved, typ: "String!"}}
		}), "Comment.text: the fast path calls a resolver the schema does not have"},
		{"a type the schema changed", resolverRoot, withComment(func(f map[string]field[*model.Comment]) {
			f["text"] = text("String", func(c *model.Comment) string { return c.Text })
		}), "Comment.text: is String!, the fast path writes String"},
		{"arguments the schema changed", resolverRoot, withComment(func(f map[string]field[*model.Comment]) {
			f["text"] = field[*model.Comment]{fieldDesc: fieldDesc{kind: plain, typ: "String!", args: []string{"format"}}}
		}), "Comment.text: takes [], the fast path reads [format]"},
		{"a field left unclassified", resolverRoot, withComment(func(f map[string]field[*model.Comment]) {
			delete(f, "text")
		}), "Comment.text: not classified (plain, resolved or declined)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			types, possible, problems := classify(schema, tc.root, tc.tables)
			if !slices.Contains(problems, tc.problem) {
				t.Errorf("problems %q, want %q among them", problems, tc.problem)
			}
			s := &Schema{types: types, possible: possible}
			for q, want := range map[string]bool{
				`{ comments(threads: ["x"]) { nodes { ref } } }`:                                                              true,
				`{ comments(threads: ["x"]) { nodes { text } } }`:                                                             false,
				`{ thread(provider: "p", kind: ROOM, ref: "r") { comments { edges { node { ... on Comment { text } } } } } }`: false,
			} {
				doc := gqlparser.MustLoadQuery(schema, q)
				if got := s.accepts(doc, "Query", doc.Operations[0].SelectionSet, false, 0); got != want {
					t.Errorf("accepts %s = %v, want %v", q, got, want)
				}
			}
		})
	}
}

// A comment's users are resolved on the fast path only inside a comment
// connection, whose look-ahead fills their loader; a comment reached as a
// node goes to the generated executor when it selects them.
func TestUsersOnlyInsideAPage(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	types, possible, _ := classify(schema, resolverRoot, tables())
	s := &Schema{types: types, possible: possible}
	for q, want := range map[string]bool{
		`{ node(id: "x") { ... on Comment { text } } }`:                                                                 true,
		`{ node(id: "x") { ... on Comment { sender { name } } } }`:                                                      false,
		`{ nodes(ids: ["x"]) { ... on Comment { mentions { user { name } } } } }`:                                       false,
		`{ nodes(ids: ["x"]) { ... on Comment { mentions { offset } } } }`:                                              true,
		`{ nodes(ids: ["x"]) { ... on Thread { comments { nodes { sender { name } mentions { user { name } } } } } } }`: true,
		`{ node(id: "x") { ... on Room { provider { id } } } }`:                                                         false,
	} {
		doc := gqlparser.MustLoadQuery(schema, q)
		if got := s.accepts(doc, "Query", doc.Operations[0].SelectionSet, false, 0); got != want {
			t.Errorf("accepts %s = %v, want %v", strings.TrimSpace(q), got, want)
		}
	}
}
