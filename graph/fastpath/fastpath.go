// Package fastpath executes the gateway's hottest operation, a page of
// comments with their senders and mentioned users, without gqlgen's
// per-field machinery, and hands every other operation to the generated
// executor unchanged.
//
// gqlgen v0.17.95's generated executor builds a FieldContext, a context, a
// few closures and an error value for every field it resolves, marshals
// every element of a list of objects in a goroutine of its own, and computes
// the response path of every object for @defer bookkeeping. For a page of 50
// comments that is about 9,000 allocations and 150 goroutines, 2-3 ms of CPU
// on the request's critical path: more than the upstream round trip the
// batching layer saves. Schema.Exec walks the same page writing JSON straight
// into one buffer, calling the same resolvers, with gqlgen's own field
// collection (fragments, aliases, @skip/@include) and error handling (paths,
// locations, the error presenter, null propagation), so the response is
// byte for byte what the generated executor writes; fastpath_test.go checks
// that on every shape of the query it accepts.
//
// It takes a query operation only when every field it selects is one of the
// fields below (Query.comments and the plain fields of a comment page), and
// no directive other than @skip and @include is used; anything else
// (Thread.comments, Comment.thread, a mutation, @defer, introspection) goes
// to the generated executor. Field middleware (AroundFields) does not run on
// the fast path: the gateway installs none.
package fastpath

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/model"
)

// Schema is the generated executable schema with the fast path in front.
type Schema struct {
	graphql.ExecutableSchema
	resolvers       graph.ResolverRoot
	fast, generated atomic.Int64
}

// Served counts the operations Exec ran on the fast path and those it handed
// to the generated executor.
func (s *Schema) Served() (fast, generated int64) { return s.fast.Load(), s.generated.Load() }

// New puts the fast path in front of es, the schema generated for r.
func New(es graphql.ExecutableSchema, r graph.ResolverRoot) *Schema {
	return &Schema{ExecutableSchema: es, resolvers: r}
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
	if op.Operation == nil || op.Operation.Operation != ast.Query || !accepts(op.Doc, "Query", op.Operation.SelectionSet, 0) {
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
		e := &executor{op: op, r: s.resolvers}
		e.buf.Grow(16 << 10)
		if !e.query(ctx, op.Operation.SelectionSet) {
			e.buf.Reset()
			e.buf.WriteString("null")
		}
		return &graphql.Response{Data: e.buf.Bytes()}
	}
}

// fields are the fields the fast path resolves, per type; a selection of
// any other field sends the operation to the generated executor. Node is
// here for inline fragments on the interface inside a comment or user.
var fields = map[string]map[string]string{
	// field name → the type its selection set is of ("" for a leaf)
	"Query":             {"comments": "CommentConnection", "__typename": ""},
	"CommentConnection": {"edges": "CommentEdge", "nodes": "Comment", "pageInfo": "PageInfo", "__typename": ""},
	"CommentEdge":       {"cursor": "", "node": "Comment", "__typename": ""},
	"PageInfo":          {"hasNextPage": "", "hasPreviousPage": "", "startCursor": "", "endCursor": "", "__typename": ""},
	"Comment": {"id": "", "ref": "", "text": "", "body": "", "markup": "", "mentions": "Mention", "sender": "User",
		"attachments": "Attachment", "priority": "", "messageType": "", "createdAt": "", "editedAt": "", "deleted": "", "__typename": ""},
	"Mention":    {"user": "User", "offset": "", "length": "", "__typename": ""},
	"User":       {"id": "", "ref": "", "name": "", "email": "", "title": "", "department": "", "unit": "", "avatarUrl": "", "__typename": ""},
	"Attachment": {"id": "", "name": "", "mimeType": "", "size": "", "url": "", "state": "", "kind": "", "width": "", "height": "", "duration": "", "__typename": ""},
	"Node":       {"id": "", "__typename": ""},
}

