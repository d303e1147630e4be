package graphqlws_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/commentgraph/commentgraph/graphqlws"
)

func TestBothProtocolsEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		protocol, subscribe, stop, next string
	}{
		{graphqlws.TransportWS, "subscribe", "complete", "next"},
		{graphqlws.LegacyWS, "start", "stop", "data"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			w := newWorld(t, graphqlws.Options{})
			c := w.dial(t, tc.protocol, nil)
			c.init("ana")
			c.subscribe(tc.subscribe, "op-1", everything, nil)
			w.subs.waitFor(t, 1)
			id := w.bus.publish(t, "hello 👋 from "+tc.protocol)

			_, raw := c.readAny()
			for bytes.Contains(raw, []byte(`"type":"ka"`)) || bytes.Contains(raw, []byte(`"type":"ping"`)) {
				_, raw = c.readAny()
			}
			// The frame is built around the shared payload: compact, with
			// the id first.
			prefix := `{"id":"op-1","type":"` + tc.next + `","payload":`
			if !bytes.HasPrefix(raw, []byte(prefix)) {
				t.Fatalf("frame %s, want prefix %s", raw, prefix)
			}
			var m msg
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if got := commentText(t, m.Payload); got != "hello 👋 from "+tc.protocol {
				t.Errorf("text %q", got)
			}
			var ext struct {
				Extensions struct{ EventID string } `json:"extensions"`
			}
			_ = json.Unmarshal(m.Payload, &ext)
			if ext.Extensions.EventID != id {
				t.Errorf("eventId %q, want %q", ext.Extensions.EventID, id)
			}

			c.send(msg{ID: "op-1", Type: tc.stop})
			w.subs.waitFor(t, 0)
			w.bus.open.waitFor(t, 0) // the resolver's subscription ended with its last member
			if tc.protocol == graphqlws.LegacyWS {
				if m := c.read(); m.Type != "complete" || m.ID != "op-1" {
					t.Errorf("after stop: %+v", m)
				}
			}
			// The socket stays usable: the same id may be used again.
			c.subscribe(tc.subscribe, "op-1", everything, nil)
			w.subs.waitFor(t, 1)
			w.bus.publish(t, "again")
			if m := c.read(); m.Type != tc.next || commentText(t, m.Payload) != "again" {
				t.Errorf("resubscribed: %+v", m)
			}
		})
	}
}

func TestSubscriptionsWithTheSameKeyShareOneExecution(t *testing.T) {
	w := newWorld(t, graphqlws.Options{})
	const n = 50
	clients := make([]*client, n)
	for i := range clients {
		protocol := graphqlws.TransportWS
		typ := "subscribe"
		if i%5 == 0 { // both protocols in one group
			protocol, typ = graphqlws.LegacyWS, "start"
		}
		clients[i] = w.dial(t, protocol, nil)
		clients[i].init("ana")
		clients[i].subscribe(typ, fmt.Sprintf("s%d", i), everything, nil)
	}
	w.subs.waitFor(t, n)
	if got := w.bus.subscribes.Load(); got != 1 {
		t.Fatalf("%d sockets with the same subscription ran the resolver %d times, want 1", n, got)
	}

	w.bus.publish(t, "one for all")
	var first json.RawMessage
	for i, c := range clients {
		m := c.read()
		if m.ID != fmt.Sprintf("s%d", i) || (m.Type != "next" && m.Type != "data") {
			t.Fatalf("client %d got %+v", i, m)
		}
		if commentText(t, m.Payload) != "one for all" {
			t.Fatalf("client %d got %s", i, m.Payload)
		}
		if first == nil {
			first = m.Payload
		} else if !bytes.Equal(first, m.Payload) {
			t.Fatalf("client %d got a different payload:\n%s\n%s", i, m.Payload, first)
		}
	}

	t.Run("different variables, operation or caller run separately", func(t *testing.T) {
		before := w.bus.subscribes.Load()
		withText := `subscription($withText: Boolean!) { commentAdded { id text @include(if: $withText) } }`
		for _, tc := range []struct {
			user, query string
			vars        map[string]any
		}{
			{"ana", withText, map[string]any{"withText": true}},
			{"ana", withText, map[string]any{"withText": false}},
			{"bo", everything, nil},
		} {
			c := w.dial(t, graphqlws.TransportWS, nil)
			c.init(tc.user)
			c.subscribe("subscribe", "x", tc.query, tc.vars)
		}
		w.subs.waitFor(t, n+3)
		if got := w.bus.subscribes.Load() - before; got != 3 {
			t.Errorf("3 different subscriptions ran the resolver %d times", got)
		}
	})

	t.Run("the execution ends with its last member", func(t *testing.T) {
		// The previous subtest's sockets are closed: only the shared
		// execution remains.
		w.bus.open.waitFor(t, 1)
		for i, c := range clients {
			if i%2 == 0 {
				c.c.Close() // gone without a word
			} else {
				stop := "complete"
				if i%5 == 0 {
					stop = "stop"
				}
				c.send(msg{ID: fmt.Sprintf("s%d", i), Type: stop})
			}
			if i < n-1 && w.bus.open.value() != 1 {
				t.Fatalf("the shared execution ended with %d members left", n-1-i)
			}
		}
		w.subs.waitFor(t, 0)
		w.bus.open.waitFor(t, 0)
	})
}

