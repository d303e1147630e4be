// Package guard bounds what a GraphQL document may cost before gqlgen
// validates, plans or runs it.
//
// gqlgen's own complexity pass runs after validation and expands every
// fragment spread anew, so a small document whose fragments each spread the
// next one twice costs 2^depth steps; some validation rules compare every
// pair of fields with the same response name, so a document that repeats one
// field thousands of times costs their square. Guard walks the parsed
// document once, computing each fragment's cost a single time, and refuses a
// document over the limits with COMPLEXITY_LIMIT_EXCEEDED before either runs.
// What it accepts is cheap for both: every field costs at least 1, so the
// expanded document has at most MaxComplexity fields.
package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Error codes Guard sets on the errors it returns (extensions.code). Both are
// protocol errors to gqlgen: the document is refused as a whole.
const (
	CodeComplexity    = string(model.CodeComplexityLimitExceeded)
	CodeIntrospection = string(model.CodeIntrospectionDisabled)
)

func init() {
	errcode.RegisterErrorType(CodeComplexity, errcode.KindProtocol)
	errcode.RegisterErrorType(CodeIntrospection, errcode.KindProtocol)
}

// CallWeight is what one upstream call adds to a document's cost: each
// thread of Query.comments and each id of Query.nodes may be one.
const CallWeight = 10

// DefaultPageSize is the page a connection field is counted as when it names
// no first or last.
const DefaultPageSize = 20

// ItemsPerComment is how many mentions, attachments, reactions or receipts a
// comment is counted as having.
const ItemsPerComment = 5

// Options are Guard's limits. Zero values take the defaults given.
type Options struct {
	// MaxComplexity bounds a document's cost: 1 per field plus its children,
	// list fields counting their children once per expected element (page
	// sizes, threads, ids). Default 5000.
	MaxComplexity int
	// MaxPageSize caps first/last when counting a page. Default 100.
	MaxPageSize int
	// MaxRepeatedFields bounds how often one response name may appear in one
	// selection set (with its inline fragments). Default 20.
	MaxRepeatedFields int
	// MaxSpreads bounds the fragment spreads of one selection set. Default 50.
	MaxSpreads int
	// TokenLimit bounds the tokens of a document Guard parses itself (the
	// same limit gqlgen's parser is given). Default 5000.
	TokenLimit int
	// Introspection allows __schema and __type. Default false: refused with
	// INTROSPECTION_DISABLED.
	Introspection bool
	// Cache is gqlgen's query cache: a document found there was parsed
	// before and is not parsed again. Nil: always parsed.
	Cache graphql.Cache[*ast.QueryDocument]
}

func (o *Options) defaults() {
	if o.MaxComplexity <= 0 {
		o.MaxComplexity = 5000
	}
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = 100
	}
	if o.MaxRepeatedFields <= 0 {
		o.MaxRepeatedFields = 20
	}
	if o.MaxSpreads <= 0 {
		o.MaxSpreads = 50
	}
	if o.TokenLimit <= 0 {
		o.TokenLimit = 5000
	}
}

// Guard is a gqlgen handler extension; add it with handler.Server.Use.
type Guard struct {
	schema *ast.Schema
	opts   Options
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = (*Guard)(nil)

// New returns a Guard for schema.
func New(schema *ast.Schema, opts Options) *Guard {
	opts.defaults()
	return &Guard{schema: schema, opts: opts}
}

func (*Guard) ExtensionName() string                   { return "Guard" }
func (*Guard) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters checks the request's document before gqlgen
// parses and validates it. A document that does not parse, or names no
// operation it has, is left to gqlgen to report.
func (g *Guard) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	doc, ok := (*ast.QueryDocument)(nil), false
	if g.opts.Cache != nil {
		doc, ok = g.opts.Cache.Get(ctx, p.Query)
	}
	if !ok {
		var err error
		doc, err = parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, g.opts.TokenLimit)
		if err != nil || doc == nil {
			return nil
		}
	}
	op := doc.Operations.ForName(p.OperationName)
	if op == nil {
		return nil
	}
	_, err := g.Cost(ctx, doc, op, p.Variables)
	return err
}

// Cost is op's cost with vars, or the error refusing it.
func (g *Guard) Cost(ctx context.Context, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) (int, *gqlerror.Error) {
	w := walker{
		g:         g,
		ctx:       ctx,
		op:        op,
		vars:      vars,
		fragments: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		memo:      make(map[string]int, len(doc.Fragments)),
	}
	for _, f := range doc.Fragments {
		if _, dup := w.fragments[f.Name]; !dup {
			w.fragments[f.Name] = f
		}
	}
	root := g.rootType(op.Operation)
	cost := w.selectionSet(root, op.SelectionSet, nil)
	if w.err != nil {
		return cost, w.err
	}
	if cost > g.opts.MaxComplexity {
		return cost, refuse(CodeComplexity, fmt.Sprintf("operation has complexity %s, which exceeds the limit of %d", costString(cost), g.opts.MaxComplexity), nil)
	}
	return cost, nil
}

