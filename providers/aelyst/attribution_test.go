package aelyst

import (
	"context"
	"encoding/json"
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
