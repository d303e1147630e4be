package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/commentgraph/commentgraph/graph/model"
)

// sseTransport is GraphQL over Server-Sent Events, in both modes of
// graphql-sse's PROTOCOL.md, and for a browser's own EventSource:
//
//   - Distinct connections: a POST (JSON body) or a GET (the operation in the
//     URL, which is all EventSource can send) with Accept: text/event-stream.
//     The operation's results are the stream: `next` events, then `complete`.
//     Errors raised before execution arrive as a `next` event too, since an
//     EventSource can read nothing from a refused connection.
//   - Single connection: a PUT reserves a stream and answers its token (201);
//     a GET with the token opens it; each POST with the token runs one
//     operation (202) whose results arrive on that stream, tagged with the
//     extensions.operationId the client chose; a DELETE with the token and
//     ?operationId= stops one. The token travels in the
//     X-GraphQL-Event-Stream-Token header or the token URL parameter.
//
// A token is bound to the credential that reserved it (credential(ctx)):
// presented under another API key it is unknown (404), so one key never
// reads or drives another's stream. Every request still passes the auth
// middleware as today.
//
// Subscription events carry `id:` lines holding their bus event id on
// distinct streams, and a client's Last-Event-ID header reaches the resolver
// through the operation's headers (EventSource sends it when it reconnects)
// to replay what it missed. A single-connection stream has none: its events
// belong to many operations, which resume with commentAdded(since:).
type sseTransport struct {
	opts    sseOptions
	streams *sseStreams
	// shutdown hooks closeStreams on the http.Server serving the first
	// request (see watchShutdown).
	shutdown sync.Once
}

// sseOptions configures sseTransport.
type sseOptions struct {
	// KeepAlive is the interval of ": ping" comments that keep proxies from
	// closing an idle stream. 0: none.
	KeepAlive time.Duration
	// ReserveTimeout is how long a reserved stream waits for its GET before
	// it is dropped. 0: 10s.
	ReserveTimeout time.Duration
	// MaxOperations caps the operations running at once on one
	// single-connection stream, as events.maxSubscriptionsPerConnection caps
	// a socket's. 0: no cap.
	MaxOperations int
	// OnSubscribe and OnUnsubscribe are called once a subscription's resolver
	// has subscribed and when it ends (queries and mutations are not
	// counted). Nil: not called.
	OnSubscribe, OnUnsubscribe func()
}

func newSSETransport(opts sseOptions) *sseTransport {
	if opts.ReserveTimeout <= 0 {
		opts.ReserveTimeout = 10 * time.Second
	}
	return &sseTransport{opts: opts, streams: &sseStreams{byToken: map[string]*sseStream{}}}
}

var _ graphql.Transport = (*sseTransport)(nil)

const (
	contentTypeEventStream = "text/event-stream"
	// streamTokenHeader and streamTokenParam carry a single-connection
	// stream's token (graphql-sse's TOKEN_HEADER_KEY and TOKEN_QUERY_KEY).
	streamTokenHeader = "X-GraphQL-Event-Stream-Token"
	streamTokenParam  = "token"
	// streamBuffer is how many events of a single-connection stream wait for
	// its writer; past it, operations wait, and a subscription's own bus
	// buffer decides when its client is too slow (bus.go).
	streamBuffer = 16
)

// Supports takes a GET or JSON POST that prefers an event stream to JSON
// (see prefersEventStream), and every request of the single-connection mode:
// PUT, DELETE, and a JSON POST with a token.
func (t *sseTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	switch r.Method {
	case http.MethodPut, http.MethodDelete:
		return true
	case http.MethodGet:
		return prefersEventStream(r)
	case http.MethodPost:
		return isJSON(r) && (prefersEventStream(r) || streamToken(r) != "")
	}
	return false
}

func (t *sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.watchShutdown(r)
	token := streamToken(r)
	switch {
	case r.Method == http.MethodPut:
		t.reserve(w, r)
	case r.Method == http.MethodDelete:
		t.stop(w, r, token)
	case prefersEventStream(r) && token != "":
		t.openReserved(w, r, token)
	case prefersEventStream(r):
		t.serveDistinct(w, r, exec)
	default:
		t.runOnReserved(w, r, exec, token)
	}
}

func streamToken(r *http.Request) string {
	if tok := r.Header.Get(streamTokenHeader); tok != "" {
		return tok
	}
	return r.URL.Query().Get(streamTokenParam)
}

