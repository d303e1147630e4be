package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// A client that resumes after missing 1,000 events (far more than a socket's
// 64 queued frames) receives every one of them once and in order, then the
// live events published while it caught up, with no gap and no 4429: the
// replay flows at the client's pace, over every transport and both buses.
func TestResumeAThousandMissedEvents(t *testing.T) {
	const missed, live = 1000, 20
	cases := []struct {
		transport string
		redis     bool
	}{
		{"graphql-transport-ws", false},
		{"graphql-ws", false},
		{"sse", false},
		{"graphql-transport-ws", true},
	}
	for _, tc := range cases {
		name := tc.transport + "/memory"
		if tc.redis {
			name = tc.transport + "/redis"
		}
		t.Run(name, func(t *testing.T) {
			k := klinkWorld(t, 0)
			cfg := newTestConfig(t, config.Provider{ID: "klink", Kind: "klink", BaseURL: k.URL, Token: klinktest.DefaultToken})
			if tc.redis {
				cfg.Redis.URL = redistest.MustStart(t).URL
			}
			g := MustStartGateway(t, cfg)
			publish := func(n int) string {
				t.Helper()
				ev, err := g.app.bus.Publish(t.Context(), &model.Comment{
					ProviderID: "klink", ThreadKind: model.ThreadKindRoom, ThreadRef: "r1",
					Ref: fmt.Sprint(n), Text: fmt.Sprint(n), Body: fmt.Sprint(n), Markup: model.MarkupPlain,
					CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
				})
				if err != nil {
					t.Fatal(err)
				}
				return ev.ID
			}
			start := time.Now()
			since := publish(0)
			for n := 1; n <= missed; n++ {
				publish(n)
			}
			t.Logf("published %d events in %v", missed+1, time.Since(start))

			start = time.Now()
			got := openResume(t, g, tc.transport, since)
			for n := 1; n <= missed+live; n++ {
				if n <= live {
					// Live events arrive while the replay is under way
					// (it has just begun: the client has read n-1 of it).
					publish(missed + n)
				}
				select {
				case ev, ok := <-got:
					if !ok {
						t.Fatalf("the subscription ended after %d events", n-1)
					}
					if ev.ended != "" || ev.text != fmt.Sprint(n) || ev.id == "" {
						t.Fatalf("event %d is %+v", n, ev)
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("no event %d within 15s", n)
				}
			}
			t.Logf("received %d replayed and %d live events in %v", missed, live, time.Since(start))
			// One more live event: nothing was doubled in between.
			publish(missed + live + 1)
			select {
			case ev := <-got:
				if ev.ended != "" || ev.text != fmt.Sprint(missed+live+1) {
					t.Fatalf("after the replay got %+v", ev)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no live event after the replay")
			}
		})
	}
}

// resumedEvent is one delivery, or (ended) why the subscription ended.
type resumedEvent struct{ id, text, ended string }

// openResume subscribes to commentAdded from since over transport (SSE: as
// Last-Event-ID) and returns its deliveries; the last says why it ended (a
// close frame such as 4429, an error, complete).
func openResume(t *testing.T, g *gateway, transport, since string) <-chan resumedEvent {
	t.Helper()
	before := subscriberCount(g)
	out := make(chan resumedEvent)
	done := t.Context().Done() // nobody reads out once the test ends
	send := func(ev resumedEvent) bool {
		select {
		case out <- ev:
			return true
		case <-done:
			return false
		}
	}
	decode := func(payload []byte) resumedEvent {
		var p struct {
			Data       *struct{ CommentAdded struct{ Text string } }
			Errors     json.RawMessage
			Extensions struct {
				EventID string `json:"eventId"`
			}
		}
		if err := json.Unmarshal(payload, &p); err != nil || p.Data == nil {
			return resumedEvent{ended: fmt.Sprintf("payload %s (%v)", payload, err)}
		}
		return resumedEvent{id: p.Extensions.EventID, text: p.Data.CommentAdded.Text}
	}
	query := `subscription($since: String) { commentAdded(since: $since) { text } }`
	switch transport {
	case "graphql-transport-ws", "graphql-ws":
		body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"since": since}})
		c, nextType := wsSubscribe(t, g, transport, "r", body)
		go func() {
			defer close(out)
			for {
				var m wsMsg
				if err := c.ReadJSON(&m); err != nil {
					send(resumedEvent{ended: err.Error()}) // a 4429 shows here
					return
				}
				switch m.Type {
				case nextType:
					if !send(decode(m.Payload)) {
						return
					}
				case "error", "complete":
					send(resumedEvent{ended: m.Type + " " + string(m.Payload)})
					return
				}
			}
		}()
	case "sse":
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		body, _ := json.Marshal(map[string]any{"query": query})
		resp := g.request(ctx, http.MethodPost, "", string(body), http.Header{"Accept": {"text/event-stream"}, "Last-Event-ID": {since}})
		t.Cleanup(func() { resp.Body.Close() })
		evs := readEvents(resp.Body)
		go func() {
			defer close(out)
			for ev := range evs {
				if ev.Event != "next" {
					continue
				}
				re := decode([]byte(ev.Data))
				if re.id != ev.ID {
					re.ended = fmt.Sprintf("SSE id %q, extensions.eventId %q", ev.ID, re.id)
				}
				if !send(re) {
					return
				}
			}
			send(resumedEvent{ended: "the stream ended"})
		}()
	default:
		t.Fatalf("no transport %q", transport)
	}
	waitSubscribers(t, g, before+1)
	return out
}
