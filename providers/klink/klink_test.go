package klink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

const testToken = "kpt_test_secret_token"

// clock is a test clock that moves one second per reading, so every comment
// the emulator stores has its own time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 2, 27, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type env struct {
	emu   *klinktest.Server
	p     *Provider
	clock *clock
	room  string
}

// newEnv starts an emulator with one room and a provider on it; edit may
// change the provider's options.
func newEnv(t *testing.T, eo klinktest.Options, edit func(*Options)) *env {
	t.Helper()
	c := newClock()
	eo.Now, eo.Tokens = c.Now, []string{testToken}
	emu := klinktest.NewServer(eo)
	t.Cleanup(emu.Close)
	emu.AddRoom("room-1", "Acme Corp")
	o := Options{ID: "kl", BaseURL: emu.URL, Token: testToken, WebhookSecret: "whsec", Now: c.Now}
	if edit != nil {
		edit(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{emu: emu, p: p, clock: c, room: "room-1"}
}

func (e *env) thread() *model.Thread {
	return &model.Thread{ProviderID: "kl", Kind: model.ThreadKindRoom, Ref: e.room, RoomRef: e.room}
}

func (e *env) addComments(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := e.emu.AddComment(e.room, klinktest.BotID, fmt.Sprintf("c%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func texts(cs []providers.CommentEdge) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Comment.Text
	}
	return out
}

func wantCode(t *testing.T, err error, code model.Code) {
	t.Helper()
	var me *model.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *model.Error", err, err)
	}
	if me.Code != code {
		t.Fatalf("code %s, want %s (%v)", me.Code, code, err)
	}
	if me.Provider != "kl" {
		t.Fatalf("provider %q, want kl", me.Provider)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	ok := Options{ID: "kl", BaseURL: "http://x", Token: "t"}
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{"no id", func(o *Options) { o.ID = "" }},
		{"no base url", func(o *Options) { o.BaseURL = "" }},
		{"no token", func(o *Options) { o.Token = "" }},
		{"page size over 100", func(o *Options) { o.PageSize = 101 }},
		{"bad configured room", func(o *Options) { o.Rooms = []string{"a/b"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			if _, err := New(o); err == nil {
				t.Fatal("New accepted bad options")
			}
		})
	}
	p, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info()
	if info.Kind != model.ProviderKindKlink || info.Name != "K-LINK" || info.ID != "kl" {
		t.Fatalf("info %+v", info)
	}
	for _, c := range []model.Capability{model.CapabilityListComments, model.CapabilityCreateComment, model.CapabilityMentions, model.CapabilityListThreads} {
		if !info.Has(c) {
			t.Errorf("capability %s missing", c)
		}
	}
	if info.Has(model.CapabilityReplies) || info.Has(model.CapabilityAttachments) {
		t.Errorf("claims capabilities K-LINK lacks: %v", info.Capabilities)
	}
}

// walk pages through the whole room; after the second page it calls between.
func walk(t *testing.T, e *env, backward bool, size int, between func()) (all []string, calls int) {
	t.Helper()
	ctx := context.Background()
	pg := providers.Page{First: size}
	if backward {
		pg = providers.Page{Last: size}
	}
	var pages [][]string
	for i := 0; ; i++ {
		if i > 50 {
			t.Fatal("paging does not end")
		}
		res, err := e.p.ListComments(ctx, e.thread(), pg)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if len(res.Edges) == 0 {
			t.Fatalf("page %d is empty", i)
		}
		for _, edge := range res.Edges {
			if edge.Comment.ProviderID != "kl" || edge.Comment.ThreadRef != e.room || edge.Comment.Ref == "" {
				t.Fatalf("comment %+v not mapped", edge.Comment)
			}
		}
		pages = append(pages, texts(res.Edges))
		if i == 1 && between != nil {
			between()
		}
		if !backward {
			if i == 0 && res.HasPreviousPage {
				t.Error("first forward page says older comments exist")
			}
			if i > 0 && !res.HasPreviousPage {
				t.Errorf("forward page %d says nothing older", i)
			}
			if !res.HasNextPage {
				break
			}
			pg.After = res.Edges[len(res.Edges)-1].Cursor
		} else {
			if i == 0 && res.HasNextPage {
				t.Error("first backward page says newer comments exist")
			}
			if !res.HasPreviousPage {
				break
			}
			pg.Before = res.Edges[0].Cursor
		}
	}
	if backward {
		for i := len(pages) - 1; i >= 0; i-- {
			all = append(all, pages[i]...)
		}
	} else {
		for _, p := range pages {
			all = append(all, p...)
		}
	}
	return all, len(pages)
}

func seq(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("c%02d", i))
	}
	return out
}

func TestListCommentsPagingBothWays(t *testing.T) {
	for _, shape := range []struct {
		name string
		opts klinktest.Options
	}{
		{"newest first, legacy block", klinktest.Options{}},
		{"newest first, no metadata", klinktest.Options{OmitPagination: true}},
		{"oldest first, legacy block", klinktest.Options{OldestFirst: true}},
		{"oldest first, no metadata", klinktest.Options{OldestFirst: true, OmitPagination: true}},
	} {
		t.Run(shape.name, func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				backward bool
				size     int
				between  bool
				want     []string
			}{
				{"forward", false, 4, false, seq(0, 23)},
				{"backward", true, 4, false, seq(0, 23)},
				{"forward, a comment arrives between pages", false, 4, true, append(seq(0, 23), "new")},
				// Walking back from the newest, a newer arrival is not in
				// the walk, and nothing older is skipped or repeated.
				{"backward, a comment arrives between pages", true, 4, true, seq(0, 23)},
				{"forward, relay page bigger than upstream page", false, 7, true, append(seq(0, 23), "new")},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e := newEnv(t, shape.opts, func(o *Options) { o.PageSize = 5 })
					e.addComments(t, 0, 23)
					var between func()
					if tc.between {
						between = func() {
							if _, err := e.emu.AddComment(e.room, klinktest.BotID, "new"); err != nil {
								t.Fatal(err)
							}
						}
					}
					got, pages := walk(t, e, tc.backward, tc.size, between)
					if strings.Join(got, ",") != strings.Join(tc.want, ",") {
						t.Fatalf("walked\n%v\nwant\n%v", got, tc.want)
					}
					if pages < 3 {
						t.Fatalf("only %d pages: the walk must span more than two", pages)
					}
				})
			}
		})
	}
}

