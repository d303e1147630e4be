package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

const (
	roomA   = "3f1c2a9e-0000-4000-8000-00000000000a"
	roomB   = "3f1c2a9e-0000-4000-8000-00000000000b"
	userAna = "6f1c0000-0000-4000-8000-0000000000a1"
	userZoe = "9b2e0000-0000-4000-8000-0000000000c4"
)

// klinkWorld starts a K-LINK emulator with two rooms: roomA holds n comments
// from Ana and Zoë mentioning each other; roomB is empty.
func klinkWorld(t *testing.T, n int) *klinktest.Server {
	t.Helper()
	k := klinktest.NewServer(klinktest.Options{})
	t.Cleanup(k.Close)
	k.AddUser(userAna, "Ana Lee")
	k.AddUser(userZoe, "Zoë 🚀 Park")
	k.AddRoom(roomA, "Jane Customer")
	k.AddRoom(roomB, "Bob Customer")
	for i := 0; i < n; i++ {
		sender, other := userAna, userZoe
		if i%2 == 1 {
			sender, other = userZoe, userAna
		}
		if _, err := k.AddComment(roomA, sender, fmt.Sprintf("comment %02d for {0}", i), other); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func klinkProvider(k *klinktest.Server) config.Provider {
	return config.Provider{ID: "klink", Kind: "klink", BaseURL: k.URL, Token: klinktest.DefaultToken, WebhookSecret: "whsec-test", Threads: []string{roomA, roomB}}
}

type commentJSON struct {
	ID     string `json:"id"`
	Ref    string `json:"ref"`
	Text   string `json:"text"`
	Sender *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"sender"`
	Mentions []struct {
		Offset int `json:"offset"`
		Length int `json:"length"`
		User   struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
	} `json:"mentions"`
	CreatedAt string `json:"createdAt"`
}

type connJSON struct {
	Edges []struct {
		Cursor string      `json:"cursor"`
		Node   commentJSON `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
		StartCursor     *string `json:"startCursor"`
		EndCursor       *string `json:"endCursor"`
	} `json:"pageInfo"`
}

const commentFields = `id ref text createdAt sender { id name } mentions { offset length user { id name } }`

// spanText returns the code-point span of text.
func spanText(text string, offset, length int) string {
	r := []rune(text)
	if offset < 0 || offset+length > len(r) {
		return "<out of range>"
	}
	return string(r[offset : offset+length])
}

func TestKlinkThreadCommentsWithSendersAndMentions(t *testing.T) {
	k := klinkWorld(t, 5)
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	resp := g.query(`query($ref: String!) {
		providers { id kind name capabilities healthy threads(first: 10) { nodes { id ref } } }
		thread(provider: "klink", kind: ROOM, ref: $ref) { id ref kind provider { id } comments(first: 10) { edges { cursor node { `+commentFields+` } } pageInfo { hasNextPage hasPreviousPage } } }
	}`, map[string]any{"ref": roomA})
	resp.mustNoErrors(t)
	var data struct {
		Providers []struct {
			ID           string   `json:"id"`
			Kind         string   `json:"kind"`
			Capabilities []string `json:"capabilities"`
			Healthy      bool     `json:"healthy"`
			Threads      struct {
				Nodes []struct{ Ref string } `json:"nodes"`
			} `json:"threads"`
		} `json:"providers"`
		Thread struct {
			ID       string   `json:"id"`
			Ref      string   `json:"ref"`
			Kind     string   `json:"kind"`
			Comments connJSON `json:"comments"`
		} `json:"thread"`
	}
	resp.decode(t, &data)
	if len(data.Providers) != 1 || data.Providers[0].Kind != "KLINK" || !data.Providers[0].Healthy {
		t.Fatalf("providers = %+v", data.Providers)
	}
	if refs := data.Providers[0].Threads.Nodes; len(refs) != 2 || refs[0].Ref != roomA {
		t.Errorf("threads = %+v", refs)
	}
	if data.Thread.ID != model.ThreadID("klink", model.ThreadKindRoom, roomA) || data.Thread.Kind != "ROOM" {
		t.Errorf("thread = %+v", data.Thread)
	}
	edges := data.Thread.Comments.Edges
	if len(edges) != 5 {
		t.Fatalf("%d comments, want 5", len(edges))
	}
	for i, e := range edges {
		c := e.Node
		if want := fmt.Sprintf("comment %02d for @", i); !strings.HasPrefix(c.Text, want) {
			t.Errorf("comment %d text %q, want prefix %q (oldest first)", i, c.Text, want)
		}
		wantSender, wantMention := "Ana Lee", "Zoë 🚀 Park"
		if i%2 == 1 {
			wantSender, wantMention = wantMention, wantSender
		}
		if c.Sender == nil || c.Sender.Name != wantSender {
			t.Errorf("comment %d sender %+v, want %s", i, c.Sender, wantSender)
		}
		if len(c.Mentions) != 1 || c.Mentions[0].User.Name != wantMention || spanText(c.Text, c.Mentions[0].Offset, c.Mentions[0].Length) != "@"+wantMention {
			t.Errorf("comment %d mentions %+v in %q", i, c.Mentions, c.Text)
		}
	}
}

func TestKlinkCreateCommentMentionsRoundTrip(t *testing.T) {
	k := klinkWorld(t, 0)
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	thread := model.ThreadID("klink", model.ThreadKindRoom, roomB)
	text := "🎉 Héllo {0}, voir {1} 👀"
	resp := g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { clientMutationId comment { `+commentFields+` } } }`,
		map[string]any{"in": map[string]any{
			"thread": thread, "text": text, "clientMutationId": "m-1",
			"mentions": []map[string]any{{"index": 0, "user": model.UserID("klink", userZoe)}, {"index": 1, "user": model.UserID("klink", userAna)}},
		}})
	resp.mustNoErrors(t)
	var out struct {
		CreateComment struct {
			ClientMutationID string      `json:"clientMutationId"`
			Comment          commentJSON `json:"comment"`
		} `json:"createComment"`
	}
	resp.decode(t, &out)
	c := out.CreateComment.Comment
	wantText := "🎉 Héllo @Zoë 🚀 Park, voir @Ana Lee 👀"
	if c.Text != wantText {
		t.Fatalf("text = %q, want %q", c.Text, wantText)
	}
	wantSpans := []struct{ offset, length int }{
		{utf8.RuneCountInString("🎉 Héllo "), utf8.RuneCountInString("@Zoë 🚀 Park")},
		{utf8.RuneCountInString("🎉 Héllo @Zoë 🚀 Park, voir "), utf8.RuneCountInString("@Ana Lee")},
	}
	check := func(where string, c commentJSON) {
		t.Helper()
		if len(c.Mentions) != 2 {
			t.Fatalf("%s: mentions %+v", where, c.Mentions)
		}
		for i, w := range wantSpans {
			if m := c.Mentions[i]; m.Offset != w.offset || m.Length != w.length {
				t.Errorf("%s: mention %d span (%d,%d), want (%d,%d)", where, i, m.Offset, m.Length, w.offset, w.length)
			}
		}
		if c.Mentions[0].User.ID != model.UserID("klink", userZoe) || c.Mentions[1].User.Name != "Ana Lee" {
			t.Errorf("%s: mentioned users %+v", where, c.Mentions)
		}
		if c.Sender == nil || c.Sender.Name != klinktest.BotName {
			t.Errorf("%s: sender %+v, want the token's user", where, c.Sender)
		}
	}
	check("create", c)
	if out.CreateComment.ClientMutationID != "m-1" {
		t.Errorf("clientMutationId = %q", out.CreateComment.ClientMutationID)
	}

	// Read it back through the thread: the same text and spans.
	resp = g.query(`query($id: ID!) { node(id: $id) { ... on Thread { comments(last: 1) { edges { node { `+commentFields+` } } } } } }`, map[string]any{"id": thread})
	resp.mustNoErrors(t)
	var back struct {
		Node struct {
			Comments connJSON `json:"comments"`
		} `json:"node"`
	}
	resp.decode(t, &back)
	if len(back.Node.Comments.Edges) != 1 {
		t.Fatalf("read back %d comments", len(back.Node.Comments.Edges))
	}
	got := back.Node.Comments.Edges[0].Node
	if got.Text != wantText || got.ID != c.ID {
		t.Errorf("read back %q (%s), want %q (%s)", got.Text, got.ID, wantText, c.ID)
	}
	check("read back", got)

	// The same clientMutationId again creates nothing new.
	before := k.CommentCount(roomB)
	resp = g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`,
		map[string]any{"in": map[string]any{
			"thread": thread, "text": text, "clientMutationId": "m-1",
			"mentions": []map[string]any{{"index": 0, "user": model.UserID("klink", userZoe)}, {"index": 1, "user": model.UserID("klink", userAna)}},
		}})
	resp.mustNoErrors(t)
	var again struct {
		CreateComment struct{ Comment struct{ ID string } } `json:"createComment"`
	}
	resp.decode(t, &again)
	if again.CreateComment.Comment.ID != c.ID || k.CommentCount(roomB) != before {
		t.Errorf("retry with the same clientMutationId: id %s (first %s), comments %d -> %d", again.CreateComment.Comment.ID, c.ID, before, k.CommentCount(roomB))
	}
}

