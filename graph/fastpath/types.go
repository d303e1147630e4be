package fastpath

import (
	"context"
	"io"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/commentgraph/commentgraph/graph/model"
)

// This file holds one table per type of a comment page: every field of the
// type, classified (classify checks each against the schema at start-up),
// with the writer of those the fast path writes.

// writeFunc writes field f of o, whose own path is at. It returns false
// when it wrote null where the schema allows none: the object holding the
// field is then null in turn.
type writeFunc[T any] func(e *executor, f *graphql.CollectedField, o T, at *pathNode) bool

type field[T any] struct {
	fieldDesc
	write writeFunc[T]
}

// object is the table of a type whose values are T.
type object[T any] struct {
	name   string
	fields map[string]field[T]
}

func (o *object[T]) typeName() string { return o.name }

func (o *object[T]) describe(name string) (fieldDesc, bool) {
	f, ok := o.fields[name]
	return f.fieldDesc, ok
}

func (o *object[T]) fieldNames() []string {
	out := make([]string, 0, len(o.fields))
	for name := range o.fields {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// tables are every type the fast path writes.
func tables() []table {
	return []table{queryType, threadType, connectionType, edgeType, pageInfoType, commentType, mentionType, userType, attachmentType, roomType}
}

// Field constructors, by the schema type they write.

func text[T any](typ string, get func(T) string) field[T] {
	return field[T]{fieldDesc{kind: plain, typ: typ}, func(e *executor, _ *graphql.CollectedField, o T, _ *pathNode) bool {
		writeString(&e.buf, get(o))
		return true
	}}
}

func optText[T any](get func(T) *string) field[T] {
	return field[T]{fieldDesc{kind: plain, typ: "String"}, func(e *executor, _ *graphql.CollectedField, o T, _ *pathNode) bool {
		writeOptString(&e.buf, get(o))
		return true
	}}
}

func integer[T any](get func(T) int) field[T] {
	return field[T]{fieldDesc{kind: plain, typ: "Int!"}, func(e *executor, _ *graphql.CollectedField, o T, _ *pathNode) bool {
		writeInt(&e.buf, get(o))
		return true
	}}
}

func optInteger[T any](get func(T) *int) field[T] {
	return field[T]{fieldDesc{kind: plain, typ: "Int"}, func(e *executor, _ *graphql.CollectedField, o T, _ *pathNode) bool {
		writeOptInt(&e.buf, get(o))
		return true
	}}
}

func boolean[T any](get func(T) bool) field[T] {
	return field[T]{fieldDesc{kind: plain, typ: "Boolean!"}, func(e *executor, _ *graphql.CollectedField, o T, _ *pathNode) bool {
		writeBool(&e.buf, get(o))
		return true
	}}
}

func enum[T any, E interface{ MarshalGQL(io.Writer) }](typ string, get func(T) E) field[T] {
	return field[T]{fieldDesc{kind: plain, typ: typ}, func(e *executor, _ *graphql.CollectedField, o T, _ *pathNode) bool {
		get(o).MarshalGQL(&e.buf)
		return true
	}}
}

func plainField[T any](typ string, w writeFunc[T]) field[T] {
	return field[T]{fieldDesc{kind: plain, typ: typ}, w}
}

func decline[T any](why string) field[T] {
	return field[T]{fieldDesc: fieldDesc{kind: declined, why: why}}
}

// Reasons a field is declined.
const (
	notPage      = "not part of a comment page"
	outsidePage  = "a loader call per object that no look-ahead fills: one after another, each would wait out a batch window"
	introspected = "introspection"
)

// queryType's values are the root field's context (the root middleware's).
var queryType = &object[context.Context]{name: "Query", fields: map[string]field[context.Context]{
	"comments":  {fieldDesc{kind: resolved, typ: "CommentConnection!", args: []string{"threads", "first", "after"}}, writeTimeline},
	"thread":    {fieldDesc{kind: resolved, typ: "Thread", args: []string{"provider", "kind", "ref"}}, writeThreadRoot},
	"node":      {fieldDesc{kind: resolved, typ: "Node", args: []string{"id"}}, writeNodeRoot},
	"nodes":     {fieldDesc{kind: resolved, typ: "[Node]!", args: []string{"ids"}}, writeNodesRoot},
	"provider":  decline[context.Context](notPage),
	"providers": decline[context.Context](notPage),
	"room":      decline[context.Context](notPage),
	"user":      decline[context.Context](notPage),
	"__schema":  decline[context.Context](introspected),
	"__type":    decline[context.Context](introspected),
}}

var threadType = &object[*model.Thread]{name: "Thread", fields: map[string]field[*model.Thread]{
	"id":       text("ID!", (*model.Thread).ID),
	"kind":     enum("ThreadKind!", func(t *model.Thread) model.ThreadKind { return t.Kind }),
	"ref":      text("String!", func(t *model.Thread) string { return t.Ref }),
	"title":    optText(func(t *model.Thread) *string { return t.Title }),
	"comments": {fieldDesc{kind: resolved, typ: "CommentConnection!", args: []string{"first", "after", "last", "before"}}, writeThreadComments},
	"provider": decline[*model.Thread](notPage),
	"room":     decline[*model.Thread](outsidePage),
}}

var connectionType = &object[*model.CommentConnection]{name: "CommentConnection", fields: map[string]field[*model.CommentConnection]{
	"edges":    plainField("[CommentEdge!]!", writeEdges),
	"nodes":    plainField("[Comment!]!", writeCommentNodes),
	"pageInfo": plainField("PageInfo!", writePageInfo),
}}

var edgeType = &object[*model.CommentEdge]{name: "CommentEdge", fields: map[string]field[*model.CommentEdge]{
	"cursor": text("String!", (*model.CommentEdge).Cursor),
	"node": plainField("Comment!", func(e *executor, f *graphql.CollectedField, edge *model.CommentEdge, at *pathNode) bool {
		return e.comment(f.Selections, edge.Node, e.field(at, f))
	}),
}}

var pageInfoType = &object[*model.PageInfo]{name: "PageInfo", fields: map[string]field[*model.PageInfo]{
	"hasNextPage":     boolean(func(p *model.PageInfo) bool { return p.HasNextPage }),
	"hasPreviousPage": boolean(func(p *model.PageInfo) bool { return p.HasPreviousPage }),
	"startCursor":     optText(func(p *model.PageInfo) *string { return p.StartCursor }),
	"endCursor":       optText(func(p *model.PageInfo) *string { return p.EndCursor }),
}}

var commentType = &object[*model.Comment]{name: "Comment", fields: map[string]field[*model.Comment]{
	"id":          text("ID!", (*model.Comment).ID),
	"ref":         text("String!", func(c *model.Comment) string { return c.Ref }),
	"text":        text("String!", func(c *model.Comment) string { return c.Text }),
	"body":        text("String!", func(c *model.Comment) string { return c.Body }),
	"markup":      enum("Markup!", func(c *model.Comment) model.Markup { return c.Markup }),
	"priority":    optText(func(c *model.Comment) *string { return c.Priority }),
	"messageType": optText(func(c *model.Comment) *string { return c.MessageType }),
	"createdAt":   plainField("Time!", writeCreatedAt),
	"editedAt": plainField("Time", func(e *executor, _ *graphql.CollectedField, c *model.Comment, _ *pathNode) bool {
		if c.EditedAt == nil || c.EditedAt.IsZero() {
			e.buf.WriteString("null")
		} else {
			writeTime(&e.buf, *c.EditedAt)
		}
		return true
	}),
	"deleted":     boolean(func(c *model.Comment) bool { return c.Deleted }),
	"sender":      {fieldDesc{kind: resolved, typ: "User", inPage: true}, writeSender},
	"mentions":    plainField("[Mention!]!", writeMentions),
	"attachments": plainField("[Attachment!]!", writeAttachments),
	"provider":    decline[*model.Comment](notPage),
	"thread":      decline[*model.Comment](outsidePage),
	"parent":      decline[*model.Comment](outsidePage),
	"reactions":   decline[*model.Comment](outsidePage + " (Reaction.users)"),
	"readBy":      decline[*model.Comment](outsidePage + " (ReadReceipt.user)"),
}}

var mentionType = &object[*model.Mention]{name: "Mention", fields: map[string]field[*model.Mention]{
	"user":   {fieldDesc{kind: resolved, typ: "User!", inPage: true}, writeMentionUser},
	"offset": integer(func(m *model.Mention) int { return m.Offset }),
	"length": integer(func(m *model.Mention) int { return m.Length }),
}}

var userType = &object[*model.User]{name: "User", fields: map[string]field[*model.User]{
	"id":         text("ID!", (*model.User).ID),
	"ref":        text("String!", func(u *model.User) string { return u.Ref }),
	"name":       text("String!", func(u *model.User) string { return u.Name }),
	"email":      optText(func(u *model.User) *string { return u.Email }),
	"title":      optText(func(u *model.User) *string { return u.Title }),
	"department": optText(func(u *model.User) *string { return u.Department }),
	"unit":       optText(func(u *model.User) *string { return u.Unit }),
	"avatarUrl":  optText(func(u *model.User) *string { return u.AvatarURL }),
	"provider":   decline[*model.User](notPage),
}}

var attachmentType = &object[*model.Attachment]{name: "Attachment", fields: map[string]field[*model.Attachment]{
	"id":       text("ID!", (*model.Attachment).ID),
	"name":     text("String!", func(a *model.Attachment) string { return a.Name }),
	"mimeType": optText(func(a *model.Attachment) *string { return a.MimeType }),
	"size":     optInteger(func(a *model.Attachment) *int { return a.Size }),
	"url":      {fieldDesc{kind: resolved, typ: "String", inPage: true}, writeAttachmentURL},
	"state":    enum("AttachmentState!", func(a *model.Attachment) model.AttachmentState { return a.State }),
	"kind":     text("String!", func(a *model.Attachment) string { return a.Kind }),
	"width":    optInteger(func(a *model.Attachment) *int { return a.Width }),
	"height":   optInteger(func(a *model.Attachment) *int { return a.Height }),
	"duration": plainField("Float", func(e *executor, _ *graphql.CollectedField, a *model.Attachment, _ *pathNode) bool {
		if a.Duration == nil {
			e.buf.WriteString("null")
		} else {
			graphql.MarshalFloat(*a.Duration).MarshalGQL(&e.buf)
		}
		return true
	}),
}}

var roomType = &object[*model.Room]{name: "Room", fields: map[string]field[*model.Room]{
	"id":       text("ID!", (*model.Room).ID),
	"ref":      text("String!", func(r *model.Room) string { return r.Ref }),
	"name":     optText(func(r *model.Room) *string { return r.Name }),
	"provider": decline[*model.Room](notPage),
}}

// Root fields. Each gets the root middleware's context and writes its
// value; false means a non-null root field is null, and so is data.

// writeTimeline resolves Query.comments as the generated executor would: a
// FieldContext with its arguments (the timeline looks ahead into the
// selection and reports a failing thread at this path), the resolver, its
// error with the field's location.
func writeTimeline(e *executor, f *graphql.CollectedField, ctx context.Context, _ *pathNode) (ok bool) {
	fc := &graphql.FieldContext{Object: "Query", Field: *f, IsMethod: true, IsResolver: true}
	ctx = graphql.WithFieldContext(ctx, fc)
	r := argReader{ctx: ctx, raw: f.ArgumentMap(e.op.Variables)}
	threads := readArg(&r, "threads", idList)
	first := readArg(&r, "first", optInt)
	after := readArg(&r, "after", optString)
	if r.err != nil {
		e.op.Error(ctx, r.err)
		e.buf.WriteString("null")
		return false
	}
	fc.Args = map[string]any{"threads": threads, "first": first, "after": after}
	defer e.recoverField(ctx, nil, e.buf.Len(), &ok, false)
	conn, err := e.s.resolvers.Query().Comments(ctx, threads, first, after)
	return e.page(ctx, fc, &pathNode{field: f, ctx: ctx}, conn, err)
}

// writeThreadComments resolves Thread.comments the same way, below the
// thread it belongs to.
func writeThreadComments(e *executor, f *graphql.CollectedField, t *model.Thread, at *pathNode) (ok bool) {
	fc := &graphql.FieldContext{Object: "Thread", Field: *f, IsMethod: true, IsResolver: true}
	ctx := graphql.WithFieldContext(e.fieldCtx(at), fc)
	r := argReader{ctx: ctx, raw: f.ArgumentMap(e.op.Variables)}
	first := readArg(&r, "first", optInt)
	after := readArg(&r, "after", optString)
	last := readArg(&r, "last", optInt)
	before := readArg(&r, "before", optString)
	if r.err != nil {
		e.op.Error(ctx, r.err)
		e.buf.WriteString("null")
		return false
	}
	fc.Args = map[string]any{"first": first, "after": after, "last": last, "before": before}
	defer e.recoverField(ctx, nil, e.buf.Len(), &ok, false)
	if e.threadR == nil {
		e.threadR = e.s.resolvers.Thread()
	}
	conn, err := e.threadR.Comments(ctx, t, first, after, last, before)
	return e.page(ctx, fc, e.newNode(pathNode{parent: at, field: f, ctx: ctx}), conn, err)
}

// page writes a comment connection a resolver answered (non-null), at
// `here`, the field's node, whose context is ctx. The sender and mention
// resolvers below it are called with ctx, the context the look-ahead
// filled the loaders from.
func (e *executor) page(ctx context.Context, fc *graphql.FieldContext, here *pathNode, conn *model.CommentConnection, err error) bool {
	if err != nil {
		e.op.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		e.buf.WriteString("null")
		return false
	}
	if conn == nil {
		e.nullError(here)
		e.buf.WriteString("null")
		return false
	}
	fc.Result = conn
	prev := e.pageCtx
	e.pageCtx = ctx
	ok := writeObject(e, connectionType, fc.Field.Selections, conn, here)
	e.pageCtx = prev
	return ok
}

// writeThreadRoot resolves Query.thread (nullable: an error or a thread
// with a null non-null field leaves null there).
func writeThreadRoot(e *executor, f *graphql.CollectedField, ctx context.Context, _ *pathNode) (valid bool) {
	fc := &graphql.FieldContext{Object: "Query", Field: *f, IsMethod: true, IsResolver: true}
	ctx = graphql.WithFieldContext(ctx, fc)
	r := argReader{ctx: ctx, raw: f.ArgumentMap(e.op.Variables)}
	provider := readArg(&r, "provider", id)
	kind := readArg(&r, "kind", threadKind)
	ref := readArg(&r, "ref", str)
	if r.err != nil {
		e.op.Error(ctx, r.err)
		e.buf.WriteString("null")
		return true
	}
	fc.Args = map[string]any{"provider": provider, "kind": kind, "ref": ref}
	start := e.buf.Len()
	defer e.recoverField(ctx, nil, start, &valid, true)
	th, err := e.s.resolvers.Query().Thread(ctx, provider, kind, ref)
	if err != nil {
		e.op.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		e.buf.WriteString("null")
		return true
	}
	if th == nil {
		e.buf.WriteString("null")
		return true
	}
	fc.Result = th
	e.orNull(start, writeObject(e, threadType, f.Selections, th, &pathNode{field: f, ctx: ctx}))
	return true
}

// writeNodeRoot resolves Query.node (nullable).
func writeNodeRoot(e *executor, f *graphql.CollectedField, ctx context.Context, _ *pathNode) (valid bool) {
	fc := &graphql.FieldContext{Object: "Query", Field: *f, IsMethod: true, IsResolver: true}
	ctx = graphql.WithFieldContext(ctx, fc)
	r := argReader{ctx: ctx, raw: f.ArgumentMap(e.op.Variables)}
	nodeID := readArg(&r, "id", id)
	if r.err != nil {
		e.op.Error(ctx, r.err)
		e.buf.WriteString("null")
		return true
	}
	fc.Args = map[string]any{"id": nodeID}
	start := e.buf.Len()
	defer e.recoverField(ctx, nil, start, &valid, true)
	n, err := e.s.resolvers.Query().Node(ctx, nodeID)
	if err != nil {
		e.op.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		e.buf.WriteString("null")
		return true
	}
	fc.Result = n
	e.orNull(start, e.node(f.Selections, n, &pathNode{field: f, ctx: ctx}))
	return true
}

// writeNodesRoot resolves Query.nodes ([Node]!: an error makes data null;
// an element is null on its own).
func writeNodesRoot(e *executor, f *graphql.CollectedField, ctx context.Context, _ *pathNode) (ok bool) {
	fc := &graphql.FieldContext{Object: "Query", Field: *f, IsMethod: true, IsResolver: true}
	ctx = graphql.WithFieldContext(ctx, fc)
	r := argReader{ctx: ctx, raw: f.ArgumentMap(e.op.Variables)}
	ids := readArg(&r, "ids", idList)
	if r.err != nil {
		e.op.Error(ctx, r.err)
		e.buf.WriteString("null")
		return false
	}
	fc.Args = map[string]any{"ids": ids}
	defer e.recoverField(ctx, nil, e.buf.Len(), &ok, false)
	list, err := e.s.resolvers.Query().Nodes(ctx, ids)
	if err != nil {
		e.op.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		e.buf.WriteString("null")
		return false
	}
	fc.Result = list
	e.nodeList(f.Selections, list, &pathNode{field: f, ctx: ctx})
	return true
}

// node writes a Node of whatever type it is; false means it is null where
// it must not be (the caller's value is nullable).
func (e *executor) node(sel ast.SelectionSet, n model.Node, at *pathNode) bool {
	switch o := n.(type) {
	case nil:
	case *model.Thread:
		if o != nil {
			return writeObject(e, threadType, sel, o, at)
		}
	case *model.Comment:
		if o != nil {
			return writeObject(e, commentType, sel, o, at)
		}
	case *model.User:
		if o != nil {
			return writeObject(e, userType, sel, o, at)
		}
	case *model.Room:
		if o != nil {
			return writeObject(e, roomType, sel, o, at)
		}
	case *model.Attachment:
		if o != nil {
			return writeObject(e, attachmentType, sel, o, at)
		}
	default:
		// What the generated executor does with a Node it has no type for.
		m, ok := n.(graphql.Marshaler)
		if !ok {
			panic(unexpectedNode(n))
		}
		m.MarshalGQL(&e.buf)
		return true
	}
	e.buf.WriteString("null")
	return true
}

// nodeList writes Query.nodes' elements. Threads whose comments are selected
// each list them upstream, and the generated executor writes a list's
// elements concurrently: with more than one, the first is written here while
// the others are written in goroutines of their own, so the page waits for
// one round trip, not one per thread.
func (e *executor) nodeList(sel ast.SelectionSet, list []model.Node, at *pathNode) {
	var forked []*part
	var wg sync.WaitGroup
	if e.listingThreads(sel, list) > 1 {
		forked = make([]*part, len(list))
		inline := true
		for i, n := range list {
			th, ok := n.(*model.Thread)
			if !ok || th == nil {
				continue
			}
			if inline {
				inline = false
				continue
			}
			el := e.index(at, i)
			ctx := e.fieldCtx(el)
			forked[i] = &part{}
			sub := e.fork()
			wg.Go(func() {
				*forked[i] = sub.run(ctx, func() bool { return writeObject(sub, threadType, sel, th, el) })
			})
		}
	}
	e.buf.WriteByte('[')
	for i, n := range list {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		start := e.buf.Len()
		if forked != nil && forked[i] != nil {
			wg.Wait()
			e.buf.Write(forked[i].data)
			e.orNull(start, forked[i].ok)
			continue
		}
		e.orNull(start, e.node(sel, n, e.index(at, i)))
	}
	e.buf.WriteByte(']')
}

// listingThreads is how many of list's elements are threads whose comments
// sel selects.
func (e *executor) listingThreads(sel ast.SelectionSet, list []model.Node) int {
	n := 0
	for _, x := range list {
		if th, ok := x.(*model.Thread); ok && th != nil {
			n++
		}
	}
	if n < 2 || !slices.ContainsFunc(plan(e, threadType, sel), func(s step[*model.Thread]) bool { return s.f.Name == "comments" }) {
		return 0
	}
	return n
}

func writeEdges(e *executor, f *graphql.CollectedField, c *model.CommentConnection, at *pathNode) bool {
	return writeList(e, f, edgeType, c.Edges, at)
}

// writeList writes a list of non-null objects of t's type held by a
// non-null field (edges, mentions, attachments): a nil element is the
// marshaller's null error, and makes the list null in turn.
func writeList[T any](e *executor, f *graphql.CollectedField, t *object[*T], list []*T, at *pathNode) bool {
	here := e.field(at, f)
	ok := true
	e.buf.WriteByte('[')
	for i, o := range list {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		el := e.index(here, i)
		if o == nil {
			e.nullError(el)
			e.buf.WriteString("null")
			ok = false
			continue
		}
		ok = writeObject(e, t, f.Selections, o, el) && ok
	}
	e.buf.WriteByte(']')
	return ok
}

// writeCommentNodes writes CommentConnection.nodes, which gqlgen binds to
// the method Nodes (a nil edge panics there, reported at this field).
func writeCommentNodes(e *executor, f *graphql.CollectedField, c *model.CommentConnection, at *pathNode) (ok bool) {
	here := e.field(at, f)
	defer e.recoverField(nil, here, e.buf.Len(), &ok, false)
	ok = true
	e.buf.WriteByte('[')
	for i, node := range c.Nodes() {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		ok = e.comment(f.Selections, node, e.index(here, i)) && ok
	}
	e.buf.WriteByte(']')
	return ok
}

func writePageInfo(e *executor, f *graphql.CollectedField, c *model.CommentConnection, at *pathNode) bool {
	here := e.field(at, f)
	if c.PageInfo == nil {
		e.nullError(here)
		e.buf.WriteString("null")
		return false
	}
	return writeObject(e, pageInfoType, f.Selections, c.PageInfo, here)
}

// comment writes a non-null Comment at `at`.
func (e *executor) comment(sel ast.SelectionSet, c *model.Comment, at *pathNode) bool {
	if c == nil {
		e.nullError(at)
		e.buf.WriteString("null")
		return false
	}
	return writeObject(e, commentType, sel, c, at)
}

func writeCreatedAt(e *executor, f *graphql.CollectedField, c *model.Comment, at *pathNode) bool {
	if c.CreatedAt.IsZero() {
		e.nullError(e.field(at, f))
		e.buf.WriteString("null")
		return false
	}
	writeTime(&e.buf, c.CreatedAt)
	return true
}

// writeSender resolves Comment.sender (nullable: an error leaves null there).
func writeSender(e *executor, f *graphql.CollectedField, c *model.Comment, at *pathNode) bool {
	here := e.field(at, f)
	u, failed := e.resolveUser(c, here, false)
	if failed || u == nil {
		e.buf.WriteString("null")
		return true
	}
	start := e.buf.Len()
	e.orNull(start, writeObject(e, userType, f.Selections, u, here))
	return true
}

func writeMentions(e *executor, f *graphql.CollectedField, c *model.Comment, at *pathNode) bool {
	return writeList(e, f, mentionType, c.Mentions, at)
}

// writeMentionUser resolves Mention.user (User!: null makes the mention
// null, and the list, and so on up to the nearest nullable field).
func writeMentionUser(e *executor, f *graphql.CollectedField, m *model.Mention, at *pathNode) bool {
	here := e.field(at, f)
	u, failed := e.resolveUser(m, here, true)
	if failed {
		e.buf.WriteString("null")
		return false
	}
	return writeObject(e, userType, f.Selections, u, here)
}

func writeAttachments(e *executor, f *graphql.CollectedField, c *model.Comment, at *pathNode) bool {
	return writeList(e, f, attachmentType, c.Attachments, at)
}

// writeAttachmentURL calls Attachment.url (a link signed for the caller) with
// the page's context, the way resolveUser calls Comment.sender.
func writeAttachmentURL(e *executor, f *graphql.CollectedField, a *model.Attachment, at *pathNode) bool {
	here := e.field(at, f)
	u, failed := e.resolveAttachmentURL(a, here)
	if failed {
		u = nil
	}
	writeOptString(&e.buf, u) // nullable: a failure is null and an error
	return true
}

func (e *executor) resolveAttachmentURL(a *model.Attachment, at *pathNode) (u *string, failed bool) {
	defer func() {
		if r := recover(); r != nil {
			ctx := e.fieldCtx(at)
			e.op.Error(ctx, e.op.Recover(ctx, r))
			u, failed = nil, true
		}
	}()
	if e.attachmentR == nil {
		e.attachmentR = e.s.resolvers.Attachment()
	}
	u, err := e.attachmentR.URL(e.pageCtx, a)
	if err != nil {
		ctx := e.fieldCtx(at)
		e.op.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		return nil, true
	}
	return u, false
}

// resolveUser calls Comment.sender (obj a *model.Comment) or Mention.user
// (a *model.Mention) the way resolveField does: a panic or an error is
// reported at the field with its location, and a nil user of a non-null
// field is the marshaller's null error. failed means the field is null.
// The resolver gets the page's context, not a FieldContext of its own: it
// reads none, and making one per comment is what the fast path saves.
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
			e.commentR = e.s.resolvers.Comment()
		}
		u, err = e.commentR.Sender(e.pageCtx, o)
	case *model.Mention:
		if e.mentionR == nil {
			e.mentionR = e.s.resolvers.Mention()
		}
		u, err = e.mentionR.User(e.pageCtx, o)
	}
	if err != nil {
		ctx := e.fieldCtx(at)
		e.op.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		return nil, true
	}
	if u == nil && nonNull {
		e.nullError(at)
		return nil, true
	}
	return u, false
}
