package ziik_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

const (
	providerID = "ziik-test"
	password   = "s3cret-Pa55word"
	epAuth     = "POST /authenticate"
	epRenew    = "POST /renew"
	epList     = "GET /conversations/{conversation}/messages"
	epCreate   = "POST /conversations/{conversation}/messages"
	epConv     = "GET /conversations/{conversation}"
	epConvs    = "GET /conversations"
	epUser     = "GET /users/{id}"
)

// recorder remembers every Authorization header sent, so tests can check no
// token leaks into logs or errors.
type recorder struct {
	mu     sync.Mutex
	tokens []string
	next   http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.Header.Get("Authorization"); h != "" {
		r.mu.Lock()
		r.tokens = append(r.tokens, strings.TrimPrefix(h, "Bearer "))
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...)
}

type env struct {
	srv   *ziiktest.Server
	p     *ziik.Provider
	clock *clocktest.Clock
	logs  *syncBuffer
	rec   *recorder
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, tweak func(*ziik.Options)) *env {
	t.Helper()
	c := clocktest.New(time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC))
	srv := ziiktest.NewServer(ziiktest.Options{Email: "bot@acme.test", Password: password, Now: c.Now, TokenTTL: time.Hour})
	t.Cleanup(srv.Close)
	e := &env{srv: srv, clock: c, logs: &syncBuffer{}, rec: &recorder{next: http.DefaultTransport}}
	opts := ziik.Options{
		ID: providerID, BaseURL: srv.URL, Email: "bot@acme.test", Password: password,
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: e.rec},
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        c.Now,
	}
	if tweak != nil {
		tweak(&opts)
	}
	p, err := ziik.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	t.Cleanup(func() { e.assertNoSecrets(t) })
	return e
}

// assertNoSecrets checks that neither the password nor any token sent ever
// reached the log.
func (e *env) assertNoSecrets(t *testing.T) {
	t.Helper()
	logs := e.logs.String()
	if strings.Contains(logs, password) {
		t.Errorf("the password appears in the log")
	}
	for _, tok := range e.rec.seen() {
		if strings.Contains(logs, tok) {
			t.Errorf("a JWT appears in the log")
		}
	}
}

func (e *env) user(t *testing.T, first, last string) int {
	t.Helper()
	return e.srv.AddUser(ziiktest.User{FirstName: first, LastName: last, Title: "Engineer", Department: "R&D", Unit: "HQ"})
}

func (e *env) conv(t *testing.T, title string, members ...int) int {
	t.Helper()
	id, err := e.srv.AddConversation(ziiktest.Conversation{Title: title, Participants: append([]int{e.srv.BotID()}, members...)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) msg(t *testing.T, m ziiktest.Message) int {
	t.Helper()
	if m.Date.IsZero() {
		m.Date = e.clock.Now()
	}
	id, err := e.srv.AddMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func convThread(id int) *model.Thread {
	return &model.Thread{ProviderID: providerID, Kind: model.ThreadKindConversation, Ref: strconv.Itoa(id)}
}

func msgThread(conv, msg int) *model.Thread {
	return &model.Thread{ProviderID: providerID, Kind: model.ThreadKindMessage, Ref: fmt.Sprintf("%d:%d", conv, msg)}
}

func refs(p *providers.CommentPage) []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Comment.Ref
	}
	return out
}

func itoa(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(id)
	}
	return out
}

// walkForward pages First/After to the end and checks the page flags.
func walkForward(t *testing.T, p *ziik.Provider, th *model.Thread, size int) []string {
	t.Helper()
	var all []string
	after := ""
	for i := 0; ; i++ {
		pg, err := p.ListComments(context.Background(), th, providers.Page{First: size, After: after})
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if pg.HasPreviousPage != (after != "") {
			t.Fatalf("page %d: HasPreviousPage = %v", i, pg.HasPreviousPage)
		}
		if len(pg.Edges) > size || (pg.HasNextPage && len(pg.Edges) != size) {
			t.Fatalf("page %d: %d edges, HasNextPage %v", i, len(pg.Edges), pg.HasNextPage)
		}
		all = append(all, refs(pg)...)
		if !pg.HasNextPage {
			return all
		}
		after = pg.Edges[len(pg.Edges)-1].Cursor
		if i > 1000 {
			t.Fatal("paging does not end")
		}
	}
}

// walkBackward pages Last/Before to the start and returns the refs oldest first.
func walkBackward(t *testing.T, p *ziik.Provider, th *model.Thread, size int) []string {
	t.Helper()
	var pages [][]string
	before := ""
	for i := 0; ; i++ {
		pg, err := p.ListComments(context.Background(), th, providers.Page{Last: size, Before: before})
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if pg.HasNextPage != (before != "") {
			t.Fatalf("page %d: HasNextPage = %v", i, pg.HasNextPage)
		}
		if len(pg.Edges) > size || (pg.HasPreviousPage && len(pg.Edges) != size) {
			t.Fatalf("page %d: %d edges, HasPreviousPage %v", i, len(pg.Edges), pg.HasPreviousPage)
		}
		pages = append(pages, refs(pg))
		if !pg.HasPreviousPage {
			break
		}
		before = pg.Edges[0].Cursor
		if i > 1000 {
			t.Fatal("paging does not end")
		}
	}
	var all []string
	for i := len(pages) - 1; i >= 0; i-- {
		all = append(all, pages[i]...)
	}
	return all
}

