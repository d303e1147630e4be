package graphqlws

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socket is one client connection. Its only goroutine is the HTTP handler's,
// which runs the read loop (serve); frames to it are queued here and written
// by the transport's writers, one at a time.
type socket struct {
	t      *Transport
	conn   *websocket.Conn
	proto  *protocol
	header http.Header
	// key is Options.Key of the socket's context once initialised; "" with
	// share false when its operations must run on their own.
	key   string
	share bool

	mu      sync.Mutex
	queue   []frame
	writing bool // a writer owns the socket; enqueue must not schedule it again
	closing bool // no new frames but the close; no new members
	// closed is made when a close frame is queued, and closed (closedDone)
	// once the frame is written or never will be (a write failed); nil
	// without a close frame. serve waits on it (linger).
	closedDone bool
	closed     chan struct{}
	subs       []*member
	ticker     *time.Timer // keep-alive
	expiry     *time.Timer // Options.Expires
	// room is closed, and reset to nil, when the queue drains to
	// roomLeft() frames or the socket closes; nil while nobody waits (see
	// awaitRoom).
	room chan struct{}
}

// member is one operation of a socket: its share of an execution.
type member struct {
	sock   *socket
	id     string
	idJSON []byte
	// g is set under sock.mu and g.mu once the member joined an execution.
	g *execution
	// idx is the member's index in g.members, under g.mu.
	idx int
	// counted: OnSubscribe was called for it, so leaving calls OnUnsubscribe.
	// Under g.mu.
	counted bool
}

// enqueueResult tells the caller what to do after enqueue, outside any lock.
type enqueueResult uint8

const (
	queued   enqueueResult = iota // nothing more to do
	wake                          // schedule the socket with a writer
	overflow                      // the socket is a slow consumer: close it
	dropped                       // the socket is closing
)

// enqueueLocked queues f; s.mu is held.
func (s *socket) enqueueLocked(f frame) enqueueResult {
	if s.closing {
		return dropped
	}
	if len(s.queue) >= s.t.opts.MaxQueued {
		return overflow
	}
	s.queue = append(s.queue, f)
	if s.writing {
		return queued
	}
	s.writing = true
	return wake
}

// send queues f and does what follows from it.
func (s *socket) send(f frame) {
	s.mu.Lock()
	r := s.enqueueLocked(f)
	s.mu.Unlock()
	s.after(r)
}

func (s *socket) after(r enqueueResult) {
	switch r {
	case wake:
		s.t.writers.schedule(s)
	case overflow:
		s.slow()
	}
}

// slow closes a socket that fell MaxQueued frames behind: what it was not
// sent is dropped and the close frame goes right after the frame being
// written (which WriteTimeout bounds).
func (s *socket) slow() {
	s.t.opts.Logger.Info("websocket closed: slow consumer", "queued", s.t.opts.MaxQueued)
	s.shutdown(CloseTooManyRequests, "slow consumer", true)
}

// shutdown ends the socket: every member leaves its execution, nothing new is
// queued, and the socket closes — after a close frame with code when code is
// not 0 (after what is already queued, unless dropPending; serve then closes
// the connection once the client answered it, see linger), at once
// otherwise. It is safe to call more than once, from any goroutine holding no
// lock.
func (s *socket) shutdown(code int, reason string, dropPending bool) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	subs := s.subs
	s.subs = nil
	if s.ticker != nil {
		s.ticker.Stop()
	}
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if dropPending {
		s.queue = nil
	}
	s.signalRoomLocked()
	schedule := false
	if code != 0 {
		s.queue = append(s.queue, frame{kind: frameClose, code: code, reason: closeReason(reason)})
		s.closed = make(chan struct{})
		schedule = !s.writing
		s.writing = true
	}
	s.mu.Unlock()
	if code == 0 {
		_ = s.conn.Close()
	}
	if schedule {
		s.t.writers.schedule(s)
	}
	for _, m := range subs {
		if m.g != nil && m.g.leave(m) {
			s.t.opts.OnUnsubscribe()
		}
	}
}

// flush writes the socket's queue, one frame at a time, until it is empty.
// Only the writer that set s.writing runs it.
func (s *socket) flush() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.writing = false
			s.queue = nil // an idle socket holds no queue
			s.mu.Unlock()
			return
		}
		f := s.queue[0]
		s.queue[0] = frame{}
		s.queue = s.queue[1:]
		s.signalRoomLocked()
		s.mu.Unlock()
		if err := s.write(f); err != nil {
			s.t.opts.Logger.Debug("websocket write failed; closing", "err", err)
			s.mu.Lock()
			s.queue = nil
			s.writing = false
			s.mu.Unlock()
			_ = s.conn.Close()
			s.shutdown(0, "", true)
			s.closeWritten(false)
			return
		}
		if f.kind == frameClose {
			// Nothing follows the close frame: end the write side (the
			// client reads the frame, then EOF) and give the client
			// closeLinger to answer it; serve reads until then.
			if cw, ok := s.conn.NetConn().(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			s.closeWritten(true)
		}
	}
}

// roomLeft is how many frames may wait for a socket before awaitRoom waits:
// half of MaxQueued, so that what a paced operation still has on its way
// (the response being executed, another operation's frames, keep-alives)
// fits in the other half.
func (s *socket) roomLeft() int { return s.t.opts.MaxQueued / 2 }

