package ziik_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

const (
	epUpdate   = "PATCH /conversations/{conversation}/messages/{message}"
	epFinalize = "POST /conversations/{conversation}/messages/{message}/finalize-update"
	epDelete   = "DELETE /conversations/{conversation}/messages/{message}"
)

// wantCode checks err is a *model.Error of this provider with code.
func wantCode(t *testing.T, err error, code model.Code) *model.Error {
	t.Helper()
	var me *model.Error
	if !errors.As(err, &me) || me.Code != code || me.Provider != providerID {
		t.Fatalf("got %v, want %s from %s", err, code, providerID)
	}
	return me
}

// listed finds ref on the newest page of th.
func listed(t *testing.T, p *ziik.Provider, th *model.Thread, ref string) *model.Comment {
	t.Helper()
	pg, err := p.ListComments(context.Background(), th, providers.Page{Last: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range pg.Edges {
		if e.Comment.Ref == ref {
			return e.Comment
		}
	}
	t.Fatalf("%s is not listed in %s", ref, th.Ref)
	return nil
}

// lifecycleCast is a conversation with Zoë and Sato, a thread under Zoë's
// message, and messages of several kinds.
type lifecycleCast struct {
	zoe, sato, conv, other, hidden int
	parent, reply, top, zoes       int
	elsewhere, deleted, hiddenMsg  int
}

func newLifecycleCast(t *testing.T, e *env) lifecycleCast {
	t.Helper()
	var c lifecycleCast
	c.zoe, c.sato = e.user(t, "Zoë", "Park"), e.user(t, "Sato", "Yūki")
	c.conv = e.conv(t, "Launch 🚀", c.zoe, c.sato)
	c.other = e.conv(t, "Other", c.zoe)
	var err error
	if c.hidden, err = e.srv.AddConversation(ziiktest.Conversation{Title: "Hidden", Participants: []int{c.zoe}}); err != nil {
		t.Fatal(err)
	}
	bot := e.srv.BotID()
	c.parent = e.msg(t, ziiktest.Message{ConversationID: c.conv, AuthorID: c.zoe, Text: "Status?"})
	c.reply = e.msg(t, ziiktest.Message{ConversationID: c.conv, AuthorID: bot, ParentID: c.parent, Text: "on it"})
	c.top = e.msg(t, ziiktest.Message{ConversationID: c.conv, AuthorID: bot, Text: "shiped",
		Files:     []ziiktest.File{{Name: "notes.pdf", Mime: "application/pdf", Size: 1200}},
		Voice:     &ziiktest.Voice{Duration: 4},
		Reactions: []ziiktest.Reaction{{Emoji: "👍", UserIDs: []int{c.zoe}}}})
	c.zoes = e.msg(t, ziiktest.Message{ConversationID: c.conv, AuthorID: c.zoe, Text: "Zoë's own"})
	c.elsewhere = e.msg(t, ziiktest.Message{ConversationID: c.other, AuthorID: bot, Text: "elsewhere"})
	c.deleted = e.msg(t, ziiktest.Message{ConversationID: c.conv, AuthorID: bot, Text: "gone", Deleted: true})
	c.hiddenMsg = e.msg(t, ziiktest.Message{ConversationID: c.hidden, AuthorID: c.zoe, Text: "hidden"})
	return c
}

func TestUpdateCommentWithMentions(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(fmt.Sprintf("WrapData=%v", wrap), func(t *testing.T) {
			e := newEnvServer(t, ziiktest.Options{WrapData: wrap}, nil)
			c := newLifecycleCast(t, e)
			zoe, sato := strconv.Itoa(c.zoe), strconv.Itoa(c.sato)
			ctx := context.Background()
			tests := []struct {
				name     string
				thread   *model.Thread
				ref      int
				text     string
				mentions []providers.MentionRef
				wantText string
				want     []span
				listIn   *model.Thread // where ListComments shows it; nil: thread
			}{
				{
					name: "conversation thread, a mention after emoji", thread: convThread(c.conv), ref: c.top,
					text: "🚀 shipped — thanks {0}!", mentions: []providers.MentionRef{{Index: 0, UserRef: zoe}},
					wantText: "🚀 shipped — thanks @Zoë Park!",
					want:     []span{{zoe, utf8.RuneCountInString("🚀 shipped — thanks "), utf8.RuneCountInString("@Zoë Park")}},
				},
				{
					name: "reply in a message thread, placeholders out of order", thread: msgThread(c.conv, c.parent), ref: c.reply,
					text:     "{1} and {0}: on it",
					mentions: []providers.MentionRef{{Index: 0, UserRef: zoe}, {Index: 1, UserRef: sato}},
					wantText: "@Sato Yūki and @Zoë Park: on it",
					want:     []span{{sato, 0, 10}, {zoe, 15, 9}},
				},
				{
					name: "the message thread's own parent, mentions removed", thread: msgThread(c.conv, c.parent), ref: c.parent,
					text: "Status? (resolved)", wantText: "Status? (resolved)", want: []span{},
					listIn: convThread(c.conv), // a message thread lists only the replies
				},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					e.clock.Advance(time.Minute)
					editedAt := e.clock.Now()
					before, ok := e.srv.Message(tc.ref)
					if !ok {
						t.Fatal("no message")
					}
					e.srv.ResetCalls()
					got, err := e.p.UpdateComment(ctx, providers.CommentUpdate{Thread: tc.thread, Ref: strconv.Itoa(tc.ref),
						Text: tc.text, Mentions: tc.mentions, IdempotencyKey: "m-" + tc.name})
					if err != nil {
						t.Fatal(err)
					}
					if u, f := e.srv.Calls(epUpdate), e.srv.Calls(epFinalize); u != 1 || f != 1 {
						t.Errorf("%d updates and %d finalizes, want one each", u, f)
					}
					check := func(who string, th *model.Thread, c *model.Comment) {
						t.Helper()
						if c.Ref != strconv.Itoa(tc.ref) || c.Text != tc.wantText || c.Body != tc.wantText {
							t.Errorf("%s: ref %s text %q body %q, want %q", who, c.Ref, c.Text, c.Body, tc.wantText)
						}
						if fmt.Sprint(spans(c)) != fmt.Sprint(tc.want) {
							t.Errorf("%s: mentions %v, want %v", who, spans(c), tc.want)
						}
						if c.EditedAt == nil || !c.EditedAt.Equal(editedAt) {
							t.Errorf("%s: edited at %v, want %v", who, c.EditedAt, editedAt)
						}
						if !c.CreatedAt.Equal(before.Date.Truncate(time.Second)) || c.SenderRef != strconv.Itoa(before.AuthorID) || c.Deleted {
							t.Errorf("%s: created %v sender %s deleted %v changed", who, c.CreatedAt, c.SenderRef, c.Deleted)
						}
						if c.ThreadRef != th.Ref || c.ThreadKind != th.Kind {
							t.Errorf("%s: thread %s %s", who, c.ThreadKind, c.ThreadRef)
						}
					}
					check("answer", tc.thread, got)
					listIn := tc.listIn
					if listIn == nil {
						listIn = tc.thread
					}
					// Read back through both read paths, by this adapter and by
					// one that knows nobody but the conversation's participants.
					fresh := newEnvSameServer(t, e)
					for name, p := range map[string]*ziik.Provider{"same adapter": e.p, "fresh adapter": fresh} {
						one, err := p.GetComment(ctx, tc.thread, strconv.Itoa(tc.ref))
						if err != nil {
							t.Fatal(err)
						}
						check(name+" GetComment", tc.thread, one)
						check(name+" ListComments", listIn, listed(t, p, listIn, strconv.Itoa(tc.ref)))
					}
				})
			}
		})
	}
}