func TestListCommentsPagesBothWays(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.user(t, "Ana", "Lee")
	big := e.conv(t, "Big", ana)
	var bigIDs []int
	for i := range 250 { // three upstream pages of 100
		bigIDs = append(bigIDs, e.msg(t, ziiktest.Message{ConversationID: big, AuthorID: ana, Text: fmt.Sprintf("message %d", i)}))
	}
	small := e.conv(t, "Small", ana)
	var smallIDs []int
	for i := range 7 {
		smallIDs = append(smallIDs, e.msg(t, ziiktest.Message{ConversationID: small, AuthorID: ana, Text: fmt.Sprintf("small %d", i)}))
	}
	empty := e.conv(t, "Empty", ana)

	tests := []struct {
		name string
		conv int
		want []int
		size int
	}{
		{"small conversation, pages of 3", small, smallIDs, 3},
		{"small conversation, one page", small, smallIDs, 10},
		{"small conversation, exact fit", small, smallIDs, 7},
		{"long conversation, pages of 40", big, bigIDs, 40},
		{"long conversation, pages of 100", big, bigIDs, 100},
		{"empty conversation", empty, nil, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.Join(itoa(tc.want), ",")
			if got := strings.Join(walkForward(t, e.p, convThread(tc.conv), tc.size), ","); got != want {
				t.Errorf("forward:\n got %s\nwant %s", got, want)
			}
			if got := strings.Join(walkBackward(t, e.p, convThread(tc.conv), tc.size), ","); got != want {
				t.Errorf("backward:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestListCommentsMessageThread(t *testing.T) {
	e := newEnv(t, nil)
	ana, bo := e.user(t, "Ana", "Lee"), e.user(t, "Bo", "Tan")
	c := e.conv(t, "Team", ana, bo)
	e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "before the parent"})
	parent := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "Release checklist"})
	other := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: bo, Text: "another topic"})
	var replies []int
	for i := range 7 {
		replies = append(replies, e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: bo, ParentID: parent, Text: fmt.Sprintf("reply %d", i)}))
		e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: fmt.Sprintf("chatter %d", i)})
		e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, ParentID: other, Text: fmt.Sprintf("other reply %d", i)})
	}
	lonely := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "no replies here"})

	th := msgThread(c, parent)
	for _, size := range []int{2, 7, 50} {
		t.Run(fmt.Sprintf("pages of %d", size), func(t *testing.T) {
			want := strings.Join(itoa(replies), ",")
			if got := strings.Join(walkForward(t, e.p, th, size), ","); got != want {
				t.Errorf("forward: got %s want %s", got, want)
			}
			if got := strings.Join(walkBackward(t, e.p, th, size), ","); got != want {
				t.Errorf("backward: got %s want %s", got, want)
			}
		})
	}
	t.Run("replies carry the parent", func(t *testing.T) {
		pg, err := e.p.ListComments(context.Background(), th, providers.Page{First: 1})
		if err != nil {
			t.Fatal(err)
		}
		c0 := pg.Edges[0].Comment
		if c0.ParentRef != strconv.Itoa(parent) || c0.ThreadKind != model.ThreadKindMessage || c0.ThreadRef != th.Ref {
			t.Errorf("got parent %q thread %s %q", c0.ParentRef, c0.ThreadKind, c0.ThreadRef)
		}
	})
	t.Run("a message with no replies", func(t *testing.T) {
		pg, err := e.p.ListComments(context.Background(), msgThread(c, lonely), providers.Page{Last: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Edges) != 0 || pg.HasNextPage || pg.HasPreviousPage {
			t.Errorf("got %v", refs(pg))
		}
	})
}

func TestPollingFromTheNewestEndIsOneCall(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.user(t, "Ana", "Lee")
	c := e.conv(t, "Team", ana)
	var ids []int
	for i := range 30 {
		ids = append(ids, e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: fmt.Sprintf("m%d", i)}))
	}
	ctx := context.Background()
	// The first listing authenticates and learns the participants; polling
	// after that is what has to be cheap.
	if _, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 1}); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetCalls()
	pg, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.srv.TotalCalls(); got != 1 {
		t.Errorf("Last 10 took %d calls, want 1", got)
	}
	if got, want := strings.Join(refs(pg), ","), strings.Join(itoa(ids[20:]), ","); got != want || !pg.HasPreviousPage || pg.HasNextPage {
		t.Errorf("got %s prev=%v next=%v, want %s", got, pg.HasPreviousPage, pg.HasNextPage, want)
	}
	// Polling for what came after the newest seen comment is one call too.
	newer := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "new"})
	e.srv.ResetCalls()
	pg, err = e.p.ListComments(ctx, convThread(c), providers.Page{First: 10, After: strconv.Itoa(ids[len(ids)-1])})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.srv.TotalCalls(); got != 1 {
		t.Errorf("First/After took %d calls, want 1", got)
	}
	if got := strings.Join(refs(pg), ","); got != strconv.Itoa(newer) || pg.HasNextPage {
		t.Errorf("got %s next=%v, want %d", got, pg.HasNextPage, newer)
	}
}

