// Package graphqlws is a gqlgen transport for GraphQL over WebSocket that
// speaks both graphql-transport-ws and the legacy Apollo graphql-ws protocol,
// built for many idle subscribers:
//
//   - A socket costs one goroutine, the HTTP handler's, which reads. Writes
//     are queued per socket and made by a bounded set of writers, one at a
//     time per socket, each under a deadline; keep-alives come from a timer.
//     The read buffer is the hijacked net/http one and write buffers come
//     from a pool, so an idle socket holds no write buffer.
//   - Subscriptions with the same identity (Options.Key), document,
//     operation name, variables and extensions share one execution: the
//     resolver runs once, each event is executed and marshalled once, and the
//     same bytes go to every subscriber with its own id around them.
//     Subscriptions that resume (Options.ResumeArgument), queries and
//     mutations run on their own.
//   - A subscriber that falls Options.MaxQueued frames behind on live events
//     is closed with 4429 "slow consumer"; nobody waits for it. A resolver
//     replaying what a resuming subscriber missed paces it with AwaitRoom
//     instead.
//   - A socket the server closes gets the close frame and then is read on,
//     its input discarded, until the client's close frame (a second at
//     most): closing at once with unread input would reset the connection,
//     and the client would see 1006, which graphql-ws clients retry, instead
//     of the code.
package graphqlws

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Transport is a graphql.Transport for WebSocket upgrades. Build it with New.
type Transport struct {
	opts     Options
	upgrader websocket.Upgrader
	writers  writers

	origins Origins // Options.AllowedOrigins

	mu     sync.Mutex
	groups map[string]*execution // shared executions by key
}

var _ graphql.Transport = (*Transport)(nil)

// New returns a Transport with opts (see Options for the defaults).
func New(opts Options) *Transport {
	t := &Transport{opts: opts.withDefaults(), groups: map[string]*execution{}}
	t.writers.max = t.opts.Writers
	var errs []error
	t.origins, errs = ParseOrigins(t.opts.AllowedOrigins)
	for _, err := range errs {
		t.opts.Logger.Warn("websocket: allowed origin ignored", "err", err)
	}
	t.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// 0: the connection reads through the hijacked net/http
		// bufio.Reader instead of allocating a second one.
		ReadBufferSize: 0,
		// Write buffers come from the pool for the length of one message,
		// so an idle socket holds none (and the hijacked writer is dropped).
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{TransportWS, LegacyWS},
		CheckOrigin:     t.checkOrigin,
	}
	return t
}