// watchShutdown ends every single-connection stream when the server that
// serves them begins to shut down. Their operations complete then (the bus
// ends every subscription), but the streams themselves are ordinary active
// requests that http.Server.Shutdown would wait on until its deadline.
func (t *sseTransport) watchShutdown(r *http.Request) {
	t.shutdown.Do(func() {
		if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
			srv.RegisterOnShutdown(t.streams.closeAll)
		}
	})
}

// serveDistinct runs one operation whose results are the response's stream.
func (t *sseTransport) serveDistinct(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	var params *graphql.RawParams
	var err *gqlerror.Error
	if r.Method == http.MethodGet {
		params, err = readGetParams(r)
	} else {
		params, err = readPostParams(r)
	}
	if err == nil {
		err = checkParams(params)
	}
	if err != nil {
		w.Header().Set("Content-Type", contentTypeJSON)
		writeRequestErrors(w, http.StatusBadRequest, exec.DispatchError(r.Context(), gqlerror.List{err}))
		return
	}
	rc, opErr := exec.CreateOperationContext(r.Context(), params)
	if opErr == nil && rc.Operation.Operation == ast.Mutation && r.Method == http.MethodGet {
		opErr = gqlerror.List{requestError("a mutation must be sent with POST, not GET")}
	}
	t.stream(w, r, exec, rc, opErr)
}

// stream answers an operation (or the errors that refused it) as an event
// stream: its results as `next` events, then `complete`. postTransport and
// getTransport hand it a subscription whose client accepts a stream.
func (t *sseTransport) stream(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, rc *graphql.OperationContext, opErr gqlerror.List) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx, cancel := untilExpiry(graphql.WithOperationContext(r.Context(), rc))
	defer cancel()
	setStreamHeaders(w)
	var mu sync.Mutex
	write := func(f func(io.Writer)) {
		mu.Lock()
		defer mu.Unlock()
		f(w)
		flusher.Flush()
	}
	write(func(w io.Writer) { io.WriteString(w, ":\n\n") })

	if t.opts.KeepAlive > 0 {
		done := make(chan struct{})
		defer close(done)
		go func() {
			tick := time.NewTicker(t.opts.KeepAlive)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				case <-tick.C:
					write(func(w io.Writer) { io.WriteString(w, ": ping\n\n") })
				}
			}
		}()
	}

	// complete has an empty data line: without one, EventSource dispatches
	// no event (graphql-sse's PROTOCOL.md).
	const complete = "event: complete\ndata:\n\n"
	if opErr != nil {
		resp := exec.DispatchError(ctx, opErr)
		write(func(w io.Writer) { writeEvent(w, responseJSON(resp, false), "") })
		write(func(w io.Writer) { io.WriteString(w, complete) })
		return
	}
	responses, dctx := exec.DispatchOperation(ctx, rc)
	if rc.Operation.Operation == ast.Subscription && t.opts.OnSubscribe != nil {
		t.opts.OnSubscribe()
		if t.opts.OnUnsubscribe != nil {
			defer t.opts.OnUnsubscribe()
		}
	}
	for {
		resp := responses(dctx)
		if resp == nil {
			break
		}
		write(func(w io.Writer) { writeEvent(w, responseJSON(resp, true), eventID(resp)) })
	}
	write(func(w io.Writer) { io.WriteString(w, complete) })
}

func setStreamHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", contentTypeEventStream+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Connection", "keep-alive")
	w.Header().Set("X-Accel-Buffering", "no")
}

// eventID is a subscription event's bus id (extensions.eventId), "" for
// anything else or for an id that cannot sit on an `id:` line.
func eventID(resp *graphql.Response) string {
	id, _ := resp.Extensions["eventId"].(string)
	if strings.ContainsAny(id, "\r\n\x00") {
		return ""
	}
	return id
}

// writeEvent writes one `next` event holding data, with `id:` when id is set.
func writeEvent(w io.Writer, data []byte, id string) {
	if id != "" {
		fmt.Fprintf(w, "id: %s\n", id)
	}
	// JSON has no raw newlines, so one data line carries it whole.
	fmt.Fprintf(w, "event: next\ndata: %s\n\n", data)
}

// sseStreams are the single-connection streams, by token.
type sseStreams struct {
	mu      sync.Mutex
	byToken map[string]*sseStream
	closed  bool // the server is shutting down: no new reservations
}

