// Package virolatest is an in-process fake of a Virola Messenger server's Web
// API, like net/http/httptest: the paths, JSON envelopes, status codes, Unix-ms
// timestamps, Bearer auth, error bodies and the events WebSocket follow the
// Virola Web API docs (see /work/shared/providers/virola.md), so an adapter
// tested against it speaks to a real server the same way.
//
// It is safe for concurrent use and does not need a testing.TB: the gateway's
// demo mode runs on it.
//
// Where the docs are silent the fake makes a choice and says so (look for
// "Assumption"): the cursor item is excluded from pages unless
// Options.InclusiveCursor is set, comments can only be added to top-level
// messages, a download of an attachment that is not ready is 404, a delete is
// hard and takes a room message's comments with it (one TextMessageDeleted),
// only a message's author deletes it, and a read receipt records the first
// read only.
package virolatest

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/internal/upstreamtest"
)

// DefaultToken is the Web API token of the bot user when Options.Token is empty.
const DefaultToken = "virola-test-token"

// Options configures a Server.
type Options struct {
	// Token is the Bearer Web API token of the bot user (the user the gateway
	// acts as). Empty: DefaultToken. More tokens can be added with AddToken.
	Token string
	// BotName is the bot user's displayName. Empty: "commentgraph bot".
	BotName string
	// Now is the server's clock, for createdUtc and friends. Nil: time.Now.
	Now func() time.Time
	// Latency is added to every request. 0: none.
	Latency time.Duration
	// InclusiveCursor makes pages include the cursor's own message. The docs do
	// not say which it is; the default (false) excludes it.
	InclusiveCursor bool
	// DocSampleBodies makes writes answer exactly the docs' sample
	// `{"httpStatusCode": 200,}`, trailing comma and all, so clients prove they
	// parse it leniently. False: `{"httpStatusCode":200}`.
	DocSampleBodies bool
}

// Fault replaces the next answers of one endpoint (see FailNext). Status 0:
// after Delay, serve normally. Body is written as is (it may be garbage), as
// application/json; empty with a Status, it is the Virola error body
// {errorText, httpStatusCode}. Header is added to the answer; Times 0 is once.
type Fault = upstreamtest.Fault

// Server is a running fake Virola server.
type Server struct {
	// URL is the server origin ("http://127.0.0.1:PORT"); paths are /api/v1/….
	URL string

	// Recorder gives the Server Calls, TotalCalls and ResetCalls (endpoints
	// named "METHOD /api/v1/route/{template}", as in the docs), SetLatency,
	// FailNext and ClearFaults.
	upstreamtest.Recorder

	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	tokens   map[string]int64
	bot      int64
	world    world
	streams  map[*stream]struct{}
	streamCh chan struct{} // closed and replaced whenever the stream count changes
	closed   bool
	demo     demoState
	uploads  uploads // uploads.go
}

// NewServer starts a fake Virola server with one user, the bot, that Token
// belongs to. Close it when done.
func NewServer(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.BotName == "" {
		opts.BotName = "commentgraph bot"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		tokens:   make(map[string]int64),
		world:    newWorld(),
		streams:  make(map[*stream]struct{}),
		streamCh: make(chan struct{}),
	}
	s.SetLatency(opts.Latency)
	bot := s.AddUser(User{UserName: "commentgraph-bot", DisplayName: opts.BotName})
	s.bot = bot.ID
	s.tokens[opts.Token] = bot.ID

	mux := http.NewServeMux()
	s.route(mux, "GET /api/v1/status", s.handleStatus)
	s.route(mux, "GET /api/v1/server-health", s.handleHealth)
	s.route(mux, "GET /api/v1/users", s.handleUsers)
	s.route(mux, "GET /api/v1/rooms", s.handleRooms)
	s.route(mux, "GET /api/v1/rooms/{roomId}/messages", s.handleRoomMessages)
	s.route(mux, "POST /api/v1/rooms/{roomId}/messages", s.handlePostRoomMessage)
	s.route(mux, "DELETE /api/v1/messages/{messageId}", s.handleDeleteMessage)
	s.route(mux, "POST /api/v1/messages/{messageId}/read", s.handleMarkRead)
	s.route(mux, "GET /api/v1/messages/{messageId}/comments", s.handleComments)
	s.route(mux, "POST /api/v1/messages/{messageId}/comments", s.handlePostComment)
	s.route(mux, "POST /api/v1/messages/{messageId}/attachments", s.handleUpload)
	s.route(mux, "GET /api/v1/attachments/{attachmentId}", s.handleAttachment)
	s.route(mux, "GET /api/v1/attachments/{attachmentId}/{fileName}", s.handleDownload)
	s.route(mux, "GET /api/v1/events", s.handleEvents)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.Config.ConnState = s.Recorder.ConnState
	s.srv.Start()
	s.URL = s.srv.URL
	return s
}

// Close closes every events connection and shuts the server down.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.DropStreams()
	s.srv.Close()
}

// Token is the bot user's Web API token.
func (s *Server) Token() string { return s.opts.Token }

// BotID is the userId of the bot user the token belongs to.
func (s *Server) BotID() int64 { return s.bot }

// AddToken lets token act as userID, like a Web API token that user generated.
// As in Virola, a user has one live token: the user's previous one stops working.
func (s *Server) AddToken(token string, userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, id := range s.tokens {
		if id == userID {
			delete(s.tokens, t)
		}
	}
	s.tokens[token] = userID
}

func (s *Server) now() time.Time { return s.opts.Now() }

// route registers h behind what every endpoint shares: counting, latency,
// faults and Bearer auth.
func (s *Server) route(mux *http.ServeMux, pattern string, h func(http.ResponseWriter, *http.Request, int64)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !upstreamtest.Enter(&s.Recorder, w, r, pattern, faultOptions) {
			return
		}
		uid, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		h(w, r, uid)
	})
}

// faultOptions answers a fault with a Status as Virola would: JSON, and the
// Virola error body when the fault has none.
var faultOptions = upstreamtest.Options{WriteFault: func(w http.ResponseWriter, f Fault) {
	maps.Copy(w.Header(), f.Header)
	if f.Body == "" {
		writeError(w, f.Status, http.StatusText(f.Status))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
}}

// authenticate accepts a Bearer Web API token. The session cookie of
// POST /login is not implemented: the gateway only uses tokens.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (int64, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		writeError(w, http.StatusUnauthorized, "The Authorization HTTP-header or VirolaUserSessionId cookie expected")
		return 0, false
	}
	token, ok := strings.CutPrefix(h, "Bearer ")
	s.mu.Lock()
	uid, known := s.tokens[token]
	s.mu.Unlock()
	if !ok || !known {
		writeError(w, http.StatusUnauthorized, "Wrong Bearer, please renew Web API Access Token")
		return 0, false
	}
	return uid, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	upstreamtest.WriteJSON(w, status, "application/json", v, false)
}

// writeError writes Virola's error body.
func writeError(w http.ResponseWriter, status int, text string) {
	writeJSON(w, status, map[string]any{"errorText": text, "httpStatusCode": status})
}

func (s *Server) writeOK(w http.ResponseWriter) {
	if s.opts.DocSampleBodies {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("{\n    \"httpStatusCode\": 200,\n}"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"httpStatusCode": http.StatusOK})
}
