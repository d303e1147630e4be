package klink

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// hook serves p.ReceiveWebhook over HTTP the way the gateway will: 401 for
// UNAUTHENTICATED, 400 for BAD_USER_INPUT, 204 with the Change sent on.
func hook(t *testing.T, p *Provider) (*httptest.Server, chan *providers.Change) {
	t.Helper()
	changes := make(chan *providers.Change, 16)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ch, err := p.ReceiveWebhook(r.Context(), r.Header, body)
		switch model.ErrorCode(err) {
		case "":
			changes <- ch
			w.WriteHeader(http.StatusNoContent)
		case model.CodeUnauthenticated:
			w.WriteHeader(http.StatusUnauthorized)
		case model.CodeBadUserInput:
			w.WriteHeader(http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(hs.Close)
	return hs, changes
}

func receive(t *testing.T, ch chan *providers.Change) *providers.Change {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no change arrived")
		return nil
	}
}

func TestWebhookInboundMessageFromEmulator(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	hs, changes := hook(t, e.p)
	e.emu.SetWebhook(hs.URL, "whsec")
	e.emu.AddRoom("room-7", "Jo Müller")
	if err := e.emu.InboundMessage("room-7", "Jo Müller", "Hallo, ist das Paket unterwegs? 📦"); err != nil {
		t.Fatal(err)
	}
	ch := receive(t, changes)
	if !strings.HasPrefix(ch.Key, "message.inbound:") || len(ch.Key) <= len("message.inbound:") {
		t.Fatalf("change %+v", ch)
	}
	if len(ch.Rooms) != 1 || ch.Rooms[0].Ref != "room-7" || ch.Rooms[0].Name == nil || *ch.Rooms[0].Name != "Jo Müller" {
		t.Fatalf("rooms %+v", ch.Rooms)
	}
	if len(ch.Users) != 1 || ch.Users[0].Name != "Jo Müller" || len(ch.Comments) != 0 {
		t.Fatalf("users %+v comments %+v", ch.Users, ch.Comments)
	}

	ctx := context.Background()
	rooms, err := e.p.Rooms(ctx, []string{"room-7"})
	if err != nil || rooms["room-7"] == nil || *rooms["room-7"].Name != "Jo Müller" {
		t.Fatalf("room not learned: %v %v", rooms, err)
	}
	th, err := e.p.Thread(ctx, model.ThreadKindRoom, "room-7")
	if err != nil || th.Title == nil || *th.Title != "Jo Müller" {
		t.Fatalf("thread %+v %v", th, err)
	}
	// Listing its comments must not forget the room's name.
	if _, err := e.p.ListComments(ctx, th, providers.Page{First: 1}); err != nil {
		t.Fatal(err)
	}
	threads, err := e.p.ListThreads(ctx, providers.Page{First: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(threads.Edges) != 1 || threads.Edges[0].Thread.Ref != "room-7" || *threads.Edges[0].Thread.Title != "Jo Müller" {
		t.Fatalf("threads %+v", threads.Edges)
	}
}

func TestWebhookContactEvents(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	hs, changes := hook(t, e.p)
	e.emu.SetWebhook(hs.URL, "whsec")
	ctx := context.Background()
	contact := map[string]any{
		"id": "ct-1", "name": "Émilie Durand", "roomId": "room-9",
		"contactEmails": []any{
			map[string]any{"email": "old@example.com", "isPrimary": false},
			map[string]any{"email": "emilie@example.com", "isPrimary": true},
		},
		"createdAt": "2026-01-09T03:42:38.000000Z",
	}
	if err := e.emu.Deliver(ctx, "contact.create", contact); err != nil {
		t.Fatal(err)
	}
	ch := receive(t, changes)
	if ch.Key != "contact.create:ct-1" || len(ch.Users) != 1 || ch.Users[0].Email == nil || *ch.Users[0].Email != "emilie@example.com" {
		t.Fatalf("change %+v", ch)
	}
	if len(ch.Rooms) != 1 || *ch.Rooms[0].Name != "Émilie Durand" {
		t.Fatalf("rooms %+v", ch.Rooms)
	}
	contact["name"] = "Émilie Durand-Roy"
	if err := e.emu.Deliver(ctx, "contact.update", contact); err != nil {
		t.Fatal(err)
	}
	ch = receive(t, changes)
	users, _ := e.p.Users(ctx, []string{"ct-1"})
	if ch.Key != "contact.update:ct-1" || users["ct-1"].Name != "Émilie Durand-Roy" {
		t.Fatalf("update not learned: %+v %v", ch, users)
	}
	if err := e.emu.Deliver(ctx, "contact.delete", map[string]any{"id": "ct-1"}); err != nil {
		t.Fatal(err)
	}
	if ch = receive(t, changes); len(ch.DeletedUsers) != 1 || ch.DeletedUsers[0] != "ct-1" {
		t.Fatalf("delete %+v", ch)
	}
	if err := e.emu.Deliver(ctx, "room.solved", map[string]any{"id": "room-9"}); err != nil {
		t.Fatal(err)
	}
	if ch = receive(t, changes); ch.Key != "room.solved:room-9" || len(ch.Users)+len(ch.Rooms) != 0 {
		t.Fatalf("room.solved %+v", ch)
	}
}

func TestWebhookVerification(t *testing.T) {
	const secret = "whsec"
	e := newEnv(t, klinktest.Options{}, nil)
	hs, changes := hook(t, e.p)
	now := e.clock.Now()
	body := func(at time.Time) []byte {
		b, _ := json.Marshal(map[string]any{
			"event": "message.inbound", "timestamp": at.Format("2006-01-02T15:04:05.000000Z"),
			"data": map[string]any{"id": "m-1", "roomId": "room-5", "sender": map[string]any{"id": "ct-5", "name": "Kai"}},
		})
		return b
	}
	fresh := body(now)
	good := klinktest.Sign(secret, fresh)
	for _, tc := range []struct {
		name   string
		body   []byte
		header http.Header
		want   int
	}{
		{"x-signature", fresh, http.Header{"X-Signature": {good}}, 204},
		{"authorization, bare digest", fresh, http.Header{"Authorization": {good}}, 204},
		{"authorization with a scheme", fresh, http.Header{"Authorization": {"HMAC-SHA256 " + good}}, 204},
		{"authorization sha256=", fresh, http.Header{"Authorization": {"Signature sha256=" + good}}, 204},
		{"x-signature wins over authorization", fresh, http.Header{"X-Signature": {strings.Repeat("0", 64)}, "Authorization": {good}}, 401},
		{"unsigned", fresh, http.Header{}, 401},
		{"wrong secret", fresh, http.Header{"X-Signature": {klinktest.Sign("other", fresh)}}, 401},
		{"not hex", fresh, http.Header{"X-Signature": {"zz" + good[2:]}}, 401},
		{"truncated digest", fresh, http.Header{"X-Signature": {good[:32]}}, 401},
		{"body changed after signing", bytes.Replace(fresh, []byte("Kai"), []byte("Eve"), 1), http.Header{"X-Signature": {good}}, 401},
		{"stale", body(now.Add(-6 * time.Minute)), nil, 401},
		{"from the future", body(now.Add(2 * time.Minute)), nil, 401},
		{"four minutes old is fine", body(now.Add(-4 * time.Minute)), nil, 204},
		{"signed garbage", []byte(`{"event":`), nil, 400},
		{"signed, no event", []byte(`{"timestamp":"` + now.Format(time.RFC3339) + `","data":{}}`), nil, 400},
		{"signed, no timestamp", []byte(`{"event":"message.inbound","data":{}}`), nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{"X-Signature": {klinktest.Sign(secret, tc.body)}}
			}
			req, _ := http.NewRequest(http.MethodPost, hs.URL, bytes.NewReader(tc.body))
			for k, v := range h {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 204 {
				if c := receive(t, changes); c.Key != "message.inbound:m-1" {
					t.Fatalf("key %q", c.Key)
				}
			}
		})
	}
	// Nothing was learned from the refused ones: only the accepted deliveries
	// named room-5, and they all did.
	rooms, _ := e.p.Rooms(context.Background(), []string{"room-5"})
	if rooms["room-5"] == nil || *rooms["room-5"].Name != "Kai" {
		t.Fatalf("rooms %v", rooms)
	}
}

func TestWebhookRefusedWithoutSecret(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, func(o *Options) { o.WebhookSecret = "" })
	body := []byte(`{"event":"message.inbound","timestamp":"2026-02-27T12:00:01.000000Z","data":{"id":"m","roomId":"room-5"}}`)
	// Signed with the empty key: exactly what a forger would do.
	_, err := e.p.ReceiveWebhook(context.Background(), http.Header{"X-Signature": {klinktest.Sign("", body)}}, body)
	wantCode(t, err, model.CodeUnauthenticated)
	rooms, _ := e.p.Rooms(context.Background(), []string{"room-5"})
	if len(rooms) != 0 {
		t.Fatal("learned from an untrusted delivery")
	}
}

func TestWebhookSecretNotInErrors(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, func(o *Options) { o.WebhookSecret = "whsec_do_not_leak" })
	body := []byte(`{"event":"x"}`)
	for _, h := range []http.Header{{}, {"X-Signature": {"whsec_do_not_leak"}}, {"X-Signature": {klinktest.Sign("nope", body)}}} {
		_, err := e.p.ReceiveWebhook(context.Background(), h, body)
		wantCode(t, err, model.CodeUnauthenticated)
		if strings.Contains(err.Error(), "whsec_do_not_leak") {
			t.Fatalf("error repeats the secret: %v", err)
		}
	}
}

func TestWebhookReplayHasSameKey(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	now := e.clock.Now()
	for _, data := range []string{`{"id":"m-9","roomId":"r"}`, `{"roomId":"r"}`, `{"id":42}`} {
		body := []byte(`{"event":"message.outbound","timestamp":"` + now.Format(time.RFC3339Nano) + `","data":` + data + `}`)
		h := http.Header{"X-Signature": {klinktest.Sign("whsec", body)}}
		a, err := e.p.ReceiveWebhook(context.Background(), h, body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.p.ReceiveWebhook(context.Background(), h, body)
		if err != nil {
			t.Fatal(err)
		}
		if a.Key != b.Key || a.Key == "message.outbound:" {
			t.Fatalf("data %s: keys %q and %q", data, a.Key, b.Key)
		}
	}
}