// sseStream is one reserved single-connection stream.
type sseStream struct {
	credential string
	// frames are the events its operations wrote, in order, for the GET
	// that holds it to send.
	frames chan []byte
	// done is closed when the stream ends: its GET ended, it was never
	// opened in time, or the server is shutting down. Its operations are
	// canceled then.
	done chan struct{}

	mu     sync.Mutex
	opened bool
	ended  bool
	ops    map[string]*sseOperation
}

// sseOperation is one operation running on a stream.
type sseOperation struct {
	cancel context.CancelFunc
}

// end ends the stream and cancels its operations; only the first call does.
func (st *sseStream) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		return
	}
	st.ended = true
	close(st.done)
	for _, op := range st.ops {
		op.cancel()
	}
}

// find is the stream token names, if cred reserved it.
func (s *sseStreams) find(token, cred string) *sseStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.byToken[token]
	if st == nil || st.credential != cred {
		return nil
	}
	return st
}

// drop ends st and forgets its token.
func (s *sseStreams) drop(token string, st *sseStream) {
	s.mu.Lock()
	if s.byToken[token] == st {
		delete(s.byToken, token)
	}
	s.mu.Unlock()
	st.end()
}

func (s *sseStreams) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for token, st := range s.byToken {
		delete(s.byToken, token)
		st.end()
	}
}

// reserve answers a new stream's token (201, text/plain).
func (t *sseTransport) reserve(w http.ResponseWriter, r *http.Request) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand)
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	st := &sseStream{credential: credential(r.Context()), frames: make(chan []byte, streamBuffer), done: make(chan struct{}), ops: map[string]*sseOperation{}}
	t.streams.mu.Lock()
	if t.streams.closed {
		t.streams.mu.Unlock()
		writeGraphQLError(w, http.StatusServiceUnavailable, model.CodeBadRequest, "the gateway is shutting down")
		return
	}
	t.streams.byToken[token] = st
	t.streams.mu.Unlock()
	time.AfterFunc(t.opts.ReserveTimeout, func() {
		st.mu.Lock()
		opened := st.opened
		st.mu.Unlock()
		if !opened {
			t.streams.drop(token, st)
		}
	})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, token)
}

// openReserved sends a reserved stream's events until its client leaves or
// it ends; then the stream and its operations end.
func (t *sseTransport) openReserved(w http.ResponseWriter, r *http.Request, token string) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	st := t.streams.find(token, credential(r.Context()))
	if st == nil {
		writeStreamNotFound(w)
		return
	}
	st.mu.Lock()
	opened := st.opened
	st.opened = true
	st.mu.Unlock()
	if opened {
		writeGraphQLError(w, http.StatusConflict, model.CodeBadRequest, "this event stream is already open")
		return
	}
	defer t.streams.drop(token, st)

	setStreamHeaders(w)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, ":\n\n")
	flusher.Flush()
	var ping <-chan time.Time
	if t.opts.KeepAlive > 0 {
		tick := time.NewTicker(t.opts.KeepAlive)
		defer tick.Stop()
		ping = tick.C
	}
	for {
		select {
		case f := <-st.frames:
			_, _ = w.Write(f)
			flusher.Flush()
		case <-ping:
			io.WriteString(w, ": ping\n\n")
			flusher.Flush()
		case <-r.Context().Done():
			return
		case <-st.done:
			// Send what was already written (the completions of operations
			// ended by a shutdown), then end.
			for {
				select {
				case f := <-st.frames:
					_, _ = w.Write(f)
				default:
					flusher.Flush()
					return
				}
			}
		}
	}
}

