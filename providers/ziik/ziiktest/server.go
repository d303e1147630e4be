// Package ziiktest is an in-process fake of a Ziik tenant's REST API, like
// net/http/httptest. It follows the Ziik API notes (/work/shared/providers/ziik.md)
// and the captured "Create a new message in a conversation" page: JWT auth with
// POST /authenticate and POST /renew answering arrays, Unix-second timestamps,
// `{"error":{code,message,is_ziik_error}}` error bodies, conversations listed by
// page, messages listed with opaque bi-directional cursors, a message edited
// by an update and finalize-update and soft-deleted (lifecycle.go).
//
// Where the notes say a shape is undocumented, the emulator takes the notes'
// stated assumption (Laravel-style `{data, meta}` envelopes, newest-first cursor
// pages) so that adapters are tested against one consistent reading of them.
//
// Every token acts as one user, as Ziik's do: the integration user logs in
// with the Options credentials, a user added with a Password with their own,
// and IssueToken hands out a user's JWT directly; a message created with a
// token is that user's. Conversations have participants (SetParticipants,
// AddParticipant): GET /conversations leaves out those a user is not in, and
// everything else about them answers that user 403.
//
// It is usable outside tests: demo mode runs on it.
package ziiktest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/internal/upstreamtest"
)

// Options configures a Server. Zero values take the defaults noted.
type Options struct {
	// Email and Password are the integration user's credentials that
	// POST /authenticate accepts. Defaults: "bot@ziik.test" and "ziik-secret".
	Email    string
	Password string
	// TokenTTL is how long an issued JWT is valid. Default 1 hour.
	TokenTTL time.Duration
	// Now is the clock for token expiry and message dates. Default time.Now.
	Now func() time.Time
	// Latency is added to every request.
	Latency time.Duration
	// WrapData wraps single-object answers (a created message, a finalized
	// one, a user, a conversation) in {"data": …} as older API generations
	// did.
	WrapData bool
	// AuthorOnlyWrites answers 403 to an edit, finalize or delete of another
	// user's message. The notes do not say Ziik restricts these (only that
	// 403 means insufficient privileges), so by default any participant of
	// the conversation may.
	AuthorOnlyWrites bool
}

// Fault is an injected answer (see FailNext). Status 0 answers normally after
// Delay; Times 0 means once. Body is written as is, as application/json unless
// Header names another Content-Type.
type Fault = upstreamtest.Fault

// Server is a fake Ziik tenant. All methods are safe for concurrent use.
type Server struct {
	// URL is the API base (tenant origin + "/api") to give an adapter as BaseURL.
	URL string

	// Recorder gives the Server Calls, TotalCalls and ResetCalls (endpoints
	// named "METHOD /route/template" as in the notes, e.g.
	// "GET /conversations/{conversation}/messages", without /api; a path no
	// route matches counts as "METHOD /path"), SetLatency, FailNext and
	// ClearFaults.
	upstreamtest.Recorder

	srv        *httptest.Server
	now        func() time.Time
	email      string
	pass       string
	ttl        time.Duration
	wrap       bool
	authorOnly bool
	secret     []byte

	mu        sync.Mutex
	tokens    map[string]token
	tokenSeq  int
	users     map[int]*User
	convs     map[int]*conversation
	msgs      map[int]*message
	nextUser  int
	nextConv  int
	nextMsg   int
	botID     int
	demoConvs []int
	files     fileStore // files.go
}

type token struct {
	userID  int
	expires time.Time
	revoked bool
}

// NewServer starts a fake tenant whose integration user ("commentgraph bot")
// owns the configured credentials. Close it when done.
func NewServer(opts Options) *Server {
	s := &Server{
		now:        opts.Now,
		email:      opts.Email,
		pass:       opts.Password,
		ttl:        opts.TokenTTL,
		wrap:       opts.WrapData,
		authorOnly: opts.AuthorOnlyWrites,
		tokens:     make(map[string]token),
		users:      make(map[int]*User),
		convs:      make(map[int]*conversation),
		msgs:       make(map[int]*message),
		nextUser:   11,
		nextConv:   57,
		nextMsg:    9901,
	}
	s.SetLatency(opts.Latency)
	if s.now == nil {
		s.now = time.Now
	}
	if s.email == "" {
		s.email = "bot@ziik.test"
	}
	if s.pass == "" {
		s.pass = "ziik-secret"
	}
	if s.ttl <= 0 {
		s.ttl = time.Hour
	}
	s.secret = make([]byte, 32)
	_, _ = rand.Read(s.secret)
	s.botID = s.AddUser(User{FirstName: "commentgraph", LastName: "bot", Email: s.email, Title: "Integration", Unit: "HQ"})
	s.srv = httptest.NewUnstartedServer(s.routes())
	s.srv.Config.ConnState = s.Recorder.ConnState
	s.srv.Start()
	s.URL = s.srv.URL + "/api"
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Credentials returns the email and password POST /authenticate accepts.
func (s *Server) Credentials() (email, password string) { return s.email, s.pass }

// BotID is the id of the integration user the credentials belong to.
func (s *Server) BotID() int { return s.botID }

// ExpireTokens makes every issued token expired, as if the clock had passed
// them; the next calls get 401 token_expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.now().Add(-time.Second)
	for k, t := range s.tokens {
		t.expires = past
		s.tokens[k] = t
	}
}

