package aelyst

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/logtest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
)

type received struct {
	change *providers.Change
	err    error
}

// receiver is the gateway's /webhooks/{id} in miniature: it hands each
// delivery to ReceiveWebhook and reports the outcome on a channel.
func receiver(t *testing.T, p *Provider) (string, <-chan received) {
	t.Helper()
	ch := make(chan received, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		change, err := p.ReceiveWebhook(r.Context(), r.Header, body)
		ch <- received{change, err}
		switch model.ErrorCode(err) {
		case "":
			w.WriteHeader(http.StatusOK)
		case model.CodeUnauthenticated:
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

func next(t *testing.T, ch <-chan received) received {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery arrived")
		return received{}
	}
}

func TestWebhookCommentCreated(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	url, got := receiver(t, f.p)
	f.srv.SetWebhook(url, testSecret)

	f.srv.AddComment(aelysttest.Comment{ContactID: 2003, AuthorID: 106, Text: "日本語で対応します 🙂 {{@user.107}} — {{$contact.name}} is happy"})
	r := next(t, got)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.change.Comments) != 1 || r.change.Key == "" {
		t.Fatalf("change = %+v", r.change)
	}
	c := r.change.Comments[0]
	if c.Text != "日本語で対応します 🙂 @Zoë Park — Aiko is happy" || c.ThreadRef != "id:2003" || c.SenderRef != "" {
		t.Fatalf("comment = %+v", c)
	}
	if len(c.Mentions) != 1 || c.Mentions[0].Offset != 12 || c.Mentions[0].Length != 9 || c.Mentions[0].UserRef != "107" {
		t.Fatalf("mentions = %+v", c.Mentions[0])
	}
	if len(r.change.Rooms) != 1 || *r.change.Rooms[0].Name != "Aiko" {
		t.Fatalf("rooms = %+v", r.change.Rooms)
	}

	// A replay (same event id, same bytes) changes nothing.
	status, err := f.srv.Redeliver(r.change.Key)
	if err != nil || status != http.StatusOK {
		t.Fatalf("redeliver: %d %v", status, err)
	}
	replay := next(t, got)
	if replay.err != nil || replay.change.Key != r.change.Key || len(replay.change.Comments) != 1 || replay.change.Comments[0].ID() != c.ID() {
		t.Fatalf("replay = %+v %v, want the same comment again", replay.change, replay.err)
	}
	page, err := f.p.ListComments(ctx, contactThread("phone:+81312345678"), providers.Page{First: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Edges) != 1 || page.Edges[0].Comment.Ref != c.Ref {
		t.Fatalf("journal has %d comments", len(page.Edges))
	}
	// Resolving the phone used what the webhook said about the contact.
	if n := f.srv.Calls(aelysttest.EndpointGetContact); n != 0 {
		t.Fatalf("%d contact look-ups, want 0", n)
	}

	t.Run("stale replay is refused", func(t *testing.T) {
		f.clk.Advance(2 * time.Hour)
		status, err := f.srv.Redeliver(r.change.Key)
		if err != nil || status != http.StatusUnauthorized {
			t.Fatalf("redeliver: %d %v", status, err)
		}
		wantCode(t, next(t, got).err, model.CodeUnauthenticated)
	})
}

func TestWebhookEchoOfCreatedCommentIsNotDoubled(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	url, got := receiver(t, f.p)
	f.srv.SetWebhook(url, testSecret)
	created, err := f.p.CreateComment(ctx, providers.CommentInput{
		Thread: contactThread("email:jane@acme.com"), Text: "Refund approved, {0} please close this out.",
		Mentions: []providers.MentionRef{{Index: 0, UserRef: "101"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The echo may be ingested before or after CreateComment journals the
	// comment (the emulator delivers as soon as it stores); either way it is
	// the same comment, with the same global ID, and the journal holds one.
	r := next(t, got)
	if r.err != nil || len(r.change.Comments) != 1 || r.change.Comments[0].ID() != created.ID() {
		t.Fatalf("echo brought %+v (%v), want the created comment", r.change, r.err)
	}
	page, err := f.p.ListComments(ctx, contactThread("id:2001"), providers.Page{Last: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Edges) != 1 || page.Edges[0].Comment.Ref != created.Ref || page.Edges[0].Comment.SenderRef != "100" {
		t.Fatalf("journal: %d comments", len(page.Edges))
	}
}

func TestWebhookSeededBacklogAndDemoActivity(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.SeedDemo()
	url, got := receiver(t, f.p)
	f.srv.SetWebhook(url, testSecret) // delivers the seeded backlog
	seeded := 0
	for _, id := range []int64{2001, 2002, 2003, 2004, 2005} {
		seeded += len(f.srv.Comments(id))
	}
	for range seeded {
		if r := next(t, got); r.err != nil || len(r.change.Comments) != 1 {
			t.Fatalf("backlog delivery: %+v %v", r.change, r.err)
		}
	}
	page, err := f.p.ListComments(context.Background(), contactThread("id:2001"), providers.Page{First: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Edges) != len(f.srv.Comments(2001)) || !strings.Contains(page.Edges[0].Comment.Text, "@Dana Kowalski") {
		t.Fatalf("journal of 2001: %d comments, first %q", len(page.Edges), page.Edges[0].Comment.Text)
	}
}

func TestWebhookRefusals(t *testing.T) {
	logs := &syncBuffer{}
	f := newFixture(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	t.Cleanup(func() {
		if out := logs.String(); strings.Contains(out, testSecret) || strings.Contains(out, testToken) {
			t.Errorf("a secret reached the log:\n%s", out)
		}
		if !strings.Contains(logs.String(), "webhook refused") {
			t.Error("refusals were not logged")
		}
	})
	ctx := context.Background()
	now := f.clk.Now().Unix()
	valid := []byte(`{"event_type":"comment.created","event_id":"e1","contact":{"id":2001,"firstName":"Jane"},"comment":{"text":"hi","created_at":` + itoa(now) + `}}`)
	cases := []struct {
		name   string
		body   []byte
		header http.Header
		code   model.Code
	}{
		{"unsigned", valid, http.Header{}, model.CodeUnauthenticated},
		{"wrong secret", valid, signed("not-the-secret", valid), model.CodeUnauthenticated},
		{"signature not base64", valid, http.Header{"X-Webhook-Signature": {"%%%"}}, model.CodeUnauthenticated},
		{"body changed after signing", append([]byte(" "), valid...), signed(testSecret, valid), model.CodeUnauthenticated},
		{"stale", commentEvent("e2", now-7200), signed(testSecret, commentEvent("e2", now-7200)), model.CodeUnauthenticated},
		{"from the future", commentEvent("e3", now+7200), signed(testSecret, commentEvent("e3", now+7200)), model.CodeUnauthenticated},
		{"garbage JSON", []byte(`{"event_type":`), signed(testSecret, []byte(`{"event_type":`)), model.CodeBadUserInput},
		{"no event id", []byte(`{"event_type":"comment.created"}`), signed(testSecret, []byte(`{"event_type":"comment.created"}`)), model.CodeBadUserInput},
		{"comment without contact", []byte(`{"event_type":"comment.created","event_id":"e4","comment":{"text":"x","created_at":1}}`),
			signed(testSecret, []byte(`{"event_type":"comment.created","event_id":"e4","comment":{"text":"x","created_at":1}}`)), model.CodeBadUserInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.p.ReceiveWebhook(ctx, c.header, c.body)
			me := wantCode(t, err, c.code)
			if strings.Contains(err.Error(), testSecret) || strings.Contains(me.Message, testSecret) {
				t.Fatal("the webhook secret leaked into an error")
			}
			page, err := f.p.ListComments(ctx, contactThread("id:2001"), providers.Page{First: 5})
			if err != nil || len(page.Edges) != 0 {
				t.Fatalf("a refused delivery was journaled (%v)", err)
			}
		})
	}
	t.Run("no secret configured refuses everything", func(t *testing.T) {
		g := newFixture(t, func(o *Options) { o.WebhookSecret = "" })
		_, err := g.p.ReceiveWebhook(ctx, signed("", valid), valid)
		wantCode(t, err, model.CodeUnauthenticated)
	})
	t.Run("valid one is accepted", func(t *testing.T) {
		ch, err := f.p.ReceiveWebhook(ctx, signed(testSecret, valid), valid)
		if err != nil || len(ch.Comments) != 1 || ch.Key != "e1" {
			t.Fatalf("%+v %v", ch, err)
		}
	})
}

func TestWebhookContactEvents(t *testing.T) {
	f := newFixture(t, nil)
	url, got := receiver(t, f.p)
	f.srv.SetWebhook(url, testSecret)
	f.srv.AddContact(aelysttest.Contact{ID: 2002, FirstName: "Mateo", LastName: "García Ruiz", Email: "mateo@nuevo.es"})
	r := next(t, got)
	if r.err != nil || len(r.change.Rooms) != 1 || *r.change.Rooms[0].Name != "Mateo García Ruiz" || r.change.Rooms[0].Ref != "2002" {
		t.Fatalf("contact.updated: %+v %v", r.change, r.err)
	}
	// The new email resolves from what the event said, without a call.
	if _, err := f.p.ListComments(context.Background(), contactThread("email:mateo@nuevo.es"), providers.Page{First: 1}); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Calls(aelysttest.EndpointGetContact); n != 0 {
		t.Fatalf("%d look-ups", n)
	}
	f.srv.AddContact(aelysttest.Contact{FirstName: "Nadia", LastName: "Haddad"})
	r = next(t, got)
	if r.err != nil || len(r.change.Rooms) != 1 || *r.change.Rooms[0].Name != "Nadia Haddad" {
		t.Fatalf("contact.created: %+v %v", r.change, r.err)
	}
}

func TestWebhookUnknownEventIsAcknowledged(t *testing.T) {
	f := newFixture(t, nil)
	body := []byte(`{"event_type":"message.received","event_id":"m1","contact":{"id":2001},"message":{"type":"text","text":"hi"}}`)
	ch, err := f.p.ReceiveWebhook(context.Background(), signed(testSecret, body), body)
	if err != nil || ch.Key != "m1" || len(ch.Comments)+len(ch.Rooms)+len(ch.Users) != 0 {
		t.Fatalf("%+v %v", ch, err)
	}
}

type syncBuffer = logtest.Buffer

func signed(secret string, body []byte) http.Header {
	return http.Header{"X-Webhook-Signature": {aelysttest.Sign(secret, body)}}
}

func commentEvent(id string, at int64) []byte {
	b, _ := json.Marshal(map[string]any{
		"event_type": "comment.created", "event_id": id,
		"contact": map[string]any{"id": 2001}, "comment": map[string]any{"text": "x", "created_at": at},
	})
	return b
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