// accepts says whether every field under sel (of type typ), through every
// fragment, is one the fast path resolves, with no directive but @skip and
// @include. It ignores @skip/@include themselves: a field the fast path
// cannot resolve sends the operation away even when skipped.
func accepts(doc *ast.QueryDocument, typ string, sel ast.SelectionSet, depth int) bool {
	if depth > 16 {
		return false // deeper than any comment page; leave it to the executor's own limits
	}
	known, ok := fields[typ]
	if !ok {
		return false
	}
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if !plainDirectives(s.Directives) {
				return false
			}
			childType, ok := known[s.Name]
			if !ok {
				return false
			}
			if typ == "Query" && s.Name == "comments" && !argsOK(s) {
				return false
			}
			if childType != "" && !accepts(doc, childType, s.SelectionSet, depth+1) {
				return false
			}
		case *ast.InlineFragment:
			if !plainDirectives(s.Directives) {
				return false
			}
			t := typ
			if s.TypeCondition != "" {
				t = s.TypeCondition
			}
			if !accepts(doc, fragmentType(typ, t), s.SelectionSet, depth+1) {
				return false
			}
		case *ast.FragmentSpread:
			if !plainDirectives(s.Directives) {
				return false
			}
			f := doc.Fragments.ForName(s.Name)
			if f == nil || !plainDirectives(f.Directives) || !accepts(doc, fragmentType(typ, f.TypeCondition), f.SelectionSet, depth+1) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// fragmentType is the type a fragment's fields are looked up on: its
// condition, which validation has checked can apply to typ.
func fragmentType(typ, cond string) string {
	if cond == "" {
		return typ
	}
	return cond
}

func plainDirectives(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			return false
		}
	}
	return true
}

// argsOK says whether comments' arguments are ones the fast path reads.
func argsOK(f *ast.Field) bool {
	for _, a := range f.Arguments {
		switch a.Name {
		case "threads", "first", "after":
		default:
			return false
		}
	}
	return true
}

// executor writes one response.
type executor struct {
	op  *graphql.OperationContext
	r   graph.ResolverRoot
	buf bytes.Buffer
	// rootCtx is the comments field's context, for the resolvers it calls.
	rootCtx context.Context
	// commentR and mentionR are the field resolvers, made once per response
	// (the root hands out a new one on each call).
	commentR graph.CommentResolver
	mentionR graph.MentionResolver
	// collected memoizes CollectFields per selection set: a page asks the
	// same few selections once per comment, mention and user.
	collected []collectedFields
	// pathNodes is the chunk new pathNodes are taken from (newNode).
	pathNodes []pathNode
}

type collectedFields struct {
	sel    *ast.Selection
	n      int
	types  *string
	fields []graphql.CollectedField
}

// collect is graphql.CollectFields (fragments merged, @skip/@include
// applied), once per selection set and type list in a response.
func (e *executor) collect(sel ast.SelectionSet, types []string) []graphql.CollectedField {
	if len(sel) == 0 {
		return graphql.CollectFields(e.op, sel, types)
	}
	for _, c := range e.collected {
		if c.sel == &sel[0] && c.n == len(sel) && c.types == &types[0] {
			return c.fields
		}
	}
	fs := graphql.CollectFields(e.op, sel, types)
	e.collected = append(e.collected, collectedFields{sel: &sel[0], n: len(sel), types: &types[0], fields: fs})
	return fs
}

// pathNode is one step of the response path, made as a field or list
// element is written and turned into gqlgen field contexts only when an error
// must be reported there.
type pathNode struct {
	parent *pathNode
	field  *graphql.CollectedField // nil for a list index
	index  int
}

// pathChunk is how many pathNodes the executor allocates at once. A page of
// 50 comments with their senders and two mentions each walks about 400; made
// one by one they were 15% of its allocations.
const pathChunk = 128

// field and index return a new pathNode under parent, from the executor's
// current chunk of nodes. A chunk is never grown in place (a full one is left
// to the nodes pointing into it and a new one started), so a node's address
// stays valid for the whole response.
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

