package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// sseEvent is one Server-Sent Event as a client reads it.
type sseEvent struct {
	ID, Event, Data string
}

// readEvents parses an event stream until it ends; comments are skipped.
func readEvents(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		var ev sseEvent
		var hasData bool
		for sc.Scan() {
			field, value, _ := strings.Cut(sc.Text(), ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "":
				if sc.Text() == "" && (ev.Event != "" || hasData) {
					out <- ev
				}
				if sc.Text() == "" {
					ev, hasData = sseEvent{}, false
				}
			case "id":
				ev.ID = value
			case "event":
				ev.Event = value
			case "data":
				ev.Data, hasData = value, true
			}
		}
	}()
	return out
}

func nextEvent(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

// request sends one request to /query with the gateway's key (when it has
// one), unless header names another Authorization.
func (g *gateway) request(ctx context.Context, method, target, body string, header http.Header) *http.Response {
	g.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, g.url+"/query"+target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if g.key != "" {
		req.Header.Set("Authorization", "Bearer "+g.key)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("%s /query%s: %v", method, target, err)
	}
	return resp
}

// readAll reads and closes resp's body.
func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A browser's EventSource sends GET with the operation in the URL and
// Accept: text/event-stream: a query answers one event then complete (with
// the data line EventSource needs to see it), a subscription streams events
// with ids, and reconnecting with Last-Event-ID replays what was missed.
func TestEventSourceOverGET(t *testing.T) {
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Auth.APIKeys = config.Keys(testAPIKey)
	g := MustStartGateway(t, cfg)
	eventSource := func(ctx context.Context, query, lastEventID string) <-chan sseEvent {
		h := http.Header{"Accept": {"text/event-stream"}}
		if lastEventID != "" {
			h.Set("Last-Event-ID", lastEventID)
		}
		resp := g.request(ctx, http.MethodGet, "?"+url.Values{"query": {query}}.Encode(), "", h)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("answered %d %s", resp.StatusCode, readAll(resp))
		}
		t.Cleanup(func() { resp.Body.Close() })
		return readEvents(resp.Body)
	}

	t.Run("query", func(t *testing.T) {
		events := eventSource(context.Background(), `{ providers { id } }`, "")
		if ev := nextEvent(t, events); ev.Event != "next" || ev.Data != `{"data":{"providers":[{"id":"klink"}]}}` {
			t.Errorf("got %+v", ev)
		}
		if ev := nextEvent(t, events); ev.Event != "complete" {
			t.Errorf("got %+v, want complete", ev)
		}
	})
	t.Run("a mutation is refused in the stream", func(t *testing.T) {
		events := eventSource(context.Background(), `mutation { createComment(input: {thread: "x", text: "y"}) { comment { id } } }`, "")
		ev := nextEvent(t, events)
		if ev.Event != "next" || !strings.Contains(ev.Data, "BAD_REQUEST") || strings.Contains(ev.Data, `"data"`) {
			t.Errorf("got %+v", ev)
		}
		if ev := nextEvent(t, events); ev.Event != "complete" {
			t.Errorf("got %+v, want complete", ev)
		}
		if n := k.Calls(klinktest.EndpointCreateComment); n != 0 {
			t.Errorf("%d comments created", n)
		}
	})
	t.Run("subscription resumed with Last-Event-ID", func(t *testing.T) {
		const sub = `subscription { commentAdded { text } }`
		ctx, cancel := context.WithCancel(context.Background())
		events := eventSource(ctx, sub, "")
		waitSubscribers(t, g, 1)
		createKlinkComment(t, g, "one")
		first := nextEvent(t, events)
		if first.ID == "" || !strings.Contains(first.Data, `"one"`) || !strings.Contains(first.Data, `"eventId":"`+first.ID+`"`) {
			t.Fatalf("got %+v", first)
		}
		cancel()
		waitSubscribers(t, g, 0)
		createKlinkComment(t, g, "two")
		resumed := eventSource(context.Background(), sub, first.ID)
		if ev := nextEvent(t, resumed); !strings.Contains(ev.Data, `"two"`) {
			t.Errorf("resumed with %+v, want two", ev)
		}
	})
	t.Run("without the key", func(t *testing.T) {
		g := *g
		g.key = ""
		resp := g.request(context.Background(), http.MethodGet, "?query=%7B__typename%7D", "", http.Header{"Accept": {"text/event-stream"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("answered %d", resp.StatusCode)
		}
		resp.Body.Close()
	})
}

// graphql-sse's single connection mode: PUT reserves a stream, GET opens
// it, POSTs run operations whose results arrive on it under their
// operationId, DELETE stops one.
func TestSSESingleConnection(t *testing.T) {
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Auth.APIKeys = config.Keys(testAPIKey)
	cfg.Events.MaxSubscriptionsPerConnection = 2
	g := MustStartGateway(t, cfg)
	ctx := context.Background()
	thread := model.ThreadID("klink", model.ThreadKindRoom, roomB)

	resp := g.request(ctx, http.MethodPut, "", "", nil)
	token := readAll(resp)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || len(token) < 40 {
		t.Fatalf("PUT answered %d %q", resp.StatusCode, token)
	}
	withToken := http.Header{"X-Graphql-Event-Stream-Token": {token}}
	operation := func(opID, query string) *http.Response {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"t": []string{thread}}, "extensions": map[string]any{"operationId": opID}})
		return g.request(ctx, http.MethodPost, "", string(body), withToken)
	}

	// An operation may come before the stream is open: its results wait.
	if resp := operation("q1", `{ providers { id } }`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST answered %d %s", resp.StatusCode, readAll(resp))
	}
	streamCtx, closeStream := context.WithCancel(ctx)
	defer closeStream()
	stream := g.request(streamCtx, http.MethodGet, "?token="+url.QueryEscape(token), "", http.Header{"Accept": {"text/event-stream"}})
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("GET answered %d %s", stream.StatusCode, readAll(stream))
	}
	events := readEvents(stream.Body)
	if ev := nextEvent(t, events); ev.Event != "next" || ev.Data != `{"id":"q1","payload":{"data":{"providers":[{"id":"klink"}]}}}` {
		t.Errorf("got %+v", ev)
	}
	if ev := nextEvent(t, events); ev.Event != "complete" || ev.Data != `{"id":"q1"}` {
		t.Errorf("got %+v", ev)
	}

	t.Run("a second GET for the same stream", func(t *testing.T) {
		resp := g.request(ctx, http.MethodGet, "", "", http.Header{"Accept": {"text/event-stream"}, "X-Graphql-Event-Stream-Token": {token}})
		if body := readAll(resp); resp.StatusCode != http.StatusConflict {
			t.Errorf("answered %d %s", resp.StatusCode, body)
		}
	})
	t.Run("refused operations", func(t *testing.T) {
		for _, tc := range []struct {
			name, body, code string
			status           int
		}{
			{"no operationId", `{"query":"{ __typename }"}`, "BAD_REQUEST", http.StatusBadRequest},
			{"no query", `{"extensions":{"operationId":"x"}}`, "BAD_REQUEST", http.StatusBadRequest},
			{"a validation error", `{"query":"{ nope }","extensions":{"operationId":"x"}}`, "GRAPHQL_VALIDATION_FAILED", http.StatusBadRequest},
		} {
			resp := g.request(ctx, http.MethodPost, "", tc.body, withToken)
			var out gqlResponse
			_ = json.Unmarshal([]byte(readAll(resp)), &out)
			if resp.StatusCode != tc.status || len(out.Errors) == 0 || out.codes()[0] != tc.code || out.Data != nil {
				t.Errorf("%s: answered %d %+v", tc.name, resp.StatusCode, out)
			}
		}
	})
	t.Run("subscriptions", func(t *testing.T) {
		const sub = `subscription($t: [ID!]) { commentAdded(threads: $t) { text } }`
		if resp := operation("s1", sub); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST answered %d %s", resp.StatusCode, readAll(resp))
		}
		// Accepted means subscribed: no wait is needed before posting.
		if n := subscriberCount(g); n != 1 {
			t.Fatalf("%v subscriptions after 202", n)
		}
		if resp := operation("s1", sub); resp.StatusCode != http.StatusConflict {
			t.Errorf("the same operationId again: %d %s", resp.StatusCode, readAll(resp))
		}
		if resp := operation("s2", sub); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("second subscription: %d %s", resp.StatusCode, readAll(resp))
		}
		resp := operation("s3", sub)
		if body := readAll(resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "BAD_USER_INPUT") || !strings.Contains(body, "2 operations") {
			t.Errorf("a third subscription over the cap: %d %s", resp.StatusCode, body)
		}
		createKlinkComment(t, g, "single connection")
		got := map[string]bool{}
		for range 2 {
			ev := nextEvent(t, events)
			var frame struct {
				ID      string
				Payload struct {
					Data struct{ CommentAdded struct{ Text string } } `json:"data"`
				}
			}
			_ = json.Unmarshal([]byte(ev.Data), &frame)
			if ev.Event != "next" || ev.ID != "" || frame.Payload.Data.CommentAdded.Text != "single connection" {
				t.Errorf("got %+v", ev)
			}
			got[frame.ID] = true
		}
		if !got["s1"] || !got["s2"] {
			t.Errorf("events for %v, want s1 and s2", got)
		}

		del := g.request(ctx, http.MethodDelete, "?operationId=s1", "", withToken)
		if body := readAll(del); del.StatusCode != http.StatusOK {
			t.Fatalf("DELETE answered %d %s", del.StatusCode, body)
		}
		if ev := nextEvent(t, events); ev.Event != "complete" || ev.Data != `{"id":"s1"}` {
			t.Errorf("got %+v, want s1's complete", ev)
		}
		waitSubscribers(t, g, 1)
		if del := g.request(ctx, http.MethodDelete, "", "", withToken); readAll(del) == "" || del.StatusCode != http.StatusBadRequest {
			t.Errorf("DELETE without operationId answered %d", del.StatusCode)
		}
	})
	t.Run("the stream ends", func(t *testing.T) {
		closeStream()
		waitSubscribers(t, g, 0)
		if resp := operation("late", `{ __typename }`); resp.StatusCode != http.StatusNotFound {
			t.Errorf("an operation on an ended stream: %d %s", resp.StatusCode, readAll(resp))
		}
	})
}