// span is a mention as the test expects it.
type span struct {
	user          string
	offset, count int
}

func spans(c *model.Comment) []span {
	out := make([]span, len(c.Mentions))
	for i, m := range c.Mentions {
		out[i] = span{m.UserRef, m.Offset, m.Length}
	}
	return out
}

func TestCreateCommentMentionsReadBack(t *testing.T) {
	e := newEnv(t, nil)
	zoe, sato, emile := e.user(t, "Zoë", "Park"), e.user(t, "Sato", "Yūki"), e.user(t, "Émile", "Rousseau")
	bo := e.user(t, "Bo", "Tan") // not in the conversation: found through the directory
	c := e.conv(t, "Launch 🚀", zoe, sato, emile)
	parent := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: zoe, Text: "Status?"})
	ctx := context.Background()

	tests := []struct {
		name     string
		thread   *model.Thread
		text     string
		mentions []providers.MentionRef
		parent   string
		wantText string
		want     []span
		wantPar  string
	}{
		{
			name: "emoji and non-ASCII before mentions", thread: convThread(c),
			text:     "🚀 shipped — thanks {0} and {1}!",
			mentions: []providers.MentionRef{{Index: 0, UserRef: strconv.Itoa(zoe)}, {Index: 1, UserRef: strconv.Itoa(sato)}},
			wantText: "🚀 shipped — thanks @Zoë Park and @Sato Yūki!",
			want: []span{
				{strconv.Itoa(zoe), utf8.RuneCountInString("🚀 shipped — thanks "), utf8.RuneCountInString("@Zoë Park")},
				{strconv.Itoa(sato), utf8.RuneCountInString("🚀 shipped — thanks @Zoë Park and "), utf8.RuneCountInString("@Sato Yūki")},
			},
		},
		{
			name: "mention first, placeholders out of order, a non-participant", thread: convThread(c),
			text:     "{1} merci à {0} 👏🏽",
			mentions: []providers.MentionRef{{Index: 0, UserRef: strconv.Itoa(bo)}, {Index: 1, UserRef: strconv.Itoa(emile)}},
			wantText: "@Émile Rousseau merci à @Bo Tan 👏🏽",
			want: []span{
				{strconv.Itoa(emile), 0, utf8.RuneCountInString("@Émile Rousseau")},
				{strconv.Itoa(bo), utf8.RuneCountInString("@Émile Rousseau merci à "), utf8.RuneCountInString("@Bo Tan")},
			},
		},
		{
			name: "reply in a message thread", thread: msgThread(c, parent),
			text: "on it, {0}", mentions: []providers.MentionRef{{Index: 0, UserRef: strconv.Itoa(zoe)}},
			wantText: "on it, @Zoë Park",
			want:     []span{{strconv.Itoa(zoe), 7, 9}},
			wantPar:  strconv.Itoa(parent),
		},
		{
			name: "no mentions, an e-mail address is not one", thread: convThread(c),
			text: "mail ops@Zoë Park.example", wantText: "mail ops@Zoë Park.example", want: []span{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			created, err := e.p.CreateComment(ctx, providers.CommentInput{Thread: tc.thread, Text: tc.text, Mentions: tc.mentions, ParentRef: tc.parent})
			if err != nil {
				t.Fatal(err)
			}
			if created.Text != tc.wantText || created.Body != tc.wantText {
				t.Errorf("created text %q body %q, want %q", created.Text, created.Body, tc.wantText)
			}
			if fmt.Sprint(spans(created)) != fmt.Sprint(tc.want) {
				t.Errorf("created mentions %v, want %v", spans(created), tc.want)
			}
			if created.ParentRef != tc.wantPar || created.SenderRef != strconv.Itoa(e.srv.BotID()) {
				t.Errorf("parent %q sender %q", created.ParentRef, created.SenderRef)
			}
			// A fresh adapter knows nobody yet: it must find the mentions from
			// the conversation's participants and the page alone.
			fresh := newEnvSameServer(t, e)
			for name, p := range map[string]*ziik.Provider{"same adapter": e.p, "fresh adapter": fresh} {
				got, err := p.GetComment(ctx, tc.thread, created.Ref)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := tc.want
				if name == "fresh adapter" && strings.Contains(tc.wantText, "@Bo Tan") {
					// Bo is no participant and this adapter never looked him up.
					want = want[:1]
				}
				if got.Text != tc.wantText || fmt.Sprint(spans(got)) != fmt.Sprint(want) {
					t.Errorf("%s read back %q %v, want %q %v", name, got.Text, spans(got), tc.wantText, want)
				}
			}
		})
	}
}

