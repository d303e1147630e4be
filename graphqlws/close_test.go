package graphqlws_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/commentgraph/commentgraph/graphqlws"
)

// flood writes ignorable messages (pongs with padding) to the socket until a
// write fails, stop is closed (nil: never) or max were written: a client
// whose input is still in flight when the server closes. It reports how many
// it wrote. No other goroutine may write to c meanwhile (a close echoed by
// the reader is a control frame, which may).
func (c *client) flood(stop <-chan struct{}, max int) <-chan int {
	frame := []byte(`{"type":"pong","payload":{"pad":"` + strings.Repeat("x", 1024) + `"}}`)
	n := make(chan int, 1)
	go func() {
		i := 0
		defer func() { n <- i }()
		for ; i < max; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.c.WriteMessage(websocket.TextMessage, frame); err != nil {
				return
			}
		}
	}()
	return n
}

// slowSubscriber dials with a 4 KiB receive buffer and subscribes to
// everything; it reads nothing until the test does.
func (w *world) slowSubscriber(t *testing.T, id string) *client {
	t.Helper()
	c := w.dialWith(t, websocket.Dialer{
		Subprotocols: []string{graphqlws.TransportWS}, NetDialContext: smallReceiveBuffer.DialContext,
	}, nil)
	c.init("ana")
	c.subscribe("subscribe", id, everything, nil)
	return c
}

// fastSubscriber subscribes to everything and reads what it is sent: it
// shares the slow ones' execution, so once it has an event, they have it
// queued or written too.
func (w *world) fastSubscriber(t *testing.T) *client {
	t.Helper()
	c := w.dial(t, graphqlws.TransportWS, nil)
	c.init("ana")
	c.subscribe("subscribe", "fast", everything, nil)
	return c
}

// publishBig publishes a 64 KiB event and waits for fast to get it.
func (w *world) publishBig(t *testing.T, fast *client, i int) {
	t.Helper()
	text := fmt.Sprintf("%d %s", i, strings.Repeat("x", 64<<10))
	w.bus.publish(t, text)
	if m := fast.read(); m.Type != "next" || commentText(t, m.Payload) != text {
		t.Fatalf("fast subscriber got %+v", m.Type)
	}
}

// The server closes a socket while its client is still sending and while
// the frames before the close are still on their way (more than the socket
// buffers hold). The client gets them and then the close frame with its
// code, not a reset (1006 in browsers, which graphql-ws retries): the server
// reads on until the client's own close frame instead of closing the
// connection with unread input, which makes the kernel reset it and drop
// what it had not sent yet.
func TestCloseCodeReachesAClientStillSending(t *testing.T) {
	const backlog = 100 // events of 64 KiB: well over the socket buffers
	cases := []struct {
		name  string
		code  int
		cause func(c *client)
	}{
		{"a duplicate id", graphqlws.CloseDuplicateID, func(c *client) {
			c.subscribe("subscribe", "slow", everything, nil)
		}},
		{"a second connection_init", graphqlws.CloseTooManyRequests, func(c *client) {
			c.send(msg{Type: "connection_init"})
		}},
		{"an invalid message", graphqlws.CloseInvalidMessage, func(c *client) {
			c.sendRaw("{nope")
		}},
	}
	// MaxQueued over the backlog: the close is the client's doing, not a
	// slow consumer's. One execution fills every case's socket at once.
	w := newWorld(t, graphqlws.Options{MaxQueued: 2 * backlog, WriteTimeout: 30 * time.Second})
	slow := make([]*client, len(cases))
	for i := range cases {
		slow[i] = w.slowSubscriber(t, "slow")
	}
	fast := w.fastSubscriber(t)
	w.subs.waitFor(t, len(cases)+1)
	for i := range backlog {
		w.publishBig(t, fast, i)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := slow[i]
			c.t = t
			tc.cause(c)
			stop := make(chan struct{})
			flooded := c.flood(stop, 1<<20)
			defer func() {
				close(stop)
				<-flooded
			}()
			got := 0
			_ = c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				_, raw, err := c.c.ReadMessage()
				if err != nil {
					ce, ok := err.(*websocket.CloseError)
					if !ok || ce.Code != tc.code {
						t.Fatalf("after %d of %d events: closed with %v, want %d", got, backlog, err, tc.code)
					}
					break
				}
				if strings.Contains(string(raw), `"type":"next"`) {
					got++
				}
			}
			if got != backlog {
				t.Errorf("got %d events before the close, want all %d", got, backlog)
			}
		})
	}
}

// A slow consumer that is also still sending gets 4429 "slow consumer" after
// the frames it was written, not a reset.
func TestSlowConsumerStillSendingGetsItsCloseCode(t *testing.T) {
	w := newWorld(t, graphqlws.Options{MaxQueued: 4, WriteTimeout: 30 * time.Second})
	slow := w.slowSubscriber(t, "slow")
	fast := w.fastSubscriber(t)
	w.subs.waitFor(t, 2)
	stop := make(chan struct{})
	flooded := slow.flood(stop, 1<<20)
	defer func() {
		close(stop)
		<-flooded
	}()
	for sent := 0; w.subs.value() == 2; sent++ {
		if sent == 2000 {
			t.Fatal("the slow consumer was never closed")
		}
		w.publishBig(t, fast, sent)
	}
	if ce := slow.expectClose(graphqlws.CloseTooManyRequests); ce.Text != "slow consumer" {
		t.Errorf("reason %q, want slow consumer", ce.Text)
	}
}

// A client that never answers the close frame and keeps sending is cut off
// all the same, a moment (closeLinger) after the close frame.
func TestCloseIsBoundedWhenTheClientNeverAnswers(t *testing.T) {
	w := newWorld(t, graphqlws.Options{})
	c := w.dial(t, graphqlws.TransportWS, nil)
	c.c.SetCloseHandler(func(int, string) error { return nil }) // no close frame back
	c.init("ana")
	c.sendRaw("{nope")
	const max = 1 << 22 // 4 GiB: not written before the server cuts it off
	flooded := c.flood(nil, max)
	c.expectClose(graphqlws.CloseInvalidMessage)
	select {
	case n := <-flooded:
		if n == max {
			t.Fatal("the server never closed the connection")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server never closed the connection")
	}
}
