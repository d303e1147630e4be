// Package klinktest is an in-process emulator of the K-LINK (Klink CX) REST API,
// like net/http/httptest: NewServer starts it on a loopback port and s.URL is the
// base URL to give a client.
//
// It follows the provider notes (/work/shared/providers/klink.md) and the
// captured reference pages, not any client: Bearer auth, the {requestId, data}
// comment envelope, 201 on create with the text rendered as @Name, the
// {status, message, data} send-message envelope with nanosecond timestamps, and
// signed webhook deliveries. Where the notes say a behaviour is undocumented the
// emulator makes the assumption they name and says so beside the code.
//
// A token acts as one user: Options.Tokens belong to the bot (BotID), and
// AddToken gives another user a token of their own; a comment created with a
// token has that user as sender. K-LINK tokens are tenant-scoped personal
// access tokens and the notes document no room membership, so every token of
// the tenant reads and writes every room: there is no per-user visibility
// here, deliberately.
//
// It serves demo mode too, so nothing here depends on package testing.
package klinktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/internal/upstreamtest"
)

// maxBody bounds a request body (1 MiB).
const maxBody = 1 << 20

// DefaultToken is the bearer token the emulator accepts when Options gives none.
const DefaultToken = "kpt_emulator_token"

// BotID and BotName are the user the API token belongs to: K-LINK makes it the
// sender of every comment created through the API.
const (
	BotID   = "0b0b0b0b-0000-4000-8000-c0ffee000001"
	BotName = "commentgraph bot"
)

// Endpoints, as the reference names them; Calls and FailNext take these.
const (
	EndpointListComments  = "GET /api/v1/comments/rooms/{roomId}"
	EndpointCreateComment = "POST /api/v1/comments/rooms/{roomId}"
	EndpointSendMessage   = "POST /api/v1/messages/send"
)

// Options configures a Server. The zero value is ready.
type Options struct {
	// Tokens are the bearer tokens accepted. Empty: DefaultToken only.
	Tokens []string
	// Now is the emulator's clock. Nil: time.Now.
	Now func() time.Time
	// Latency is added to every request.
	Latency time.Duration
	// OmitPagination leaves out the legacy {total, page, pageSize, lastPage}
	// block from comment lists. The notes do not know whether the comment list
	// carries it, so both shapes are served.
	OmitPagination bool
	// OldestFirst lists comments oldest first. The notes assume newest first
	// (the default) but say to verify, so a client must cope with both.
	OldestFirst bool
}

// Fault is an answer injected in place of the real one (see FailNext):
// Status (0: answer normally after Delay), Body written as is, Header, Delay
// (ended when the client gives up), and Times (0: once).
type Fault = upstreamtest.Fault

// Server is a running emulator.
type Server struct {
	// URL is the base URL ("http://127.0.0.1:PORT"); paths start /api/v1/.
	URL string

	// Recorder gives the Server Calls, TotalCalls and ResetCalls (endpoints
	// named as the Endpoint constants), SetLatency, FailNext and ClearFaults.
	upstreamtest.Recorder

	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	tokens   map[string]string // bearer token → the user it acts as
	users    map[string]string // id → display name
	rooms    map[string]*room
	order    []string // room ids in the order added
	comments map[string][]*comment
	contacts map[string]string // contact id → room id
	sent     []SentMessage
	hook     webhook
	lastTime time.Time
}

type room struct {
	ID          string
	ContactID   string
	ContactName string
}

type comment struct {
	ID        string
	RoomID    string
	Text      string
	Mentions  []mentionOut
	SenderID  string
	CreatedAt time.Time
}

// NewServer starts an emulator. Close it when done.
func NewServer(opts Options) *Server {
	if len(opts.Tokens) == 0 {
		opts.Tokens = []string{DefaultToken}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		tokens:   make(map[string]string, len(opts.Tokens)),
		users:    map[string]string{BotID: BotName},
		rooms:    make(map[string]*room),
		comments: make(map[string][]*comment),
		contacts: make(map[string]string),
	}
	for _, t := range opts.Tokens {
		s.tokens[t] = BotID
	}
	s.SetLatency(opts.Latency)
	mux := http.NewServeMux()
	s.route(mux, EndpointListComments, s.listComments)
	s.route(mux, EndpointCreateComment, s.createComment)
	s.route(mux, EndpointSendMessage, s.sendMessage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path)
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// AddToken makes token a personal access token of the user userID (added
// with AddUser, or added now with userID as its name): comments created with
// it have that user as sender. A token already known changes hands.
func (s *Server) AddToken(token, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		s.users[userID] = userID
	}
	s.tokens[token] = userID
}

// route wraps h with what every endpoint does first: counting, latency,
// injected faults, then auth.
func (s *Server) route(mux *http.ServeMux, endpoint string, h http.HandlerFunc) {
	mux.HandleFunc(endpoint, func(w http.ResponseWriter, r *http.Request) {
		call := upstreamtest.Begin(&s.Recorder, endpoint)

		// Read the body up front: net/http notices a client that hung up
		// (and cancels r.Context()) only once the body has been consumed,
		// and a delay must end when the client gives up.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return
		}
		if len(body) > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "Request body too large.")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		if !call.Play(w, r, upstreamtest.Options{}) {
			return
		}
		uid, ok := s.caller(r)
		if !ok {
			// The call SDK sees 401 for an invalid, expired or revoked token;
			// the body shape is the notes' assumption ({message, requestId}).
			writeError(w, http.StatusUnauthorized, "Unauthenticated.")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, uid)))
	})
}

// callerKey keys the id of the user a request's token acts as.
type callerKey struct{}

// caller is the user the request's bearer token belongs to.
func (s *Server) caller(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	uid, ok := s.tokens[token]
	return uid, ok
}

// callerOf is the user a request authorized by route acts as.
func callerOf(r *http.Request) string {
	uid, _ := r.Context().Value(callerKey{}).(string)
	return uid
}

// now is the emulator clock, made strictly increasing at microsecond
// precision (the precision comments carry) so that two comments created in
// one tick still have an order.
func (s *Server) now() time.Time { return s.stamp(s.opts.Now()) }

// stamp makes t the next timestamp: t itself, unless that is not after the
// last one given. The caller holds mu.
func (s *Server) stamp(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Microsecond)
	if !t.After(s.lastTime) {
		t = s.lastTime.Add(time.Microsecond)
	}
	s.lastTime = t
	return t
}

// Timestamp layouts K-LINK uses: microseconds on comments, contacts and
// webhooks; nanoseconds on the send-message response.
const (
	layoutMicro = "2006-01-02T15:04:05.000000Z"
	layoutNano  = "2006-01-02T15:04:05.000000000Z"
)

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	upstreamtest.WriteJSON(w, status, "application/json; charset=utf-8", v, true)
}

// writeError answers with the error body the notes assume: JSON with a
// message and a requestId.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"requestId": newID(), "statusCode": status, "message": msg})
}

func errorf(w http.ResponseWriter, status int, format string, args ...any) {
	writeError(w, status, fmt.Sprintf(format, args...))
}