// newEnvSameServer is a second adapter on e's emulator.
func newEnvSameServer(t *testing.T, e *env) *ziik.Provider {
	t.Helper()
	p, err := ziik.New(ziik.Options{ID: providerID, BaseURL: e.srv.URL, Email: "bot@acme.test", Password: password, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCreateCommentRejects(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.user(t, "Ana", "Lee")
	c := e.conv(t, "A", ana)
	c2 := e.conv(t, "B", ana)
	elsewhere := e.msg(t, ziiktest.Message{ConversationID: c2, AuthorID: ana, Text: "elsewhere"})
	ctx := context.Background()
	tests := []struct {
		name  string
		in    providers.CommentInput
		code  model.Code
		calls bool // whether the create reaches Ziik
	}{
		{"unknown mentioned user", providers.CommentInput{Thread: convThread(c), Text: "hi {0}", Mentions: []providers.MentionRef{{Index: 0, UserRef: "999"}}}, model.CodeBadUserInput, false},
		{"placeholder without mention", providers.CommentInput{Thread: convThread(c), Text: "hi {0}"}, model.CodeBadUserInput, false},
		{"blank text", providers.CommentInput{Thread: convThread(c), Text: "   "}, model.CodeBadUserInput, false},
		{"bad parent ref", providers.CommentInput{Thread: convThread(c), Text: "x", ParentRef: "abc"}, model.CodeBadUserInput, false},
		{"bad thread ref", providers.CommentInput{Thread: msgThread(c, 0), Text: "x"}, model.CodeBadUserInput, false},
		{"parent in another conversation", providers.CommentInput{Thread: convThread(c), Text: "x", ParentRef: strconv.Itoa(elsewhere)}, model.CodeBadUserInput, true},
		{"unknown conversation", providers.CommentInput{Thread: convThread(424242), Text: "x"}, model.CodeNotFound, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.srv.ResetCalls()
			_, err := e.p.CreateComment(ctx, tc.in)
			var me *model.Error
			if !errors.As(err, &me) || me.Code != tc.code || me.Provider != providerID {
				t.Fatalf("got %v, want %s from %s", err, tc.code, providerID)
			}
			if got := e.srv.Calls(epCreate); (got > 0) != tc.calls {
				t.Errorf("%d create calls", got)
			}
		})
	}
}

func TestCommentMapping(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee", Title: "Product Manager", Department: "Product", Unit: "HQ", AvatarURL: "https://img.test/ana.png"})
	bo := e.user(t, "Bo", "Tan")
	c := e.conv(t, "Team", ana, bo)
	created := time.Date(2025, 1, 1, 8, 0, 0, 0, time.FixedZone("CET", 3600))
	edited := created.Add(5 * time.Minute)
	parent := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: bo, Text: "parent"})
	rich := e.msg(t, ziiktest.Message{
		ConversationID: c, AuthorID: ana, ParentID: parent, Text: "files for @Bo Tan", Date: created, EditedAt: edited,
		Files: []ziiktest.File{
			{Name: "plan.pdf", Mime: "application/pdf", Size: 102400},
			{Name: "shot.png", Mime: "image/png", Size: 2048, Width: 640, Height: 480},
			{Name: "demo.mp4", Mime: "video/mp4", Size: 9000, Processing: true},
			{Name: "big.zip", Mime: "application/zip", Size: 1 << 20, Uploading: true},
		},
		Voice:     &ziiktest.Voice{Duration: 12.5},
		Reactions: []ziiktest.Reaction{{Emoji: "👍", UserIDs: []int{ana, bo}}},
	})
	gone := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: bo, Text: "oops", Deleted: true,
		Files: []ziiktest.File{{Name: "x.txt", Mime: "text/plain", Size: 1}}})

	pg, err := e.p.ListComments(context.Background(), convThread(c), providers.Page{Last: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := refs(pg); strings.Join(got, ",") != strings.Join(itoa([]int{parent, rich, gone}), ",") {
		t.Fatalf("got %v", got)
	}
	m := pg.Edges[1].Comment
	if m.ProviderID != providerID || m.ParentRef != strconv.Itoa(parent) || m.Markup != model.MarkupPlain || m.Deleted {
		t.Errorf("comment %+v", m)
	}
	if !m.CreatedAt.Equal(created) || m.CreatedAt.Location() != time.UTC || m.EditedAt == nil || !m.EditedAt.Equal(edited) {
		t.Errorf("times %v %v", m.CreatedAt, m.EditedAt)
	}
	h := m.SenderHint
	if m.SenderRef != strconv.Itoa(ana) || h == nil || h.Name != "Ana Lee" || deref(h.Title) != "Product Manager" ||
		deref(h.Department) != "Product" || deref(h.Unit) != "HQ" || deref(h.AvatarURL) != "https://img.test/ana.png" || h.ProviderID != providerID {
		t.Errorf("sender %q %+v", m.SenderRef, h)
	}
	if fmt.Sprint(spans(m)) != fmt.Sprint([]span{{strconv.Itoa(bo), 10, 7}}) {
		t.Errorf("mentions %v", spans(m))
	}
	type att struct {
		kind, name, mime string
		state            model.AttachmentState
		size, w, h       int
		dur              float64
	}
	var got []att
	for _, a := range m.Attachments {
		if a.URL == nil || !strings.HasPrefix(*a.URL, "http") || a.ProviderID != providerID {
			t.Errorf("attachment %s url %v", a.Name, a.URL)
		}
		x := att{kind: a.Kind, name: a.Name, mime: deref(a.MimeType), state: a.State}
		if a.Size != nil {
			x.size = *a.Size
		}
		if a.Width != nil && a.Height != nil {
			x.w, x.h = *a.Width, *a.Height
		}
		if a.Duration != nil {
			x.dur = *a.Duration
		}
		got = append(got, x)
	}
	want := []att{
		{"FILE", "plan.pdf", "application/pdf", model.AttachmentStateReady, 102400, 0, 0, 0},
		{"IMAGE", "shot.png", "image/png", model.AttachmentStateReady, 2048, 640, 480, 0},
		{"VIDEO", "demo.mp4", "video/mp4", model.AttachmentStateProcessing, 9000, 0, 0, 0},
		{"FILE", "big.zip", "application/zip", model.AttachmentStateProcessing, 1 << 20, 0, 0, 0},
		{"VOICE", "voice-note.mp3", "audio/mpeg", model.AttachmentStateReady, 0, 0, 0, 12.5},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attachments\n got %v\nwant %v", got, want)
	}
	if len(m.Reactions) != 1 || m.Reactions[0].Emoji != "👍" || m.Reactions[0].Count != 2 ||
		strings.Join(m.Reactions[0].UserRefs, ",") != strings.Join(itoa([]int{ana, bo}), ",") {
		t.Errorf("reactions %+v", m.Reactions)
	}
	d := pg.Edges[2].Comment
	if !d.Deleted || d.Text != "" || len(d.Attachments) != 0 || len(d.Mentions) != 0 {
		t.Errorf("deleted comment %+v", d)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestUpstreamErrors(t *testing.T) {
	garbage := "{not json"
	tests := []struct {
		name       string
		fault      ziiktest.Fault
		code       model.Code
		retryAfter time.Duration
	}{
		{"401 twice", ziiktest.Fault{Status: 401, Times: 2, Body: `{"error":{"code":"token_invalid","message":"The token is invalid.","is_ziik_error":true}}`}, model.CodeUnauthenticated, 0},
		{"403", ziiktest.Fault{Status: 403, Body: `{"error":{"code":"forbidden","message":"no","is_ziik_error":true}}`}, model.CodeForbidden, 0},
		{"404", ziiktest.Fault{Status: 404, Body: `{"error":{"code":"not_found","message":"Conversation not found.","is_ziik_error":true}}`}, model.CodeNotFound, 0},
		{"410 gone", ziiktest.Fault{Status: 410, Body: `{"error":{"code":"gone","message":"removed","is_ziik_error":true}}`}, model.CodeNotFound, 0},
		{"422", ziiktest.Fault{Status: 422, Body: `{"error":{"code":"invalid_parameters","message":"The cursor is invalid.","is_ziik_error":true}}`}, model.CodeBadUserInput, 0},
		{"429 with Retry-After", ziiktest.Fault{Status: 429, Header: http.Header{"Retry-After": {"7"}}, Body: `{"error":{"code":"too_many_requests","message":"slow down","is_ziik_error":false}}`}, model.CodeUpstreamRateLimited, 7 * time.Second},
		{"429 without Retry-After", ziiktest.Fault{Status: 429, Body: `{"error":{"code":"too_many_requests","message":"slow down","is_ziik_error":false}}`}, model.CodeUpstreamRateLimited, 0},
		{"500", ziiktest.Fault{Status: 500, Body: `{"error":{"code":"server_error","message":"boom","is_ziik_error":false}}`}, model.CodeUpstreamUnavailable, 0},
		{"503 maintenance", ziiktest.Fault{Status: 503, Body: `<html>maintenance</html>`}, model.CodeUpstreamUnavailable, 0},
		{"garbage JSON", ziiktest.Fault{Status: 200, Body: garbage}, model.CodeUpstreamUnavailable, 0},
		{"wrong JSON type", ziiktest.Fault{Status: 200, Body: `{"data":"nope"}`}, model.CodeUpstreamUnavailable, 0},
		{"timeout", ziiktest.Fault{Delay: 2 * time.Second}, model.CodeUpstreamTimeout, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ana := e.user(t, "Ana", "Lee")
			c := e.conv(t, "Team", ana)
			ctx := context.Background()
			// Warm up: authenticate and learn participants outside the fault.
			if _, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 1}); err != nil {
				t.Fatal(err)
			}
			e.srv.FailNext(epList, tc.fault)
			ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 5})
			var me *model.Error
			if !errors.As(err, &me) {
				t.Fatalf("got %T %v, want *model.Error", err, err)
			}
			if me.Code != tc.code || me.Provider != providerID || me.RetryAfter != tc.retryAfter {
				t.Errorf("got code %s provider %q retryAfter %v; want %s %q %v", me.Code, me.Provider, me.RetryAfter, tc.code, providerID, tc.retryAfter)
			}
			if strings.Contains(err.Error(), password) {
				t.Error("the password is in the error")
			}
			for _, tok := range e.rec.seen() {
				if strings.Contains(err.Error(), tok) {
					t.Error("a token is in the error")
				}
			}
		})
	}
}