// A stream's token is bound to the API key that reserved it: under another
// key, or none, it names nothing.
func TestSSEStreamTokenIsBoundToItsCredential(t *testing.T) {
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	const other = "other-api-key-abcdefghij"
	cfg.Auth.APIKeys = config.Keys(testAPIKey, other)
	g := MustStartGateway(t, cfg)
	ctx := context.Background()
	resp := g.request(ctx, http.MethodPut, "", "", nil)
	token := readAll(resp)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT answered %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"another key", "Bearer " + other, http.StatusNotFound},
		{"no key", "", http.StatusUnauthorized},
	} {
		h := http.Header{"Authorization": {tc.auth}, "X-Graphql-Event-Stream-Token": {token}}
		for _, r := range []struct{ method, target, body, accept string }{
			{http.MethodGet, "", "", "text/event-stream"},
			{http.MethodPost, "", `{"query":"{ __typename }","extensions":{"operationId":"x"}}`, ""},
			{http.MethodDelete, "?operationId=x", "", ""},
		} {
			h.Set("Accept", r.accept)
			resp := g.request(ctx, r.method, r.target, r.body, h)
			if body := readAll(resp); resp.StatusCode != tc.status {
				t.Errorf("%s with %s: %d %s, want %d", r.method, tc.name, resp.StatusCode, body, tc.status)
			}
		}
	}
	// The owner still opens it: nothing above consumed it.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := g.request(sctx, http.MethodGet, "", "", http.Header{"Accept": {"text/event-stream"}, "X-Graphql-Event-Stream-Token": {token}})
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK {
		t.Errorf("the owner's GET answered %d", stream.StatusCode)
	}
}