var (
	queryTypes      = []string{"Query"}
	connectionTypes = []string{"CommentConnection"}
	edgeTypes       = []string{"CommentEdge"}
	pageInfoTypes   = []string{"PageInfo"}
	commentTypes    = []string{"Comment", "Node"}
	mentionTypes    = []string{"Mention"}
	userTypes       = []string{"User", "Node"}
	attachmentTypes = []string{"Attachment", "Node"}
)

// Each writer below returns false when the value it wrote is null where the
// schema allows none; its caller is then null in turn. Writers go on after
// a failure so every error is reported, as the generated executor reports
// them, and the root discards what was written.

// query writes the data object; false means it is null.
func (e *executor) query(ctx context.Context, sel ast.SelectionSet) bool {
	ok := true
	fs := e.collect(sel, queryTypes)
	w := &e.buf
	w.WriteByte('{')
	for i := range fs {
		f := &fs[i]
		e.key(i, f.Alias)
		switch f.Name {
		case "__typename":
			writeString(w, "Query")
		case "comments":
			ok = e.comments(ctx, f) && ok // non-null: null makes data null
		}
	}
	w.WriteByte('}')
	return ok
}

// comments resolves Query.comments as the generated executor would: a
// FieldContext with its arguments (the timeline looks ahead into the
// selection and reports a failing thread at this path), the resolver, its
// error with the field's location.
func (e *executor) comments(ctx context.Context, f *graphql.CollectedField) (ok bool) {
	args, err := commentsArgs(f, e.op.Variables)
	if err != nil {
		e.op.Error(ctx, err)
		return false
	}
	fc := &graphql.FieldContext{Object: "Query", Field: *f, Args: args, IsMethod: true, IsResolver: true}
	ctx = graphql.WithFieldContext(ctx, fc)
	e.rootCtx = ctx
	defer func() {
		if r := recover(); r != nil {
			e.op.Error(ctx, e.op.Recover(ctx, r))
			ok = false
		}
	}()
	var first *int
	var after *string
	if v, ok := args["first"].(*int); ok {
		first = v
	}
	if v, ok := args["after"].(*string); ok {
		after = v
	}
	conn, err := e.r.Query().Comments(ctx, args["threads"].([]string), first, after)
	if err != nil {
		e.op.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		return false
	}
	if conn == nil {
		if !graphql.HasFieldError(ctx, fc) {
			e.op.Errorf(ctx, "must not be null")
		}
		return false
	}
	fc.Result = conn
	root := &pathNode{field: f}
	return e.connection(f.Selections, conn, root)
}

// commentsArgs coerces Query.comments' arguments as the generated executor
// does (a single ID where the list is expected is a list of one).
func commentsArgs(f *graphql.CollectedField, vars map[string]any) (map[string]any, error) {
	raw := f.ArgumentMap(vars)
	args := map[string]any{}
	var threads []string
	switch v := raw["threads"].(type) {
	case []any:
		threads = make([]string, len(v))
		for i, t := range v {
			s, err := graphql.UnmarshalID(t)
			if err != nil {
				return nil, err
			}
			threads[i] = s
		}
	default:
		s, err := graphql.UnmarshalID(v)
		if err != nil {
			return nil, err
		}
		threads = []string{s}
	}
	args["threads"] = threads
	if v, ok := raw["first"]; ok && v != nil {
		n, err := graphql.UnmarshalInt(v)
		if err != nil {
			return nil, err
		}
		args["first"] = &n
	} else {
		args["first"] = (*int)(nil)
	}
	if v, ok := raw["after"]; ok && v != nil {
		s, err := graphql.UnmarshalString(v)
		if err != nil {
			return nil, err
		}
		args["after"] = &s
	} else {
		args["after"] = (*string)(nil)
	}
	return args, nil
}

