package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// closeInitTimeout is graphql-transport-ws's close code for a socket that sent
// no connection_init in time.
const closeInitTimeout = 4408

// initDeadline wraps gqlgen's websocket implementation so a socket that has
// not been answered a connection_init within timeout is closed with 4408, as
// graphql-transport-ws specifies (gqlgen's own InitTimeout closes with 1002).
// The first frame the server writes is its answer to connection_init
// (connection_ack or an error), so that is when the clock stops.
type initDeadline struct {
	inner   transport.WebsocketImplementation
	timeout time.Duration
}

func (d initDeadline) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := d.inner.Accept(w, r, o)
	if err != nil || d.timeout <= 0 {
		return c, err
	}
	dc := &deadlineConn{WebsocketConn: c}
	dc.timer = time.AfterFunc(d.timeout, func() {
		dc.mu.Lock()
		answered := dc.answered
		dc.mu.Unlock()
		if !answered {
			_ = c.WriteClose(closeInitTimeout, "connection initialisation timeout")
			_ = c.Close()
		}
	})
	return dc, nil
}

type deadlineConn struct {
	transport.WebsocketConn
	timer    *time.Timer
	mu       sync.Mutex
	answered bool
}

func (c *deadlineConn) WriteJSON(v any) error {
	c.mu.Lock()
	if !c.answered {
		c.answered = true
		c.timer.Stop()
	}
	c.mu.Unlock()
	return c.WebsocketConn.WriteJSON(v)
}

func (c *deadlineConn) Close() error {
	c.timer.Stop()
	return c.WebsocketConn.Close()
}

// SetReadLimit and SetReadDeadline pass gqlgen's optional interfaces through,
// so PayloadReadLimit and ping/pong deadlines still apply.
func (c *deadlineConn) SetReadLimit(n int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(n)
	}
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