func TestConcurrentCallsShareOneAuthentication(t *testing.T) {
	tests := []struct {
		name     string
		age      func(e *env)
		wantAuth int
		wantRen  int
	}{
		{"token expired by the clock", func(e *env) { e.clock.Advance(2 * time.Hour) }, 1, 0},
		{"token about to expire", func(e *env) { e.clock.Advance(59 * time.Minute) }, 0, 1},
		{"token revoked upstream (401)", func(e *env) { e.srv.ExpireTokens() }, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ana := e.user(t, "Ana", "Lee")
			c := e.conv(t, "Team", ana)
			e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "hello"})
			ctx := context.Background()
			if _, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 1}); err != nil {
				t.Fatal(err)
			}
			tc.age(e)
			e.srv.ResetCalls()
			start := make(chan struct{})
			errs := make(chan error, 20)
			var wg sync.WaitGroup
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					pg, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 1})
					if err == nil && len(pg.Edges) != 1 {
						err = fmt.Errorf("got %d edges", len(pg.Edges))
					}
					errs <- err
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if a, r := e.srv.Calls(epAuth), e.srv.Calls(epRenew); a != tc.wantAuth || r != tc.wantRen {
				t.Errorf("authenticate %d renew %d, want %d and %d", a, r, tc.wantAuth, tc.wantRen)
			}
		})
	}
}