func (e *executor) connection(sel ast.SelectionSet, c *model.CommentConnection, at *pathNode) bool {
	ok := true
	fs := e.collect(sel, connectionTypes)
	w := &e.buf
	w.WriteByte('{')
	for i := range fs {
		f := &fs[i]
		e.key(i, f.Alias)
		here := e.field(at, f)
		switch f.Name {
		case "__typename":
			writeString(w, "CommentConnection")
		case "edges":
			ok = e.edges(f.Selections, c.Edges, here) && ok
		case "nodes":
			ok = e.nodes(f.Selections, c.Nodes(), here) && ok
		case "pageInfo":
			if c.PageInfo == nil {
				e.nullError(here)
				ok = false
				w.WriteString("null")
				continue
			}
			e.pageInfo(f.Selections, c.PageInfo)
		}
	}
	w.WriteByte('}')
	return ok
}

func (e *executor) edges(sel ast.SelectionSet, edges []*model.CommentEdge, at *pathNode) bool {
	ok := true
	fs := e.collect(sel, edgeTypes)
	w := &e.buf
	w.WriteByte('[')
	for i, edge := range edges {
		if i > 0 {
			w.WriteByte(',')
		}
		el := e.index(at, i)
		if edge == nil {
			e.nullError(el)
			ok = false
			w.WriteString("null")
			continue
		}
		w.WriteByte('{')
		for j := range fs {
			f := &fs[j]
			e.key(j, f.Alias)
			switch f.Name {
			case "__typename":
				writeString(w, "CommentEdge")
			case "cursor":
				writeString(w, edge.Cursor())
			case "node":
				ok = e.comment(f.Selections, edge.Node, e.field(el, f)) && ok
			}
		}
		w.WriteByte('}')
	}
	w.WriteByte(']')
	return ok
}

func (e *executor) nodes(sel ast.SelectionSet, cs []*model.Comment, at *pathNode) bool {
	ok := true
	e.buf.WriteByte('[')
	for i, c := range cs {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		ok = e.comment(sel, c, e.index(at, i)) && ok
	}
	e.buf.WriteByte(']')
	return ok
}

func (e *executor) pageInfo(sel ast.SelectionSet, p *model.PageInfo) {
	fs := e.collect(sel, pageInfoTypes)
	w := &e.buf
	w.WriteByte('{')
	for i := range fs {
		f := &fs[i]
		e.key(i, f.Alias)
		switch f.Name {
		case "__typename":
			writeString(w, "PageInfo")
		case "hasNextPage":
			writeBool(w, p.HasNextPage)
		case "hasPreviousPage":
			writeBool(w, p.HasPreviousPage)
		case "startCursor":
			writeOptString(w, p.StartCursor)
		case "endCursor":
			writeOptString(w, p.EndCursor)
		}
	}
	w.WriteByte('}')
}

// comment writes a non-null Comment at `at`; false means it is null (the
// error is reported) and the caller's value is null in turn.
func (e *executor) comment(sel ast.SelectionSet, c *model.Comment, at *pathNode) bool {
	if c == nil {
		e.nullError(at)
		e.buf.WriteString("null")
		return false
	}
	ok := true
	fs := e.collect(sel, commentTypes)
	w := &e.buf
	w.WriteByte('{')
	for i := range fs {
		f := &fs[i]
		e.key(i, f.Alias)
		switch f.Name {
		case "__typename":
			writeString(w, "Comment")
		case "id":
			writeString(w, c.ID())
		case "ref":
			writeString(w, c.Ref)
		case "text":
			writeString(w, c.Text)
		case "body":
			writeString(w, c.Body)
		case "markup":
			c.Markup.MarshalGQL(w)
		case "priority":
			writeOptString(w, c.Priority)
		case "messageType":
			writeOptString(w, c.MessageType)
		case "createdAt":
			if c.CreatedAt.IsZero() {
				e.nullError(e.field(at, f))
				ok = false
				w.WriteString("null")
				continue
			}
			writeTime(w, c.CreatedAt)
		case "editedAt":
			if c.EditedAt == nil || c.EditedAt.IsZero() {
				w.WriteString("null")
			} else {
				writeTime(w, *c.EditedAt)
			}
		case "deleted":
			writeBool(w, c.Deleted)
		case "sender":
			e.sender(f, c, at)
		case "mentions":
			ok = e.mentions(f, c.Mentions, e.field(at, f)) && ok
		case "attachments":
			ok = e.attachments(f.Selections, c.Attachments, e.field(at, f)) && ok
		}
	}
	w.WriteByte('}')
	return ok
}