// Conversations lists the ids of the conversations SeedDemo made (all
// conversations when SeedDemo was not called), for a demo config.
func (s *Server) Conversations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.demoConvs
	if len(ids) == 0 {
		for id := range s.convs {
			ids = append(ids, id)
		}
	}
	out := make([]string, 0, len(ids))
	for _, id := range sortedInts(ids) {
		out = append(out, fmt.Sprint(id))
	}
	return out
}

// routes maps each documented endpoint; paths are served under /api like a
// tenant's origin.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(endpoint string, h func(w http.ResponseWriter, r *http.Request, uid int), authed bool) {
		method, path, _ := strings.Cut(endpoint, " ")
		mux.HandleFunc(method+" /api"+path, func(w http.ResponseWriter, r *http.Request) {
			if !s.enter(w, r, endpoint) {
				return
			}
			uid := 0
			if authed {
				var ok bool
				if uid, ok = s.authorize(w, r); !ok {
					return
				}
			}
			h(w, r, uid)
		})
	}
	handle("POST /authenticate", s.authenticate, false)
	handle("POST /renew", s.renew, false)
	handle("GET /conversations", s.listConversations, true)
	handle("GET /conversations/{conversation}", s.getConversation, true)
	handle("GET /conversations/{conversation}/messages", s.listMessages, true)
	handle("POST /conversations/{conversation}/messages", s.createMessage, true)
	handle("PATCH /conversations/{conversation}/messages/{message}", s.updateMessage, true)
	handle("POST /conversations/{conversation}/messages/{message}/finalize-update", s.finalizeUpdate, true)
	handle("DELETE /conversations/{conversation}/messages/{message}", s.deleteMessage, true)
	handle("GET /users/{id}", s.getUser, true)
	handle("POST /messages/{message}/files", s.uploadFile, true)
	s.fileRoutes(mux) // files.go: at the tenant origin, where source links point
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !s.enter(w, r, r.Method+" "+strings.TrimPrefix(r.URL.Path, "/api")) {
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "The requested resource was not found.")
	})
	return mux
}

// enter counts the call, waits the latency and plays an injected fault. It
// reports whether the handler should go on.
func (s *Server) enter(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	return upstreamtest.Enter(&s.Recorder, w, r, endpoint, faultOptions)
}

// faultOptions writes a fault's answer as JSON unless its Header says otherwise.
var faultOptions = upstreamtest.Options{WriteFault: func(w http.ResponseWriter, f Fault) {
	maps.Copy(w.Header(), f.Header)
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
}}

// issue makes a JWT-looking token for uid; s.mu must be held.
func (s *Server) issue(uid int) (string, time.Time) {
	s.tokenSeq++
	now := s.now()
	exp := now.Add(s.ttl)
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": uid, "iat": now.Unix(), "exp": exp.Unix(), "jti": s.tokenSeq})
	signing := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(signing))
	jwt := signing + "." + enc.EncodeToString(mac.Sum(nil))
	s.tokens[jwt] = token{userID: uid, expires: exp}
	return jwt, exp
}

// bearer checks the Authorization header; on failure it writes the 401.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (string, token, bool) {
	h := r.Header.Get("Authorization")
	jwt, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || jwt == "" {
		writeError(w, http.StatusUnauthorized, "token_not_provided", "A token is required.")
		return "", token{}, false
	}
	s.mu.Lock()
	t, known := s.tokens[jwt]
	now := s.now()
	s.mu.Unlock()
	switch {
	case !known || t.revoked:
		writeError(w, http.StatusUnauthorized, "token_invalid", "The token is invalid.")
		return "", token{}, false
	case !now.Before(t.expires):
		writeError(w, http.StatusUnauthorized, "token_expired", "The token has expired.")
		return "", token{}, false
	}
	return jwt, t, true
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (int, bool) {
	_, t, ok := s.bearer(w, r)
	return t.userID, ok
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, _ int) {
	var body struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "The request body is not valid JSON.")
		return
	}
	if body.Username == nil || body.Password == nil || *body.Username == "" || *body.Password == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The username and password fields are required.")
		return
	}
	s.mu.Lock()
	uid, ok := s.loginLocked(*body.Username, *body.Password)
	var jwt string
	var exp time.Time
	if ok {
		jwt, exp = s.issue(uid)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "Invalid credentials.")
		return
	}
	writeJSON(w, http.StatusOK, []map[string]any{{"jwt": jwt, "expires": exp.Unix()}})
}

// renew swaps a valid token for a fresh one; the old one stops working, as
// with a refreshed-and-blacklisted JWT. An expired token cannot be renewed.
func (s *Server) renew(w http.ResponseWriter, r *http.Request, _ int) {
	old, t, ok := s.bearer(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	t.revoked = true
	s.tokens[old] = t
	jwt, exp := s.issue(t.userID)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, []map[string]any{{"jwt": jwt, "expires": exp.Unix()}})
}

// writeError writes the documented error body.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message, "is_ziik_error": true}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	upstreamtest.WriteJSON(w, status, "application/json", v, true)
}