// runOnReserved starts one operation on a reserved stream and answers 202
// once it runs (a subscription has subscribed); its results follow on the
// stream. A request that cannot run answers as GraphQL over HTTP does, with
// 400: any other answer than 202 is what graphql-sse's client reads as a
// refusal.
func (t *sseTransport) runOnReserved(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, token string) {
	w.Header().Set("Content-Type", responseContentType(r))
	refuse := func(ctx context.Context, status int, err *gqlerror.Error) {
		writeRequestErrors(w, status, exec.DispatchError(ctx, gqlerror.List{err}))
	}
	st := t.streams.find(token, credential(r.Context()))
	if st == nil {
		writeStreamNotFound(w)
		return
	}
	params, err := readPostParams(r)
	if err == nil {
		err = checkParams(params)
	}
	if err != nil {
		refuse(r.Context(), http.StatusBadRequest, err)
		return
	}
	opID, _ := params.Extensions["operationId"].(string)
	if opID == "" {
		refuse(r.Context(), http.StatusBadRequest, requestError("extensions.operationId is required on a single-connection event stream"))
		return
	}
	// The operation outlives this request: it ends when it completes, when
	// it is stopped (DELETE) or when its stream ends. It keeps the request's
	// values (the credential among them).
	ctx, cancel := untilExpiry(context.WithoutCancel(r.Context()))
	op := &sseOperation{cancel: cancel}
	finish := func() {
		cancel()
		st.mu.Lock()
		if st.ops[opID] == op {
			delete(st.ops, opID)
		}
		st.mu.Unlock()
	}
	st.mu.Lock()
	switch _, dup := st.ops[opID]; {
	case st.ended:
		st.mu.Unlock()
		cancel()
		writeStreamNotFound(w)
		return
	case dup:
		st.mu.Unlock()
		cancel()
		refuse(r.Context(), http.StatusConflict, requestError("an operation with this operationId is already running on this stream"))
		return
	case t.opts.MaxOperations > 0 && len(st.ops) >= t.opts.MaxOperations:
		st.mu.Unlock()
		cancel()
		tooMany := gqlerror.Errorf("this event stream already runs %d operations, the most allowed", t.opts.MaxOperations)
		errcode.Set(tooMany, string(model.CodeBadUserInput))
		refuse(r.Context(), http.StatusBadRequest, tooMany)
		return
	}
	st.ops[opID] = op
	st.mu.Unlock()

	params.Headers = r.Header.Clone()
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		finish()
		writeRequestErrors(w, http.StatusBadRequest, exec.DispatchError(graphql.WithOperationContext(r.Context(), rc), opErr))
		return
	}
	responses, dctx := exec.DispatchOperation(ctx, rc)
	subscription := rc.Operation.Operation == ast.Subscription
	if subscription && t.opts.OnSubscribe != nil {
		t.opts.OnSubscribe()
	}
	w.WriteHeader(http.StatusAccepted)

	id, _ := json.Marshal(opID)
	go func() {
		defer finish()
		if subscription && t.opts.OnUnsubscribe != nil {
			defer t.opts.OnUnsubscribe()
		}
		send := func(f []byte) bool {
			select {
			case st.frames <- f:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			resp := responses(dctx)
			if resp == nil {
				break
			}
			if !send(fmt.Appendf(nil, "event: next\ndata: {\"id\":%s,\"payload\":%s}\n\n", id, responseJSON(resp, true))) {
				return
			}
		}
		// Stopped by its client (DELETE), it still completes, as graphql-sse
		// servers do; a stream that ended has no one to tell.
		select {
		case st.frames <- fmt.Appendf(nil, "event: complete\ndata: {\"id\":%s}\n\n", id):
		case <-st.done:
		}
	}()
}

// stop ends one operation of a reserved stream (DELETE ?operationId=).
func (t *sseTransport) stop(w http.ResponseWriter, r *http.Request, token string) {
	if token == "" {
		writeGraphQLError(w, http.StatusBadRequest, model.CodeBadRequest, "DELETE stops an operation of a single-connection event stream: send its token ("+streamTokenHeader+") and ?operationId=")
		return
	}
	st := t.streams.find(token, credential(r.Context()))
	if st == nil {
		writeStreamNotFound(w)
		return
	}
	opID := r.URL.Query().Get("operationId")
	if opID == "" {
		writeGraphQLError(w, http.StatusBadRequest, model.CodeBadRequest, "operationId is required")
		return
	}
	st.mu.Lock()
	if op := st.ops[opID]; op != nil {
		op.cancel()
	}
	st.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func writeStreamNotFound(w http.ResponseWriter) {
	writeGraphQLError(w, http.StatusNotFound, model.CodeBadRequest, "no such event stream: reserve one with PUT, and send its token with the same credential")
}

// untilExpiry ends an operation's context at its JWT's exp (none for an API
// key): a stream on a lapsed credential completes, and the client must come
// back with a fresh one.
func untilExpiry(ctx context.Context) (context.Context, context.CancelFunc) {
	if id, _ := identityOf(ctx); !id.expires.IsZero() {
		return context.WithDeadline(ctx, id.expires)
	}
	return context.WithCancel(ctx)
}