func TestAuthFailures(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		e := newEnv(t, nil)
		c := e.conv(t, "Team")
		p, err := ziik.New(ziik.Options{ID: providerID, BaseURL: e.srv.URL, Email: "bot@acme.test", Password: "wrong-" + password,
			Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Thread(context.Background(), model.ThreadKindConversation, strconv.Itoa(c))
		if !model.IsCode(err, model.CodeUnauthenticated) || strings.Contains(err.Error(), password) {
			t.Errorf("got %v", err)
		}
		if strings.Contains(e.logs.String(), "wrong-"+password) {
			t.Error("the password is in the log")
		}
		if e.srv.Calls(epConv) != 0 {
			t.Error("called the API without a token")
		}
	})
	t.Run("renewal outage keeps the valid token", func(t *testing.T) {
		e := newEnv(t, nil)
		c := e.conv(t, "Team")
		ctx := context.Background()
		if _, err := e.p.Thread(ctx, model.ThreadKindConversation, strconv.Itoa(c)); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(59 * time.Minute)
		e.srv.FailNext(epRenew, ziiktest.Fault{Status: 503, Body: `{"error":{"code":"maintenance","message":"back soon","is_ziik_error":true}}`})
		e.srv.ResetCalls()
		for range 3 {
			if _, err := e.p.Thread(ctx, model.ThreadKindConversation, strconv.Itoa(c)); err != nil {
				t.Fatal(err)
			}
		}
		if r, a := e.srv.Calls(epRenew), e.srv.Calls(epAuth); r != 1 || a != 0 {
			t.Errorf("renew %d authenticate %d, want 1 and 0", r, a)
		}
	})
	t.Run("echoed password is scrubbed", func(t *testing.T) {
		e := newEnv(t, nil)
		e.srv.FailNext(epAuth, ziiktest.Fault{Status: 422, Body: `{"error":{"code":"invalid","message":"bad password ` + password + `","is_ziik_error":true}}`})
		_, err := e.p.Thread(context.Background(), model.ThreadKindConversation, "57")
		if !model.IsCode(err, model.CodeBadUserInput) || strings.Contains(err.Error(), password) {
			t.Errorf("got %v", err)
		}
	})
}

