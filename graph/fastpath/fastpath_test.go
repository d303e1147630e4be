package fastpath_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/fastpath"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers"
	"github.com/commentgraph/commentgraph/resolvers/loaders"
)

// pageProvider serves fixed threads of comments and a fixed directory: the
// same data to both executors, with the shapes that exercise their edges
// (missing users with and without hints, nil list elements, a zero time, a
// failing thread, strings that need escaping).
type pageProvider struct {
	threads map[string][]*model.Comment
	users   map[string]*model.User
	// failThread's list answers an upstream error.
	failThread string
	// panicUser's look-up panics.
	panicUser string
}

func (p *pageProvider) Info() *model.Provider {
	return &model.Provider{ID: "fake", Kind: model.ProviderKindKlink, Name: "Fake", MaxBatch: 2}
}

func (p *pageProvider) Thread(_ context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	if _, ok := p.threads[ref]; !ok && ref != p.failThread {
		return nil, &model.Error{Code: model.CodeNotFound, Provider: "fake", Message: "no such thread"}
	}
	th := &model.Thread{ProviderID: "fake", Kind: kind, Ref: ref}
	if ref == "ok" {
		th.Title = ptr(`The "ok" thread ✅`)
	}
	return th, nil
}

func (p *pageProvider) ListThreads(context.Context, providers.Page) (*providers.ThreadPage, error) {
	return &providers.ThreadPage{}, nil
}

func (p *pageProvider) ListComments(_ context.Context, th *model.Thread, page providers.Page) (*providers.CommentPage, error) {
	if th.Ref == p.failThread {
		return nil, &model.Error{Code: model.CodeUpstreamUnavailable, Provider: "fake", Message: "upstream answered 503"}
	}
	cs := p.threads[th.Ref]
	start, end := 0, len(cs)
	if page.Last > 0 { // backward from before
		if page.Before != "" {
			fmt.Sscan(page.Before, &end)
		}
		start = max(0, end-page.Last)
	} else { // forward from after
		if page.After != "" {
			fmt.Sscan(page.After, &start)
			start++
		}
		end = min(len(cs), start+page.First)
	}
	out := &providers.CommentPage{HasPreviousPage: start > 0, HasNextPage: end < len(cs)}
	for i := start; i < end; i++ {
		c := *cs[i] // a copy: each response links its own
		out.Edges = append(out.Edges, providers.CommentEdge{Cursor: fmt.Sprint(i), Comment: &c})
	}
	return out, nil
}

func (p *pageProvider) GetComment(_ context.Context, th *model.Thread, ref string) (*model.Comment, error) {
	for _, c := range p.threads[th.Ref] {
		if c.Ref == ref {
			cp := *c
			return &cp, nil
		}
	}
	return nil, &model.Error{Code: model.CodeNotFound, Provider: "fake", Message: "not found"}
}

func (p *pageProvider) CreateComment(context.Context, providers.CommentInput) (*model.Comment, error) {
	return nil, &model.Error{Code: model.CodeUnsupported, Provider: "fake", Message: "read only"}
}

func (p *pageProvider) Users(_ context.Context, refs []string) (map[string]*model.User, error) {
	out := map[string]*model.User{}
	for _, r := range refs {
		if r == p.panicUser {
			panic("directory exploded")
		}
		if u, ok := p.users[r]; ok {
			out[r] = u
		}
	}
	return out, nil
}