func TestResumingSubscriptionsRunOnTheirOwn(t *testing.T) {
	w := newWorld(t, graphqlws.Options{})
	seen := w.bus.publish(t, "seen")
	w.bus.publish(t, "missed")
	resume := `subscription($since: String) { commentAdded(since: $since) { text } }`

	for _, tc := range []struct {
		name   string
		header http.Header
		query  string
		vars   map[string]any
	}{
		{"since as a variable", nil, resume, map[string]any{"since": seen}},
		{"since inline", nil, `subscription { commentAdded(since: "` + seen + `") { text } }`, nil},
		{"Last-Event-ID on the upgrade", http.Header{"Last-Event-Id": {seen}}, `subscription { commentAdded { text } }`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.bus.subscribes.Load()
			for range 2 {
				c := w.dial(t, graphqlws.TransportWS, tc.header)
				c.init("ana")
				c.subscribe("subscribe", "r", tc.query, tc.vars)
				if m := c.read(); m.Type != "next" || commentText(t, m.Payload) != "missed" {
					t.Fatalf("replay: %+v", m)
				}
			}
			if got := w.bus.subscribes.Load() - before; got != 2 {
				t.Errorf("2 resuming subscriptions ran the resolver %d times, want 2", got)
			}
		})
	}
}

func TestQueriesAndMutationsOverTheSocket(t *testing.T) {
	w := newWorld(t, graphqlws.Options{})
	c := w.dial(t, graphqlws.TransportWS, nil)
	c.init("ana")
	c.subscribe("subscribe", "q", `{ providers { id } }`, nil)
	m := c.read()
	if m.Type != "next" || m.ID != "q" || string(m.Payload) != `{"data":{"providers":[]}}` {
		t.Fatalf("query answered %+v %s", m, m.Payload)
	}
	if m := c.read(); m.Type != "complete" || m.ID != "q" {
		t.Fatalf("after the query: %+v", m)
	}
	if got := w.subs.value(); got != 0 {
		t.Errorf("a query counted as %d subscriptions", got)
	}
	// Sharing is for subscriptions: the same query twice runs twice.
	c.subscribe("subscribe", "q", `{ providers { id } }`, nil)
	if m := c.read(); m.Type != "next" {
		t.Fatalf("second query: %+v", m)
	}
}

