package graphqlws_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/commentgraph/commentgraph/graphqlws"
)

const resume = `subscription($since: String) { commentAdded(since: $since) { id text } }`

// resumingSubscriber dials with a 4 KiB receive buffer and resumes from
// since; it reads nothing until the test does.
func (w *world) resumingSubscriber(t *testing.T, protocol, since string) *client {
	t.Helper()
	c := w.dialWith(t, websocket.Dialer{Subprotocols: []string{protocol}, NetDialContext: smallReceiveBuffer.DialContext}, nil)
	c.init("ana")
	typ := "subscribe"
	if protocol == graphqlws.LegacyWS {
		typ = "start"
	}
	c.subscribe(typ, "r", resume, map[string]any{"since": since})
	return c
}

// A client resuming 1,000 events back, with MaxQueued 4 and a socket that
// holds a few frames, gets every one, in order, then the live events
// published meanwhile, and is not taken for a slow consumer: the resolver
// waits (AwaitRoom) for the socket to write before handing over the next
// replayed event.
func TestReplayIsPacedToTheSocket(t *testing.T) {
	const missed, live = 1000, 10
	for _, protocol := range []string{graphqlws.TransportWS, graphqlws.LegacyWS} {
		t.Run(protocol, func(t *testing.T) {
			w := newWorld(t, graphqlws.Options{MaxQueued: 4})
			since := w.bus.publish(t, "0")
			for n := 1; n <= missed; n++ {
				w.bus.publish(t, fmt.Sprint(n))
			}
			c := w.resumingSubscriber(t, protocol, since)
			w.subs.waitFor(t, 1)
			for n := missed + 1; n <= missed+live; n++ {
				w.bus.publish(t, fmt.Sprint(n))
			}
			next := "next"
			if protocol == graphqlws.LegacyWS {
				next = "data"
			}
			for n := 1; n <= missed+live; n++ {
				m := c.read()
				if m.Type != next || commentText(t, m.Payload) != fmt.Sprint(n) {
					t.Fatalf("message %d is %s %s", n, m.Type, m.Payload)
				}
			}
			if got := w.subs.value(); got != 1 {
				t.Fatalf("%d subscriptions open, want 1", got)
			}
		})
	}
}

// A resumed client that then falls behind on live events is a slow consumer
// as ever: pacing is for the replay only.
func TestResumedClientSlowOnLiveEventsGets4429(t *testing.T) {
	w := newWorld(t, graphqlws.Options{MaxQueued: 4, WriteTimeout: 30 * time.Second})
	since := w.bus.publish(t, "seen")
	slow := w.resumingSubscriber(t, graphqlws.TransportWS, since)
	fast := w.fastSubscriber(t)
	w.subs.waitFor(t, 2)
	for sent := 0; w.subs.value() == 2; sent++ {
		if sent == 2000 {
			t.Fatal("the slow consumer was never closed")
		}
		text := fmt.Sprintf("%d %s", sent, strings.Repeat("x", 64<<10))
		w.bus.publish(t, text)
		if m := fast.read(); m.Type != "next" || commentText(t, m.Payload) != text {
			t.Fatalf("fast subscriber got %+v", m.Type)
		}
	}
	if ce := slow.expectClose(graphqlws.CloseTooManyRequests); ce.Text != "slow consumer" {
		t.Errorf("reason %q, want slow consumer", ce.Text)
	}
}
