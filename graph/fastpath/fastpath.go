// Package fastpath executes the gateway's hottest operations, pages of
// comments with their senders and mentioned users, without gqlgen's
// per-field machinery, and hands every other operation to the generated
// executor unchanged.
//
// gqlgen v0.17.95's generated executor builds a FieldContext, a context, a
// few closures and an error value for every field it resolves, marshals
// every element of a list of objects in a goroutine of its own, and computes
// the response path of every object for @defer bookkeeping, for each of
// the hundreds of fields of a page of comments, on the request's critical
// path. Schema.Exec walks the same page writing JSON
// straight into one buffer, calling the same resolvers, with gqlgen's own
// field collection (fragments, aliases, @skip/@include) and error handling
// (paths, locations, the error presenter, null propagation), so the
// response is byte for byte what the generated executor writes;
// fastpath_test.go checks that on every shape of page it accepts.
//
// It takes a query whose root fields are comments (the timeline), thread,
// node and nodes, and whose every field below is one the fast path accepts:
// a page is reached as Query.comments or as Thread.comments (through thread,
// node or nodes with fragments on Thread). Which fields it accepts is
// derived from the schema at start-up (classify): each type's table in
// types.go classifies every field as plain (read from the model), resolved
// (its resolver is called) or declined, and a field is accepted only where
// that agrees with the schema and with the resolver interfaces gqlgen
// generated, so a field later made `resolver: true` is never read from the
// model. Only @skip and @include may be used. Anything else (a declined
// field, a mutation, a subscription, @defer, introspection) goes to the
// generated executor, and so does every operation when the server has field
// middleware (AroundFields), which the fast path does not run; root field
// middleware (AroundRootFields) runs as it does on the generated executor.
package fastpath

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	gqlexecutor "github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/commentgraph/commentgraph/graph"
)

// Schema is the generated executable schema with the fast path in front.
type Schema struct {
	graphql.ExecutableSchema
	resolvers graph.ResolverRoot
	// types are the object types the fast path writes, with the fields it
	// accepts; possible, the types an interface field's value can be.
	types    map[string]*typeInfo
	possible map[string][]string
	problems []string
	// noFieldMiddleware identifies gqlgen's pass-through field middleware
	// (the code of the closure an executor without AroundFields installs).
	noFieldMiddleware uintptr
	fast, generated   atomic.Int64
}

// Served counts the operations Exec ran on the fast path and those it handed
// to the generated executor.
func (s *Schema) Served() (fast, generated int64) { return s.fast.Load(), s.generated.Load() }

// Problems lists the fields of a comment page's types on which the fast
// path's tables and the schema disagree (a field made `resolver: true`, a
// type changed, a field added and not classified). Each such field is left
// to the generated executor; the list is empty when the tables are up to
// date, which fastpath_test.go requires.
func (s *Schema) Problems() []string { return slices.Clone(s.problems) }

// New puts the fast path in front of es, the schema generated for r.
func New(es graphql.ExecutableSchema, r graph.ResolverRoot) *Schema {
	s := &Schema{ExecutableSchema: es, resolvers: r, noFieldMiddleware: passThroughFieldMiddleware(es)}
	s.types, s.possible, s.problems = classify(es.Schema(), reflect.TypeFor[graph.ResolverRoot](), tables())
	return s
}

// passThroughFieldMiddleware is the code pointer of the field middleware a
// gqlgen executor has when no extension intercepts fields. Every executor's
// is the same closure of gqlgen's, so an operation whose middleware is any
// other comes from a server with AroundFields. 0 (matching nothing, so the
// fast path never runs) if it cannot be found.
func passThroughFieldMiddleware(es graphql.ExecutableSchema) uintptr {
	op, errs := gqlexecutor.New(es).CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{Query: "{__typename}"})
	if errs != nil || op.ResolverMiddleware == nil {
		return 0
	}
	return reflect.ValueOf(op.ResolverMiddleware).Pointer()
}

// The executor type-asserts for this to run @subscriptionContext
// subscriptions; subscriptions_test.go runs them through the real gateway,
// which wraps its schema in New.
var _ graphql.ExecutableSchemaWithEventContext = (*Schema)(nil)

// ExecWithEventContext passes subscriptions with @subscriptionContext to the
// generated executor (the embedded interface does not promote it).
func (s *Schema) ExecWithEventContext(ctx context.Context) graphql.ResponseHandlerWithContext {
	return s.ExecutableSchema.(graphql.ExecutableSchemaWithEventContext).ExecWithEventContext(ctx)
}