func TestUpdateCommentRefusals(t *testing.T) {
	e := newEnv(t, nil)
	c := newLifecycleCast(t, e)
	ctx := context.Background()
	ref := strconv.Itoa
	tests := []struct {
		name  string
		in    providers.CommentUpdate
		code  model.Code
		calls bool // whether any call reaches Ziik
	}{
		{"no thread", providers.CommentUpdate{Ref: ref(c.top), Text: "x"}, model.CodeBadUserInput, false},
		{"malformed ref", providers.CommentUpdate{Thread: convThread(c.conv), Ref: "07", Text: "x"}, model.CodeBadUserInput, false},
		{"malformed thread", providers.CommentUpdate{Thread: msgThread(c.conv, 0), Ref: ref(c.top), Text: "x"}, model.CodeBadUserInput, false},
		{"blank text", providers.CommentUpdate{Thread: convThread(c.conv), Ref: ref(c.top), Text: "  \n"}, model.CodeBadUserInput, false},
		{"placeholder without mention", providers.CommentUpdate{Thread: convThread(c.conv), Ref: ref(c.top), Text: "hi {0}"}, model.CodeBadUserInput, false},
		{"unknown mentioned user", providers.CommentUpdate{Thread: convThread(c.conv), Ref: ref(c.top), Text: "hi {0}",
			Mentions: []providers.MentionRef{{Index: 0, UserRef: "999"}}}, model.CodeBadUserInput, true},
		{"message of another conversation", providers.CommentUpdate{Thread: convThread(c.conv), Ref: ref(c.elsewhere), Text: "x"}, model.CodeNotFound, true},
		{"no reply to the thread's message", providers.CommentUpdate{Thread: msgThread(c.conv, c.parent), Ref: ref(c.top), Text: "x"}, model.CodeNotFound, true},
		{"deleted message", providers.CommentUpdate{Thread: convThread(c.conv), Ref: ref(c.deleted), Text: "back"}, model.CodeNotFound, true},
		{"unknown message", providers.CommentUpdate{Thread: convThread(c.conv), Ref: "424242", Text: "x"}, model.CodeNotFound, true},
		{"conversation not visible", providers.CommentUpdate{Thread: convThread(c.hidden), Ref: ref(c.hiddenMsg), Text: "x"}, model.CodeForbidden, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.srv.ResetCalls()
			_, err := e.p.UpdateComment(ctx, tc.in)
			wantCode(t, err, tc.code)
			if n := e.srv.Calls(epUpdate) + e.srv.Calls(epFinalize); n != 0 {
				t.Errorf("%d update calls", n)
			}
			// Authentication aside, no call at all for what is refused up front.
			if n := e.srv.TotalCalls() - e.srv.Calls(epAuth); (n > 0) != tc.calls {
				t.Errorf("%d calls", n)
			}
		})
	}
	if m, _ := e.srv.Message(c.deleted); !m.Deleted || m.Text != "gone" || !m.EditedAt.IsZero() {
		t.Errorf("the deleted message changed: %+v", m)
	}
}

