package virola

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

const (
	epGetComments  = "GET /api/v1/messages/{messageId}/comments"
	epPostComments = "POST /api/v1/messages/{messageId}/comments"
)

func TestCreateCommentWithMentions(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		mentions []string // display names, in index order
		content  string   // what Virola must store
		spans    [][2]int // offset, length in code points
	}{
		{"emoji before a non-ASCII name", "🚀 shipped — thanks {0}", []string{"Zoë Park"},
			"🚀 shipped — thanks @Zoë Park", [][2]int{{19, 9}}},
		{"two mentions, accents and skin tone", "{0} et {1} : ça marche 👍🏽", []string{"Émile Rousseau", "Sato Yūki"},
			"@Émile Rousseau et @Sato Yūki : ça marche 👍🏽", [][2]int{{0, 15}, {19, 10}}},
		{"prefix name beside its longer form", "{1}, not {0}", []string{"Ana", "Ana Lee"},
			"@Ana Lee, not @Ana", [][2]int{{0, 8}, {14, 4}}},
		{"no mention", "plain text 日本語", nil, "plain text 日本語", nil},
	}
	for _, sample := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(map[bool]string{false: "json/", true: "doc sample body/"}[sample]+tc.name, func(t *testing.T) {
				e := newEnv(t, virolatest.Options{DocSampleBodies: sample}, Options{})
				// Someone else's comments come before and after, so the read-back
				// has to pick the right one.
				e.comment(t, e.parent, virolatest.Message{UserID: e.users["Bo Tan"], Text: tc.content})
				in := providers.CommentInput{Thread: e.thread, Text: tc.text}
				for i, n := range tc.mentions {
					in.Mentions = append(in.Mentions, providers.MentionRef{Index: i, UserRef: ref(e.users[n])})
				}
				c, err := e.p.CreateComment(ctxT(t), in)
				if err != nil {
					t.Fatal(err)
				}
				stored := e.s.Comments(e.parent)
				last := stored[len(stored)-1]
				if last.Text != tc.content || last.UserID != e.s.BotID() || c.Ref != ref(last.ID) {
					t.Fatalf("stored %+v, returned ref %s", last, c.Ref)
				}
				if c.Text != tc.content || c.Body != tc.content || c.SenderRef != ref(e.s.BotID()) || c.Markup != model.MarkupPlain {
					t.Fatalf("returned %+v", c)
				}
				if got := spansOf(c.Mentions); !reflect.DeepEqual(got, spansFor(tc.spans, tc.mentions, e.users)) {
					t.Fatalf("spans %v, want %v", got, tc.spans)
				}
				if n := e.s.Calls(epPostComments); n != 1 {
					t.Fatalf("posted %d times", n)
				}
				// It reads back the same through the list.
				pg, err := e.p.ListComments(ctxT(t), e.thread, providers.Page{Last: 1})
				if err != nil {
					t.Fatal(err)
				}
				if got := pg.Edges[0].Comment; got.Ref != c.Ref || got.Text != c.Text || !reflect.DeepEqual(spansOf(got.Mentions), spansOf(c.Mentions)) {
					t.Fatalf("listed %+v, created %+v", got, c)
				}
			})
		}
	}
}

type span struct {
	user        string
	offset, len int
}

func spansOf(ms []*model.Mention) []span {
	out := []span{}
	for _, m := range ms {
		out = append(out, span{m.UserRef, m.Offset, m.Length})
	}
	return out
}

// spansFor pairs want spans (in text order) with the mentioned users in text
// order: the first mention in the text is the user whose "@Name" comes first.
func spansFor(spans [][2]int, names []string, users map[string]int64) []span {
	out := []span{}
	order := names
	if len(names) == 2 && names[0] == "Ana" { // "{1}, not {0}"
		order = []string{names[1], names[0]}
	}
	for i, s := range spans {
		out = append(out, span{ref(users[order[i]]), s[0], s[1]})
	}
	return out
}

func TestCreateCommentRefusals(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	tests := []struct {
		name string
		in   providers.CommentInput
		code model.Code
	}{
		{"unknown user mentioned", providers.CommentInput{Thread: e.thread, Text: "hi {0}", Mentions: []providers.MentionRef{{Index: 0, UserRef: "4242"}}}, model.CodeBadUserInput},
		{"placeholder without mention", providers.CommentInput{Thread: e.thread, Text: "hi {0}"}, model.CodeBadUserInput},
		{"empty", providers.CommentInput{Thread: e.thread, Text: ""}, model.CodeBadUserInput},
		{"reply to a comment", providers.CommentInput{Thread: e.thread, Text: "x", ParentRef: "5"}, model.CodeUnsupported},
		{"room thread", providers.CommentInput{Thread: &model.Thread{Kind: model.ThreadKindRoom, Ref: "1"}, Text: "x"}, model.CodeUnsupported},
		{"bad thread ref", providers.CommentInput{Thread: &model.Thread{Kind: model.ThreadKindMessage, Ref: "x1"}, Text: "x"}, model.CodeBadUserInput},
		{"unknown thread", providers.CommentInput{Thread: &model.Thread{Kind: model.ThreadKindMessage, Ref: "31337"}, Text: "x"}, model.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.p.CreateComment(ctxT(t), tc.in)
			wantCode(t, err, tc.code)
			if n := e.s.Calls(epPostComments); n != 0 {
				t.Fatalf("posted %d times", n)
			}
		})
	}
}