// Supports is true for WebSocket upgrades.
func (t *Transport) Supports(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Do upgrades the request and serves the socket until it closes.
func (t *Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if _, ok := w.(http.Hijacker); !ok {
		w = hijacker{w}
	}
	conn, err := t.upgrader.Upgrade(w, r, nil) // answers a refused upgrade itself
	if err != nil {
		return
	}
	s := &socket{t: t, conn: conn, proto: protocolFor(conn.Subprotocol()), header: r.Header}
	s.serve(r.Context(), exec)
}

// hijacker reaches the Hijacker under middleware's ResponseWriter wrappers
// (those with Unwrap), which gorilla/websocket does not look for.
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// serve runs the socket's read loop, then ends the socket, closing its
// connection once a close frame is answered (see linger); it returns when the
// socket is done.
func (s *socket) serve(ctx context.Context, exec graphql.GraphExecutor) {
	readable := false
	defer func() {
		s.linger(readable)
		s.shutdown(0, "", false)
		_ = s.conn.Close()
	}()
	readable = s.read(ctx, exec)
}

// read is the read loop. It returns when the socket is closing: true when
// the connection may still be read (the socket closed itself, or was closed
// by a writer), false after a read error.
func (s *socket) read(ctx context.Context, exec graphql.GraphExecutor) bool {
	t := s.t
	s.conn.SetReadLimit(t.opts.ReadLimit)
	if t.opts.InitTimeout > 0 {
		_ = s.conn.SetReadDeadline(time.Now().Add(t.opts.InitTimeout))
	}
	initialised := false
	for {
		_, data, err := s.conn.ReadMessage()
		start := graphql.Now()
		if err != nil {
			var ne net.Error
			if !initialised && errors.As(err, &ne) && ne.Timeout() {
				s.shutdown(CloseInitTimeout, "connection initialisation timeout", false)
			}
			return false
		}
		if s.isClosing() { // a slow consumer, say: the rest goes unread
			return true
		}
		m, err := parseMessage(data)
		if err != nil {
			s.shutdown(CloseInvalidMessage, "invalid message", false)
			return true
		}
		switch m.Type {
		case "connection_init":
			if initialised {
				s.shutdown(CloseTooManyRequests, "Too many initialisation requests", false)
				return true
			}
			initialised = true
			if ctx, err = s.init(ctx, m.Payload); err != nil {
				return true
			}
		case "ping":
			s.send(frame{kind: frameRaw, payload: s.proto.pong})
		case "pong":
		case s.proto.subscribe:
			if !initialised {
				s.shutdown(CloseUnauthorized, "Unauthorized", false)
				return true
			}
			if !s.subscribe(ctx, exec, m, start) {
				return true
			}
		case s.proto.stop:
			s.unsubscribe(m.ID)
		case "connection_terminate":
			if s.proto.legacy {
				s.shutdown(websocket.CloseNormalClosure, "terminated", false)
				return true
			}
			fallthrough
		default:
			s.shutdown(CloseInvalidMessage, closeReason("invalid message type "+m.Type), false)
			return true
		}
	}
}

// init runs Options.Init and acknowledges, or closes the socket (and returns
// an error) when Init refuses.
func (s *socket) init(ctx context.Context, raw []byte) (context.Context, error) {
	t := s.t
	payload, err := parseInitPayload(raw)
	if err != nil {
		s.shutdown(CloseInvalidMessage, "invalid connection_init payload", false)
		return ctx, err
	}
	if t.opts.Init != nil {
		next, err := t.opts.Init(ctx, payload)
		if err != nil {
			code, reason := CloseForbidden, "Forbidden"
			var ce CloseError
			var pce *CloseError
			switch {
			case errors.As(err, &ce):
				code, reason = ce.Code, ce.Reason
			case errors.As(err, &pce) && pce != nil:
				code, reason = pce.Code, pce.Reason
			}
			if s.proto.legacy {
				// The legacy protocol tells the client why before closing.
				s.send(frame{kind: frameRaw, payload: []byte(`{"type":"connection_error","payload":{"message":` + string(jsonString(reason)) + `}}`)})
			}
			s.shutdown(code, reason, false)
			return ctx, err
		}
		ctx = next
	}
	_ = s.conn.SetReadDeadline(time.Time{})
	s.share = t.opts.Key != nil && s.header.Get("Last-Event-ID") == ""
	if s.share {
		s.key = t.opts.Key(ctx)
	}
	s.send(frame{kind: frameRaw, payload: s.proto.ack})
	if s.proto.legacy {
		s.send(frame{kind: frameRaw, payload: s.proto.keepAlive})
	}
	if every := t.opts.KeepAlive; every > 0 {
		s.mu.Lock()
		if !s.closing {
			s.ticker = time.AfterFunc(every, func() { s.keepAlive(every) })
		}
		s.mu.Unlock()
	}
	if t.opts.Expires != nil {
		if exp := t.opts.Expires(ctx); !exp.IsZero() {
			s.mu.Lock()
			if !s.closing {
				s.expiry = time.AfterFunc(time.Until(exp), func() { s.shutdown(CloseUnauthorized, "credential expired", false) })
			}
			s.mu.Unlock()
		}
	}
	return ctx, nil
}

// subscribe starts operation m on the socket; false when it closed the
// socket instead.
func (s *socket) subscribe(ctx context.Context, exec graphql.GraphExecutor, m message, start time.Time) bool {
	if m.ID == "" {
		s.shutdown(CloseInvalidMessage, "subscribe without an id", false)
		return false
	}
	params, err := parseRequest(m.Payload)
	if err != nil {
		s.shutdown(CloseInvalidMessage, "invalid subscribe payload", false)
		return false
	}
	mem := &member{sock: s, id: m.ID, idJSON: jsonString(m.ID)}
	s.mu.Lock()
	if s.byID(m.ID) != nil {
		s.mu.Unlock()
		s.shutdown(CloseDuplicateID, closeReason("Subscriber for "+m.ID+" already exists"), false)
		return false
	}
	if limit := s.t.opts.MaxSubscriptionsPerConnection; limit > 0 && len(s.subs) >= limit {
		s.mu.Unlock()
		resp := exec.DispatchError(ctx, gqlerror.List{{
			Message:    fmt.Sprintf("this connection already has %d subscriptions, the most allowed", limit),
			Extensions: map[string]any{"code": "BAD_USER_INPUT"},
		}})
		s.sendErrors(mem, resp.Errors)
		return true
	}
	s.subs = append(s.subs, mem)
	s.mu.Unlock()

	params.Headers = s.header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	s.t.start(ctx, exec, mem, params)
	return true
}

// unsubscribe ends the client's operation id (complete / stop).
func (s *socket) unsubscribe(id string) {
	s.mu.Lock()
	m := s.byID(id)
	if m == nil || m.g == nil {
		s.mu.Unlock()
		return
	}
	s.remove(m)
	r := queued
	if s.proto.legacy {
		// Apollo's server confirms a stop; graphql-transport-ws says nothing
		// more about an operation the client completed.
		r = s.enqueueLocked(frame{kind: frameOp, head: s.proto.complete, id: m.idJSON})
	}
	s.mu.Unlock()
	s.after(r)
	if m.g.leave(m) {
		s.t.opts.OnUnsubscribe()
	}
}

// sendErrors answers operation m with an error message and drops it.
func (s *socket) sendErrors(m *member, errs gqlerror.List) {
	payload, err := json.Marshal(errs)
	if err != nil {
		payload = []byte(`[{"message":"internal error"}]`)
	}
	s.mu.Lock()
	s.remove(m)
	r := s.enqueueLocked(frame{kind: frameOp, head: s.proto.errors, id: m.idJSON, payload: payload})
	s.mu.Unlock()
	s.after(r)
}

// start runs mem's operation: it joins the shared execution of its key, or
// creates one, or runs on its own.
func (t *Transport) start(ctx context.Context, exec graphql.GraphExecutor, mem *member, params *graphql.RawParams) {
	s := mem.sock
	key, shared := t.shareKey(s, params)
	if shared && t.join(key, mem) {
		return
	}
	ctx = graphql.StartOperationTrace(ctx)
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		s.sendErrors(mem, resp.Errors)
		return
	}
	subscription := rc.Operation != nil && rc.Operation.Operation == ast.Subscription
	shared = shared && subscription
	// A shared execution outlives the socket that started it, so its context
	// keeps the socket's values but not its cancellation.
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &execution{t: t, cancel: cancel}
	if !shared {
		// Only an execution of its own may be paced by its one socket.
		ectx = context.WithValue(ectx, pacerKey{}, e)
	}
	if shared {
		t.mu.Lock()
		if g := t.groups[key]; g != nil {
			// Another socket started it while this one validated.
			t.mu.Unlock()
			cancel()
			t.join(key, mem)
			return
		}
		e.key = key
		ok := e.add(mem)
		if ok {
			t.groups[key] = e
		}
		t.mu.Unlock()
		if !ok {
			cancel()
			return
		}
	} else if !e.add(mem) {
		cancel()
		return
	}
	go e.run(ectx, exec, rc, subscription)
}

// join adds mem to the running execution of key, if there is one. A group
// in the map is never done (it leaves the map under t.mu as it ends), so add
// fails only when mem's socket is closing, and then there is nothing to do.
func (t *Transport) join(key string, mem *member) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[key]
	if g == nil {
		return false
	}
	g.add(mem)
	return true
}

// shareKey is the sharing key of params on s, and whether it may be shared.
func (t *Transport) shareKey(s *socket, p *graphql.RawParams) (string, bool) {
	if !s.share || p.Query == "" || strings.Contains(p.Query, t.opts.ResumeArgument) {
		return "", false
	}
	vars, err := json.Marshal(p.Variables)
	if err != nil {
		return "", false
	}
	ext, err := json.Marshal(p.Extensions)
	if err != nil {
		return "", false
	}
	// encoding/json sorts map keys, so equal variables encode equally.
	var b strings.Builder
	b.Grow(len(s.key) + len(p.Query) + len(p.OperationName) + len(vars) + len(ext) + 4)
	for _, part := range []string{s.key, p.Query, p.OperationName, string(vars), string(ext)} {
		b.WriteString(part)
		b.WriteByte(0)
	}
	return b.String(), true
}