// A reserved stream that is never opened is dropped after
// events.initTimeout.
func TestSSEReservationExpires(t *testing.T) {
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Events.InitTimeout = config.Duration(50 * time.Millisecond)
	g := MustStartGateway(t, cfg)
	ctx := context.Background()
	token := readAll(g.request(ctx, http.MethodPut, "", "", nil))
	deadline := time.Now().Add(5 * time.Second)
	for {
		// An empty request: 400 while the stream is reserved, 404 once gone.
		resp := g.request(ctx, http.MethodPost, "", `{}`, http.Header{"X-Graphql-Event-Stream-Token": {token}})
		readAll(resp)
		if resp.StatusCode == http.StatusNotFound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reservation is still there: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond) // a condition poll, not a wait for the event itself
	}
}

// Close ends open single-connection streams, as it ends SSE subscriptions,
// rather than wait for them until its deadline.
func TestCloseEndsSingleConnectionStreams(t *testing.T) {
	k := klinkWorld(t, 0)
	pc := klinkProvider(k)
	pc.Threads = nil
	g := MustStartGateway(t, newTestConfig(t, pc))
	ctx := context.Background()
	token := readAll(g.request(ctx, http.MethodPut, "", "", nil))
	withToken := http.Header{"X-Graphql-Event-Stream-Token": {token}}
	stream := g.request(ctx, http.MethodGet, "", "", http.Header{"Accept": {"text/event-stream"}, "X-Graphql-Event-Stream-Token": {token}})
	defer stream.Body.Close()
	if resp := g.request(ctx, http.MethodPost, "", `{"query":"subscription { commentAdded { id } }","extensions":{"operationId":"s"}}`, withToken); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST answered %d %s", resp.StatusCode, readAll(resp))
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := g.app.Close(cctx); err != nil {
		t.Fatalf("Close with an open stream: %v (it waited for the stream instead of ending it)", err)
	}
	if _, err := io.ReadAll(stream.Body); err != nil {
		t.Errorf("the stream did not end cleanly: %v", err)
	}
}