func TestKlinkCreateCommentRefusesBadInputWithoutUpstreamCall(t *testing.T) {
	k := klinkWorld(t, 0)
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	thread := model.ThreadID("klink", model.ThreadKindRoom, roomB)
	tests := []struct {
		name string
		in   map[string]any
	}{
		{"placeholder without mention", map[string]any{"thread": thread, "text": "hi {0}"}},
		{"mention without placeholder", map[string]any{"thread": thread, "text": "hi", "mentions": []map[string]any{{"index": 0, "user": model.UserID("klink", userAna)}}}},
		{"mention of another provider", map[string]any{"thread": thread, "text": "hi {0}", "mentions": []map[string]any{{"index": 0, "user": model.UserID("virola", "1")}}}},
		{"thread is not an ID", map[string]any{"thread": "garbage", "text": "hi"}},
		{"thread is a user ID", map[string]any{"thread": model.UserID("klink", userAna), "text": "hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k.ResetCalls()
			resp := g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`, map[string]any{"in": tt.in})
			if codes := resp.codes(); len(codes) != 1 || codes[0] != "BAD_USER_INPUT" {
				t.Errorf("codes = %v (%+v)", codes, resp.Errors)
			}
			if n := k.Calls(klinktest.EndpointCreateComment); n != 0 {
				t.Errorf("%d upstream create calls", n)
			}
		})
	}
}

func TestKlinkPagingBothWays(t *testing.T) {
	const total = 23
	k := klinkWorld(t, total)
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	thread := model.ThreadID("klink", model.ThreadKindRoom, roomA)
	page := func(args string) connJSON {
		t.Helper()
		resp := g.query(`query($id: ID!) { node(id: $id) { ... on Thread { comments(`+args+`) { edges { cursor node { text } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } }`, map[string]any{"id": thread})
		resp.mustNoErrors(t)
		var out struct {
			Node struct{ Comments connJSON } `json:"node"`
		}
		resp.decode(t, &out)
		return out.Node.Comments
	}
	index := func(text string) int {
		var i int
		fmt.Sscanf(text, "comment %d", &i)
		return i
	}

	// Forward, 5 at a time: every comment once, in order.
	var seen []int
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("forward paging does not end")
		}
		args := "first: 5"
		if after != "" {
			args += fmt.Sprintf(", after: %q", after)
		}
		c := page(args)
		for _, e := range c.Edges {
			seen = append(seen, index(e.Node.Text))
		}
		if after != "" && !c.PageInfo.HasPreviousPage {
			t.Errorf("page after %q says no previous page", after)
		}
		if !c.PageInfo.HasNextPage {
			break
		}
		after = *c.PageInfo.EndCursor
	}
	for i := range total {
		if i >= len(seen) || seen[i] != i {
			t.Fatalf("forward order %v", seen)
		}
	}
	if len(seen) != total {
		t.Fatalf("forward saw %d, want %d", len(seen), total)
	}

	// Backward, 4 at a time: every comment once, each page oldest first.
	seen = nil
	before := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("backward paging does not end")
		}
		args := "last: 4"
		if before != "" {
			args += fmt.Sprintf(", before: %q", before)
		}
		c := page(args)
		var got []int
		for _, e := range c.Edges {
			got = append(got, index(e.Node.Text))
		}
		seen = append(got, seen...)
		if !c.PageInfo.HasPreviousPage {
			break
		}
		before = *c.PageInfo.StartCursor
	}
	if len(seen) != total {
		t.Fatalf("backward saw %d (%v), want %d", len(seen), seen, total)
	}
	for i := range total {
		if seen[i] != i {
			t.Fatalf("backward order %v", seen)
		}
	}

	// Bounds.
	for _, args := range []string{"first: 0", "first: 101", "last: -1", "first: 2, last: 2", `before: "x"`} {
		resp := g.query(`query($id: ID!) { node(id: $id) { ... on Thread { comments(`+args+`) { edges { cursor } } } } }`, map[string]any{"id": thread})
		if codes := resp.codes(); len(codes) != 1 || codes[0] != "BAD_USER_INPUT" {
			t.Errorf("comments(%s): codes %v", args, codes)
		}
	}
}

// An upstream failure is reported with its code and provider at its path, and
// fields that do not need that upstream still resolve.
func TestKlinkUpstreamFailuresMapToCodes(t *testing.T) {
	tests := []struct {
		name  string
		fault klinktest.Fault
		code  string
	}{
		{"401", klinktest.Fault{Status: 401, Body: `{"message":"Unauthenticated."}`}, "UNAUTHENTICATED"},
		{"404", klinktest.Fault{Status: 404, Body: `{"message":"Room not found"}`}, "NOT_FOUND"},
		{"429", klinktest.Fault{Status: 429, Body: `{"message":"Too Many Attempts."}`, Header: http.Header{"Retry-After": {"7"}}}, "UPSTREAM_RATE_LIMITED"},
		{"500", klinktest.Fault{Status: 500, Body: `{"message":"Server Error"}`}, "UPSTREAM_UNAVAILABLE"},
		{"garbage", klinktest.Fault{Status: 200, Body: `{"requestId": "x", "data": [{"id": 1,`}, "UPSTREAM_UNAVAILABLE"},
		{"timeout", klinktest.Fault{Delay: 4 * time.Second}, "UPSTREAM_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := klinkWorld(t, 3)
			g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
			tt.fault.Times = 100
			k.FailNext(klinktest.EndpointListComments, tt.fault)
			resp := g.query(`query($ref: String!) { providers { id } thread(provider: "klink", kind: ROOM, ref: $ref) { comments(first: 2) { edges { cursor } } } }`,
				map[string]any{"ref": roomA})
			if len(resp.Errors) == 0 {
				t.Fatalf("no error; data %s", resp.Data)
			}
			e := resp.Errors[0]
			if e.Extensions["code"] != tt.code || e.Extensions["provider"] != "klink" {
				t.Errorf("extensions = %v, want code %s provider klink", e.Extensions, tt.code)
			}
			if tt.code == "UPSTREAM_RATE_LIMITED" && e.Extensions["retryAfter"] != float64(7) {
				t.Errorf("retryAfter = %v, want 7", e.Extensions["retryAfter"])
			}
			if len(e.Path) == 0 || e.Path[0] != "thread" {
				t.Errorf("error path %v, want under thread", e.Path)
			}
			var data struct {
				Providers []struct{ ID string } `json:"providers"`
			}
			resp.decode(t, &data)
			if len(data.Providers) != 1 {
				t.Errorf("providers did not resolve beside the failure: %s", resp.Data)
			}
			if strings.Contains(g.log.String(), klinktest.DefaultToken) || strings.Contains(e.Message, klinktest.DefaultToken) {
				t.Error("the upstream token leaked into a log or error")
			}
		})
	}
}

func TestNodeResolvesEveryType(t *testing.T) {
	k := klinkWorld(t, 2)
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	resp := g.query(`query($ref: String!) { thread(provider: "klink", kind: ROOM, ref: $ref) { id comments(first: 1) { nodes { id sender { id } } } } }`, map[string]any{"ref": roomA})
	resp.mustNoErrors(t)
	var first struct {
		Thread struct {
			ID       string
			Comments struct {
				Nodes []struct {
					ID     string
					Sender struct{ ID string }
				}
			}
		}
	}
	resp.decode(t, &first)
	c := first.Thread.Comments.Nodes[0]
	ids := []string{first.Thread.ID, c.ID, c.Sender.ID, model.EncodeID(model.GlobalID{Provider: "klink", Type: model.TypeRoom, Ref: []string{roomA}})}
	resp = g.query(`query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, map[string]any{"ids": append(ids, model.ThreadID("klink", model.ThreadKindRoom, "3f1c2a9e-0000-4000-8000-0000000000ff"))})
	var out struct {
		Nodes []*struct {
			Typename string `json:"__typename"`
			ID       string `json:"id"`
		} `json:"nodes"`
	}
	resp.decode(t, &out)
	want := []string{"Thread", "Comment", "User", "Room"}
	for i, w := range want {
		if out.Nodes[i] == nil || out.Nodes[i].Typename != w || out.Nodes[i].ID != ids[i] {
			t.Errorf("nodes[%d] = %+v, want %s %s (errors %+v)", i, out.Nodes[i], w, ids[i], resp.Errors)
		}
	}
	if out.Nodes[4] != nil {
		t.Errorf("an unknown room resolved: %+v", out.Nodes[4])
	}
	resp = g.query(`{ node(id: "bm90IGFuIGlk") { id } }`, nil)
	if codes := resp.codes(); len(codes) != 1 || codes[0] != "BAD_USER_INPUT" {
		t.Errorf("garbage ID: %v", codes)
	}
}