func TestCreateCommentNotReadableIsPostedOnce(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{ReadBackTries: 3})
	// Every list answers empty: the comment is stored but never shows.
	e.s.FailNext(epGetComments, virolatest.Fault{Status: 200, Body: `{"httpStatusCode":200,"roomId":1,"messages":[]}`, Times: 100})
	_, err := e.p.CreateComment(ctxT(t), providers.CommentInput{Thread: e.thread, Text: "hello"})
	wantCode(t, err, model.CodeUpstreamUnavailable)
	if !strings.Contains(err.Error(), "posted") {
		t.Fatalf("error %q does not say the comment was posted", err)
	}
	if e.s.Calls(epPostComments) != 1 || len(e.s.Comments(e.parent)) != 1 {
		t.Fatalf("posts %d, stored %d", e.s.Calls(epPostComments), len(e.s.Comments(e.parent)))
	}
	if got := e.s.Calls(epGetComments); got != 1+3 { // the newest before posting, then the tries
		t.Fatalf("listed %d times", got)
	}
}

func TestCreateCommentReadBackRetries(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{ReadBackTries: 4})
	// The newest-before list is real; the first read-back fails, the second
	// lags behind; the third finds it.
	e.s.FailNext(epGetComments, virolatest.Fault{Status: 0})
	e.s.FailNext(epGetComments, virolatest.Fault{Status: 503})
	e.s.FailNext(epGetComments, virolatest.Fault{Status: 200, Body: `{"httpStatusCode":200,"roomId":1,"messages":[]}`})
	c, err := e.p.CreateComment(ctxT(t), providers.CommentInput{Thread: e.thread, Text: "persistent"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != "persistent" || e.s.Calls(epGetComments) != 4 || e.s.Calls(epPostComments) != 1 {
		t.Fatalf("comment %+v after %d lists", c, e.s.Calls(epGetComments))
	}
}

// TestCreateCommentReadsBackWithinOneRequest: under a request's call scope
// the read-back's second try is a call of its own, not the first try's
// answer again: the post ends the sharing of Virola's answers.
func TestCreateCommentReadsBackWithinOneRequest(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{ReadBackTries: 3})
	e.s.FailNext(epGetComments, virolatest.Fault{Status: 0}) // the newest before posting
	e.s.FailNext(epGetComments, virolatest.Fault{Status: 200, Body: `{"httpStatusCode":200,"roomId":1,"messages":[]}`})
	ctx := providers.WithCallBudget(ctxT(t), 0)
	c, err := e.p.CreateComment(ctx, providers.CommentInput{Thread: e.thread, Text: "read me back"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != "read me back" || e.s.Calls(epGetComments) != 3 || e.s.Calls(epPostComments) != 1 {
		t.Fatalf("comment %+v after %d lists", c, e.s.Calls(epGetComments))
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault virolatest.Fault
		code  model.Code
		retry time.Duration
	}{
		{"401", virolatest.Fault{Status: 401, Body: `{"errorText":"Wrong Bearer, please renew Web API Access Token","httpStatusCode":401}`}, model.CodeUnauthenticated, 0},
		{"403", virolatest.Fault{Status: 403}, model.CodeForbidden, 0},
		{"404", virolatest.Fault{Status: 404, Body: `{"errorText":"Message not found","httpStatusCode":404}`}, model.CodeNotFound, 0},
		{"429", virolatest.Fault{Status: 429, Header: http.Header{"Retry-After": {"12"}}}, model.CodeUpstreamRateLimited, 12 * time.Second},
		{"500", virolatest.Fault{Status: 500}, model.CodeUpstreamUnavailable, 0},
		{"502 html", virolatest.Fault{Status: 502, Body: "<html>bad gateway</html>"}, model.CodeUpstreamUnavailable, 0},
		{"garbage 200", virolatest.Fault{Status: 200, Body: `{"messages":[{"messageId":"x"`}, model.CodeUpstreamUnavailable, 0},
		{"timeout", virolatest.Fault{Delay: 10 * time.Second}, model.CodeUpstreamTimeout, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, virolatest.Options{}, Options{HTTPClient: &http.Client{Timeout: time.Second}})
			e.s.FailNext(epGetComments, tc.fault)
			_, err := e.p.ListComments(ctxT(t), e.thread, providers.Page{First: 5})
			wantCode(t, err, tc.code)
			if me := err.(*model.Error); me.RetryAfter != tc.retry {
				t.Fatalf("retryAfter %v, want %v", me.RetryAfter, tc.retry)
			}
			if strings.Contains(err.Error(), e.s.Token()) {
				t.Fatal("the token leaked into the error")
			}
		})
	}
}