func TestListCommentsCursorAfterNewest(t *testing.T) {
	// The poller's use: remember the newest cursor, later ask what came after.
	e := newEnv(t, klinktest.Options{}, func(o *Options) { o.PageSize = 5 })
	e.addComments(t, 0, 12)
	ctx := context.Background()
	newest, err := e.p.ListComments(ctx, e.thread(), providers.Page{Last: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(newest.Edges); len(got) != 1 || got[0] != "c11" || newest.HasNextPage || !newest.HasPreviousPage {
		t.Fatalf("newest page %v next=%v prev=%v", got, newest.HasNextPage, newest.HasPreviousPage)
	}
	after := providers.Page{First: 10, After: newest.Edges[0].Cursor}
	res, err := e.p.ListComments(ctx, e.thread(), after)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Edges) != 0 || res.HasNextPage {
		t.Fatalf("nothing new yet, got %v next=%v", texts(res.Edges), res.HasNextPage)
	}
	e.addComments(t, 12, 19)
	e.emu.ResetCalls()
	res, err = e.p.ListComments(ctx, e.thread(), after)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts(res.Edges), ","); got != strings.Join(seq(12, 19), ",") {
		t.Fatalf("after newest: %s", got)
	}
	// Newest first, the new comments and the cursor are on the first two pages.
	if n := e.emu.Calls(klinktest.EndpointListComments); n != 2 {
		t.Fatalf("polling read %d pages, want 2", n)
	}
}