func (g *Guard) rootType(op ast.Operation) string {
	var d *ast.Definition
	switch op {
	case ast.Mutation:
		d = g.schema.Mutation
	case ast.Subscription:
		d = g.schema.Subscription
	default:
		d = g.schema.Query
	}
	if d == nil {
		return ""
	}
	return d.Name
}

// saturated is where costs stop growing, far above any limit, so doubling
// through 64 fragments cannot overflow.
const saturated = 1 << 40

func add(a, b int) int { return min(a+b, saturated) }

func mul(a, b int) int {
	if a != 0 && b > saturated/a {
		return saturated
	}
	return min(a*b, saturated)
}

func costString(c int) string {
	if c >= saturated {
		return "over " + strconv.Itoa(saturated)
	}
	return strconv.Itoa(c)
}

func refuse(code, msg string, pos *ast.Position) *gqlerror.Error {
	err := gqlerror.ErrorPosf(pos, "%s", msg)
	errcode.Set(err, code)
	return err
}

// walker is one pass over one operation.
type walker struct {
	g         *Guard
	ctx       context.Context
	op        *ast.OperationDefinition
	vars      map[string]any
	fragments map[string]*ast.FragmentDefinition
	// memo holds each fragment's cost once computed; inProgress marks those
	// being computed, so a cycle (which validation reports) ends the walk.
	memo       map[string]int
	inProgress map[string]bool
	steps      int
	err        *gqlerror.Error
}

// selectionSet is the cost of set on the type named typ. seen counts the
// response names of the selection set being merged (inline fragments share
// their parent's), nil for a new one.
func (w *walker) selectionSet(typ string, set ast.SelectionSet, seen *names) int {
	if len(set) == 0 || w.err != nil {
		return 0
	}
	if seen == nil {
		seen = &names{}
	}
	cost := 0
	for _, sel := range set {
		if w.err != nil {
			return cost
		}
		// The walk is linear in the document, but the document may be large:
		// a client that went away stops it.
		if w.steps++; w.steps&255 == 0 && w.ctx.Err() != nil {
			w.err = refuse(CodeComplexity, "the request was canceled", nil)
			return cost
		}
		switch s := sel.(type) {
		case *ast.Field:
			if w.skipped(s.Directives) {
				continue
			}
			if n := seen.add(s.Alias); n > w.g.opts.MaxRepeatedFields {
				w.err = refuse(CodeComplexity, fmt.Sprintf("%q is selected more than %d times in one selection set", s.Alias, w.g.opts.MaxRepeatedFields), s.Position)
				return cost
			}
			if (s.Name == "__schema" || s.Name == "__type") && !w.g.opts.Introspection {
				w.err = refuse(CodeIntrospection, "introspection is disabled on this gateway", s.Position)
				return cost
			}
			cost = add(cost, w.field(typ, s))
		case *ast.InlineFragment:
			if w.skipped(s.Directives) {
				continue
			}
			t := typ
			if s.TypeCondition != "" {
				t = s.TypeCondition
			}
			cost = add(cost, w.selectionSet(t, s.SelectionSet, seen))
		case *ast.FragmentSpread:
			if w.skipped(s.Directives) {
				continue
			}
			if seen.spreads++; seen.spreads > w.g.opts.MaxSpreads {
				w.err = refuse(CodeComplexity, fmt.Sprintf("more than %d fragment spreads in one selection set", w.g.opts.MaxSpreads), s.Position)
				return cost
			}
			cost = add(cost, w.fragment(s.Name))
		}
	}
	return cost
}

// fragment is a named fragment's cost, computed once per operation.
func (w *walker) fragment(name string) int {
	if c, ok := w.memo[name]; ok {
		return c
	}
	def := w.fragments[name]
	if def == nil || w.inProgress[name] {
		return 0 // unknown or cyclic: validation refuses the document
	}
	if w.inProgress == nil {
		w.inProgress = map[string]bool{}
	}
	w.inProgress[name] = true
	c := w.selectionSet(def.TypeCondition, def.SelectionSet, nil)
	delete(w.inProgress, name)
	w.memo[name] = c
	return c
}