func (p *pageProvider) Rooms(_ context.Context, refs []string) (map[string]*model.Room, error) {
	out := map[string]*model.Room{}
	for _, r := range refs {
		if r == "lobby" {
			out[r] = &model.Room{ProviderID: "fake", Ref: r, Name: ptr("Lobby")}
		}
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func newPageProvider() *pageProvider {
	at := func(min int) time.Time { return time.Date(2025, 3, 14, 9, min, 7, 123456789, time.UTC) }
	u := func(ref, name string) *model.User {
		return &model.User{ProviderID: "fake", Ref: ref, Name: name}
	}
	users := map[string]*model.User{
		"ana":  {ProviderID: "fake", Ref: "ana", Name: `Ana "the \ lead" Lee`, Email: ptr("ana@example.com"), Title: ptr("Lead"), Department: ptr("Ops"), Unit: ptr("Lyon"), AvatarURL: ptr("https://x.test/a.png?s=1&t=<2>")},
		"bo":   u("bo", "Bo\tTan\n✅"),
		"zoe":  u("zoe", "Zoë Park 🥐"),
		"ctrl": u("ctrl", "bell\x07null\x01"),
	}
	mention := func(ref string, off int, hint *model.User) *model.Mention {
		return &model.Mention{ProviderID: "fake", UserRef: ref, Offset: off, Length: 4, UserHint: hint}
	}
	comment := func(thread, ref string, min int, sender string, ms ...*model.Mention) *model.Comment {
		return &model.Comment{ProviderID: "fake", ThreadKind: model.ThreadKindRoom, ThreadRef: thread, Ref: ref,
			Text: "hi @ana, <b>&</b> \"quoted\"\n\tline " + ref, Body: "<p>" + ref + "</p>", Markup: model.MarkupHTML,
			SenderRef: sender, Mentions: ms, CreatedAt: at(min), Attachments: []*model.Attachment{}}
	}
	ok := []*model.Comment{
		comment("ok", "c1", 1, "ana", mention("bo", 3, nil), mention("zoe", 9, nil)),
		comment("ok", "c2", 3, "bo"),
		comment("ok", "c3", 5, "zoe", mention("ana", 0, nil)),
		comment("ok", "c4", 7, "", mention("gone", 2, u("gone", "Hinted Gone"))),
		comment("ok", "c5", 9, "ctrl"),
	}
	ok[1].Priority, ok[1].MessageType = ptr("BLOCKER"), ptr("ISSUE")
	ok[1].EditedAt = ptr(at(4))
	ok[1].Deleted = true
	ok[2].Attachments = []*model.Attachment{
		{ProviderID: "fake", Ref: "a1", Name: "plan.pdf", MimeType: ptr("application/pdf"), Size: ptr(12345), URL: ptr("https://x.test/f?a=1&b=2"), State: model.AttachmentStateReady, Kind: "FILE"},
		{ProviderID: "fake", Ref: "a2", Name: "voice", State: model.AttachmentStateProcessing, Kind: "VOICE", Duration: ptr(2.5), Width: ptr(0), Height: ptr(-1)},
		{ProviderID: "fake", Ref: "a3", Name: "big", State: model.AttachmentStateFailed, Kind: "VIDEO", Duration: ptr(1e21)},
	}
	ok[3].SenderHint = u("x", "Hinted Sender")
	other := []*model.Comment{
		comment("other", "o1", 2, "zoe"),
		comment("other", "o2", 4, "ana", mention("ana", 1, nil), mention("ana", 6, nil)),
		comment("other", "o3", 6, "bo"),
	}
	return &pageProvider{
		users: users,
		threads: map[string][]*model.Comment{
			"ok":    ok,
			"other": other,
			// The sender is in no directory and named by no hint: sender
			// (nullable) is null with NOT_FOUND.
			"nosender": {comment("nosender", "n1", 8, "ghost", mention("bo", 1, nil))},
			// A mentioned user is in no directory and has no hint: Mention.user
			// is non-null, so the null climbs to data.
			"nomention": {comment("nomention", "m1", 10, "ana", mention("ghost", 1, nil), mention("ghost2", 5, nil))},
			// Nil elements and a zero createdAt.
			"broken": {
				{ProviderID: "fake", ThreadKind: model.ThreadKindRoom, ThreadRef: "broken", Ref: "b1", Text: "x", SenderRef: "ana", CreatedAt: at(11),
					Mentions: []*model.Mention{nil}, Attachments: []*model.Attachment{nil}},
			},
			"zerotime": {{ProviderID: "fake", ThreadKind: model.ThreadKindRoom, ThreadRef: "zerotime", Ref: "z1", Text: "x", SenderRef: "ana"}},
			"panics":   {comment("panics", "p1", 12, "boom")},
		},
		failThread: "down",
		panicUser:  "boom",
	}
}

// gateway is one GraphQL server over p, with or without the fast path, set
// up as the gateway sets up its own (per-response loaders, a complexity-free
// handler with the POST transport).
type gateway struct {
	srv *httptest.Server
	fp  *fastpath.Schema // nil without the fast path
}

func newGateway(t testing.TB, p providers.Provider, fast bool, opts ...func(*handler.Server)) *gateway {
	t.Helper()
	reg := providers.NewRegistry(p)
	r := &resolvers.Resolver{Providers: reg}
	var es graphql.ExecutableSchema = graph.NewExecutableSchema(graph.Config{Resolvers: r})
	var fp *fastpath.Schema
	if fast {
		fp = fastpath.New(es, r)
		es = fp
	}
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(loaders.With(ctx, loaders.New(reg, loaders.Options{})))
	})
	for _, o := range opts {
		o(srv)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &gateway{srv: hs, fp: fp}
}

type response struct {
	Data   json.RawMessage   `json:"data"`
	Errors []json.RawMessage `json:"errors"`
}

func (g *gateway) post(t *testing.T, query string, vars map[string]any) response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	res, err := http.Post(g.srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out response
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func thread(ref string) string { return model.ThreadID("fake", model.ThreadKindRoom, ref) }

func commentID(thread, ref string) string {
	return model.CommentID("fake", model.ThreadKindRoom, thread, ref)
}

// threadField selects the fake provider's thread ref as alias.
func threadField(alias, ref string) string {
	return alias + `: thread(provider: "fake", kind: ROOM, ref: "` + ref + `")`
}

const allFields = `__typename
edges { __typename cursor node { ...everything } }
nodes { id }
pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }`

const everything = `fragment everything on Comment {
  __typename id ref text body markup priority messageType createdAt editedAt deleted
  sender { __typename id ref name email title department unit avatarUrl }
  mentions { __typename offset length user { __typename id ref name email avatarUrl } }
  attachments { __typename id name mimeType size url state kind width height duration }
}`

// The fast path writes, for every shape of comment page it accepts, the
// bytes the generated executor writes, and reports the same errors (paths,
// locations, messages) with the same nulls.
func TestFastPathAnswersAsTheGeneratedExecutor(t *testing.T) {
	p := newPageProvider()
	slow, fast := newGateway(t, p, false), newGateway(t, p, true)
	all := []string{thread("ok"), thread("other")}
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		// wantErrors says the case is about errors: it must have some.
		wantErrors bool
	}{
		{name: "the benchmark's page", query: `query($t: [ID!]!) { comments(threads: $t, first: 50) { edges { node { id text sender { name } mentions { offset length user { name } } } } } }`, vars: map[string]any{"t": all}},
		{name: "every field", query: `query($t: [ID!]!) { comments(threads: $t) { ` + allFields + ` } } ` + everything, vars: map[string]any{"t": all}},
		{name: "aliases, repeated fields, merged selections", query: `{ __typename c: comments(threads: ["` + thread("ok") + `"], first: 3) { e: edges { n: node { i: id id text s: sender { n: name } sender { id } } } edges { node { text mentions { offset } mentions { length u: user { name } } } } } }`},
		{name: "inline fragments on Node and Comment", query: `{ comments(threads: ["` + thread("ok") + `"]) { nodes { ... on Node { id __typename } ... on Comment { sender { ... on Node { id } ... on User { name } } } } } }`},
		{name: "skip and include by variable", query: `query($yes: Boolean!, $no: Boolean!) { comments(threads: ["` + thread("ok") + `"]) { edges @include(if: $yes) { cursor @skip(if: $yes) node { text @include(if: $no) sender @skip(if: $no) { name } } } pageInfo @skip(if: $yes) { endCursor } } }`, vars: map[string]any{"yes": true, "no": false}},
		{name: "one thread as a bare ID", query: `{ comments(threads: "` + thread("other") + `", first: 2) { pageInfo { hasNextPage endCursor } nodes { ref } } }`},
		{name: "two timelines in one query", query: `query($t: [ID!]!) { a: comments(threads: $t, first: 2) { nodes { ref sender { name } } } b: comments(threads: $t, first: 4) { nodes { ref mentions { user { name } } } } }`, vars: map[string]any{"t": all}},
		{name: "first as a variable", query: `query($t: [ID!]!, $n: Int) { comments(threads: $t, first: $n) { edges { cursor node { ref } } } }`, vars: map[string]any{"t": all, "n": 3}},
		{name: "a sender nobody knows", query: `{ comments(threads: ["` + thread("nosender") + `"]) { nodes { ref sender { name } mentions { user { name } } } } }`, wantErrors: true},
		{name: "a mentioned user nobody knows", query: `{ comments(threads: ["` + thread("nomention") + `", "` + thread("ok") + `"]) { nodes { ref mentions { offset user { name } } } } }`, wantErrors: true},
		{name: "nil elements", query: `{ comments(threads: ["` + thread("broken") + `"]) { nodes { ref mentions { offset } attachments { name } } } }`, wantErrors: true},
		{name: "a zero createdAt", query: `{ comments(threads: ["` + thread("zerotime") + `"]) { edges { node { ref createdAt } } } }`, wantErrors: true},
		{name: "a thread whose upstream fails", query: `{ comments(threads: ["` + thread("ok") + `", "` + thread("down") + `"], first: 3) { nodes { ref } pageInfo { hasNextPage } } }`, wantErrors: true},
		{name: "a malformed thread ID", query: `{ comments(threads: ["nope"]) { nodes { ref } } }`, wantErrors: true},
		{name: "first out of range", query: `{ comments(threads: ["` + thread("ok") + `"], first: 0) { nodes { ref } } }`, wantErrors: true},
		{name: "a directory that panics", query: `{ comments(threads: ["` + thread("panics") + `"]) { nodes { ref sender { name } } } }`, wantErrors: true},
		{name: "a cursor that is not one", query: `{ comments(threads: ["` + thread("ok") + `"], after: "%%%") { nodes { ref } } }`, wantErrors: true},

		// Thread.comments, through thread, node and nodes.
		{name: "the benchmark's page through thread", query: `{ ` + threadField("t", "ok") + ` { comments(last: 50) { edges { node { id text sender { name } mentions { offset length user { name } } } } } } }`},
		{name: "every field through thread", query: `{ ` + threadField("t", "ok") + ` { __typename id kind ref title comments(first: 10) { ` + allFields + ` } } } ` + everything},
		{name: "three threads as aliases", query: `{ ` + threadField("a", "ok") + ` { comments(last: 2) { nodes { ref sender { name } } } } ` + threadField("b", "other") + ` { ref comments(last: 5) { nodes { ref mentions { user { name } } } } } ` + threadField("c", "nosender") + ` { comments { nodes { ref sender { name } } } } __typename }`, wantErrors: true},
		{name: "a timeline and a thread in one query", query: `query($t: [ID!]!) { comments(threads: $t, first: 2) { nodes { ref } } ` + threadField("t", "other") + ` { comments(last: 2) { nodes { ref sender { name } } } } }`, vars: map[string]any{"t": all}},
		{name: "a thread paged backward", query: `{ ` + threadField("t", "ok") + ` { comments(last: 2, before: "3") { edges { cursor node { ref } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`},
		{name: "a thread by variables, with fragments and skip", query: `query($p: ID!, $k: ThreadKind!, $r: String!, $no: Boolean!) { thread(provider: $p, kind: $k, ref: $r) { ...page } } fragment page on Thread { id comments(last: 3) @skip(if: $no) { ...conn } } fragment conn on CommentConnection { nodes { ... on Node { id } ...body } } fragment body on Comment { text sender @include(if: $no) { name } }`, vars: map[string]any{"p": "fake", "k": "ROOM", "r": "other", "no": false}},
		{name: "paging arguments a thread refuses", query: `{ ` + threadField("t", "ok") + ` { ref comments(first: 1, last: 1) { nodes { ref } } } }`, wantErrors: true},
		{name: "a thread nobody has", query: `{ ` + threadField("t", "missing") + ` { ref comments { nodes { ref } } } }`, wantErrors: true},
		{name: "a thread whose list fails, beside one that answers", query: `{ ` + threadField("t", "down") + ` { ref comments(last: 3) { nodes { ref } } } ` + threadField("u", "ok") + ` { comments(last: 1) { nodes { ref } } } }`, wantErrors: true},
		{name: "a mentioned user nobody knows, through thread", query: `{ ` + threadField("t", "nomention") + ` { ref comments { nodes { ref mentions { offset user { name } } } } } }`, wantErrors: true},
		{name: "nil elements and a zero createdAt, through thread", query: `{ ` + threadField("b", "broken") + ` { comments { nodes { ref mentions { offset } attachments { name } } } } ` + threadField("z", "zerotime") + ` { comments { edges { node { ref createdAt } } } } }`, wantErrors: true},
		{name: "a directory that panics, through thread", query: `{ ` + threadField("t", "panics") + ` { comments { nodes { ref sender { name } } } } }`, wantErrors: true},
		{name: "node with fragments on Thread", query: `query($id: ID!) { node(id: $id) { __typename id ... on Thread { ref title comments(last: 2) { nodes { ref sender { name } mentions { user { name } } } } } ... on Comment { text } } }`, vars: map[string]any{"id": thread("ok")}},
		{name: "node that is a comment", query: `{ node(id: "` + commentID("ok", "c3") + `") { id ... on Comment { ref text createdAt attachments { id name state } } ... on Thread { comments { nodes { ref } } } } }`},
		{name: "node that does not exist, and one that is no ID", query: `{ a: node(id: "` + thread("missing") + `") { id } b: node(id: "nope") { id } }`, wantErrors: true},
		{name: "nodes of every type", query: `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Thread { kind comments(last: 3) { nodes { ref mentions { user { name } } } } } ... on Comment { text } ... on User { name email } ... on Room { roomName: name } ... on Attachment { fileName: name } } }`,
			vars: map[string]any{"ids": []string{thread("ok"), thread("other"), commentID("ok", "c1"), model.UserID("fake", "ana"), model.EncodeID(model.GlobalID{Type: model.TypeRoom, Provider: "fake", Ref: []string{"lobby"}}), thread("missing"), "nope"}}, wantErrors: true},
		{name: "nodes whose threads fail or lose a mentioned user", query: `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Thread { comments { nodes { ref mentions { user { name } } } } } } }`,
			vars: map[string]any{"ids": []string{thread("ok"), thread("down"), thread("nomention"), thread("other")}}, wantErrors: true},
		{name: "nodes as a bare ID", query: `{ nodes(ids: "` + thread("other") + `") { ... on Thread { comments(last: 1) { edges { cursor } } } } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := slow.post(t, tc.query, tc.vars)
			before, _ := fast.fp.Served()
			got := fast.post(t, tc.query, tc.vars)
			if after, _ := fast.fp.Served(); after != before+1 {
				t.Errorf("the fast path did not take the query")
			}
			if !bytes.Equal(got.Data, want.Data) {
				t.Errorf("data differs\nfast:      %s\ngenerated: %s", got.Data, want.Data)
			}
			if g, w := sortedErrors(got.Errors), sortedErrors(want.Errors); !slices.Equal(g, w) {
				t.Errorf("errors differ\nfast:      %s\ngenerated: %s", strings.Join(g, "\n           "), strings.Join(w, "\n           "))
			}
			if tc.wantErrors != (len(want.Errors) > 0) {
				t.Errorf("generated executor: %d errors; the case means to have errors: %v", len(want.Errors), tc.wantErrors)
			}
		})
	}

	// Walking pages with the fast path's cursors gives what the generated
	// executor gives.
	q := `query($t: [ID!]!, $after: String) { comments(threads: $t, first: 3, after: $after) { edges { cursor node { ref } } pageInfo { hasNextPage endCursor } } }`
	var after any
	for page := 0; page < 4; page++ {
		vars := map[string]any{"t": all, "after": after}
		want, got := slow.post(t, q, vars), fast.post(t, q, vars)
		if !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("page %d differs\nfast:      %s\ngenerated: %s", page, got.Data, want.Data)
		}
		var d struct {
			Comments struct{ PageInfo struct{ EndCursor *string } }
		}
		if err := json.Unmarshal(got.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Comments.PageInfo.EndCursor == nil {
			break
		}
		after = *d.Comments.PageInfo.EndCursor
	}
}

// sortedErrors puts errors in a stable order: the generated executor
// resolves fields concurrently, so its errors come in any order.
func sortedErrors(errs []json.RawMessage) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		var v any
		_ = json.Unmarshal(e, &v)
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	slices.Sort(out)
	return out
}

// What the fast path does not resolve goes to the generated executor whole,
// and still works: fields it declines, a comment's users outside a page
// (no look-ahead filled their loader), other root fields, introspection.
func TestFastPathLeavesTheRestToTheGeneratedExecutor(t *testing.T) {
	p := newPageProvider()
	slow, fast := newGateway(t, p, false), newGateway(t, p, true)
	for _, tc := range []struct{ name, query, want string }{
		{"a comment's provider", `{ comments(threads: ["` + thread("other") + `"], first: 1) { nodes { ref provider { id } } } }`, `{"comments":{"nodes":[{"ref":"o3","provider":{"id":"fake"}}]}}`},
		{"a comment's thread", `{ comments(threads: ["` + thread("other") + `"], first: 1) { nodes { thread { ref } } } }`, `{"comments":{"nodes":[{"thread":{"ref":"other"}}]}}`},
		{"a user's provider", `{ comments(threads: ["` + thread("other") + `"], first: 1) { nodes { sender { provider { name } } } } }`, `{"comments":{"nodes":[{"sender":{"provider":{"name":"Fake"}}}]}}`},
		{"another root field", `{ providers { id } comments(threads: ["` + thread("other") + `"], first: 1) { nodes { ref } } }`, `{"providers":[{"id":"fake"}],"comments":{"nodes":[{"ref":"o3"}]}}`},
		{"a thread's provider", `{ ` + threadField("t", "other") + ` { provider { id } comments(last: 1) { nodes { ref } } } }`, `{"t":{"provider":{"id":"fake"},"comments":{"nodes":[{"ref":"o3"}]}}}`},
		{"a thread's room", `{ ` + threadField("t", "other") + ` { room { name } } }`, `{"t":{"room":null}}`},
		{"a comment's sender outside a page", `{ node(id: "` + commentID("other", "o2") + `") { ... on Comment { sender { name } mentions { user { name } } } } }`, ""},
		{"a thread on a node's interface fragment", `{ node(id: "` + thread("other") + `") { ... on Node { ... on Thread { room { name } } } } }`, `{"node":{"room":null}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := slow.post(t, tc.query, nil)
			_, before := fast.fp.Served()
			got := fast.post(t, tc.query, nil)
			if _, after := fast.fp.Served(); after != before+1 {
				t.Errorf("the query did not go to the generated executor")
			}
			if len(got.Errors) > 0 || !bytes.Equal(got.Data, want.Data) || (tc.want != "" && string(got.Data) != tc.want) {
				t.Errorf("got %s %s, want %s (generated alone: %s)", got.Data, got.Errors, tc.want, want.Data)
			}
		})
	}
}

// A server with field middleware (AroundFields) gets it on every field of
// every operation: the fast path, which does not run it, steps aside.
func TestFieldMiddlewareSendsEveryOperationToTheGeneratedExecutor(t *testing.T) {
	p := newPageProvider()
	var fields atomic.Int64
	aroundFields := func(srv *handler.Server) {
		srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
			fields.Add(1)
			return next(ctx)
		})
	}
	slow, fast := newGateway(t, p, false, aroundFields), newGateway(t, p, true, aroundFields)
	for _, q := range []string{
		`{ comments(threads: ["` + thread("ok") + `"], first: 50) { edges { node { id text sender { name } mentions { offset length user { name } } } } } }`,
		`{ ` + threadField("t", "ok") + ` { comments(last: 50) { edges { node { id text sender { name } mentions { offset length user { name } } } } } } }`,
	} {
		want := slow.post(t, q, nil)
		fastBefore, genBefore := fast.fp.Served()
		fields.Store(0)
		got := fast.post(t, q, nil)
		fastAfter, genAfter := fast.fp.Served()
		if fastAfter != fastBefore || genAfter != genBefore+1 {
			t.Errorf("%s: fast %d→%d, generated %d→%d; want it on the generated executor", q, fastBefore, fastAfter, genBefore, genAfter)
		}
		if fields.Load() == 0 {
			t.Errorf("%s: the field middleware never ran", q)
		}
		if !bytes.Equal(got.Data, want.Data) || len(got.Errors) > 0 {
			t.Errorf("%s: got %s %s, want %s", q, got.Data, got.Errors, want.Data)
		}
	}
}