func TestListCommentsOldestEndJumps(t *testing.T) {
	// With the legacy block, the oldest comments of a newest-first list are
	// read from the last pages rather than by walking every page.
	e := newEnv(t, klinktest.Options{}, func(o *Options) { o.PageSize = 5 })
	e.addComments(t, 0, 48)
	res, err := e.p.ListComments(context.Background(), e.thread(), providers.Page{First: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts(res.Edges), ","); got != "c00,c01,c02" || !res.HasNextPage || res.HasPreviousPage {
		t.Fatalf("oldest three: %s next=%v prev=%v", got, res.HasNextPage, res.HasPreviousPage)
	}
	if n := e.emu.Calls(klinktest.EndpointListComments); n != 2 {
		t.Fatalf("read %d pages, want 2 (page 1 for the block, then the last)", n)
	}
}

// addOnce is a RoundTripper that adds a comment to the room right after the
// first answer it passes on: a colleague commenting while the adapter pages.
type addOnce struct {
	e    *env
	once sync.Once
	t    *testing.T
}

func (a *addOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	a.once.Do(func() {
		if _, err := a.e.emu.AddComment(a.e.room, klinktest.BotID, "new"); err != nil {
			a.t.Error(err)
		}
	})
	return resp, err
}

func TestListCommentsArrivalDuringOneCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts klinktest.Options
		pg   providers.Page
		want string
	}{
		{"jump abandoned", klinktest.Options{}, providers.Page{First: 7}, "c00,c01,c02,c03,c04,c05,c06"},
		{"sequential", klinktest.Options{OmitPagination: true}, providers.Page{First: 7}, "c00,c01,c02,c03,c04,c05,c06"},
		{"backward from newest", klinktest.Options{}, providers.Page{Last: 7}, "c16,c17,c18,c19,c20,c21,c22"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e *env
			rt := &addOnce{t: t}
			e = newEnv(t, tc.opts, func(o *Options) {
				o.PageSize = 5
				o.HTTPClient = &http.Client{Transport: rt, Timeout: 5 * time.Second}
			})
			rt.e = e
			e.addComments(t, 0, 23)
			res, err := e.p.ListComments(context.Background(), e.thread(), tc.pg)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(texts(res.Edges), ","); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestGetComment(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, func(o *Options) { o.PageSize = 5 })
	first, err := e.emu.AddComment(e.room, klinktest.BotID, "the oldest")
	if err != nil {
		t.Fatal(err)
	}
	e.addComments(t, 0, 14)
	ctx := context.Background()
	c, err := e.p.GetComment(ctx, e.thread(), first)
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != "the oldest" || c.Ref != first || c.SenderRef != klinktest.BotID || c.SenderHint == nil || c.SenderHint.Name != klinktest.BotName {
		t.Fatalf("comment %+v", c)
	}
	if n := e.emu.Calls(klinktest.EndpointListComments); n != 3 {
		t.Fatalf("read %d pages to reach the oldest of 15 comments, want 3", n)
	}
	_, err = e.p.GetComment(ctx, e.thread(), "0000-none")
	wantCode(t, err, model.CodeNotFound)
}

func TestCreateCommentMentionSpans(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	e.emu.AddUser("u-zoe", "Zoë Park")
	e.emu.AddUser("u-sato", "Sato Yūki")
	ctx := context.Background()
	c, err := e.p.CreateComment(ctx, providers.CommentInput{
		Thread:   e.thread(),
		Text:     "🚀 shipped — thanks {0} and {1} 🎉",
		Mentions: []providers.MentionRef{{Index: 1, UserRef: "u-sato"}, {Index: 0, UserRef: "u-zoe"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	const want = "🚀 shipped — thanks @Zoë Park and @Sato Yūki 🎉"
	if c.Text != want || c.Body != want || c.Markup != model.MarkupPlain {
		t.Fatalf("text %q body %q markup %s", c.Text, c.Body, c.Markup)
	}
	// Counted by hand: "🚀 shipped — thanks " is 19 code points.
	wantSpans := []model.Mention{
		{ProviderID: "kl", UserRef: "u-zoe", Offset: 19, Length: 9},
		{ProviderID: "kl", UserRef: "u-sato", Offset: 33, Length: 10},
	}
	check := func(what string, ms []*model.Mention) {
		t.Helper()
		if len(ms) != len(wantSpans) {
			t.Fatalf("%s: %d mentions, want %d", what, len(ms), len(wantSpans))
		}
		for i, m := range ms {
			w := wantSpans[i]
			if m.ProviderID != w.ProviderID || m.UserRef != w.UserRef || m.Offset != w.Offset || m.Length != w.Length {
				t.Errorf("%s: mention %d = %+v, want %+v", what, i, *m, w)
			}
			if m.UserHint == nil || m.UserHint.Ref != w.UserRef {
				t.Errorf("%s: mention %d has no user hint", what, i)
			}
		}
	}
	check("created", c.Mentions)
	if c.SenderRef != klinktest.BotID || c.ThreadRef != e.room || c.ThreadKind != model.ThreadKindRoom {
		t.Fatalf("comment %+v", c)
	}

	res, err := e.p.ListComments(ctx, e.thread(), providers.Page{Last: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Edges) != 1 || res.Edges[0].Comment.Ref != c.Ref || res.Edges[0].Comment.Text != want {
		t.Fatalf("read back %+v", res.Edges)
	}
	check("read back", res.Edges[0].Comment.Mentions)

	// The payloads taught the directory who these people are.
	users, err := e.p.Users(ctx, []string{"u-zoe", "u-sato", klinktest.BotID, "u-nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 || users["u-zoe"].Name != "Zoë Park" || users[klinktest.BotID].Name != klinktest.BotName {
		t.Fatalf("users %v", users)
	}
	if _, ok := users["u-nobody"]; ok {
		t.Fatal("an unknown user was answered")
	}
}

func TestMentionSpansEdgeCases(t *testing.T) {
	p, err := New(Options{ID: "kl", BaseURL: "http://x", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		text string
		ms   []wireMention
		want [][3]any // userRef, offset, length
	}{
		{"same name twice", "@Bo Tan and @Bo Tan", []wireMention{{"u1", "Bo Tan"}, {"u2", "Bo Tan"}},
			[][3]any{{"u1", 0, 7}, {"u2", 12, 7}}},
		{"listed out of text order", "hi @Émile Rousseau, @Ana Lee", []wireMention{{"a", "Ana Lee"}, {"e", "Émile Rousseau"}},
			[][3]any{{"a", 20, 8}, {"e", 3, 15}}},
		{"name missing from text", "hello", []wireMention{{"a", "Ana Lee"}}, nil},
		{"empty name", "@ hi", []wireMention{{"a", ""}}, nil},
		{"name is a prefix of another", "@Ana Leeds and @Ana Lee", []wireMention{{"x", "Ana Leeds"}, {"a", "Ana Lee"}},
			[][3]any{{"x", 0, 10}, {"a", 15, 8}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.mentionSpans(tc.text, tc.ms)
			if len(got) != len(tc.want) {
				t.Fatalf("%d spans, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				if got[i].UserRef != w[0] || got[i].Offset != w[1] || got[i].Length != w[2] {
					t.Errorf("span %d = %s@%d+%d, want %v", i, got[i].UserRef, got[i].Offset, got[i].Length, w)
				}
			}
		})
	}
}

func TestErrorsMapToCodes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		fault *klinktest.Fault
		edit  func(*Options)
		room  string
		code  model.Code
		check func(t *testing.T, err error)
	}{
		{name: "wrong token", edit: func(o *Options) { o.Token = "kpt_wrong" }, code: model.CodeUnauthenticated},
		{name: "unknown room", room: "room-nope", code: model.CodeNotFound},
		{name: "rate limited", fault: &klinktest.Fault{Status: 429, Body: `{"message":"Too Many Requests"}`, Header: http.Header{"Retry-After": {"12"}}},
			code: model.CodeUpstreamRateLimited, check: func(t *testing.T, err error) {
				var me *model.Error
				if errors.As(err, &me); me.RetryAfter != 12*time.Second {
					t.Errorf("RetryAfter %v, want 12s", me.RetryAfter)
				}
			}},
		{name: "server error", fault: &klinktest.Fault{Status: 500, Body: `{"message":"boom","requestId":"r1"}`}, code: model.CodeUpstreamUnavailable},
		{name: "bad gateway with html", fault: &klinktest.Fault{Status: 502, Body: "<html>bad gateway</html>"}, code: model.CodeUpstreamUnavailable},
		{name: "garbage JSON", fault: &klinktest.Fault{Status: 200, Body: `{"requestId":"x","data":[{"id":`}, code: model.CodeUpstreamUnavailable},
		{name: "data of the wrong type", fault: &klinktest.Fault{Status: 200, Body: `{"data":"nope"}`}, code: model.CodeUpstreamUnavailable},
		{name: "timeout", fault: &klinktest.Fault{Delay: 5 * time.Second, Status: 200},
			edit: func(o *Options) { o.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond} }, code: model.CodeUpstreamTimeout},
		{name: "token echoed in the error body", fault: &klinktest.Fault{Status: 422, Body: `{"message":"token ` + testToken + ` lacks ability"}`},
			code: model.CodeBadUserInput, check: func(t *testing.T, err error) {
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("error repeats the token: %v", err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, klinktest.Options{}, tc.edit)
			e.addComments(t, 0, 3)
			if tc.fault != nil {
				e.emu.FailNext(klinktest.EndpointListComments, *tc.fault)
			}
			th := e.thread()
			if tc.room != "" {
				th.Ref = tc.room
			}
			_, err := e.p.ListComments(ctx, th, providers.Page{First: 2})
			wantCode(t, err, tc.code)
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

func TestTimeoutByContextDeadline(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	e.emu.FailNext(klinktest.EndpointCreateComment, klinktest.Fault{Delay: 5 * time.Second, Status: 201})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := e.p.CreateComment(ctx, providers.CommentInput{Thread: e.thread(), Text: "hello"})
	wantCode(t, err, model.CodeUpstreamTimeout)
}

func TestCreateCommentUpstreamRejects(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	_, err := e.p.CreateComment(context.Background(), providers.CommentInput{
		Thread: e.thread(), Text: "hi {0}", Mentions: []providers.MentionRef{{Index: 0, UserRef: "u-ghost"}},
	})
	wantCode(t, err, model.CodeBadUserInput)
	if n := e.emu.Calls(klinktest.EndpointCreateComment); n != 1 {
		t.Fatalf("create calls %d", n)
	}
}

func TestBadInputCostsNoCall(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	ctx := context.Background()
	room := func(ref string) *model.Thread {
		return &model.Thread{ProviderID: "kl", Kind: model.ThreadKindRoom, Ref: ref}
	}
	list := func(th *model.Thread, pg providers.Page) error {
		_, err := e.p.ListComments(ctx, th, pg)
		return err
	}
	create := func(text string, ms ...providers.MentionRef) error {
		_, err := e.p.CreateComment(ctx, providers.CommentInput{Thread: e.thread(), Text: text, Mentions: ms})
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		code model.Code
	}{
		{"empty ref", list(room(""), providers.Page{First: 1}), model.CodeBadUserInput},
		{"ref with slash", list(room("a/b"), providers.Page{First: 1}), model.CodeBadUserInput},
		{"ref with query", list(room("a?b=1"), providers.Page{First: 1}), model.CodeBadUserInput},
		{"ref with fragment", list(room("a#b"), providers.Page{First: 1}), model.CodeBadUserInput},
		{"ref with space", list(room("a b"), providers.Page{First: 1}), model.CodeBadUserInput},
		{"ref with newline", list(room("a\nb"), providers.Page{First: 1}), model.CodeBadUserInput},
		{"dot dot", list(room(".."), providers.Page{First: 1}), model.CodeBadUserInput},
		{"long ref", list(room(strings.Repeat("a", 200)), providers.Page{First: 1}), model.CodeBadUserInput},
		{"wrong kind", list(&model.Thread{Kind: model.ThreadKindMessage, Ref: "x"}, providers.Page{First: 1}), model.CodeUnsupported},
		{"garbage cursor", list(e.thread(), providers.Page{First: 1, After: "!!!"}), model.CodeBadUserInput},
		{"base64 but not a cursor", list(e.thread(), providers.Page{First: 1, After: "aGVsbG8"}), model.CodeBadUserInput},
		{"cursor with a bad id", list(e.thread(), providers.Page{First: 1, After: encodeCursor("a/b", time.Now())}), model.CodeBadUserInput},
		{"no size", list(e.thread(), providers.Page{}), model.CodeBadUserInput},
		{"both first and last", list(e.thread(), providers.Page{First: 1, Last: 1}), model.CodeBadUserInput},
		{"before with first", list(e.thread(), providers.Page{First: 1, Before: encodeCursor("x", time.Now())}), model.CodeBadUserInput},
		{"placeholder without mention", create("hi {0}"), model.CodeBadUserInput},
		{"mention without placeholder", create("hi", providers.MentionRef{Index: 0, UserRef: "u"}), model.CodeBadUserInput},
		{"empty text", create("   "), model.CodeBadUserInput},
		{"mention ref with slash", create("hi {0}", providers.MentionRef{Index: 0, UserRef: "a/b"}), model.CodeBadUserInput},
		{"reply", func() error {
			_, err := e.p.CreateComment(ctx, providers.CommentInput{Thread: e.thread(), Text: "x", ParentRef: "c1"})
			return err
		}(), model.CodeUnsupported},
		{"get with bad ref", func() error { _, err := e.p.GetComment(ctx, e.thread(), "a/b"); return err }(), model.CodeBadUserInput},
		{"thread of another kind", func() error { _, err := e.p.Thread(ctx, model.ThreadKindContact, "x"); return err }(), model.CodeUnsupported},
		{"send to a bad contact", func() error {
			_, err := e.p.SendMessage(ctx, providers.MessageInput{Contact: "a b", Text: "hi"})
			return err
		}(), model.CodeBadUserInput},
		{"send nothing", func() error {
			_, err := e.p.SendMessage(ctx, providers.MessageInput{Contact: "c1", Text: " "})
			return err
		}(), model.CodeBadUserInput},
		{"send an attachment", func() error {
			_, err := e.p.SendMessage(ctx, providers.MessageInput{Contact: "c1", Text: "hi", Attachments: []providers.File{{Name: "a.png"}}})
			return err
		}(), model.CodeUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err, tc.code) })
	}
	if n := e.emu.TotalCalls(); n != 0 {
		t.Fatalf("bad input cost %d upstream calls", n)
	}
}

func TestThreadsAndRooms(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, func(o *Options) { o.Rooms = []string{"room-1", "room-2", "room-3"} })
	e.emu.AddRoom("room-2", "Globex")
	contact := e.emu.AddRoom("room-4", "Initech")
	ctx := context.Background()

	th, err := e.p.Thread(ctx, model.ThreadKindRoom, "room-1")
	if err != nil {
		t.Fatal(err)
	}
	if th.Ref != "room-1" || th.RoomRef != "room-1" || th.Kind != model.ThreadKindRoom || th.ProviderID != "kl" {
		t.Fatalf("thread %+v", th)
	}
	_, err = e.p.Thread(ctx, model.ThreadKindRoom, "room-nope")
	wantCode(t, err, model.CodeNotFound)

	// Sending a message teaches the adapter the contact's room.
	msg, err := e.p.SendMessage(ctx, providers.MessageInput{Contact: contact, Text: "Hello from the API 👋"})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Room == nil || msg.Room.Ref != "room-4" || msg.Ref == "" || msg.CreatedAt.IsZero() || msg.CreatedAt.Location() != time.UTC {
		t.Fatalf("message %+v", msg)
	}
	var refs []string
	pg := providers.Page{First: 3}
	for {
		res, err := e.p.ListThreads(ctx, pg)
		if err != nil {
			t.Fatal(err)
		}
		for _, edge := range res.Edges {
			refs = append(refs, edge.Thread.Ref)
		}
		if !res.HasNextPage {
			break
		}
		pg.After = res.Edges[len(res.Edges)-1].Cursor
	}
	if got := strings.Join(refs, ","); got != "room-1,room-2,room-3,room-4" {
		t.Fatalf("threads %s", got)
	}
	_, err = e.p.ListThreads(ctx, providers.Page{First: 3, After: "not-a-room"})
	wantCode(t, err, model.CodeBadUserInput)

	rooms, err := e.p.Rooms(ctx, []string{"room-1", "room-4", "room-9"})
	if err != nil {
		t.Fatal(err)
	}
	if rooms["room-1"] == nil || rooms["room-4"] == nil || rooms["room-9"] != nil || len(rooms) != 2 {
		t.Fatalf("rooms %v", rooms)
	}
}

func TestDirectoryIsScopedByCredential(t *testing.T) {
	dir := &providers.MemoryDirectory{}
	e := newEnv(t, klinktest.Options{Tokens: nil}, func(o *Options) { o.Directory = dir })
	e.addComments(t, 0, 1)
	ctx := context.Background()
	if _, err := e.p.ListComments(ctx, e.thread(), providers.Page{First: 1}); err != nil {
		t.Fatal(err)
	}
	other, err := New(Options{ID: "kl", BaseURL: e.emu.URL, Token: "kpt_other", Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := e.p.Users(ctx, []string{klinktest.BotID})
	theirs, _ := other.Users(ctx, []string{klinktest.BotID})
	if len(mine) != 1 || len(theirs) != 0 {
		t.Fatalf("same directory, other token: mine %v theirs %v", mine, theirs)
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 1, 9, 3, 42, 38, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-01-08T04:46:24.491Z", time.Date(2026, 1, 8, 4, 46, 24, 491000000, time.UTC)},
		{"2026-01-09T03:42:38.000000Z", want},
		{"2026-02-20T11:46:31.61603869Z", time.Date(2026, 2, 20, 11, 46, 31, 616038690, time.UTC)},
		{"2026-01-08T16:34:34.542193005Z", time.Date(2026, 1, 8, 16, 34, 34, 542193005, time.UTC)},
		{"2026-01-09T03:42:38Z", want},
		{"2026-01-09T10:42:38+07:00", want},
		{"2026-01-09 03:42:38.000000", want},
		{"2026-01-09T03:42:38", want},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTime(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Fatalf("got %v, want %v in UTC", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01T00:00:00Z", "1700000000"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := parseTime(bad); err == nil {
				t.Fatalf("%q parsed", bad)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	p, err := New(Options{ID: "kl", BaseURL: "http://x", Token: "kpt_s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"message and request id", `{"message":"Room not found.","requestId":"r-1"}`, "Room not found. (requestId r-1)"},
		{"message list", `{"message":["text must not be empty","bad index"]}`, "text must not be empty; bad index"},
		{"error field", `{"error":"Unauthorized"}`, "Unauthorized"},
		{"not JSON", "<html>\n502\n</html>", "<html> 502 </html>"},
		{"token echoed", `{"message":"bad token kpt_s3cret"}`, "bad token [token]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.errorText([]byte(tc.body)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConcurrentUseAndCallMetrics(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	e := newEnv(t, klinktest.Options{}, func(o *Options) {
		o.PageSize = 5
		o.OnCall = func(ci providers.CallInfo) {
			mu.Lock()
			defer mu.Unlock()
			if ci.Provider == "kl" && ci.Status != 0 {
				calls[ci.Method+" "+ci.Endpoint]++
			}
		}
	})
	e.addComments(t, 0, 12)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := e.p.ListComments(ctx, e.thread(), providers.Page{First: 3})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := e.p.CreateComment(ctx, providers.CommentInput{Thread: e.thread(), Text: fmt.Sprintf("parallel %d", i)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.emu.CommentCount(e.room); n != 20 {
		t.Fatalf("room has %d comments, want 20", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["POST "+endpointComments] != 8 || calls["GET "+endpointComments] != e.emu.Calls(klinktest.EndpointListComments) {
		t.Fatalf("OnCall saw %v; emulator saw %d lists", calls, e.emu.Calls(klinktest.EndpointListComments))
	}
}

// TestOneRequestListsARoomOnce: 20 resolvers of one request list the same
// page at once (providers.WithCallBudget is the request); K-LINK is asked
// once and every caller gets the same comments. Another request asks again.
func TestOneRequestListsARoomOnce(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	e.addComments(t, 0, 3)
	list := func(ctx context.Context) []string {
		const n = 20
		got := make([][]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				page, err := e.p.ListComments(ctx, e.thread(), providers.Page{First: 2})
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = texts(page.Edges)
			})
		}
		wg.Wait()
		for i := range n {
			if strings.Join(got[i], ",") != strings.Join(got[0], ",") {
				t.Fatalf("caller %d got %v, caller 0 %v", i, got[i], got[0])
			}
		}
		return got[0]
	}
	request := providers.WithCallBudget(context.Background(), 3)
	if got := list(request); strings.Join(got, ",") != "c00,c01" {
		t.Errorf("listed %v", got)
	}
	if n := e.emu.Calls(klinktest.EndpointListComments); n != 1 {
		t.Errorf("one request: %d list calls upstream, want 1", n)
	}
	if u := providers.CallBudgetUsed(request); u.Made != 1 || u.Shared != 19 || u.Refused != 0 {
		t.Errorf("CallBudgetUsed = %+v", u)
	}
	list(providers.WithCallBudget(context.Background(), 3))
	if n := e.emu.Calls(klinktest.EndpointListComments); n != 2 {
		t.Errorf("two requests: %d list calls upstream, want 2", n)
	}
}