// emptyFinalize makes finalize-update answer 204 with no body after the
// emulator has done it.
type emptyFinalize struct{ next http.RoundTripper }

func (t emptyFinalize) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/finalize-update") {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp.StatusCode, resp.Status = http.StatusNoContent, "204 No Content"
	resp.Body, resp.ContentLength = http.NoBody, 0
	resp.Header.Del("Content-Length")
	return resp, nil
}

func TestUpdateCommentFinalizeFailures(t *testing.T) {
	maintenance := `{"error":{"code":"maintenance","message":"back soon","is_ziik_error":true}}`
	tests := []struct {
		name  string
		fault ziiktest.Fault
		code  model.Code
		retry time.Duration // the Retry-After passed on
		hint  bool          // whether the error says the edit may be pending
	}{
		{"maintenance 503", ziiktest.Fault{Status: 503, Body: maintenance}, model.CodeUpstreamUnavailable, 0, true},
		{"rate limited", ziiktest.Fault{Status: 429, Header: http.Header{"Retry-After": {"7"}},
			Body: `{"error":{"code":"too_many_requests","message":"slow down","is_ziik_error":false}}`}, model.CodeUpstreamRateLimited, 7 * time.Second, true},
		{"removed meanwhile", ziiktest.Fault{Status: 404, Body: `{"error":{"code":"not_found","message":"Message not found.","is_ziik_error":true}}`}, model.CodeNotFound, 0, false},
		{"answers another message", ziiktest.Fault{Status: 200, Body: `{"id":1,"message":"someone else's","date":1735689600}`}, model.CodeUpstreamUnavailable, 0, false},
		{"answers garbage", ziiktest.Fault{Status: 200, Body: `<html>oops</html>`}, model.CodeUpstreamUnavailable, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := newLifecycleCast(t, e)
			ctx := context.Background()
			in := providers.CommentUpdate{Thread: convThread(c.conv), Ref: strconv.Itoa(c.top), Text: "shipped, {0}",
				Mentions: []providers.MentionRef{{Index: 0, UserRef: strconv.Itoa(c.zoe)}}, IdempotencyKey: "k1"}
			e.srv.FailNext(epFinalize, tc.fault)
			_, err := e.p.UpdateComment(ctx, in)
			me := wantCode(t, err, tc.code)
			if me.RetryAfter != tc.retry {
				t.Errorf("retry after %v, want %v", me.RetryAfter, tc.retry)
			}
			if hint := strings.Contains(me.Message, "did not finalize"); hint != tc.hint {
				t.Errorf("message %q", me.Message)
			}
			if strings.Contains(err.Error(), password) {
				t.Error("the password is in the error")
			}
			if m, _ := e.srv.Message(c.top); m.Text != "shiped" || !m.EditedAt.IsZero() {
				t.Errorf("an unfinalized edit shows: %q", m.Text)
			}
			// The same update again goes through: nothing was half done that
			// a repeat could not finish.
			got, err := e.p.UpdateComment(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != "shipped, @Zoë Park" || len(got.Mentions) != 1 || got.EditedAt == nil {
				t.Errorf("repeat: %q %v %v", got.Text, spans(got), got.EditedAt)
			}
			if u, f := e.srv.Calls(epUpdate), e.srv.Calls(epFinalize); u != 2 || f != 2 {
				t.Errorf("%d updates, %d finalizes", u, f)
			}
		})
	}
	t.Run("empty answer is read back", func(t *testing.T) {
		e := newEnv(t, func(o *ziik.Options) { o.HTTPClient.Transport = emptyFinalize{next: o.HTTPClient.Transport} })
		c := newLifecycleCast(t, e)
		e.clock.Advance(time.Minute)
		got, err := e.p.UpdateComment(context.Background(), providers.CommentUpdate{Thread: convThread(c.conv), Ref: strconv.Itoa(c.top), Text: "shipped"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Text != "shipped" || got.EditedAt == nil || !got.EditedAt.Equal(e.clock.Now()) || len(got.Attachments) != 2 {
			t.Errorf("read back %q edited %v attachments %d", got.Text, got.EditedAt, len(got.Attachments))
		}
	})
}

func TestDeleteComment(t *testing.T) {
	e := newEnv(t, nil)
	c := newLifecycleCast(t, e)
	ctx := context.Background()
	// Refusals first: they must leave every message as it was.
	refusals := []struct {
		name   string
		thread *model.Thread
		ref    string
		code   model.Code
		calls  bool
	}{
		{"no thread", nil, strconv.Itoa(c.parent), model.CodeBadUserInput, false},
		{"malformed ref", convThread(c.conv), "-1", model.CodeBadUserInput, false},
		{"unsupported thread kind", &model.Thread{ProviderID: providerID, Kind: "ROOM", Ref: "1"}, "1", model.CodeUnsupported, false},
		{"unknown message", convThread(c.conv), "424242", model.CodeNotFound, true},
		{"message of another conversation", convThread(c.conv), strconv.Itoa(c.elsewhere), model.CodeNotFound, true},
		{"no reply to the thread's message", msgThread(c.conv, c.parent), strconv.Itoa(c.top), model.CodeNotFound, true},
		{"a sibling, not a reply", msgThread(c.conv, c.reply), strconv.Itoa(c.parent), model.CodeNotFound, true},
		{"already deleted when seeded", convThread(c.conv), strconv.Itoa(c.deleted), model.CodeNotFound, true},
		{"conversation not visible", convThread(c.hidden), strconv.Itoa(c.hiddenMsg), model.CodeForbidden, true},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			e.srv.ResetCalls()
			wantCode(t, e.p.DeleteComment(ctx, tc.thread, tc.ref), tc.code)
			if n := e.srv.Calls(epDelete); n != 0 {
				t.Errorf("%d deletes", n)
			}
			if n := e.srv.TotalCalls() - e.srv.Calls(epAuth); (n > 0) != tc.calls {
				t.Errorf("%d calls", n)
			}
		})
	}
	tests := []struct {
		name   string
		thread *model.Thread
		ref    int
	}{
		{"conversation thread, with files, voice and reactions", convThread(c.conv), c.top},
		{"reply in a message thread", msgThread(c.conv, c.parent), c.reply},
		{"someone else's message (the notes do not restrict it)", convThread(c.conv), c.zoes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := strconv.Itoa(tc.ref)
			e.srv.ResetCalls()
			if err := e.p.DeleteComment(ctx, tc.thread, ref); err != nil {
				t.Fatal(err)
			}
			if n := e.srv.Calls(epDelete); n != 1 {
				t.Errorf("%d deletes", n)
			}
			check := func(who string, got *model.Comment) {
				t.Helper()
				if !got.Deleted || got.Text != "" || got.Body != "" || len(got.Mentions) != 0 || len(got.Attachments) != 0 || len(got.Reactions) != 0 {
					t.Errorf("%s: deleted %v text %q attachments %d reactions %d", who, got.Deleted, got.Text, len(got.Attachments), len(got.Reactions))
				}
			}
			one, err := e.p.GetComment(ctx, tc.thread, ref)
			if err != nil {
				t.Fatal(err)
			}
			check("GetComment", one)
			check("ListComments last", listed(t, e.p, tc.thread, ref))
			found := false
			for _, r := range walkForward(t, e.p, tc.thread, 2) {
				found = found || r == ref
			}
			if !found {
				t.Error("ListComments first/after omits the deleted comment")
			}

			e.srv.ResetCalls()
			err = e.p.DeleteComment(ctx, tc.thread, ref)
			wantCode(t, err, model.CodeNotFound)
			if n := e.srv.Calls(epDelete); n != 0 {
				t.Errorf("the second delete called Ziik's delete %d times", n)
			}
		})
	}
	if m, _ := e.srv.Message(c.parent); m.Deleted {
		t.Error("deleting a reply deleted its parent")
	}
}

