package aelyst

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
)

// TestCreateCommentContactVariables posts contact variables through the
// emulator: Aelyst keeps them raw (Body), the journal shows them filled with
// the contact's fields (Text), mention spans still point at the mention, and
// an unknown variable or an empty field stays as written.
func TestCreateCommentContactVariables(t *testing.T) {
	tests := []struct {
		name, thread, text, want string
		offset                   int
	}{
		{"email identifier", "email:jane@acme.com", "Called {{$contact.name}} ({{ $contact.email }}), {0} FYI {{$contact.nope}}",
			"Called Jane Doe (jane@acme.com), @Ana Lee FYI {{$contact.nope}}", 33},
		{"id identifier, fields missing", "id:2003", "{{$contact.firstName}} {{$contact.lastName}} on {{$contact.phone}} — {0}",
			"Aiko {{$contact.lastName}} on +81312345678 — @Ana Lee", 45},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := context.Background()
			c, err := f.p.CreateComment(ctx, providers.CommentInput{
				Thread: contactThread(tc.thread), Text: tc.text,
				Mentions: []providers.MentionRef{{Index: 0, UserRef: "101"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			wantBody := strings.Replace(tc.text, "{0}", "{{@user.101}}", 1)
			if c.Text != tc.want || c.Body != wantBody {
				t.Fatalf("text %q body %q, want %q %q", c.Text, c.Body, tc.want, wantBody)
			}
			if len(c.Mentions) != 1 || c.Mentions[0].Offset != tc.offset || c.Mentions[0].Length != len([]rune("@Ana Lee")) {
				t.Fatalf("mentions %+v", c.Mentions)
			}
			page, err := f.p.ListComments(ctx, contactThread(tc.thread), providers.Page{First: 5})
			if err != nil || len(page.Edges) != 1 || page.Edges[0].Comment.Text != tc.want {
				t.Fatalf("journal %+v %v", page, err)
			}
		})
	}

	// Without a variable, no contact is read for one.
	f := newFixture(t, nil)
	if _, err := f.p.CreateComment(context.Background(), providers.CommentInput{Thread: contactThread("id:2001"), Text: "{{$contact}} {{ @user.x }} plain"}); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Calls(aelysttest.EndpointGetContact); n != 0 {
		t.Fatalf("%d contact reads for a comment without variables", n)
	}
}

// TestWebhookContactVariables fills variables from the delivery's contact,
// and reads the contact when the delivery carries no name.
func TestWebhookContactVariables(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		contact map[string]any
		reads   int
	}{
		{"named in the delivery", map[string]any{"id": 2002, "firstName": "Mateo", "lastName": "García"}, 0},
		{"id only", map[string]any{"id": 2002}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.srv.ResetCalls()
			at := f.clk.Now().Unix()
			body, _ := json.Marshal(map[string]any{
				"event_type": "comment.created", "event_id": "ev-" + tc.name, "contact": tc.contact,
				"comment": map[string]any{"text": "{{$contact.name}} paid — " + tc.name, "created_at": at},
			})
			ch, err := f.p.ReceiveWebhook(ctx, signed(testSecret, body), body)
			if err != nil {
				t.Fatal(err)
			}
			if len(ch.Comments) != 1 || ch.Comments[0].Text != "Mateo García paid — "+tc.name {
				t.Fatalf("comments %+v", ch.Comments)
			}
			if n := f.srv.Calls(aelysttest.EndpointGetContact); n != tc.reads {
				t.Fatalf("%d contact reads, want %d", n, tc.reads)
			}
		})
	}
}

// holdCreate lets a test hold the answer to the comment POST until it has
// seen the webhook echo: Aelyst may deliver before it answers.
type holdCreate struct {
	base    http.RoundTripper
	release chan struct{}
}

func (h *holdCreate) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/comment") {
		<-h.release
	}
	return resp, err
}

// TestPostedCommentSender: a comment the gateway posts names the token's
// user as sender — given by id, or by email (found by paging the space
// users, once) — in the create's answer, in the journal, and in the webhook
// echo even when the echo is ingested before the POST is answered.
func TestPostedCommentSender(t *testing.T) {
	tests := []struct {
		name  string
		opts  func(*Options)
		want  string
		lists int
	}{
		{"by id", func(o *Options) {}, "100", 0},
		{"by email", func(o *Options) { o.BotUserRef, o.BotUserEmail = "", " API.bot@Example.com " }, "5000", 3},
		{"email of nobody", func(o *Options) { o.BotUserRef, o.BotUserEmail = "", "ghost@example.com" }, "", 3},
		{"neither", func(o *Options) { o.BotUserRef = "" }, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hold := &holdCreate{base: http.DefaultTransport, release: make(chan struct{})}
			f := newFixture(t, func(o *Options) {
				tc.opts(o)
				o.HTTPClient = &http.Client{Transport: hold}
			})
			// The bot sits on the third page of space users.
			for i := range 220 {
				f.srv.AddUser(aelysttest.User{ID: int64(1000 + i), FirstName: "Agent", LastName: fmt.Sprint(i), Email: fmt.Sprintf("agent%d@example.com", i)})
			}
			f.srv.AddUser(aelysttest.User{ID: 5000, FirstName: "API", LastName: "Bot", Email: "api.bot@example.com"})
			url, got := receiver(t, f.p)
			f.srv.SetWebhook(url, testSecret)
			ctx := context.Background()

			for i, text := range []string{"First {{$contact.name}} note", "Second note"} {
				type result struct {
					sender string
					err    error
				}
				done := make(chan result, 1)
				go func() {
					c, err := f.p.CreateComment(ctx, providers.CommentInput{Thread: contactThread("email:jane@acme.com"), Text: text})
					if err != nil {
						done <- result{err: err}
						return
					}
					done <- result{sender: c.SenderRef}
				}()
				echo := next(t, got) // ingested while the POST's answer is held
				hold.release <- struct{}{}
				r := <-done
				if r.err != nil {
					t.Fatal(r.err)
				}
				if echo.err != nil || len(echo.change.Comments) != 1 || echo.change.Comments[0].SenderRef != tc.want {
					t.Fatalf("comment %d: echo %+v (%v), want sender %q", i, echo.change, echo.err, tc.want)
				}
				if r.sender != tc.want {
					t.Fatalf("comment %d: created with sender %q, want %q", i, r.sender, tc.want)
				}
			}
			page, err := f.p.ListComments(ctx, contactThread("id:2001"), providers.Page{First: 10})
			if err != nil || len(page.Edges) != 2 {
				t.Fatalf("journal %+v %v", page, err)
			}
			for _, e := range page.Edges {
				if e.Comment.SenderRef != tc.want {
					t.Fatalf("journaled %q with sender %q, want %q", e.Comment.Text, e.Comment.SenderRef, tc.want)
				}
			}
			if page.Edges[0].Comment.Text != "First Jane Doe note" {
				t.Fatalf("journaled text %q", page.Edges[0].Comment.Text)
			}
			if n := f.srv.Calls(aelysttest.EndpointListUsers); n != tc.lists {
				t.Fatalf("%d space-user list calls for two comments, want %d", n, tc.lists)
			}
		})
	}
}