// Root field middleware (AroundRootFields, which the gateway installs) runs
// on the fast path as on the generated executor, for each root field: one
// that answers null for a field without resolving it (as the gateway's does
// for a request already over), one that wraps the field's value.
func TestRootFieldMiddlewareRunsOnTheFastPath(t *testing.T) {
	p := newPageProvider()
	var mu sync.Mutex
	seen := map[string]int{}
	aroundRoot := func(srv *handler.Server) {
		srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
			f := graphql.GetRootFieldContext(ctx).Field
			mu.Lock()
			seen[f.Alias]++
			mu.Unlock()
			switch f.Alias {
			case "over":
				graphql.AddError(ctx, context.Canceled)
				return graphql.Null
			case "wrapped":
				v := next(ctx)
				return graphql.WriterFunc(func(w io.Writer) { v.MarshalGQL(w) })
			}
			return next(ctx)
		})
	}
	slow, fast := newGateway(t, p, false, aroundRoot), newGateway(t, p, true, aroundRoot)
	q := `{ over: comments(threads: ["` + thread("ok") + `"]) { nodes { ref } } ` + threadField("wrapped", "other") + ` { comments(last: 2) { nodes { ref sender { name } } } } ` + threadField("plain", "ok") + ` { ref } __typename }`
	want := slow.post(t, q, nil)
	mu.Lock()
	clear(seen)
	mu.Unlock()
	before, _ := fast.fp.Served()
	got := fast.post(t, q, nil)
	if after, _ := fast.fp.Served(); after != before+1 {
		t.Fatalf("the fast path did not take the query")
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("data differs\nfast:      %s\ngenerated: %s", got.Data, want.Data)
	}
	if g, w := sortedErrors(got.Errors), sortedErrors(want.Errors); !slices.Equal(g, w) || len(g) != 1 {
		t.Errorf("errors differ\nfast:      %s\ngenerated: %s", g, w)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen["over"] != 1 || seen["wrapped"] != 1 || seen["plain"] != 1 {
		t.Errorf("root field middleware saw %v, want over, wrapped and plain once each", seen)
	}
}
