package aelyst

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
)

func TestNewRequiresOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"no id":       {BaseURL: "http://x", Token: "t"},
		"no base url": {ID: "a", Token: "t"},
		"no token":    {ID: "a", BaseURL: "http://x"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(opts); err == nil {
				t.Fatal("New accepted incomplete options")
			}
		})
	}
}

func TestInfo(t *testing.T) {
	f := newFixture(t, nil)
	info := f.p.Info()
	if info.ID != "aelyst1" || info.Kind != model.ProviderKindAelyst || info.Name != "Aelyst" {
		t.Fatalf("info = %+v", info)
	}
	for _, c := range []model.Capability{model.CapabilityListCommentsFromJournal, model.CapabilityCreateComment, model.CapabilityMentions,
		model.CapabilityUserDirectory, model.CapabilityListThreads, model.CapabilityPushEvents} {
		if !info.Has(c) {
			t.Errorf("missing capability %s", c)
		}
	}
	if info.Has(model.CapabilityListComments) {
		t.Error("claims LIST_COMMENTS, which Aelyst cannot do")
	}
}

func TestThread(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, ref := range []string{"id:2001", "email:jane@acme.com", "phone:+60121233112"} {
		t.Run(ref, func(t *testing.T) {
			th, err := f.p.Thread(ctx, model.ThreadKindContact, ref)
			if err != nil {
				t.Fatal(err)
			}
			if th.Ref != "id:2001" || th.RoomRef != "2001" || th.Title == nil || *th.Title != "Jane Doe" || th.ProviderID != "aelyst1" {
				t.Fatalf("thread = %+v (title %v)", th, th.Title)
			}
		})
	}
	t.Run("unknown contact", func(t *testing.T) {
		_, err := f.p.Thread(ctx, model.ThreadKindContact, "email:nobody@acme.com")
		wantCode(t, err, model.CodeNotFound)
	})
}

func TestThreadRefusesBeforeCalling(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		kind model.ThreadKind
		ref  string
		code model.Code
	}{
		{model.ThreadKindContact, "2001", model.CodeBadUserInput},
		{model.ThreadKindContact, "id:", model.CodeBadUserInput},
		{model.ThreadKindContact, "id:-4", model.CodeBadUserInput},
		{model.ThreadKindContact, "id:007", model.CodeBadUserInput},
		{model.ThreadKindContact, "id:99999999999999999999", model.CodeBadUserInput},
		{model.ThreadKindContact, "email:jane", model.CodeBadUserInput},
		{model.ThreadKindContact, "email:jane@acme.com/../x", model.CodeBadUserInput},
		{model.ThreadKindContact, "email:a b@acme.com", model.CodeBadUserInput},
		{model.ThreadKindContact, "phone:60121233112", model.CodeBadUserInput},
		{model.ThreadKindContact, "phone:+6012abc", model.CodeBadUserInput},
		{model.ThreadKindContact, "slack:U123", model.CodeBadUserInput},
		{model.ThreadKindRoom, "id:2001", model.CodeUnsupported},
		{model.ThreadKindMessage, "id:2001", model.CodeUnsupported},
	}
	for _, c := range cases {
		t.Run(string(c.kind)+" "+c.ref, func(t *testing.T) {
			_, err := f.p.Thread(context.Background(), c.kind, c.ref)
			wantCode(t, err, c.code)
			_, err = f.p.ListComments(context.Background(), &model.Thread{Kind: c.kind, Ref: c.ref}, providers.Page{First: 5})
			wantCode(t, err, c.code)
			_, err = f.p.CreateComment(context.Background(), providers.CommentInput{Thread: &model.Thread{Kind: c.kind, Ref: c.ref}, Text: "hi"})
			wantCode(t, err, c.code)
			if n := f.srv.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls for a refused ref", n)
			}
		})
	}
}

func TestCreateCommentMentionsRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	// Emoji and non-ASCII before the mentions, so byte and code-point
	// offsets differ.
	c, err := f.p.CreateComment(ctx, providers.CommentInput{
		Thread:   contactThread("email:jane@acme.com"),
		Text:     "🚀 shipped — thanks {0} and {1}!",
		Mentions: []providers.MentionRef{{Index: 0, UserRef: "107"}, {Index: 1, UserRef: "105"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantText := "🚀 shipped — thanks @Zoë Park and @Émile Rousseau!"
	wantBody := "🚀 shipped — thanks {{@user.107}} and {{@user.105}}!"
	wantSpans := []model.Mention{{ProviderID: "aelyst1", UserRef: "107", Offset: 19, Length: 9}, {ProviderID: "aelyst1", UserRef: "105", Offset: 33, Length: 15}}
	check := func(t *testing.T, c *model.Comment) {
		t.Helper()
		if c.Text != wantText || c.Body != wantBody || c.Markup != model.MarkupPlain {
			t.Fatalf("text %q body %q markup %s", c.Text, c.Body, c.Markup)
		}
		if len(c.Mentions) != len(wantSpans) {
			t.Fatalf("mentions = %d, want %d", len(c.Mentions), len(wantSpans))
		}
		for i, m := range c.Mentions {
			if *m != wantSpans[i] {
				t.Errorf("mention %d = %+v, want %+v", i, *m, wantSpans[i])
			}
		}
		if c.ThreadRef != "id:2001" || c.ThreadKind != model.ThreadKindContact || c.ProviderID != "aelyst1" || c.SenderRef != "100" {
			t.Fatalf("comment = %+v", c)
		}
		if !c.CreatedAt.Equal(f.clk.Now()) || c.CreatedAt.Location() != time.UTC {
			t.Fatalf("createdAt = %v, want %v in UTC", c.CreatedAt, f.clk.Now())
		}
	}
	check(t, c)

	stored := f.srv.Comments(2001)
	if len(stored) != 1 || stored[0].Text != wantBody {
		t.Fatalf("upstream stored %+v", stored)
	}
	// Read back through every identifier of the contact: one thread, one journal.
	for _, ref := range []string{"id:2001", "email:jane@acme.com", "phone:+60121233112"} {
		t.Run("list "+ref, func(t *testing.T) {
			page, err := f.p.ListComments(ctx, contactThread(ref), providers.Page{First: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Edges) != 1 {
				t.Fatalf("%d comments, want 1", len(page.Edges))
			}
			check(t, page.Edges[0].Comment)
			got, err := f.p.GetComment(ctx, contactThread(ref), c.Ref)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got)
		})
	}
}

func TestCreateCommentRefusesBeforeCalling(t *testing.T) {
	long := strings.Repeat("😀", MaxCommentLength+1)
	almost := strings.Repeat("é", MaxCommentLength-10) + "{0}" // the token makes it 1003
	cases := []struct {
		name string
		in   providers.CommentInput
		code model.Code
	}{
		{"1001 emoji", providers.CommentInput{Text: long}, model.CodeBadUserInput},
		{"mention token counts", providers.CommentInput{Text: almost, Mentions: []providers.MentionRef{{Index: 0, UserRef: "107"}}}, model.CodeBadUserInput},
		{"empty", providers.CommentInput{Text: "  "}, model.CodeBadUserInput},
		{"placeholder without mention", providers.CommentInput{Text: "hi {0}"}, model.CodeBadUserInput},
		{"mention not a user id", providers.CommentInput{Text: "hi {0}", Mentions: []providers.MentionRef{{Index: 0, UserRef: "zoe"}}}, model.CodeBadUserInput},
		{"reply", providers.CommentInput{Text: "hi", ParentRef: "1735689600-abcdefabcdef"}, model.CodeUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			c.in.Thread = contactThread("id:2001")
			_, err := f.p.CreateComment(context.Background(), c.in)
			wantCode(t, err, c.code)
			if n := f.srv.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls", n)
			}
		})
	}
	t.Run("exactly 1000 emoji is accepted", func(t *testing.T) {
		f := newFixture(t, nil)
		text := strings.Repeat("😀", MaxCommentLength)
		c, err := f.p.CreateComment(context.Background(), providers.CommentInput{Thread: contactThread("id:2001"), Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if c.Text != text || len(f.srv.Comments(2001)) != 1 {
			t.Fatalf("stored %d comments", len(f.srv.Comments(2001)))
		}
	})
	t.Run("unknown mentioned user", func(t *testing.T) {
		f := newFixture(t, nil)
		_, err := f.p.CreateComment(context.Background(), providers.CommentInput{
			Thread: contactThread("id:2001"), Text: "hi {0}", Mentions: []providers.MentionRef{{Index: 0, UserRef: "999"}},
		})
		wantCode(t, err, model.CodeBadUserInput)
		if f.srv.Calls(aelysttest.EndpointCreateComment) != 0 {
			t.Fatal("posted a comment mentioning a user that does not exist")
		}
	})
}

func TestCreateCommentUnderRateLimitPostsEachOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	const n = 12 // more than two 5/s windows on one path
	for i := range n {
		if _, err := f.p.CreateComment(ctx, providers.CommentInput{Thread: contactThread("id:2002"), Text: fmt.Sprintf("note %d", i)}); err != nil {
			t.Fatalf("comment %d: %v", i, err)
		}
	}
	stored := f.srv.Comments(2002)
	if len(stored) != n {
		t.Fatalf("upstream stored %d comments, want %d", len(stored), n)
	}
	for i, c := range stored {
		if c.Text != fmt.Sprintf("note %d", i) {
			t.Fatalf("stored[%d] = %q: lost, doubled or reordered", i, c.Text)
		}
	}
	if got := f.srv.Calls(aelysttest.EndpointCreateComment); got <= n {
		t.Fatalf("%d POSTs for %d comments: the rate limit was never hit, the test proves nothing", got, n)
	}
	for _, d := range f.Sleeps() {
		if d != time.Second {
			t.Fatalf("waited %v, want the emulator's Retry-After of 1s", d)
		}
	}
	page, err := f.p.ListComments(ctx, contactThread("id:2002"), providers.Page{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Edges) != n {
		t.Fatalf("journal has %d comments, want %d", len(page.Edges), n)
	}
	for i, e := range page.Edges {
		if e.Comment.Text != fmt.Sprintf("note %d", i) {
			t.Fatalf("journal[%d] = %q, want creation order", i, e.Comment.Text)
		}
	}
}

func TestCreateCommentQueuedContact(t *testing.T) {
	t.Run("retried until processed", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.QueueContact("id:2003", 2)
		c, err := f.p.CreateComment(context.Background(), providers.CommentInput{Thread: contactThread("id:2003"), Text: "welcome aboard"})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.srv.Comments(2003)) != 1 || f.srv.Calls(aelysttest.EndpointCreateComment) != 3 {
			t.Fatalf("stored %d after %d calls", len(f.srv.Comments(2003)), f.srv.Calls(aelysttest.EndpointCreateComment))
		}
		// Two waits, each within ±50 % of the doubling schedule (jitter).
		got := f.Sleeps()
		if len(got) != 2 {
			t.Fatalf("backoff waits = %v, want two", got)
		}
		for i, base := range []time.Duration{defaultQueuedBackoff, 2 * defaultQueuedBackoff} {
			if got[i] < base/2 || got[i] > base*3/2 {
				t.Fatalf("backoff waits = %v: wait %d is outside %v ± 50 %%", got, i, base)
			}
		}
		if c.Text != "welcome aboard" {
			t.Fatalf("text = %q", c.Text)
		}
	})
	t.Run("gives up after QueuedTries", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.QueueContact("id:2003", 100)
		_, err := f.p.CreateComment(context.Background(), providers.CommentInput{Thread: contactThread("id:2003"), Text: "welcome aboard"})
		wantCode(t, err, model.CodeUpstreamUnavailable)
		if got := f.srv.Calls(aelysttest.EndpointCreateComment); got != defaultQueuedTries {
			t.Fatalf("%d tries, want %d", got, defaultQueuedTries)
		}
		if len(f.srv.Comments(2003)) != 0 {
			t.Fatal("a queued request was stored")
		}
	})
}