// sender resolves Comment.sender (nullable: an error leaves null there).
func (e *executor) sender(f *graphql.CollectedField, c *model.Comment, at *pathNode) {
	u, err := e.resolveUser(c, e.field(at, f), false)
	if err || u == nil {
		e.buf.WriteString("null")
		return
	}
	e.user(f.Selections, u)
}

func (e *executor) mentions(f *graphql.CollectedField, ms []*model.Mention, at *pathNode) bool {
	ok := true
	var fs []graphql.CollectedField
	w := &e.buf
	w.WriteByte('[')
	for i, m := range ms {
		if i > 0 {
			w.WriteByte(',')
		}
		el := e.index(at, i)
		if m == nil {
			e.nullError(el)
			ok = false
			w.WriteString("null")
			continue
		}
		if fs == nil {
			fs = e.collect(f.Selections, mentionTypes)
		}
		w.WriteByte('{')
		for j := range fs {
			g := &fs[j]
			e.key(j, g.Alias)
			switch g.Name {
			case "__typename":
				writeString(w, "Mention")
			case "offset":
				writeInt(w, m.Offset)
			case "length":
				writeInt(w, m.Length)
			case "user":
				u, failed := e.resolveUser(m, e.field(el, g), true)
				if failed {
					ok = false // User! is null: so is the mention, and the list
					w.WriteString("null")
					continue
				}
				e.user(g.Selections, u)
			}
		}
		w.WriteByte('}')
	}
	w.WriteByte(']')
	return ok
}

// resolveUser calls Comment.sender (obj a *model.Comment) or Mention.user
// (a *model.Mention) the way resolveField does: a panic or an error is
// reported at the field with its location, and a nil user of a non-null
// field is "must not be null". failed means the field is null.
func (e *executor) resolveUser(obj any, at *pathNode, nonNull bool) (u *model.User, failed bool) {
	defer func() {
		if r := recover(); r != nil {
			ctx := e.fieldCtx(at)
			e.op.Error(ctx, e.op.Recover(ctx, r))
			u, failed = nil, true
		}
	}()
	var err error
	switch o := obj.(type) {
	case *model.Comment:
		if e.commentR == nil {
			e.commentR = e.r.Comment()
		}
		u, err = e.commentR.Sender(e.rootCtx, o)
	case *model.Mention:
		if e.mentionR == nil {
			e.mentionR = e.r.Mention()
		}
		u, err = e.mentionR.User(e.rootCtx, o)
	}
	if err != nil {
		ctx := e.fieldCtx(at)
		e.op.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		return nil, true
	}
	if u == nil && nonNull {
		ctx := e.fieldCtx(at)
		if !graphql.HasFieldError(ctx, graphql.GetFieldContext(ctx)) {
			e.op.Errorf(ctx, "must not be null")
		}
		return nil, true
	}
	return u, false
}

func (e *executor) user(sel ast.SelectionSet, u *model.User) {
	fs := e.collect(sel, userTypes)
	w := &e.buf
	w.WriteByte('{')
	for i := range fs {
		f := &fs[i]
		e.key(i, f.Alias)
		switch f.Name {
		case "__typename":
			writeString(w, "User")
		case "id":
			writeString(w, u.ID())
		case "ref":
			writeString(w, u.Ref)
		case "name":
			writeString(w, u.Name)
		case "email":
			writeOptString(w, u.Email)
		case "title":
			writeOptString(w, u.Title)
		case "department":
			writeOptString(w, u.Department)
		case "unit":
			writeOptString(w, u.Unit)
		case "avatarUrl":
			writeOptString(w, u.AvatarURL)
		}
	}
	w.WriteByte('}')
}

