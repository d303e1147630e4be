package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// liveEvent is one commentAdded delivery as a client sees it.
type liveEvent struct {
	EventID string
	Text    string
	Source  string // provider id
}

// subscribeWS opens a graphql-transport-ws subscription to every comment and
// returns its deliveries.
func subscribeWS(t *testing.T, g *gateway, since string) <-chan liveEvent {
	t.Helper()
	before := subscriberCount(g)
	c := wsDial(t, g, "graphql-transport-ws", nil)
	_ = c.WriteJSON(wsMsg{Type: "connection_init"})
	if m := wsRead(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %+v", m)
	}
	vars := map[string]any{}
	if since != "" {
		vars["since"] = since
	}
	payload, _ := json.Marshal(map[string]any{"query": `subscription($since: String) { commentAdded(since: $since) { text provider { id } } }`, "variables": vars})
	_ = c.WriteJSON(wsMsg{ID: "s", Type: "subscribe", Payload: payload})
	waitSubscribers(t, g, before+1)
	out := make(chan liveEvent, 100)
	go func() {
		defer close(out)
		for {
			var m wsMsg
			if err := c.ReadJSON(&m); err != nil {
				return
			}
			if m.Type != "next" {
				continue
			}
			out <- decodeLive(m.Payload)
		}
	}()
	return out
}

func decodeLive(payload []byte) liveEvent {
	var p struct {
		Data struct {
			CommentAdded struct {
				Text     string
				Provider struct{ ID string }
			} `json:"commentAdded"`
		} `json:"data"`
		Extensions struct {
			EventID string `json:"eventId"`
		} `json:"extensions"`
	}
	_ = json.Unmarshal(payload, &p)
	return liveEvent{EventID: p.Extensions.EventID, Text: p.Data.CommentAdded.Text, Source: p.Data.CommentAdded.Provider.ID}
}

func subscriberCount(g *gateway) float64 { return testutil.ToFloat64(g.app.metrics.subscribers) }

// next waits for one delivery.
func next[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("subscription ended")
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery within 15s")
	}
	var zero T
	return zero
}

type sharedWorld struct {
	klink  *klinktest.Server
	aelyst *aelysttest.Server
	virola *virolatest.Server
	parent int64 // a Virola parent message
}

