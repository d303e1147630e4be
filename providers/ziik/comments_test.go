package ziik_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

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
