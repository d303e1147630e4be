package virolatest

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// streamBuffer is how many frames a slow events client may fall behind before
// the server drops it, as a real server would rather than stall every writer.
const streamBuffer = 256

// stream is one connected events client.
type stream struct {
	user int64
	conn *websocket.Conn
	send chan []byte
	once sync.Once
	done chan struct{}
}

func (c *stream) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.conn.Close()
	})
}

var upgrader = websocket.Upgrader{
	// The fake serves any origin: it is only ever reached by tests and the
	// gateway's own demo mode.
	CheckOrigin: func(*http.Request) bool { return true },
}

// handleEvents upgrades to the events WebSocket. The docs only show the
// session cookie; the Bearer header is accepted the same way (route already
// checked it).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, uid int64) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		writeError(w, http.StatusServiceUnavailable, "Server is shutting down")
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &stream{user: uid, conn: conn, send: make(chan []byte, streamBuffer), done: make(chan struct{})}
	s.mu.Lock()
	s.streams[c] = struct{}{}
	s.streamsChangedLocked()
	s.mu.Unlock()

	go func() { // writer
		defer c.close()
		for {
			select {
			case <-c.done:
				return
			case frame := <-c.send:
				_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
					return
				}
			}
		}
	}()
	// The reader answers pings and notices the client leaving; the protocol is
	// server-to-client only, so whatever the client sends is ignored.
	for {
		if _, _, err := conn.NextReader(); err != nil {
			break
		}
	}
	c.close()
	s.mu.Lock()
	delete(s.streams, c)
	s.streamsChangedLocked()
	s.mu.Unlock()
}

func (s *Server) streamsChangedLocked() {
	close(s.streamCh)
	s.streamCh = make(chan struct{})
}

// Streams is how many events WebSockets are connected.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// WaitStreams waits until exactly n events WebSockets are connected or ctx
// ends.
func (s *Server) WaitStreams(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		count, changed := len(s.streams), s.streamCh
		s.mu.Unlock()
		if count == n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// DropStreams closes every events WebSocket, as a server restart or a network
// cut would.
func (s *Server) DropStreams() {
	s.mu.Lock()
	conns := make([]*stream, 0, len(s.streams))
	for c := range s.streams {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// broadcastLocked sends one {type,data} frame to every client that may see
// room (all clients when room is nil).
func (s *Server) broadcastLocked(room *storedRoom, typ string, data any) {
	if len(s.streams) == 0 {
		return
	}
	frame, err := json.Marshal(map[string]any{"type": typ, "data": data})
	if err != nil {
		return
	}
	for c := range s.streams {
		if room != nil && !room.canAccess(c.user) {
			continue
		}
		select {
		case c.send <- frame:
		default:
			c.close() // too slow: drop it rather than block every writer
		}
	}
}

func (s *Server) broadcastRoomLocked(typ string, room *storedRoom) {
	s.broadcastLocked(room, typ, map[string]any{"room": room.wire})
}
