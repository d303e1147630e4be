package virola

import (
	"reflect"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

const (
	epGetComments  = "GET /api/v1/messages/{messageId}/comments"
	epPostComments = "POST /api/v1/messages/{messageId}/comments"
)

func TestListCommentsPagesBothWays(t *testing.T) {
	for _, inclusive := range []bool{false, true} {
		t.Run(map[bool]string{false: "exclusive cursor", true: "inclusive cursor"}[inclusive], func(t *testing.T) {
			e := newEnv(t, virolatest.Options{InclusiveCursor: inclusive}, Options{})
			var ids []string
			for i := range 7 {
				ids = append(ids, ref(e.comment(t, e.parent, virolatest.Message{UserID: e.users["Bo Tan"], Text: "comment " + string(rune('A'+i))})))
			}
			// Noise in another thread must not leak in.
			other, _ := e.s.AddMessage(virolatest.Message{RoomID: e.room, Text: "other"})
			e.comment(t, other, virolatest.Message{Text: "elsewhere"})

			type step struct {
				ids              []string
				hasNext, hasPrev bool
			}
			walk := func(page func(cursor string) providers.Page, cursorOf func(*providers.CommentPage) string) []step {
				var steps []step
				cursor := ""
				for range 10 {
					pg, err := e.p.ListComments(ctxT(t), e.thread, page(cursor))
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, edge := range pg.Edges {
						if edge.Cursor != edge.Comment.Ref || edge.Comment.ThreadRef != ref(e.parent) {
							t.Fatalf("edge %+v", edge)
						}
						got = append(got, edge.Comment.Ref)
					}
					steps = append(steps, step{got, pg.HasNextPage, pg.HasPreviousPage})
					if cursor = cursorOf(pg); cursor == "" {
						break
					}
				}
				return steps
			}
			forward := walk(func(c string) providers.Page { return providers.Page{First: 3, After: c} },
				func(pg *providers.CommentPage) string {
					if !pg.HasNextPage {
						return ""
					}
					return pg.Edges[len(pg.Edges)-1].Cursor
				})
			wantFwd := []step{{ids[0:3], true, false}, {ids[3:6], true, true}, {ids[6:7], false, true}}
			if !reflect.DeepEqual(forward, wantFwd) {
				t.Fatalf("forward %v, want %v", forward, wantFwd)
			}
			backward := walk(func(c string) providers.Page { return providers.Page{Last: 3, Before: c} },
				func(pg *providers.CommentPage) string {
					if !pg.HasPreviousPage {
						return ""
					}
					return pg.Edges[0].Cursor
				})
			wantBack := []step{{ids[4:7], false, true}, {ids[1:4], true, true}, {ids[0:1], true, false}}
			if !reflect.DeepEqual(backward, wantBack) {
				t.Fatalf("backward %v, want %v", backward, wantBack)
			}
		})
	}
}

func TestListCommentsRefusesGarbageCursors(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	for _, c := range []string{"garbage", "-5", "1e3", "0", "99999999999999999999", "12 ", "💥"} {
		t.Run(c, func(t *testing.T) {
			_, err := e.p.ListComments(ctxT(t), e.thread, providers.Page{First: 2, After: c})
			wantCode(t, err, model.CodeBadUserInput)
			_, err = e.p.ListComments(ctxT(t), e.thread, providers.Page{Last: 2, Before: c})
			wantCode(t, err, model.CodeBadUserInput)
		})
	}
	_, err := e.p.ListComments(ctxT(t), e.thread, providers.Page{})
	wantCode(t, err, model.CodeBadUserInput)
}

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