func TestWrongTokenAndDeadline(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{Token: "expired-token-value"})
	_, err := e.p.Users(ctxT(t), []string{"1"})
	wantCode(t, err, model.CodeUnauthenticated)
	if strings.Contains(err.Error(), "expired-token-value") {
		t.Fatal("token in error")
	}

	e2 := newEnv(t, virolatest.Options{}, Options{})
	e2.s.FailNext(epGetComments, virolatest.Fault{Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := e2.p.Users(ctx, []string{"1"}); err != nil { // warms the user list within the deadline
		t.Fatal(err)
	}
	_, err = e2.p.ListComments(ctx, e2.thread, providers.Page{First: 1})
	wantCode(t, err, model.CodeUpstreamTimeout)
}

func TestUsersAndRooms(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	zoe := ref(e.users["Zoë Park"])
	got, err := e.p.Users(ctxT(t), []string{zoe, "999", "abc", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[zoe].Name != "Zoë Park" || got[zoe].ProviderID != "vir" || got[zoe].Ref != zoe {
		t.Fatalf("users %+v", got)
	}
	// Cached: a second look-up of known users costs nothing.
	before := e.s.Calls("GET /api/v1/users")
	if _, err := e.p.Users(ctxT(t), []string{zoe}); err != nil {
		t.Fatal(err)
	}
	if e.s.Calls("GET /api/v1/users") != before {
		t.Fatal("a known user was fetched again")
	}
	// A user added since is found by refreshing on the miss.
	newcomer := ref(e.s.AddUser(virolatest.User{DisplayName: "Newcomer Ñ"}).ID)
	got, err = e.p.Users(ctxT(t), []string{newcomer})
	if err != nil || got[newcomer] == nil || got[newcomer].Name != "Newcomer Ñ" {
		t.Fatalf("newcomer %+v %v", got, err)
	}

	hidden := e.s.AddRoom(virolatest.Room{Name: "hidden", Members: []int64{e.users["Bo Tan"]}})
	rooms, err := e.p.Rooms(ctxT(t), []string{ref(e.room), ref(hidden.ID), "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || *rooms[ref(e.room)].Name != "General" {
		t.Fatalf("rooms %+v", rooms)
	}
}

func TestListThreads(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{ThreadScan: 3})
	// Three rooms; messages with comments are threads, others are not. With
	// a scan of 3 per room the pages must still come out complete and newest
	// first.
	rooms := []int64{e.room, e.s.AddRoom(virolatest.Room{Name: "B"}).ID, e.s.AddRoom(virolatest.Room{Name: "C"}).ID}
	want := []string{}
	e.comment(t, e.parent, virolatest.Message{Text: "c"})
	want = append(want, ref(e.parent))
	for i := range 12 {
		room := rooms[i%3]
		id, err := e.s.AddMessage(virolatest.Message{RoomID: room, Text: "topic " + string(rune('a'+i)) + "\nmore"})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 || room == rooms[2] {
			e.comment(t, id, virolatest.Message{Text: "c"})
			want = append([]string{ref(id)}, want...) // newest first
		}
	}
	var got []string
	after := ""
	for range 20 {
		pg, err := e.p.ListThreads(ctxT(t), providers.Page{First: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, edge := range pg.Edges {
			got = append(got, edge.Thread.Ref)
			if edge.Thread.Title == nil || strings.Contains(*edge.Thread.Title, "\n") || edge.Thread.RoomRef == "" || edge.Cursor != edge.Thread.Ref {
				t.Fatalf("thread %+v", edge.Thread)
			}
		}
		if !pg.HasNextPage {
			break
		}
		after = pg.Edges[len(pg.Edges)-1].Cursor
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("threads %v, want %v", got, want)
	}
	// Thread now knows the title.
	th, err := e.p.Thread(ctxT(t), model.ThreadKindMessage, ref(e.parent))
	if err != nil || th.Title == nil || *th.Title != "Release plan" {
		t.Fatalf("thread %+v %v", th, err)
	}
	_, err = e.p.ListThreads(ctxT(t), providers.Page{First: 2, After: "garbage"})
	wantCode(t, err, model.CodeBadUserInput)
}
