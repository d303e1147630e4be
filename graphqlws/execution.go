package graphqlws

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// execution is one running operation and the socket operations (members)
// that receive its output. A shared one (key != "") is every subscription
// with that key on any socket; its one goroutine (run) reads the responses,
// marshals each once and queues the same bytes to every member.
//
// Lock order: Transport.mu, then execution.mu, then socket.mu.
type execution struct {
	t      *Transport
	key    string // "" when not shared
	cancel context.CancelFunc

	mu      sync.Mutex
	members []*member
	active  bool // the resolver subscribed: members are counted
	done    bool // no member may join
	wakes   []*socket
	slow    []*socket
}

// pacerKey is the context key under which an execution of its own is found
// by AwaitRoom.
type pacerKey struct{}

// AwaitRoom is flow control for a resolver whose events are not live: a
// subscription's replay of what its client missed (since, Last-Event-ID),
// which may be far longer than Options.MaxQueued. Called with the
// subscription's context before handing over each such event, it waits until
// the socket that will receive it has written all but MaxQueued/2 of its
// queued frames, so the backlog flows at the client's pace and is never
// taken for a slow consumer. It returns at once when the socket is closing
// or ctx belongs to no operation of this transport (another transport, or a
// shared execution, which never resumes), and the ctx's error when ctx ends
// first.
//
// Live events must not wait: a client that cannot keep up with them is
// closed with 4429 "slow consumer", as ever.
func AwaitRoom(ctx context.Context) error {
	e, _ := ctx.Value(pacerKey{}).(*execution)
	if e == nil {
		return nil
	}
	e.mu.Lock()
	var s *socket
	if len(e.members) == 1 {
		s = e.members[0].sock
	}
	e.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.awaitRoom(ctx)
}

// add makes m a member unless the execution is done or m's socket closed or
// dropped m meanwhile. Joining an active execution counts m at once.
func (e *execution) add(m *member) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return false
	}
	s := m.sock
	s.mu.Lock()
	ok := !s.closing && s.has(m)
	if ok {
		m.g = e
	}
	s.mu.Unlock()
	if !ok {
		return false
	}
	m.idx = len(e.members)
	e.members = append(e.members, m)
	if e.active {
		m.counted = true
		e.t.opts.OnSubscribe()
	}
	return true
}

// leave removes m (its socket already dropped it) and says whether m was
// counted. The last member to leave ends the execution: its context is
// cancelled, so the resolver's subscription ends.
func (e *execution) leave(m *member) bool {
	if e.key != "" {
		e.t.mu.Lock()
		defer e.t.mu.Unlock()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return m.counted
	}
	last := len(e.members) - 1
	if m.idx <= last && e.members[m.idx] == m {
		moved := e.members[last]
		e.members[m.idx] = moved
		moved.idx = m.idx
		e.members[last] = nil
		e.members = e.members[:last]
	}
	if len(e.members) == 0 {
		e.done = true
		if e.key != "" && e.t.groups[e.key] == e {
			delete(e.t.groups, e.key)
		}
		e.cancel()
	}
	return m.counted
}

// run executes the operation on ctx (which lives while the execution has
// members) and broadcasts every response.
func (e *execution) run(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext, subscription bool) {
	defer e.cancel()
	defer func() {
		if r := recover(); r != nil {
			err := rc.Recover(ctx, r)
			resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{gqlerror.WrapIfUnwrapped(err)})
			e.end(e.errorsPayload(resp.Errors))
		}
	}()
	responses, rctx := exec.DispatchOperation(ctx, rc)
	if subscription {
		// The resolver ran inside DispatchOperation. A subscription it refused
		// is a one-shot response of errors and no data; a live stream answers
		// a cancelled context with nil at once, without consuming an event.
		probe, stop := context.WithCancel(rctx)
		stop()
		if first := responses(probe); first != nil {
			if len(first.Data) == 0 && len(first.Errors) > 0 {
				e.end(e.errorsPayload(first.Errors))
				return
			}
			e.activate()
			e.broadcast(e.marshal(first))
		} else {
			e.activate()
		}
	}
	for {
		resp := responses(rctx)
		if resp == nil {
			break
		}
		e.broadcast(e.marshal(resp))
	}
	e.end(nil)
}

// activate counts the members: from now on they receive events.
func (e *execution) activate() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.active = true
	for _, m := range e.members {
		m.counted = true
		e.t.opts.OnSubscribe()
	}
}

func (e *execution) marshal(resp *graphql.Response) []byte {
	b, err := json.Marshal(resp)
	if err != nil {
		e.t.opts.Logger.Error("graphql response could not be encoded", "err", err)
		b, _ = json.Marshal(graphql.Response{Errors: gqlerror.List{{Message: "internal error", Extensions: map[string]any{"code": "INTERNAL"}}}})
	}
	return b
}

func (e *execution) errorsPayload(errs gqlerror.List) []byte {
	b, err := json.Marshal(errs)
	if err != nil {
		b = []byte(fmt.Sprintf(`[{"message":%s}]`, jsonString("internal error")))
	}
	return b
}

// broadcast queues payload to every member, each frame the member's id
// around the same bytes. It never waits on a socket: one that is too far
// behind is closed instead.
func (e *execution) broadcast(payload []byte) {
	e.mu.Lock()
	for _, m := range e.members {
		s := m.sock
		s.mu.Lock()
		r := s.enqueueLocked(frame{kind: frameOp, head: s.proto.next, id: m.idJSON, payload: payload})
		s.mu.Unlock()
		switch r {
		case wake:
			e.wakes = append(e.wakes, s)
		case overflow:
			e.slow = append(e.slow, s)
		}
	}
	wakes, slow := e.wakes, e.slow
	e.wakes, e.slow = e.wakes[:0], e.slow[:0]
	e.mu.Unlock()
	// The slices are reused by the next broadcast, which this goroutine
	// alone makes, after these calls return.
	e.t.writers.schedule(wakes...)
	for i, s := range slow {
		s.slow()
		slow[i] = nil
	}
	clear(wakes)
}

// end finishes the execution: each member still on its socket gets the
// errors (errs not nil) or complete, and leaves.
func (e *execution) end(errs []byte) {
	if e.key != "" {
		e.t.mu.Lock()
	}
	e.mu.Lock()
	e.done = true
	members := e.members
	e.members = nil
	e.mu.Unlock()
	if e.key != "" {
		if e.t.groups[e.key] == e {
			delete(e.t.groups, e.key)
		}
		e.t.mu.Unlock()
	}
	for _, m := range members {
		s := m.sock
		f := frame{kind: frameOp, head: s.proto.complete, id: m.idJSON}
		if errs != nil {
			f.head, f.payload = s.proto.errors, errs
		}
		s.mu.Lock()
		owned := s.remove(m)
		r := dropped
		if owned {
			r = s.enqueueLocked(f)
		}
		s.mu.Unlock()
		s.after(r)
		if owned && m.counted {
			e.t.opts.OnUnsubscribe()
		}
	}
}