func newSharedWorld(t *testing.T) *sharedWorld {
	t.Helper()
	w := &sharedWorld{klink: klinkWorld(t, 0)}
	w.aelyst = aelysttest.NewServer(aelysttest.Options{})
	t.Cleanup(w.aelyst.Close)
	w.aelyst.AddUser(aelysttest.User{ID: 42, FirstName: "Ana", LastName: "Lee"})
	w.aelyst.AddContact(aelysttest.Contact{ID: 1817, FirstName: "Jane", Email: "jane@acme.test"})
	w.virola = virolatest.NewServer(virolatest.Options{})
	t.Cleanup(w.virola.Close)
	w.virola.AddUser(virolatest.User{ID: 3, UserName: "zoe", DisplayName: "Zoë Park"})
	room := w.virola.AddRoom(virolatest.Room{Name: "General"})
	var err error
	if w.parent, err = w.virola.AddMessage(virolatest.Message{RoomID: room.ID, UserID: 3, Text: "Release plan"}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *sharedWorld) config(t *testing.T, redisURL string) *config.Config {
	cfg := newTestConfig(t,
		config.Provider{ID: "klink", Kind: "klink", BaseURL: w.klink.URL, Token: klinktest.DefaultToken},
		config.Provider{ID: "aelyst", Kind: "aelyst", BaseURL: w.aelyst.URL, Token: aelysttest.DefaultToken, WebhookSecret: "whsec-aelyst"},
		config.Provider{ID: "virola", Kind: "virola", BaseURL: w.virola.URL, Token: virolatest.DefaultToken},
	)
	cfg.Redis.URL = redisURL
	return cfg
}

// Two gateway instances share one Redis: a subscriber on A receives, once and
// in order, comments that reach B by mutation, by signed webhook and by the
// Virola event stream (which both instances follow); a forged webhook
// delivers nothing.
func TestTwoInstancesDeliverEverySourceOnceInOrder(t *testing.T) {
	r := redistest.MustStart(t)
	w := newSharedWorld(t)
	a := MustStartGateway(t, w.config(t, r.URL))
	b := MustStartGateway(t, w.config(t, r.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := w.virola.WaitStreams(ctx, 2); err != nil {
		t.Fatalf("both instances should follow Virola's events: %v", err)
	}
	live := subscribeWS(t, a, "")

	var got []liveEvent
	createKlinkComment(t, b, "1 by mutation on B")
	got = append(got, next(t, live))

	w.aelyst.SetWebhook(b.url+"/webhooks/aelyst", "whsec-aelyst")
	w.aelyst.AddComment(aelysttest.Comment{ContactID: 1817, Text: "2 by webhook to B", AuthorID: 42})
	got = append(got, next(t, live))

	if _, err := w.virola.AddComment(w.parent, virolatest.Message{UserID: 3, Text: "3 by the Virola stream"}); err != nil {
		t.Fatal(err)
	}
	got = append(got, next(t, live))

	// A forged delivery: well-formed, wrong signature.
	body := []byte(`{"event_type":"comment.created","event_id":"forged-1","contact":{"id":1817},"comment":{"text":"FORGED","created_at":` + jsonNumber(time.Now().Unix()) + `}}`)
	req, _ := http.NewRequest(http.MethodPost, b.url+"/webhooks/aelyst", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(aelysttest.SignatureHeader, aelysttest.Sign("not-the-secret", body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged webhook answered %d, want 401", resp.StatusCode)
	}
	// And an unsigned one.
	req, _ = http.NewRequest(http.MethodPost, b.url+"/webhooks/aelyst", bytes.NewReader(body))
	if resp, err = http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned webhook answered %d, want 401", resp.StatusCode)
		}
	}

	createKlinkComment(t, b, "4 marker")
	got = append(got, next(t, live))

	want := []struct{ text, source string }{
		{"1 by mutation on B", "klink"}, {"2 by webhook to B", "aelyst"}, {"3 by the Virola stream", "virola"}, {"4 marker", "klink"},
	}
	for i, w := range want {
		if got[i].Text != w.text || got[i].Source != w.source {
			t.Errorf("delivery %d = %+v, want %q from %s", i, got[i], w.text, w.source)
		}
		if got[i].EventID == "" {
			t.Errorf("delivery %d has no eventId", i)
		}
	}
	// Nothing else arrived: no duplicate of the stream event (both instances
	// saw it), no forged comment.
	select {
	case ev := <-live:
		t.Errorf("extra delivery %+v", ev)
	default:
	}
}

// Redis restarted while comments are created on B: A's subscriber receives
// every one, once, in order, when Redis is back.
func TestSubscribersSurviveRedisRestart(t *testing.T) {
	r := redistest.MustStart(t)
	w := newSharedWorld(t)
	a := MustStartGateway(t, w.config(t, r.URL))
	b := MustStartGateway(t, w.config(t, r.URL))
	live := subscribeWS(t, a, "")
	createKlinkComment(t, b, "before")
	if ev := next(t, live); ev.Text != "before" {
		t.Fatalf("got %+v", ev)
	}
	r.Kill()
	for _, text := range []string{"during 1", "during 2", "during 3"} {
		createKlinkComment(t, b, text) // the comment is created upstream; its event waits in B's outbox
	}
	r.Restart()
	createKlinkComment(t, b, "after")
	for _, want := range []string{"during 1", "during 2", "during 3", "after"} {
		if ev := next(t, live); ev.Text != want {
			t.Fatalf("got %q, want %q", ev.Text, want)
		}
	}
	select {
	case ev := <-live:
		t.Errorf("extra delivery %+v", ev)
	default:
	}
}

// An SSE client that drops its stream resumes with Last-Event-ID and gets
// what it missed, in order, none twice, then live events.
func TestSSEResumesWithLastEventID(t *testing.T) {
	w := newSharedWorld(t)
	g := MustStartGateway(t, w.config(t, ""))
	open := func(lastID string) (events <-chan liveEvent, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.url+"/query", strings.NewReader(`{"query":"subscription { commentAdded { text provider { id } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		before := subscriberCount(g)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan liveEvent, 10)
		go func() {
			defer close(out)
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			var id string
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "id: "):
					id = strings.TrimPrefix(line, "id: ")
				case strings.HasPrefix(line, "data: "):
					ev := decodeLive([]byte(strings.TrimPrefix(line, "data: ")))
					if ev.EventID != id {
						ev.Text = "MISMATCHED id line " + id + " vs " + ev.EventID
					}
					out <- ev
				}
			}
		}()
		waitSubscribers(t, g, before+1)
		return out, cancel
	}
	first, stop := open("")
	createKlinkComment(t, g, "one")
	ev1 := next(t, first)
	if ev1.Text != "one" || ev1.EventID == "" {
		t.Fatalf("got %+v", ev1)
	}
	stop()
	waitSubscribers(t, g, 0)
	createKlinkComment(t, g, "two")
	createKlinkComment(t, g, "three")
	resumed, stop2 := open(ev1.EventID)
	defer stop2()
	createKlinkComment(t, g, "four")
	for _, want := range []string{"two", "three", "four"} {
		if ev := next(t, resumed); ev.Text != want {
			t.Fatalf("resumed stream gave %+v, want %q", ev, want)
		}
	}
}

func TestWebSocketProtocolHygiene(t *testing.T) {
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Events.InitTimeout = config.Duration(150 * time.Millisecond)
	cfg.Events.MaxSubscriptionsPerConnection = 2
	cfg.Auth.AllowedOrigins = []string{"app.example.com"}
	g := MustStartGateway(t, cfg)

	t.Run("no connection_init closes 4408", func(t *testing.T) {
		c := wsDial(t, g, "graphql-transport-ws", nil)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := c.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4408 {
			t.Fatalf("closed with %v, want 4408", err)
		}
	})
	t.Run("a timely connection_init is not cut off", func(t *testing.T) {
		c := wsDial(t, g, "graphql-transport-ws", nil)
		_ = c.WriteJSON(wsMsg{Type: "connection_init"})
		if m := wsRead(t, c); m.Type != "connection_ack" {
			t.Fatalf("got %+v", m)
		}
		// Past the init timeout the socket still works.
		time.Sleep(300 * time.Millisecond) // outlive the init deadline on purpose
		_ = c.WriteJSON(wsMsg{Type: "ping"})
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m wsMsg
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("socket died after init: %v", err)
		}
	})
	t.Run("subscriptions per connection are capped", func(t *testing.T) {
		c := wsDial(t, g, "graphql-transport-ws", nil)
		_ = c.WriteJSON(wsMsg{Type: "connection_init"})
		wsRead(t, c)
		payload := json.RawMessage(`{"query":"subscription { commentAdded { id } }"}`)
		for _, id := range []string{"a", "b", "c"} {
			_ = c.WriteJSON(wsMsg{ID: id, Type: "subscribe", Payload: payload})
		}
		// They start concurrently: whichever comes third is refused.
		m := wsRead(t, c)
		if (m.Type != "error" && m.Type != "next") || !strings.Contains(string(m.Payload), "BAD_USER_INPUT") || !strings.Contains(string(m.Payload), "2 subscriptions") {
			t.Fatalf("third subscription: %+v %s", m, m.Payload)
		}
	})
	t.Run("origins", func(t *testing.T) {
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
		u := "ws" + strings.TrimPrefix(g.url, "http") + "/query"
		if c, resp, err := d.Dial(u, http.Header{"Origin": {"https://evil.example"}}); err == nil {
			c.Close()
			t.Error("a foreign origin was upgraded")
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("foreign origin: %v", err)
		}
		c, _, err := d.Dial(u, http.Header{"Origin": {"https://app.example.com"}})
		if err != nil {
			t.Fatalf("allowed origin refused: %v", err)
		}
		c.Close()
	})
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// A webhook delivery sent twice (a provider retry, a replay) publishes its
// comment once.
func TestReplayedWebhookPublishesOnce(t *testing.T) {
	w := newSharedWorld(t)
	g := MustStartGateway(t, w.config(t, ""))
	live := subscribeWS(t, g, "")
	w.aelyst.SetWebhook(g.url+"/webhooks/aelyst", "whsec-aelyst")
	c := w.aelyst.AddComment(aelysttest.Comment{ContactID: 1817, Text: "delivered twice", AuthorID: 42})
	if ev := next(t, live); ev.Text != "delivered twice" {
		t.Fatalf("got %+v", ev)
	}
	status, err := w.aelyst.Redeliver(c.EventID)
	if err != nil || status != http.StatusOK {
		t.Fatalf("redelivery: %d %v", status, err)
	}
	createKlinkComment(t, g, "marker")
	if ev := next(t, live); ev.Text != "marker" {
		t.Fatalf("after the replay got %+v, want the marker (the replay must publish nothing)", ev)
	}
}