func TestAuthorOnlyTenantRefusesOthersMessages(t *testing.T) {
	e := newEnvServer(t, ziiktest.Options{AuthorOnlyWrites: true}, nil)
	c := newLifecycleCast(t, e)
	ctx := context.Background()
	th := convThread(c.conv)
	_, err := e.p.UpdateComment(ctx, providers.CommentUpdate{Thread: th, Ref: strconv.Itoa(c.zoes), Text: "edited by the bot"})
	wantCode(t, err, model.CodeForbidden)
	wantCode(t, e.p.DeleteComment(ctx, th, strconv.Itoa(c.zoes)), model.CodeForbidden)
	if m, _ := e.srv.Message(c.zoes); m.Text != "Zoë's own" || m.Deleted {
		t.Errorf("Zoë's message changed: %+v", m)
	}
	// The integration user's own messages stay writable.
	if _, err := e.p.UpdateComment(ctx, providers.CommentUpdate{Thread: th, Ref: strconv.Itoa(c.top), Text: "shipped"}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.DeleteComment(ctx, th, strconv.Itoa(c.top)); err != nil {
		t.Fatal(err)
	}
}

func TestLifecycleAfterTokenExpiry(t *testing.T) {
	expired := ziiktest.Fault{Status: 401, Body: `{"error":{"code":"token_expired","message":"The token has expired.","is_ziik_error":true}}`}
	tests := []struct {
		name            string
		prepare         func(e *env)
		wantAuth, wantR int // authentications and renewals after prepare
	}{
		{"token near its expiry is renewed", func(e *env) { e.clock.Advance(59 * time.Minute) }, 0, 1},
		{"token expired upstream is replaced", func(e *env) { e.srv.ExpireTokens() }, 1, 0},
		{"update refused with 401", func(e *env) { e.srv.FailNext(epUpdate, expired) }, 1, 0},
		{"finalize refused with 401", func(e *env) { e.srv.FailNext(epFinalize, expired) }, 1, 0},
		{"delete refused with 401", func(e *env) { e.srv.FailNext(epDelete, expired) }, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := newLifecycleCast(t, e)
			ctx := context.Background()
			th := convThread(c.conv)
			if _, err := e.p.GetComment(ctx, th, strconv.Itoa(c.top)); err != nil {
				t.Fatal(err)
			}

			e.srv.ResetCalls()
			tc.prepare(e)
			got, err := e.p.UpdateComment(ctx, providers.CommentUpdate{Thread: th, Ref: strconv.Itoa(c.top), Text: "shipped"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != "shipped" || got.EditedAt == nil {
				t.Errorf("update answered %q %v", got.Text, got.EditedAt)
			}
			if err := e.p.DeleteComment(ctx, th, strconv.Itoa(c.reply)); err != nil {
				t.Fatal(err)
			}
			if a, r := e.srv.Calls(epAuth), e.srv.Calls(epRenew); a != tc.wantAuth || r != tc.wantR {
				t.Errorf("authenticate %d renew %d, want %d and %d", a, r, tc.wantAuth, tc.wantR)
			}
			if m, _ := e.srv.Message(c.reply); !m.Deleted {
				t.Error("not deleted")
			}
		})
	}
}

func TestConcurrentEditsAndDeletes(t *testing.T) {
	e := newEnv(t, nil)
	zoe := e.user(t, "Zoë", "Park")
	conv := e.conv(t, "Busy", zoe)
	ids := make([]int, 8)
	for i := range ids {
		ids[i] = e.msg(t, ziiktest.Message{ConversationID: conv, AuthorID: e.srv.BotID(), Text: fmt.Sprint("draft ", i)})
	}
	ctx := context.Background()
	if _, err := e.p.GetComment(ctx, convThread(conv), strconv.Itoa(ids[0])); err != nil {
		t.Fatal(err)
	}
	e.srv.ExpireTokens()
	e.srv.ResetCalls()
	errs := make(chan error, len(ids))
	for i, id := range ids {
		go func() {
			ref := strconv.Itoa(id)
			if i%2 == 0 {
				errs <- e.p.DeleteComment(ctx, convThread(conv), ref)
				return
			}
			_, err := e.p.UpdateComment(ctx, providers.CommentUpdate{Thread: convThread(conv), Ref: ref, Text: "final {0}",
				Mentions: []providers.MentionRef{{Index: 0, UserRef: strconv.Itoa(zoe)}}})
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := e.srv.Calls(epAuth); n != 1 {
		t.Errorf("%d authentications for one expired token", n)
	}
	for i, id := range ids {
		m, _ := e.srv.Message(id)
		if i%2 == 0 && !m.Deleted || i%2 == 1 && m.Text != "final @Zoë Park" {
			t.Errorf("message %d: %+v", i, m)
		}
	}
}