// awaitRoom returns once at most roomLeft frames wait for the socket, or it
// is closing (the frame will be dropped anyway), or ctx is done (its error).
func (s *socket) awaitRoom(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.closing || len(s.queue) <= s.roomLeft() {
			s.mu.Unlock()
			return nil
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		s.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// signalRoomLocked wakes awaitRoom's waiters when the queue has room or the
// socket is closing; s.mu is held.
func (s *socket) signalRoomLocked() {
	if s.room != nil && (s.closing || len(s.queue) <= s.roomLeft()) {
		close(s.room)
		s.room = nil
	}
}

// closeLinger is how long a socket whose close frame is written waits for
// the client's, reading and discarding what the client still sends. Closing
// the connection with unread input would make the kernel reset it, dropping
// whatever had not reached the client yet, close frame included: the client
// would see 1006 instead of the code.
const closeLinger = time.Second

// closeWritten tells serve the close frame is written (wrote), or will never
// be, and when written bounds serve's reading to closeLinger from now.
func (s *socket) closeWritten(wrote bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == nil || s.closedDone {
		return
	}
	if wrote {
		_ = s.conn.SetReadDeadline(time.Now().Add(closeLinger))
	}
	s.closedDone = true
	close(s.closed)
}

// linger ends a socket that is closing with a close frame, from serve's
// goroutine: while the connection can be read, it reads and discards until
// the client's close frame arrives (or any read error: the write of the close
// failed and closed the connection, closeLinger passed); otherwise it waits
// for the close frame to be written. Then serve closes the connection.
func (s *socket) linger(readable bool) {
	s.mu.Lock()
	closed := s.closed
	if closed != nil && readable && !s.closedDone {
		// Until closeWritten sets closeLinger's, no deadline (the init
		// timeout's, say) may end the reading before the close is written.
		_ = s.conn.SetReadDeadline(time.Time{})
	}
	s.mu.Unlock()
	if closed == nil {
		return
	}
	if !readable {
		<-closed // bounded by WriteTimeout
		return
	}
	for {
		if _, _, err := s.conn.NextReader(); err != nil {
			return
		}
	}
}

func (s *socket) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

var (
	frameIDOpen = []byte(`{"id":`)
	frameEnd    = []byte(`}`)
)

// write writes one frame as one WebSocket message, from the pooled write
// buffer: the shared payload is copied in, never re-encoded.
func (s *socket) write(f frame) error {
	deadline := time.Now().Add(s.t.opts.WriteTimeout)
	if f.kind == frameClose {
		return s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(f.code, f.reason), deadline)
	}
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if f.kind == frameRaw {
		return s.conn.WriteMessage(websocket.TextMessage, f.payload)
	}
	w, err := s.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	// messageWriter's Write only fails with the connection's write error,
	// which Close returns too.
	_, _ = w.Write(frameIDOpen)
	_, _ = w.Write(f.id)
	_, _ = w.Write(f.head)
	if f.payload != nil {
		_, _ = w.Write(f.payload)
	}
	_, _ = w.Write(frameEnd)
	return w.Close()
}

// keepAlive queues the protocol's keep-alive and re-arms the timer; it runs
// on the timer's own short-lived goroutine, so an idle socket has none.
func (s *socket) keepAlive(every time.Duration) {
	s.send(frame{kind: frameRaw, payload: s.proto.keepAlive})
	s.mu.Lock()
	if !s.closing && s.ticker != nil {
		s.ticker.Reset(every)
	}
	s.mu.Unlock()
}

// writers is a bounded set of goroutines that write queued frames: a writer
// starts when a socket is scheduled and fewer than max run, and ends when no
// socket waits.
type writers struct {
	max     int
	mu      sync.Mutex
	ready   []*socket
	running int
}

func (w *writers) schedule(socks ...*socket) {
	if len(socks) == 0 {
		return
	}
	w.mu.Lock()
	w.ready = append(w.ready, socks...)
	start := min(w.max-w.running, len(w.ready))
	w.running += start
	w.mu.Unlock()
	for range start {
		go w.run()
	}
}

func (w *writers) run() {
	for {
		w.mu.Lock()
		if len(w.ready) == 0 {
			w.running--
			w.ready = nil
			w.mu.Unlock()
			return
		}
		s := w.ready[0]
		w.ready[0] = nil
		w.ready = w.ready[1:]
		w.mu.Unlock()
		s.flush()
	}
}

// has and remove look m up among the socket's operations (a handful: a slice
// costs an idle socket less than a map); s.mu is held.
func (s *socket) has(m *member) bool {
	for _, x := range s.subs {
		if x == m {
			return true
		}
	}
	return false
}

func (s *socket) remove(m *member) bool {
	for i, x := range s.subs {
		if x == m {
			last := len(s.subs) - 1
			s.subs[i] = s.subs[last]
			s.subs[last] = nil
			s.subs = s.subs[:last]
			return true
		}
	}
	return false
}

func (s *socket) byID(id string) *member {
	for _, x := range s.subs {
		if x.id == id {
			return x
		}
	}
	return nil
}