func (e *executor) attachments(sel ast.SelectionSet, as []*model.Attachment, at *pathNode) bool {
	ok := true
	var fs []graphql.CollectedField
	w := &e.buf
	w.WriteByte('[')
	for i, a := range as {
		if i > 0 {
			w.WriteByte(',')
		}
		if a == nil {
			e.nullError(e.index(at, i))
			ok = false
			w.WriteString("null")
			continue
		}
		if fs == nil {
			fs = e.collect(sel, attachmentTypes)
		}
		w.WriteByte('{')
		for j := range fs {
			f := &fs[j]
			e.key(j, f.Alias)
			switch f.Name {
			case "__typename":
				writeString(w, "Attachment")
			case "id":
				writeString(w, a.ID())
			case "name":
				writeString(w, a.Name)
			case "mimeType":
				writeOptString(w, a.MimeType)
			case "size":
				writeOptInt(w, a.Size)
			case "url":
				writeOptString(w, a.URL)
			case "state":
				a.State.MarshalGQL(w)
			case "kind":
				writeString(w, a.Kind)
			case "width":
				writeOptInt(w, a.Width)
			case "height":
				writeOptInt(w, a.Height)
			case "duration":
				if a.Duration == nil {
					w.WriteString("null")
				} else {
					graphql.MarshalFloat(*a.Duration).MarshalGQL(w)
				}
			}
		}
		w.WriteByte('}')
	}
	w.WriteByte(']')
	return ok
}

// nullError reports, at `at`, the error the generated marshallers report for
// a null where the schema allows none.
func (e *executor) nullError(at *pathNode) {
	ctx := e.fieldCtx(at)
	if !graphql.HasFieldError(ctx, graphql.GetFieldContext(ctx)) {
		graphql.AddErrorf(ctx, "the requested element is null which the schema does not allow")
	}
}

// fieldCtx builds the gqlgen field contexts from the comments field down to
// `at`, so gqlgen's own error functions find the path and location there.
func (e *executor) fieldCtx(at *pathNode) context.Context {
	var chain []*pathNode
	for n := at; n != nil && n.parent != nil; n = n.parent {
		chain = append(chain, n)
	}
	ctx := e.rootCtx
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

// writeString writes s quoted the way gqlgen's MarshalString does (which
// escapes less than encoding/json), without its closure. It walks bytes, not
// runes: every byte it escapes is ASCII, and the bytes of a multi-byte or
// invalid sequence are all 0x80 or above, so the output is the same.
func writeString(w *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	start := 0
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		w.WriteString(s[start:i])
		switch c {
		case '\t':
			w.WriteString(`\t`)
		case '\r':
			w.WriteString(`\r`)
		case '\n':
			w.WriteString(`\n`)
		case '\\':
			w.WriteString(`\\`)
		case '"':
			w.WriteString(`\"`)
		default:
			w.WriteString(`\u00`)
			w.WriteByte(hex[c>>4])
			w.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	w.WriteString(s[start:])
	w.WriteByte('"')
}

func writeOptString(w *bytes.Buffer, s *string) {
	if s == nil {
		w.WriteString("null")
		return
	}
	writeString(w, *s)
}

func writeInt(w *bytes.Buffer, n int) {
	var b [20]byte
	w.Write(strconv.AppendInt(b[:0], int64(n), 10))
}

func writeOptInt(w *bytes.Buffer, n *int) {
	if n == nil {
		w.WriteString("null")
		return
	}
	writeInt(w, *n)
}

func writeBool(w io.Writer, b bool) {
	if b {
		io.WriteString(w, "true")
	} else {
		io.WriteString(w, "false")
	}
}

// writeTime writes t as gqlgen's MarshalTime does: RFC 3339 with
// nanoseconds, quoted by strconv.
func writeTime(w *bytes.Buffer, t time.Time) {
	var b [64]byte
	w.Write(strconv.AppendQuote(b[:0], t.Format(time.RFC3339Nano)))
}