func TestCreateCommentAmbiguousFailureIsNotRetried(t *testing.T) {
	cases := []struct {
		name  string
		fault aelysttest.Fault
		code  model.Code
	}{
		{"500", aelysttest.Fault{Status: 500, Body: `{"code":500,"message":"Unexpected error occurred"}`}, model.CodeUpstreamUnavailable},
		{"502 garbage", aelysttest.Fault{Status: 502, Body: `<html>bad gateway`}, model.CodeUpstreamUnavailable},
		{"timeout", aelysttest.Fault{Delay: 5 * time.Second}, model.CodeUpstreamTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.srv.FailNext(aelysttest.EndpointCreateComment, c.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := f.p.CreateComment(ctx, providers.CommentInput{Thread: contactThread("id:2001"), Text: "hello"})
			me := wantCode(t, err, c.code)
			if !strings.Contains(me.Message, "may have been posted") {
				t.Errorf("message %q does not warn the comment may exist", me.Message)
			}
			if got := f.srv.Calls(aelysttest.EndpointCreateComment); got != 1 {
				t.Fatalf("%d POSTs, want exactly 1", got)
			}
		})
	}
}

func TestCreateCommentIdempotencyKey(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	in := providers.CommentInput{Thread: contactThread("email:mateo@lumen.es"), Text: "invoice sent", IdempotencyKey: "client-42"}
	first, err := f.p.CreateComment(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(3 * time.Second) // a naive retry would now store a new comment
	second, err := f.p.CreateComment(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Ref != second.Ref || len(f.srv.Comments(2002)) != 1 {
		t.Fatalf("refs %q/%q, stored %d", first.Ref, second.Ref, len(f.srv.Comments(2002)))
	}
	in.IdempotencyKey = "client-43"
	if _, err := f.p.CreateComment(ctx, in); err != nil {
		t.Fatal(err)
	}
	if len(f.srv.Comments(2002)) != 2 {
		t.Fatal("a new key did not post")
	}
}

func TestReadRateLimitRespectsBudget(t *testing.T) {
	f := newFixture(t, nil)
	exhaust := func() {
		for range 5 {
			if _, err := f.p.Thread(context.Background(), model.ThreadKindContact, "id:2004"); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("wait would pass the deadline", func(t *testing.T) {
		exhaust()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := f.p.Thread(ctx, model.ThreadKindContact, "id:2004")
		me := wantCode(t, err, model.CodeUpstreamRateLimited)
		if me.RetryAfter != time.Second {
			t.Fatalf("retryAfter = %v, want 1s", me.RetryAfter)
		}
		if len(f.Sleeps()) != 0 {
			t.Fatalf("slept %v instead of answering", f.Sleeps())
		}
	})
	t.Run("wait fits the budget", func(t *testing.T) {
		f.clk.Advance(time.Second)
		exhaust()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		th, err := f.p.Thread(ctx, model.ThreadKindContact, "id:2004")
		if err != nil {
			t.Fatal(err)
		}
		if th.Ref != "id:2004" || len(f.Sleeps()) != 1 {
			t.Fatalf("thread %+v after sleeps %v", th, f.Sleeps())
		}
	})
	t.Run("Retry-After beyond MaxRetryWait", func(t *testing.T) {
		f.srv.FailNext(aelysttest.EndpointGetContact, aelysttest.Fault{Status: 429, Body: `{"code":429,"message":"Too Many Requests"}`, Header: http.Header{"Retry-After": {"60"}}})
		before := len(f.Sleeps())
		_, err := f.p.Thread(context.Background(), model.ThreadKindContact, "id:2004")
		me := wantCode(t, err, model.CodeUpstreamRateLimited)
		if me.RetryAfter != time.Minute || len(f.Sleeps()) != before {
			t.Fatalf("retryAfter %v, slept %v", me.RetryAfter, f.Sleeps()[before:])
		}
	})
}

func TestUpstreamErrors(t *testing.T) {
	type op struct {
		name     string
		endpoint string
		do       func(p *Provider, ctx context.Context) error
	}
	ops := []op{
		{"Thread", aelysttest.EndpointGetContact, func(p *Provider, ctx context.Context) error {
			_, err := p.Thread(ctx, model.ThreadKindContact, "email:jane@acme.com")
			return err
		}},
		{"Users", aelysttest.EndpointGetUser, func(p *Provider, ctx context.Context) error {
			_, err := p.Users(ctx, []string{"101"})
			return err
		}},
		{"ListThreads", aelysttest.EndpointListContacts, func(p *Provider, ctx context.Context) error {
			_, err := p.ListThreads(ctx, providers.Page{First: 2})
			return err
		}},
		{"ListComments by email", aelysttest.EndpointGetContact, func(p *Provider, ctx context.Context) error {
			_, err := p.ListComments(ctx, contactThread("email:jane@acme.com"), providers.Page{First: 2})
			return err
		}},
	}
	faults := []struct {
		name  string
		fault aelysttest.Fault
		code  model.Code
	}{
		{"401", aelysttest.Fault{Status: 401, Body: `{"code":401,"message":"UN_AUTHORIZED"}`}, model.CodeUnauthenticated},
		{"404", aelysttest.Fault{Status: 404, Body: `{"code":404,"message":"Contact not found"}`}, model.CodeNotFound},
		{"429 beyond budget", aelysttest.Fault{Status: 429, Body: `{"code":429,"message":"Too Many Requests"}`, Header: http.Header{"Retry-After": {"3600"}}}, model.CodeUpstreamRateLimited},
		{"500", aelysttest.Fault{Status: 500, Body: `{"code":500,"message":"Unexpected error occurred"}`}, model.CodeUpstreamUnavailable},
		{"garbage 200", aelysttest.Fault{Status: 200, Body: `{"id": "not a number"`}, model.CodeUpstreamUnavailable},
		{"wrong shape 200", aelysttest.Fault{Status: 200, Body: `[1,2,3]`}, model.CodeUpstreamUnavailable},
		{"timeout", aelysttest.Fault{Delay: 5 * time.Second}, model.CodeUpstreamTimeout},
	}
	for _, o := range ops {
		for _, fl := range faults {
			if o.name == "Users" && fl.code == model.CodeNotFound {
				continue // a missing user is left out of the map (TestUsers)
			}
			t.Run(o.name+"/"+fl.name, func(t *testing.T) {
				f := newFixture(t, nil)
				f.srv.FailNext(o.endpoint, fl.fault)
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				err := o.do(f.p, ctx)
				me := wantCode(t, err, fl.code)
				if strings.Contains(err.Error(), testToken) || strings.Contains(me.Message, testToken) {
					t.Fatal("the token leaked into an error")
				}
			})
		}
	}
}

func TestWrongToken(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Token = "tok-wrong-789" })
	_, err := f.p.Thread(context.Background(), model.ThreadKindContact, "id:2001")
	wantCode(t, err, model.CodeUnauthenticated)
	if strings.Contains(err.Error(), "tok-wrong-789") {
		t.Fatal("the token leaked into an error")
	}
}

func TestListThreadsPages(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var got []string
	after := ""
	pages := 0
	for {
		page, err := f.p.ListThreads(ctx, providers.Page{First: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range page.Edges {
			got = append(got, e.Thread.Ref+"="+*e.Thread.Title)
		}
		if !page.HasNextPage {
			break
		}
		after = page.Edges[len(page.Edges)-1].Cursor
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	want := []string{"id:2001=Jane Doe", "id:2002=Mateo García", "id:2003=Aiko", "id:2004=Femi Adeyemi", "id:2005=Lena Müller"}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%d pages: %v, want 3: %v", pages, got, want)
	}
	for _, bad := range []string{"abc", "-3", "0", "1e3"} {
		t.Run("cursor "+bad, func(t *testing.T) {
			_, err := f.p.ListThreads(ctx, providers.Page{First: 2, After: bad})
			wantCode(t, err, model.CodeBadUserInput)
		})
	}
}

func TestUsers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	users, err := f.p.Users(ctx, []string{"107", "105", "106", "999", "not-a-number", "107"})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 {
		t.Fatalf("found %d users: %v", len(users), users)
	}
	zoe := users["107"]
	if zoe.Name != "Zoë Park" || *zoe.Email != "zoe@example.com" || *zoe.Title != "manager" || *zoe.Department != "Support" || zoe.ProviderID != "aelyst1" {
		t.Fatalf("zoë = %+v", zoe)
	}
	if users["106"].Department != nil {
		t.Fatalf("a user with no team has department %q", *users["106"].Department)
	}
	calls := f.srv.Calls(aelysttest.EndpointGetUser)
	if calls != 4 {
		t.Fatalf("%d look-ups, want one per valid distinct id (4)", calls)
	}
	if _, err := f.p.Users(ctx, []string{"107", "999"}); err != nil {
		t.Fatal(err)
	}
	if f.srv.Calls(aelysttest.EndpointGetUser) != calls {
		t.Fatal("fresh users were fetched again")
	}
	f.clk.Advance(userTTL + time.Second)
	if _, err := f.p.Users(ctx, []string{"107"}); err != nil {
		t.Fatal(err)
	}
	if f.srv.Calls(aelysttest.EndpointGetUser) != calls+1 {
		t.Fatal("a stale user was not fetched again")
	}
}

func TestRooms(t *testing.T) {
	f := newFixture(t, nil)
	rooms, err := f.p.Rooms(context.Background(), []string{"2002", "2003", "9999", "id:2001", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 2 || *rooms["2002"].Name != "Mateo García" || *rooms["2003"].Name != "Aiko" || rooms["2002"].Ref != "2002" {
		t.Fatalf("rooms = %v", rooms)
	}
	if got := f.srv.Calls(aelysttest.EndpointGetContact); got != 3 {
		t.Fatalf("%d calls, want 3 (one per numeric ref)", got)
	}
}

func TestListCommentsPagesBothWays(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	const n = 8
	for i := range n {
		if _, err := f.p.CreateComment(ctx, providers.CommentInput{Thread: contactThread("id:2005"), Text: "c" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			f.clk.Advance(time.Second) // some share a second, some do not
		}
	}
	thread := contactThread("id:2005")
	type walk struct {
		texts []string
		pages int
	}
	forward := walk{}
	after := ""
	for {
		page, err := f.p.ListComments(ctx, thread, providers.Page{First: 3, After: after})
		if err != nil {
			t.Fatal(err)
		}
		forward.pages++
		if forward.pages == 1 && page.HasPreviousPage {
			t.Fatal("first page says older comments exist")
		}
		if forward.pages > 1 && !page.HasPreviousPage {
			t.Fatal("a later page says no older comments exist")
		}
		for _, e := range page.Edges {
			forward.texts = append(forward.texts, e.Comment.Text)
		}
		if !page.HasNextPage {
			break
		}
		after = page.Edges[len(page.Edges)-1].Cursor
	}
	backward := walk{}
	before := ""
	for {
		page, err := f.p.ListComments(ctx, thread, providers.Page{Last: 3, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		backward.pages++
		if backward.pages == 1 && page.HasNextPage {
			t.Fatal("newest page says newer comments exist")
		}
		if backward.pages > 1 && !page.HasNextPage {
			t.Fatal("an older page says no newer comments exist")
		}
		var texts []string
		for _, e := range page.Edges {
			texts = append(texts, e.Comment.Text)
		}
		backward.texts = append(texts, backward.texts...)
		if !page.HasPreviousPage {
			break
		}
		before = page.Edges[0].Cursor
	}
	want := "c0,c1,c2,c3,c4,c5,c6,c7"
	if strings.Join(forward.texts, ",") != want || forward.pages != 3 {
		t.Fatalf("forward %d pages: %v", forward.pages, forward.texts)
	}
	if strings.Join(backward.texts, ",") != want || backward.pages != 3 {
		t.Fatalf("backward %d pages: %v", backward.pages, backward.texts)
	}
	for _, bad := range []string{"garbage", "1735689600-abcdefabcdef", "12.0", "12.-1", "1.2.3", strings.Repeat("9", 40) + ".1"} {
		t.Run("cursor "+bad, func(t *testing.T) {
			_, err := f.p.ListComments(ctx, thread, providers.Page{First: 3, After: bad})
			wantCode(t, err, model.CodeBadUserInput)
			_, err = f.p.ListComments(ctx, thread, providers.Page{Last: 3, Before: bad})
			wantCode(t, err, model.CodeBadUserInput)
		})
	}
	t.Run("unknown comment", func(t *testing.T) {
		_, err := f.p.GetComment(ctx, thread, "1-abcdefabcdef")
		wantCode(t, err, model.CodeNotFound)
		_, err = f.p.GetComment(ctx, thread, "nonsense")
		wantCode(t, err, model.CodeNotFound)
	})
}
