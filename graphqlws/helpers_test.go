package graphqlws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/graphqlws"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers"
)

// gauge is a count tests can wait on without sleeping: every change wakes
// the waiters.
type gauge struct {
	mu      sync.Mutex
	n       int
	changed chan struct{}
}

func newGauge() *gauge { return &gauge{changed: make(chan struct{})} }

func (g *gauge) add(d int) {
	g.mu.Lock()
	g.n += d
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

func (g *gauge) value() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// waitFor waits until the gauge is n, for at most 10 s.
func (g *gauge) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		g.mu.Lock()
		v, ch := g.n, g.changed
		g.mu.Unlock()
		if v == n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("gauge stayed at %d, want %d", v, n)
		}
	}
}

// countingBus is the resolvers' CommentBus over the real in-memory event
// bus, counting how often the resolver subscribes (once per execution) and
// how many of those subscriptions are still open.
type countingBus struct {
	bus        *events.Memory
	subscribes atomic.Int32
	open       *gauge
}

func (b *countingBus) Publish(ctx context.Context, c *model.Comment) error {
	_, err := b.bus.Publish(ctx, c)
	return err
}

func (b *countingBus) publish(t *testing.T, text string) string {
	t.Helper()
	ev, err := b.bus.Publish(context.Background(), comment(text))
	if err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

func (b *countingBus) Subscribe(ctx context.Context, threads, providerIDs []string, since string) (<-chan graphql.Event[*model.Comment], error) {
	sub, err := b.bus.Subscribe(ctx, events.Filter{Threads: threads, Providers: providerIDs}, since)
	if err != nil {
		return nil, err
	}
	b.subscribes.Add(1)
	b.open.add(1)
	out := make(chan graphql.Event[*model.Comment])
	go func() {
		defer b.open.add(-1)
		defer close(out)
		defer sub.Close()
		for ev := range sub.C {
			// As the gateway's relay: a replay waits for the socket.
			if sub.FromReplay(ev) && graphqlws.AwaitRoom(ctx) != nil {
				return
			}
			select {
			case out <- graphql.Event[*model.Comment]{Context: resolvers.WithEventID(ctx, ev.ID), Value: ev.Comment}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// PublishEvent and SubscribeEvents complete resolvers.CommentBus; these
// tests subscribe to commentAdded only.
func (b *countingBus) PublishEvent(ctx context.Context, t model.CommentEventType, c *model.Comment) error {
	_, _, err := b.bus.PublishChange(ctx, t, "", c)
	return err
}

func (b *countingBus) SubscribeEvents(context.Context, []string, []string, string) (<-chan graphql.Event[*model.CommentEvent], error) {
	return nil, model.Errorf(model.CodeUnsupported, "commentEvents is not wired in these tests")
}

var seq atomic.Int64

func comment(text string) *model.Comment {
	return &model.Comment{
		ProviderID: "klink", ThreadKind: model.ThreadKindRoom, ThreadRef: "room-1",
		Ref: fmt.Sprint(seq.Add(1)), Text: text, Body: text, Markup: model.MarkupPlain,
		CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// world is the gateway's real executable schema behind the transport on an
// httptest server, with the resolver wired to a counting in-memory bus.
type world struct {
	url  string
	bus  *countingBus
	subs *gauge // OnSubscribe minus OnUnsubscribe
}

type userKey struct{}

// identify is an Init that names the caller by connection_init's "user" and
// refuses "mallory" the way the gateway refuses a wrong API key.
func identify(ctx context.Context, payload map[string]any) (context.Context, error) {
	user, _ := payload["user"].(string)
	switch user {
	case "mallory":
		return ctx, graphqlws.CloseError{Code: 4401, Reason: "unauthorized"}
	case "eve":
		return ctx, fmt.Errorf("refused eve")
	}
	return context.WithValue(ctx, userKey{}, user), nil
}

func userOf(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// newWorld starts a server; opts' Init, Key and hooks default to the
// world's own.
func newWorld(t *testing.T, opts graphqlws.Options) *world {
	t.Helper()
	mem, err := events.NewMemory(events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	w := &world{bus: &countingBus{bus: mem, open: newGauge()}, subs: newGauge()}
	if opts.Init == nil {
		opts.Init = identify
	}
	if opts.Key == nil {
		opts.Key = userOf
	}
	opts.OnSubscribe = func() { w.subs.add(1) }
	opts.OnUnsubscribe = func() { w.subs.add(-1) }
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{
		Providers: providers.NewRegistry(),
		Bus:       w.bus,
	}}))
	// As the gateway does: the event id goes into extensions, which are
	// part of the payload an execution shares.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if id := resolvers.EventID(ctx); id != "" && resp != nil {
			resp.Extensions = map[string]any{"eventId": id}
		}
		return resp
	})
	srv.AddTransport(graphqlws.New(opts))
	srv.AddTransport(transport.POST{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	w.url = "ws" + strings.TrimPrefix(hs.URL, "http")
	return w
}

type msg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

type client struct {
	t *testing.T
	c *websocket.Conn
}

func (w *world) dial(t *testing.T, protocol string, header http.Header) *client {
	t.Helper()
	return w.dialWith(t, websocket.Dialer{Subprotocols: []string{protocol}, HandshakeTimeout: 5 * time.Second}, header)
}

func (w *world) dialWith(t *testing.T, d websocket.Dialer, header http.Header) *client {
	t.Helper()
	c, resp, err := d.Dial(w.url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c}
}

func (c *client) send(m msg) {
	c.t.Helper()
	if err := c.c.WriteJSON(m); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readAny reads the next message, keep-alives included.
func (c *client) readAny() (msg, []byte) {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, raw, err := c.c.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m msg
	if err := json.Unmarshal(raw, &m); err != nil {
		c.t.Fatalf("not JSON: %s", raw)
	}
	return m, raw
}

// read reads the next message that is not a keep-alive.
func (c *client) read() msg {
	c.t.Helper()
	for {
		m, _ := c.readAny()
		if m.Type != "ka" && m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}

// init sends connection_init as user and expects the ack.
func (c *client) init(user string) {
	c.t.Helper()
	c.send(msg{Type: "connection_init", Payload: json.RawMessage(`{"user":` + string(mustJSON(user)) + `}`)})
	if m := c.read(); m.Type != "connection_ack" {
		c.t.Fatalf("got %+v, want connection_ack", m)
	}
}

func (c *client) subscribe(typ, id, query string, vars map[string]any) {
	c.t.Helper()
	c.send(msg{ID: id, Type: typ, Payload: mustJSON(map[string]any{"query": query, "variables": vars})})
}

// expectClose reads until the socket closes and checks the close code.
func (c *client) expectClose(code int) *websocket.CloseError {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, raw, err := c.c.ReadMessage()
		if err == nil {
			if strings.Contains(string(raw), `"connection_ack"`) {
				c.t.Fatalf("acknowledged, want close %d", code)
			}
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != code {
			c.t.Fatalf("closed with %v, want %d", err, code)
		}
		return ce
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// commentText is commentAdded.text in a next/data payload.
func commentText(t *testing.T, payload []byte) string {
	t.Helper()
	var p struct {
		Data struct {
			CommentAdded struct{ Text string } `json:"commentAdded"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || len(p.Errors) > 0 {
		t.Fatalf("payload %s: %v", payload, err)
	}
	return p.Data.CommentAdded.Text
}

// smallReceiveBuffer dials with a 4 KiB socket receive buffer, so a client
// that stops reading backs up the server quickly.
var smallReceiveBuffer = &net.Dialer{Control: setSmallReceiveBuffer}

const everything = `subscription { commentAdded { id text } }`