func TestErrorsGoToTheirOperationOnly(t *testing.T) {
	w := newWorld(t, graphqlws.Options{MaxSubscriptionsPerConnection: 2})
	for _, tc := range []struct {
		name, query, wantInPayload string
	}{
		{"validation", `subscription { commentAdded { nope } }`, `Cannot query field \"nope\"`},
		{"parse", `subscription {`, `Expected Name`},
		{"resolver refuses at subscribe time", `subscription { commentAdded(threads: ["not-an-id"]) { id } }`, `"path":["commentAdded"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := w.dial(t, graphqlws.TransportWS, nil)
			c.init("ana")
			c.subscribe("subscribe", "ok", everything, nil)
			c.subscribe("subscribe", "bad", tc.query, nil)
			m := c.read()
			if m.Type != "error" || m.ID != "bad" || !strings.Contains(string(m.Payload), tc.wantInPayload) {
				t.Fatalf("got %+v %s", m, m.Payload)
			}
			var errs []map[string]any
			if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) == 0 {
				t.Fatalf("error payload is not an errors array: %s", m.Payload)
			}
			// The failed operation frees its id and its slot; the good one
			// still receives.
			w.subs.waitFor(t, 1)
			c.subscribe("subscribe", "bad", everything, nil)
			w.subs.waitFor(t, 2)
			w.bus.publish(t, "still here")
			got := map[string]bool{}
			for range 2 {
				m := c.read()
				if m.Type != "next" || commentText(t, m.Payload) != "still here" {
					t.Fatalf("got %+v", m)
				}
				got[m.ID] = true
			}
			if !got["ok"] || !got["bad"] {
				t.Errorf("deliveries to %v", got)
			}
			c.c.Close()
			w.subs.waitFor(t, 0)
		})
	}

	t.Run("over the cap", func(t *testing.T) {
		c := w.dial(t, graphqlws.TransportWS, nil)
		c.init("ana")
		for _, id := range []string{"a", "b", "c"} {
			c.subscribe("subscribe", id, everything, nil)
		}
		m := c.read()
		if m.Type != "error" || m.ID != "c" || !strings.Contains(string(m.Payload), "BAD_USER_INPUT") ||
			!strings.Contains(string(m.Payload), "this connection already has 2 subscriptions, the most allowed") {
			t.Fatalf("third subscription: %+v %s", m, m.Payload)
		}
		w.subs.waitFor(t, 2)
	})
}

func TestProtocolHygiene(t *testing.T) {
	w := newWorld(t, graphqlws.Options{InitTimeout: 100 * time.Millisecond, ReadLimit: 1024})
	for _, tc := range []struct {
		name     string
		protocol string
		steps    func(c *client)
		code     int
	}{
		{"no connection_init", graphqlws.TransportWS, func(c *client) {}, graphqlws.CloseInitTimeout},
		{"a ping does not count as init", graphqlws.TransportWS, func(c *client) {
			c.send(msg{Type: "ping"})
			if m, _ := c.readAny(); m.Type != "pong" {
				c.t.Fatalf("ping answered %+v", m)
			}
		}, graphqlws.CloseInitTimeout},
		{"a second connection_init", graphqlws.TransportWS, func(c *client) {
			c.init("ana")
			c.send(msg{Type: "connection_init"})
		}, graphqlws.CloseTooManyRequests},
		{"subscribe before the ack", graphqlws.TransportWS, func(c *client) {
			c.subscribe("subscribe", "1", everything, nil)
		}, graphqlws.CloseUnauthorized},
		{"start before the ack (legacy)", graphqlws.LegacyWS, func(c *client) {
			c.subscribe("start", "1", everything, nil)
		}, graphqlws.CloseUnauthorized},
		{"a duplicate id", graphqlws.TransportWS, func(c *client) {
			c.init("ana")
			c.subscribe("subscribe", "1", everything, nil)
			c.subscribe("subscribe", "1", everything, nil)
		}, graphqlws.CloseDuplicateID},
		{"not JSON", graphqlws.TransportWS, func(c *client) { c.sendRaw("{nope") }, graphqlws.CloseInvalidMessage},
		{"no type", graphqlws.TransportWS, func(c *client) { c.sendRaw(`{"id":"1"}`) }, graphqlws.CloseInvalidMessage},
		{"an unknown type", graphqlws.TransportWS, func(c *client) {
			c.init("ana")
			c.send(msg{Type: "start", ID: "1"}) // legacy's name, not this protocol's
		}, graphqlws.CloseInvalidMessage},
		{"subscribe without an id", graphqlws.TransportWS, func(c *client) {
			c.init("ana")
			c.subscribe("subscribe", "", everything, nil)
		}, graphqlws.CloseInvalidMessage},
		{"a payload that is not a request", graphqlws.TransportWS, func(c *client) {
			c.init("ana")
			c.send(msg{Type: "subscribe", ID: "1", Payload: json.RawMessage(`[1,2]`)})
		}, graphqlws.CloseInvalidMessage},
		{"an init payload that is not an object", graphqlws.TransportWS, func(c *client) {
			c.send(msg{Type: "connection_init", Payload: json.RawMessage(`"hi"`)})
		}, graphqlws.CloseInvalidMessage},
		{"Init refuses with a CloseError", graphqlws.TransportWS, func(c *client) {
			c.send(msg{Type: "connection_init", Payload: json.RawMessage(`{"user":"mallory"}`)})
		}, 4401},
		{"Init refuses with another error", graphqlws.TransportWS, func(c *client) {
			c.send(msg{Type: "connection_init", Payload: json.RawMessage(`{"user":"eve"}`)})
		}, graphqlws.CloseForbidden},
		{"Init refuses (legacy)", graphqlws.LegacyWS, func(c *client) {
			c.send(msg{Type: "connection_init", Payload: json.RawMessage(`{"user":"mallory"}`)})
			if m, _ := c.readAny(); m.Type != "connection_error" || !strings.Contains(string(m.Payload), "unauthorized") {
				c.t.Fatalf("got %+v", m)
			}
		}, 4401},
		{"connection_terminate (legacy)", graphqlws.LegacyWS, func(c *client) {
			c.init("ana")
			c.send(msg{Type: "connection_terminate"})
		}, websocket.CloseNormalClosure},
		{"a message over ReadLimit", graphqlws.TransportWS, func(c *client) {
			c.init("ana")
			c.subscribe("subscribe", "1", everything+strings.Repeat(" ", 2000), nil)
		}, websocket.CloseMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := w.dial(t, tc.protocol, nil)
			tc.steps(c)
			ce := c.expectClose(tc.code)
			if tc.code == graphqlws.CloseDuplicateID && ce.Text != "Subscriber for 1 already exists" {
				t.Errorf("reason %q", ce.Text)
			}
		})
	}
	t.Run("a timely connection_init is not cut off", func(t *testing.T) {
		c := w.dial(t, graphqlws.TransportWS, nil)
		c.init("ana")
		c.subscribe("subscribe", "1", everything, nil)
		w.subs.waitFor(t, 1)
		// Outlive the init deadline: a timer would have fired by now.
		<-time.After(300 * time.Millisecond)
		w.bus.publish(t, "late")
		if m := c.read(); m.Type != "next" {
			t.Fatalf("got %+v", m)
		}
	})
}

func TestOrigins(t *testing.T) {
	w := newWorld(t, graphqlws.Options{AllowedOrigins: []string{"*.example.com"}})
	httpURL := "http" + strings.TrimPrefix(w.url, "ws")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{httpURL, true}, // same origin
		{"https://app.example.com", true},
		{"https://APP.Example.com", true},
		{"https://example.com.evil.test", false},
		{"https://evil.test", false},
		{"null", false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			d := websocket.Dialer{Subprotocols: []string{graphqlws.TransportWS}}
			c, resp, err := d.Dial(w.url, h)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("upgraded")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("refused with %v, want 403", err)
			}
		})
	}
}

func TestKeepAlive(t *testing.T) {
	w := newWorld(t, graphqlws.Options{KeepAlive: 20 * time.Millisecond})
	for _, tc := range []struct{ protocol, keepAlive string }{
		{graphqlws.TransportWS, "ping"},
		{graphqlws.LegacyWS, "ka"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			c := w.dial(t, tc.protocol, nil)
			c.init("ana")
			for range 3 { // it keeps coming
				if m, _ := c.readAny(); m.Type != tc.keepAlive {
					t.Fatalf("got %+v, want %s", m, tc.keepAlive)
				}
			}
		})
	}
	t.Run("a client ping is answered with pong", func(t *testing.T) {
		w := newWorld(t, graphqlws.Options{KeepAlive: -1})
		c := w.dial(t, graphqlws.TransportWS, nil)
		c.init("ana")
		c.send(msg{Type: "ping", Payload: json.RawMessage(`{"n":1}`)})
		if m, _ := c.readAny(); m.Type != "pong" {
			t.Fatalf("got %+v", m)
		}
	})
}

// A subscriber that stops reading is closed with 4429 once MaxQueued frames
// wait for it, while the others in its execution get every event on time.
func TestSlowConsumerIsClosedWithoutStallingOthers(t *testing.T) {
	// A generous WriteTimeout: the frame being written when the socket falls
	// behind completes once the client reads again, then the close frame.
	w := newWorld(t, graphqlws.Options{MaxQueued: 4, WriteTimeout: 30 * time.Second})
	slow := w.dialWith(t, websocket.Dialer{
		Subprotocols: []string{graphqlws.TransportWS}, NetDialContext: smallReceiveBuffer.DialContext,
	}, nil)
	slow.init("ana")
	slow.subscribe("subscribe", "slow", everything, nil)
	fast := w.dial(t, graphqlws.TransportWS, nil)
	fast.init("ana")
	fast.subscribe("subscribe", "fast", everything, nil)
	w.subs.waitFor(t, 2)
	if w.bus.subscribes.Load() != 1 {
		t.Fatal("the two subscribers should share an execution")
	}

	pad := strings.Repeat("x", 64<<10)
	sent := 0
	for w.subs.value() == 2 {
		if sent == 2000 {
			t.Fatal("the slow consumer was never closed")
		}
		text := fmt.Sprintf("%d %s", sent, pad)
		w.bus.publish(t, text)
		sent++
		if m := fast.read(); m.Type != "next" || commentText(t, m.Payload) != text {
			t.Fatalf("fast subscriber got %+v", m.Type)
		}
	}
	t.Logf("slow consumer closed after %d events of 64 KiB", sent)

	// The slow one reads what was written to it, in order, then the close.
	_ = slow.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := 0; ; i++ {
		_, raw, err := slow.c.ReadMessage()
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != graphqlws.CloseTooManyRequests || ce.Text != "slow consumer" {
				t.Fatalf("slow consumer ended with %v, want 4429 slow consumer", err)
			}
			if i >= sent {
				t.Errorf("slow consumer got all %d events before the close", i)
			}
			break
		}
		var m msg
		_ = json.Unmarshal(raw, &m)
		if m.Type == "ping" {
			i--
			continue
		}
		if got := commentText(t, m.Payload); !strings.HasPrefix(got, fmt.Sprintf("%d ", i)) {
			t.Fatalf("slow consumer's frame %d is %.20q", i, got)
		}
	}
	// The execution goes on for the fast one.
	w.bus.publish(t, "after")
	if m := fast.read(); commentText(t, m.Payload) != "after" {
		t.Fatalf("got %+v", m)
	}
}