func TestThread(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.user(t, "Ana", "Lee")
	team := e.conv(t, "Team room", ana)
	direct := e.conv(t, "", ana)
	hidden, err := e.srv.AddConversation(ziiktest.Conversation{Title: "secret", Participants: []int{ana}})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 200)
	parent := e.msg(t, ziiktest.Message{ConversationID: team, AuthorID: ana, Text: "Release checklist"})
	longMsg := e.msg(t, ziiktest.Message{ConversationID: team, AuthorID: ana, Text: long})
	other := e.msg(t, ziiktest.Message{ConversationID: direct, AuthorID: ana, Text: "hi"})
	tests := []struct {
		name      string
		kind      model.ThreadKind
		ref       string
		code      model.Code
		title     string
		wantCalls bool
	}{
		{"conversation", model.ThreadKindConversation, strconv.Itoa(team), "", "Team room", true},
		{"direct conversation named by its people", model.ThreadKindConversation, strconv.Itoa(direct), "", "commentgraph bot, Ana Lee", true},
		{"message", model.ThreadKindMessage, fmt.Sprintf("%d:%d", team, parent), "", "Release checklist", true},
		{"long message title is cut", model.ThreadKindMessage, fmt.Sprintf("%d:%d", team, longMsg), "", strings.Repeat("é", 119) + "…", true},
		{"unknown conversation", model.ThreadKindConversation, "999999", model.CodeNotFound, "", true},
		{"conversation not visible", model.ThreadKindConversation, strconv.Itoa(hidden), model.CodeForbidden, "", true},
		{"message of another conversation", model.ThreadKindMessage, fmt.Sprintf("%d:%d", team, other), model.CodeNotFound, "", true},
		{"unknown message", model.ThreadKindMessage, fmt.Sprintf("%d:%d", team, 1), model.CodeNotFound, "", true},
		{"empty", model.ThreadKindConversation, "", model.CodeBadUserInput, "", false},
		{"not a number", model.ThreadKindConversation, "abc", model.CodeBadUserInput, "", false},
		{"leading zero", model.ThreadKindConversation, "057", model.CodeBadUserInput, "", false},
		{"negative", model.ThreadKindConversation, "-5", model.CodeBadUserInput, "", false},
		{"huge", model.ThreadKindConversation, "99999999999999999999", model.CodeBadUserInput, "", false},
		{"message without colon", model.ThreadKindMessage, "57", model.CodeBadUserInput, "", false},
		{"message with extra part", model.ThreadKindMessage, "57:1:2", model.CodeBadUserInput, "", false},
		{"message with empty id", model.ThreadKindMessage, "57:", model.CodeBadUserInput, "", false},
		{"room kind", model.ThreadKindRoom, "57", model.CodeUnsupported, "", false},
		{"contact kind", model.ThreadKindContact, "id:1", model.CodeUnsupported, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.srv.ResetCalls()
			th, err := e.p.Thread(context.Background(), tc.kind, tc.ref)
			if calls := e.srv.TotalCalls() > 0; calls != tc.wantCalls {
				t.Errorf("called upstream: %v", calls)
			}
			if tc.code != "" {
				var me *model.Error
				if !errors.As(err, &me) || me.Code != tc.code || me.Provider != providerID {
					t.Fatalf("got %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			conv, _, _ := strings.Cut(tc.ref, ":")
			if th.Kind != tc.kind || th.Ref != tc.ref || th.RoomRef != conv || th.ProviderID != providerID || deref(th.Title) != tc.title {
				t.Errorf("got %+v title %q", th, deref(th.Title))
			}
		})
	}
}

func TestBadCursors(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, cur := range []string{"x", "-1", "0", "1.5", "１２", "12 ", strings.Repeat("9", 40), "MTIz"} {
		t.Run(cur, func(t *testing.T) {
			e.srv.ResetCalls()
			for _, pg := range []providers.Page{{First: 3, After: cur}, {Last: 3, Before: cur}} {
				_, err := e.p.ListComments(ctx, convThread(57), pg)
				if !model.IsCode(err, model.CodeBadUserInput) {
					t.Errorf("%+v: got %v", pg, err)
				}
			}
			if _, err := e.p.ListThreads(ctx, providers.Page{First: 3, After: cur}); cur != "0" && !model.IsCode(err, model.CodeBadUserInput) {
				t.Errorf("threads: got %v", err)
			}
			if e.srv.Calls(epList) != 0 {
				t.Error("a bad cursor reached Ziik")
			}
		})
	}
	t.Run("cursor of a message that is not there", func(t *testing.T) {
		ana := e.user(t, "Ana", "Lee")
		c := e.conv(t, "Team", ana)
		_, err := e.p.ListComments(ctx, convThread(c), providers.Page{First: 3, After: "123456"})
		if !model.IsCode(err, model.CodeNotFound) {
			t.Errorf("got %v", err)
		}
	})
}

func TestListThreads(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.user(t, "Ana", "Lee")
	var want []string
	for i := range 7 {
		c := e.conv(t, fmt.Sprintf("room %d", i), ana)
		// Activity orders the list: the last written is listed first.
		e.clock.Advance(time.Minute)
		e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "x"})
		want = append([]string{strconv.Itoa(c)}, want...)
	}
	if _, err := e.srv.AddConversation(ziiktest.Conversation{Title: "not mine", Participants: []int{ana}}); err != nil {
		t.Fatal(err)
	}
	for _, sizes := range [][]int{{3}, {2, 3}, {7}, {100}, {1, 4, 2}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			var got []string
			after := ""
			for i := 0; ; i++ {
				size := sizes[min(i, len(sizes)-1)]
				pg, err := e.p.ListThreads(context.Background(), providers.Page{First: size, After: after})
				if err != nil {
					t.Fatal(err)
				}
				if len(pg.Edges) > size {
					t.Fatalf("%d edges for %d", len(pg.Edges), size)
				}
				for _, ed := range pg.Edges {
					th := ed.Thread
					if th.Kind != model.ThreadKindConversation || th.RoomRef != th.Ref || th.ProviderID != providerID || !strings.HasPrefix(deref(th.Title), "room ") {
						t.Errorf("thread %+v", th)
					}
					got = append(got, th.Ref)
				}
				if !pg.HasNextPage {
					break
				}
				after = pg.Edges[len(pg.Edges)-1].Cursor
				if i > 20 {
					t.Fatal("paging does not end")
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("got %v want %v", got, want)
			}
		})
	}
}