// field is one field's cost: 1 plus its children, multiplied for the list
// fields whose size the arguments tell.
func (w *walker) field(parent string, f *ast.Field) int {
	child := 0
	if len(f.SelectionSet) > 0 {
		child = w.selectionSet(w.fieldType(parent, f.Name), f.SelectionSet, nil)
	}
	switch parent + "." + f.Name {
	case "Query.comments":
		// A timeline asks each of its threads upstream, then returns one page.
		threads := w.listLen(f, "threads")
		return add(add(1, mul(CallWeight, threads)), mul(child, w.page(f)))
	case "Query.nodes":
		return add(1, mul(w.listLen(f, "ids"), add(CallWeight, child)))
	case "Thread.comments", "Provider.threads":
		return add(1, mul(child, w.page(f)))
	case "Comment.mentions", "Comment.attachments", "Comment.reactions", "Comment.readBy":
		return add(1, mul(child, ItemsPerComment))
	}
	return add(1, child)
}

// page is how many elements a page asking for first or last is counted as:
// the one given (capped at MaxPageSize), DefaultPageSize when neither is.
func (w *walker) page(f *ast.Field) int {
	if first, ok := w.intArg(f, "first"); ok && first > 0 {
		return min(first, w.g.opts.MaxPageSize)
	}
	if last, ok := w.intArg(f, "last"); ok && last > 0 {
		return min(last, w.g.opts.MaxPageSize)
	}
	return DefaultPageSize
}

// fieldType is the named type of parent.name, "" when the schema has none
// (validation reports it; its children are still counted).
func (w *walker) fieldType(parent, name string) string {
	def := w.g.schema.Types[parent]
	if def == nil {
		return ""
	}
	fd := def.Fields.ForName(name)
	if fd == nil {
		return ""
	}
	return fd.Type.Name()
}

// skipped evaluates @skip and @include; a variable that is not given counts
// as including the selection, the costlier reading.
func (w *walker) skipped(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		v, ok := w.value(arg.Value)
		b, isBool := v.(bool)
		if !ok || !isBool {
			continue
		}
		if (d.Name == "skip" && b) || (d.Name == "include" && !b) {
			return true
		}
	}
	return false
}

func (w *walker) arg(f *ast.Field, name string) (any, bool) {
	a := f.Arguments.ForName(name)
	if a == nil {
		return nil, false
	}
	return w.value(a.Value)
}

// intArg reads an Int argument, literal or variable.
func (w *walker) intArg(f *ast.Field, name string) (int, bool) {
	v, ok := w.arg(f, name)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int:
		return min(max(n, -saturated), saturated), true
	case int64:
		return int(min(max(n, -saturated), saturated)), true
	case float64:
		return int(min(max(n, -saturated), saturated)), true
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return int(min(max(i, -saturated), saturated)), err == nil
	}
	return 0, false
}

// listLen is how many elements a list argument has (GraphQL coerces a single
// value to a list of one).
func (w *walker) listLen(f *ast.Field, name string) int {
	v, ok := w.arg(f, name)
	if !ok || v == nil {
		return 0
	}
	if l, ok := v.([]any); ok {
		return len(l)
	}
	if n, ok := v.(listValue); ok {
		return int(n)
	}
	return 1
}

// listValue is a literal list's length (its elements are not needed).
type listValue int

// value is a literal's or variable's value: bool, int64, float64 or
// json.Number for what Guard reads, listValue or []any for lists.
func (w *walker) value(v *ast.Value) (any, bool) {
	if v == nil {
		return nil, false
	}
	switch v.Kind {
	case ast.Variable:
		if x, ok := w.vars[v.Raw]; ok {
			return x, true
		}
		if def := w.op.VariableDefinitions.ForName(v.Raw); def != nil && def.DefaultValue != nil {
			return w.value(def.DefaultValue)
		}
		return nil, false
	case ast.IntValue:
		n, err := strconv.ParseInt(v.Raw, 10, 64)
		return n, err == nil
	case ast.BooleanValue:
		return v.Raw == "true", true
	case ast.ListValue:
		return listValue(len(v.Children)), true
	case ast.NullValue:
		return nil, true
	}
	return v.Raw, true
}

// names counts response names in one selection set. Most sets are small, so
// the first few are kept in a slice before a map is made.
type names struct {
	small   []nameCount
	big     map[string]int
	spreads int
}

type nameCount struct {
	name string
	n    int
}

func (s *names) add(name string) int {
	if s.big != nil {
		s.big[name]++
		return s.big[name]
	}
	for i := range s.small {
		if s.small[i].name == name {
			s.small[i].n++
			return s.small[i].n
		}
	}
	if len(s.small) < 16 {
		s.small = append(s.small, nameCount{name, 1})
		return 1
	}
	s.big = make(map[string]int, 32)
	for _, c := range s.small {
		s.big[c.name] = c.n
	}
	s.big[name]++
	return s.big[name]
}