// Exec runs a comment-page query on the fast path and everything else on
// the generated executor.
func (s *Schema) Exec(ctx context.Context) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	if !s.takes(op) {
		s.generated.Add(1)
		return s.ExecutableSchema.Exec(ctx)
	}
	s.fast.Add(1)
	first := true
	return func(ctx context.Context) *graphql.Response {
		if !first {
			return nil
		}
		first = false
		e := &executor{s: s, op: op, plans: &plans{}}
		e.buf.Grow(16 << 10)
		if !e.query(ctx, op.Operation.SelectionSet) {
			e.buf.Reset()
			e.buf.WriteString("null")
		}
		return &graphql.Response{Data: e.buf.Bytes()}
	}
}

// takes says whether the fast path runs op.
func (s *Schema) takes(op *graphql.OperationContext) bool {
	return op.Operation != nil && op.Operation.Operation == ast.Query &&
		reflect.ValueOf(op.ResolverMiddleware).Pointer() == s.noFieldMiddleware &&
		s.accepts(op.Doc, "Query", op.Operation.SelectionSet, false, 0)
}

// maxDepth bounds accepts' walk: deeper than any comment page, fragments
// included; deeper documents are left to the executor's own limits.
const maxDepth = 24

// accepts says whether every field under sel (of object type typ), through
// every fragment that can apply to typ, is one the fast path accepts, with
// no directive but @skip and @include. It ignores @skip/@include
// themselves: a field the fast path cannot resolve sends the operation away
// even when skipped. inPage says sel is inside a comment connection.
func (s *Schema) accepts(doc *ast.QueryDocument, typ string, sel ast.SelectionSet, inPage bool, depth int) bool {
	ti := s.types[typ]
	if ti == nil || depth > maxDepth {
		return false
	}
	for _, x := range sel {
		switch x := x.(type) {
		case *ast.Field:
			if !plainDirectives(x.Directives) {
				return false
			}
			if x.Name == "__typename" {
				continue
			}
			f, ok := ti.fields[x.Name]
			if !ok || (f.inPage && !inPage) {
				return false
			}
			if f.child != "" && !s.acceptsChild(doc, f.child, x.SelectionSet, inPage || f.page, depth+1) {
				return false
			}
		case *ast.InlineFragment:
			if !plainDirectives(x.Directives) {
				return false
			}
			if x.TypeCondition != "" && !slices.Contains(ti.satisfies, x.TypeCondition) {
				continue // never applies to typ (CollectFields skips it too)
			}
			if !s.accepts(doc, typ, x.SelectionSet, inPage, depth+1) {
				return false
			}
		case *ast.FragmentSpread:
			if !plainDirectives(x.Directives) {
				return false
			}
			f := doc.Fragments.ForName(x.Name)
			if f == nil || !plainDirectives(f.Directives) {
				return false
			}
			if !slices.Contains(ti.satisfies, f.TypeCondition) {
				continue
			}
			if !s.accepts(doc, typ, f.SelectionSet, inPage, depth+1) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// acceptsChild is accepts for a field's selection, on every object type the
// field's value can be.
func (s *Schema) acceptsChild(doc *ast.QueryDocument, typ string, sel ast.SelectionSet, inPage bool, depth int) bool {
	if s.types[typ] != nil {
		return s.accepts(doc, typ, sel, inPage, depth)
	}
	for _, p := range s.possible[typ] {
		if !s.accepts(doc, p, sel, inPage, depth) {
			return false
		}
	}
	return len(s.possible[typ]) > 0
}

func plainDirectives(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			return false
		}
	}
	return true
}

// executor writes one response, or, forked, one part of it.
type executor struct {
	s   *Schema
	op  *graphql.OperationContext
	buf bytes.Buffer
	// pageCtx is the context of the comment connection being written, which
	// the sender and mention resolvers are called with.
	pageCtx context.Context
	// The field resolvers, made once per executor (the root hands out a new
	// one on each call).
	commentR    graph.CommentResolver
	attachmentR graph.AttachmentResolver
	mentionR    graph.MentionResolver
	threadR     graph.ThreadResolver
	// plans memoizes a type's plan per selection set, for the response and
	// all its forks: a page asks the same few selections once per comment,
	// mention and user, and the threads of a response the same as each other.
	plans *plans
	// pathNodes is the chunk new pathNodes are taken from (newNode).
	pathNodes []pathNode
}

// step is one collected field of an object and its writer.
type step[T any] struct {
	f     *graphql.CollectedField
	write writeFunc[T]
}

// plans is a response's memo of plans. Lookups, one per object written,
// take no lock: a plan is written under mu into the next free entry, which
// n then publishes. A response with more selections than entries plans the
// rest each time.
type plans struct {
	mu   sync.Mutex
	n    atomic.Int32
	list [32]planned
}

type planned struct {
	sel   ast.SelectionSet
	table table
	steps any // []step[T] of table's T
}

// plan is graphql.CollectFields (fragments merged, @skip/@include applied)
// for an object of t's type, with each field's writer, once per selection
// set and type in a response. Selection sets are compared by their
// elements: a field selected under several aliases (a thread each) has its
// selections copied into a new slice for each, the same ones.
func plan[T any](e *executor, t *object[T], sel ast.SelectionSet) []step[T] {
	if steps, ok := findPlan(e.plans.list[:e.plans.n.Load()], sel, t); ok {
		return steps
	}
	fs := graphql.CollectFields(e.op, sel, e.s.types[t.name].satisfies)
	steps := make([]step[T], len(fs))
	for i := range fs {
		w := t.fields[fs[i].Name].write
		if fs[i].Name == "__typename" {
			w = func(e *executor, _ *graphql.CollectedField, _ T, _ *pathNode) bool {
				writeString(&e.buf, t.name)
				return true
			}
		}
		steps[i] = step[T]{f: &fs[i], write: w}
	}
	e.plans.mu.Lock()
	defer e.plans.mu.Unlock()
	n := e.plans.n.Load()
	if made, ok := findPlan(e.plans.list[:n], sel, t); ok {
		return made // a fork made it meanwhile
	}
	if int(n) < len(e.plans.list) {
		e.plans.list[n] = planned{sel: sel, table: t, steps: steps}
		e.plans.n.Store(n + 1)
	}
	return steps
}

func findPlan[T any](list []planned, sel ast.SelectionSet, t *object[T]) ([]step[T], bool) {
	for i := range list {
		p := &list[i]
		if p.table == table(t) && sameSelections(p.sel, sel) {
			return p.steps.([]step[T]), true
		}
	}
	return nil, false
}

func sameSelections(a, b ast.SelectionSet) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeObject writes o, of t's type, at `at`. Writers go on after a
// failure so every error is reported, as the generated executor reports
// them; false means a non-null field of o is null, and o is null in turn:
// the nearest nullable field above discards what was written (orNull).
func writeObject[T any](e *executor, t *object[T], sel ast.SelectionSet, o T, at *pathNode) bool {
	steps := plan(e, t, sel)
	ok := true
	e.buf.WriteByte('{')
	for i := range steps {
		s := &steps[i]
		e.key(i, s.f.Alias)
		if !s.write(e, s.f, o, at) {
			ok = false
		}
	}
	e.buf.WriteByte('}')
	return ok
}

// orNull makes the nullable value written since start null when !ok.
func (e *executor) orNull(start int, ok bool) {
	if !ok {
		e.buf.Truncate(start)
		e.buf.WriteString("null")
	}
}

// query writes the data object; false means it is null. Root fields other
// than __typename each wait on upstream calls, and the generated executor
// runs them concurrently: with more than one, the first is written here
// while the others are written in goroutines of their own.
func (e *executor) query(ctx context.Context, sel ast.SelectionSet) bool {
	fs := graphql.CollectFields(e.op, sel, e.s.types["Query"].satisfies)
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query"})
	var forked []part
	var wg sync.WaitGroup
	inline := -1
	for i := range fs {
		switch {
		case fs[i].Name == "__typename":
		case inline < 0:
			inline = i
		default:
			if forked == nil {
				forked = make([]part, len(fs))
			}
			sub := e.fork()
			wg.Go(func() {
				forked[i] = sub.run(ctx, func() bool { return sub.rootField(ctx, &fs[i]) })
			})
		}
	}
	ok := true
	e.buf.WriteByte('{')
	for i := range fs {
		f := &fs[i]
		e.key(i, f.Alias)
		switch {
		case f.Name == "__typename":
			writeString(&e.buf, "Query")
		case i == inline:
			ok = e.rootField(ctx, f) && ok
		default:
			wg.Wait()
			e.buf.Write(forked[i].data)
			ok = forked[i].ok && ok
		}
	}
	e.buf.WriteByte('}')
	return ok
}

// written is a root field's value, already in the buffer when the root
// middleware hands it back unchanged.
type written struct{ data []byte }

func (w *written) MarshalGQL(out io.Writer) { _, _ = out.Write(w.data) }

// rootField writes one root field through the server's root field
// middleware (AroundRootFields), as the generated executor does; false
// means a non-null root field is null.
func (e *executor) rootField(ctx context.Context, f *graphql.CollectedField) (valid bool) {
	ctx = graphql.WithRootFieldContext(ctx, &graphql.RootFieldContext{Object: f.Name, Field: *f})
	start := e.buf.Len()
	res := &written{}
	valid = true
	out := e.op.RootResolverMiddleware(ctx, func(ctx context.Context) graphql.Marshaler {
		valid = queryType.fields[f.Name].write(e, f, ctx, nil)
		return res
	})
	if out != graphql.Marshaler(res) {
		// The middleware answered for the field (graphql.Null for a request
		// already over) or wrapped its value: its answer is the field's.
		res.data = bytes.Clone(e.buf.Bytes()[start:])
		e.buf.Truncate(start)
		if out == nil {
			out = graphql.Null
		}
		out.MarshalGQL(&e.buf)
	}
	return valid
}

// part is what a forked executor wrote.
type part struct {
	data []byte
	ok   bool
}

// fork is an executor of its own (its own buffer, memo and path nodes) for
// a part of the response written in another goroutine. It is made before
// that goroutine starts: e goes on writing meanwhile.
func (e *executor) fork() *executor {
	sub := &executor{s: e.s, op: e.op, pageCtx: e.pageCtx, plans: e.plans}
	sub.buf.Grow(8 << 10) // a thread's page, at once rather than by doubling
	return sub
}

// run runs write on e, a fork. A panic there is reported at ctx and leaves
// null, rather than ending the process.
func (e *executor) run(ctx context.Context, write func() bool) (p part) {
	defer func() {
		if r := recover(); r != nil {
			e.op.Error(ctx, e.op.Recover(ctx, r))
			p = part{data: []byte("null")}
		}
	}()
	ok := write()
	return part{data: e.buf.Bytes(), ok: ok}
}

// recoverField, deferred by a field's writer, reports a panic in the field's
// resolver or below it as the generated executor does, at the field (ctx,
// or at's when ctx is nil), and leaves null there from start; the writer
// then returns nullable.
func (e *executor) recoverField(ctx context.Context, at *pathNode, start int, result *bool, nullable bool) {
	r := recover()
	if r == nil {
		return
	}
	if ctx == nil {
		ctx = e.fieldCtx(at)
	}
	e.op.Error(ctx, e.op.Recover(ctx, r))
	e.buf.Truncate(start)
	e.buf.WriteString("null")
	*result = nullable
}

// pathNode is one step of the response path, made as a field or list
// element is written and turned into gqlgen field contexts only when an
// error must be reported there or a resolver called below it.
type pathNode struct {
	parent *pathNode
	field  *graphql.CollectedField // nil for a list index
	index  int
	// ctx is the field's context where a resolver was called for it (a
	// root field, Thread.comments); every path starts at one.
	ctx context.Context
}

// pathChunk is how many pathNodes the executor allocates at once: a page
// of comments with their senders and mentions walks several hundred, and
// made one by one they were a good share of its allocations.
const pathChunk = 128

// field and index return a new pathNode under parent, from the executor's
// current chunk of nodes. A chunk is never grown in place (a full one is left
// to the nodes pointing into it and a new one started), so a node's address
// stays valid for the whole response, and a forked executor may point into
// its parent's chunk while the parent appends to it.
func (e *executor) field(parent *pathNode, f *graphql.CollectedField) *pathNode {
	return e.newNode(pathNode{parent: parent, field: f})
}

func (e *executor) index(parent *pathNode, i int) *pathNode {
	return e.newNode(pathNode{parent: parent, index: i})
}

func (e *executor) newNode(n pathNode) *pathNode {
	if len(e.pathNodes) == cap(e.pathNodes) {
		e.pathNodes = make([]pathNode, 0, pathChunk)
	}
	e.pathNodes = append(e.pathNodes, n)
	return &e.pathNodes[len(e.pathNodes)-1]
}

// nullError reports, at `at`, the error the generated marshallers report for
// a null where the schema allows none.
func (e *executor) nullError(at *pathNode) {
	ctx := e.fieldCtx(at)
	if !graphql.HasFieldError(ctx, graphql.GetFieldContext(ctx)) {
		graphql.AddErrorf(ctx, "the requested element is null which the schema does not allow")
	}
}

// fieldCtx builds the gqlgen field contexts from the nearest node with a
// context down to `at`, so gqlgen's own error functions find the path and
// location there.
func (e *executor) fieldCtx(at *pathNode) context.Context {
	var chain []*pathNode
	n := at
	for ; n.ctx == nil; n = n.parent {
		chain = append(chain, n)
	}
	ctx := n.ctx
	for i := len(chain) - 1; i >= 0; i-- {
		n := chain[i]
		if n.field == nil {
			idx := n.index
			ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &idx})
		} else {
			ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: *n.field})
		}
	}
	return ctx
}

// key writes the i-th member's name of an object being written.
func (e *executor) key(i int, alias string) {
	if i > 0 {
		e.buf.WriteByte(',')
	}
	writeString(&e.buf, alias)
	e.buf.WriteByte(':')
}

// unexpectedNode is the generated executor's panic for a Node it has no
// type for.
func unexpectedNode(n any) error {
	return fmt.Errorf("unexpected type %T; non-generated variants of Node must implement graphql.Marshaler", n)
}