func TestUsersAndRooms(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee", Email: "ana@acme.test", Title: "PM", Department: "Product", Unit: "HQ"})
	zoe := e.user(t, "Zoë", "Park")
	team := e.conv(t, "Team", ana, zoe)
	hidden, err := e.srv.AddConversation(ziiktest.Conversation{Title: "hidden", Participants: []int{ana}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	users, err := e.p.Users(ctx, []string{strconv.Itoa(ana), strconv.Itoa(zoe), strconv.Itoa(zoe), "424242", "not-an-id", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || e.srv.Calls(epUser) != 3 {
		t.Fatalf("got %d users in %d calls", len(users), e.srv.Calls(epUser))
	}
	a := users[strconv.Itoa(ana)]
	if a.Name != "Ana Lee" || deref(a.Email) != "ana@acme.test" || deref(a.Title) != "PM" || deref(a.Department) != "Product" || deref(a.Unit) != "HQ" || a.ProviderID != providerID {
		t.Errorf("user %+v", a)
	}
	if users[strconv.Itoa(zoe)].Name != "Zoë Park" {
		t.Errorf("user %+v", users[strconv.Itoa(zoe)])
	}

	rooms, err := e.p.Rooms(ctx, []string{strconv.Itoa(team), strconv.Itoa(hidden), "999999", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || deref(rooms[strconv.Itoa(team)].Name) != "Team" || rooms[strconv.Itoa(team)].ProviderID != providerID {
		t.Errorf("rooms %v", rooms)
	}

	e.srv.FailNext(epUser, ziiktest.Fault{Status: 500, Body: `{"error":{"code":"x","message":"y","is_ziik_error":false}}`})
	if _, err := e.p.Users(ctx, []string{strconv.Itoa(ana)}); !model.IsCode(err, model.CodeUpstreamUnavailable) {
		t.Errorf("got %v", err)
	}
}

func TestDataWrappedAnswers(t *testing.T) {
	c := clocktest.New(time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC))
	srv := ziiktest.NewServer(ziiktest.Options{WrapData: true, Now: c.Now})
	t.Cleanup(srv.Close)
	email, pass := srv.Credentials()
	p, err := ziik.New(ziik.Options{ID: providerID, BaseURL: srv.URL, Email: email, Password: pass, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	ana := srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee"})
	conv, err := srv.AddConversation(ziiktest.Conversation{Title: "Wrapped", Participants: []int{srv.BotID(), ana}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	th, err := p.Thread(ctx, model.ThreadKindConversation, strconv.Itoa(conv))
	if err != nil || deref(th.Title) != "Wrapped" {
		t.Fatalf("thread %+v %v", th, err)
	}
	created, err := p.CreateComment(ctx, providers.CommentInput{Thread: th, Text: "hi {0}", Mentions: []providers.MentionRef{{Index: 0, UserRef: strconv.Itoa(ana)}}})
	if err != nil || created.Text != "hi @Ana Lee" || len(created.Mentions) != 1 {
		t.Fatalf("created %+v %v", created, err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	ok := ziik.Options{ID: "z", BaseURL: "https://acme.ziik.io/api", Email: "a@b.c", Password: "p"}
	tests := []struct {
		name  string
		tweak func(*ziik.Options)
	}{
		{"no id", func(o *ziik.Options) { o.ID = "" }},
		{"no base URL", func(o *ziik.Options) { o.BaseURL = "" }},
		{"base URL not http", func(o *ziik.Options) { o.BaseURL = "ftp://x" }},
		{"no email", func(o *ziik.Options) { o.Email = "" }},
		{"no password", func(o *ziik.Options) { o.Password = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.tweak(&o)
			if _, err := ziik.New(o); err == nil {
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), "p\"") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	p, err := ziik.New(ok)
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info()
	if info.ID != "z" || info.Name != "Ziik" || info.Kind != model.ProviderKindZiik || len(info.Capabilities) != 8 || info.Has(model.CapabilityPushEvents) {
		t.Errorf("info %+v", info)
	}
}
