// Package aelysttest is an in-process fake of the Aelyst Developer API, like
// net/http/httptest: it speaks the documented paths, envelopes, error bodies,
// Unix-second timestamps, Bearer auth and per-path rate limit, and it sends
// signed "New Comment" webhooks. It is written from the provider notes
// (shared/providers/aelyst.md and seed 003), not from the adapter, and it is
// usable outside tests: demo mode runs on it.
//
// A token may belong to a user (AddToken): a comment created with it is
// stored as that user's (Comment.AuthorID), though, as in Aelyst, neither the
// answer nor the webhook names an author and no call tells whom a token
// belongs to. Aelyst tokens are workspace API tokens and the notes document
// no per-user view of contacts through the API (the show_only_mine and
// show_team_contacts restrictions are the app's), so every token reads and
// comments on every contact: there is no per-user visibility here,
// deliberately.
package aelysttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/internal/upstreamtest"
)

// Documented error texts.
const (
	MsgValidation   = "Validation error."
	MsgUnauthorized = "UN_AUTHORIZED"
	MsgNotFound     = "Contact not found"
	MsgTooLong      = "Comment length must not be greater than 1000 characters"
	MsgTooMany      = "Too Many Requests"
	MsgQueued       = "Your request cannot be processed at the moment as it is currently in queue. Please try again in a few minutes."
	MsgUnexpected   = "Unexpected error occurred"
)

// Endpoints, as "METHOD /route/template" exactly like the docs; Calls and
// FailNext take these.
const (
	EndpointGetContact    = "GET /contact/{identifier}"
	EndpointListContacts  = "POST /contact/list"
	EndpointCreateComment = "POST /contact/{identifier}/comment"
	EndpointListUsers     = "GET /space/user"
	EndpointGetUser       = "GET /space/user/{id}"
)

// DefaultToken is accepted when Options names no token.
const DefaultToken = "aelyst-test-token"

// MaxCommentLength is the documented limit, in characters (code points).
const MaxCommentLength = 1000

// Options configures a Server.
type Options struct {
	// Token is an accepted API access token. Empty, with no Tokens: DefaultToken.
	Token string
	// Tokens are more accepted tokens; each is its own workspace for the rate
	// limit (they share the data).
	Tokens []string
	// Now is the server's clock (created_at, rate-limit windows). Nil: time.Now.
	Now func() time.Time
	// Latency is added to every request.
	Latency time.Duration
	// RateLimit is requests per second per method + path + workspace. 0: the
	// documented 5; negative: no limit.
	RateLimit int
	// WebhookClient sends webhook deliveries. Nil: a client with a 5 s timeout.
	WebhookClient *http.Client
	// Logger logs failed webhook deliveries. Nil: discard.
	Logger *slog.Logger
}

// Fault replaces the next matching answers (see FailNext): Status (0: answer
// normally after Delay), Body sent verbatim (it may be garbage), Header, Delay
// (waited before answering, to simulate a timeout; Close abandons it) and
// Times (how many calls it answers; 0 means once).
type Fault = upstreamtest.Fault

// User is a workspace ("space") user.
type User struct {
	ID           int64
	FirstName    string
	LastName     string
	Email        string
	Role         string // agent | manager | owner
	TeamID       int64
	TeamName     string
	Restrictions []string
}

// Contact is a contact; its conversation is where comments go.
type Contact struct {
	ID          int64
	FirstName   string
	LastName    string
	Email       string
	Phone       string // E.164
	Language    string
	CountryCode string
	Status      string // open | closed | blocked; empty: open
	Tags        []string
	AssigneeID  int64
	Lifecycle   string
	CreatedAt   int64 // Unix s; 0: the clock's now when added
}

// Comment is a comment as the emulator stored it.
type Comment struct {
	ContactID int64
	Text      string // as posted: {{@user.ID}} tokens kept raw
	CreatedAt int64  // Unix s
	// AuthorID is the user who wrote it: the owner of the token it was
	// created with (AddToken); 0 for a token with no user named.
	AuthorID int64
	// EventID is the id of its comment.created delivery, once queued.
	EventID string
}

// Delivery is one webhook POST the server made.
type Delivery struct {
	EventID   string
	EventType string
	Status    int    // 0 when no answer came
	Err       string // transport error, if any
}

// Server is a running fake Aelyst.
type Server struct {
	// URL is the base URL to give the adapter ("http://127.0.0.1:PORT/v1").
	URL string
	// Origin is URL without /v1; pagination links are built on it, as in the
	// docs' examples.
	Origin string

	// Recorder gives the Server Calls, TotalCalls and ResetCalls (endpoints
	// named as the Endpoint constants), SetLatency, FailNext and ClearFaults.
	upstreamtest.Recorder

	ts      *httptest.Server
	now     func() time.Time
	tokens  map[string]int64 // token → the user it belongs to; 0: unnamed
	limit   int
	client  *http.Client
	log     *slog.Logger
	done    chan struct{}
	closeMu sync.Once

	mu        sync.Mutex
	users     map[int64]*User
	contacts  map[int64]*Contact
	comments  map[int64][]*Comment
	queued    map[int64]int
	windows   map[string]*window
	nextID    int64
	hookURL   string
	hookKey   string
	events    map[string][]byte
	delivered []Delivery
	demo      *demoCast

	outbox   chan outgoing
	workerWG sync.WaitGroup
}

type window struct {
	second int64
	count  int
}

type outgoing struct {
	eventID, eventType string
	body               []byte
}

// NewServer starts a server. Close it when done.
func NewServer(opts Options) *Server {
	s := &Server{
		now:      opts.Now,
		tokens:   map[string]int64{},
		limit:    opts.RateLimit,
		client:   opts.WebhookClient,
		log:      opts.Logger,
		done:     make(chan struct{}),
		users:    map[int64]*User{},
		contacts: map[int64]*Contact{},
		comments: map[int64][]*Comment{},
		queued:   map[int64]int{},
		windows:  map[string]*window{},
		nextID:   1000,
		events:   map[string][]byte{},
		outbox:   make(chan outgoing, 1024),
	}
	s.SetLatency(opts.Latency)
	if s.now == nil {
		s.now = time.Now
	}
	if opts.Token != "" {
		s.tokens[opts.Token] = 0
	}
	for _, t := range opts.Tokens {
		s.tokens[t] = 0
	}
	if len(s.tokens) == 0 {
		s.tokens[DefaultToken] = 0
	}
	if s.limit == 0 {
		s.limit = 5
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 5 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	route := func(endpoint string, h func(w http.ResponseWriter, r *http.Request, token string)) {
		method, path, _ := strings.Cut(endpoint, " ")
		mux.Handle(method+" /v1"+path, s.wrap(endpoint, h))
	}
	route(EndpointGetContact, s.getContact)
	route(EndpointListContacts, s.listContacts)
	route(EndpointCreateComment, s.createComment)
	route(EndpointListUsers, s.listUsers)
	route(EndpointGetUser, s.getUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})
	s.ts = httptest.NewServer(mux)
	s.Origin = s.ts.URL
	s.URL = s.ts.URL + "/v1"
	s.workerWG.Add(1)
	go s.deliverLoop()
	return s
}

// Close stops the server, abandoning delayed answers and pending deliveries.
func (s *Server) Close() {
	s.closeMu.Do(func() {
		close(s.done)
		s.ts.Close()
		s.workerWG.Wait()
	})
}

// AddToken makes token an accepted API access token that belongs to userID:
// comments created with it have AuthorID userID. Like every token it is its
// own rate-limit workspace and sees every contact.
func (s *Server) AddToken(token string, userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = userID
}

// QueueContact makes the next n requests about the contact identifier names
// ("id:7", "email:…", "phone:+…") answer 449, as Aelyst does while a contact
// is being processed. An identifier naming no contact is ignored.
func (s *Server) QueueContact(identifier string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, _ := s.resolveLocked(identifier); c != nil {
		s.queued[c.ID] += n
	}
}

func (s *Server) wrap(endpoint string, h func(w http.ResponseWriter, r *http.Request, token string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !upstreamtest.Enter(&s.Recorder, w, r, endpoint, upstreamtest.Options{Done: s.done}) {
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		_, known := s.tokens[token]
		s.mu.Unlock()
		if !ok || !known {
			writeError(w, http.StatusUnauthorized, MsgUnauthorized)
			return
		}
		if !s.allow(w, token, r.Method, strings.TrimPrefix(r.URL.Path, "/v1")) {
			writeError(w, http.StatusTooManyRequests, MsgTooMany)
			return
		}
		h(w, r, token)
	})
}

// wait pauses for d unless the request or the server ends first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	return upstreamtest.Wait(ctx, d, s.done)
}

// allow applies the documented limit: N requests per second per HTTP method
// and unique path (path parameters included), per workspace. Windows are whole
// seconds of the injected clock, so tests can step past them.
func (s *Server) allow(w http.ResponseWriter, token, method, path string) bool {
	if s.limit < 0 {
		return true
	}
	sec := s.now().Unix()
	key := token + "\x00" + method + " " + path
	s.mu.Lock()
	win := s.windows[key]
	if win == nil || win.second != sec {
		win = &window{second: sec}
		s.windows[key] = win
	}
	win.count++
	count := win.count
	s.mu.Unlock()
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(0, s.limit-count)))
	if count > s.limit {
		w.Header().Set("Retry-After", "1")
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{"code": status, "message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	upstreamtest.WriteJSON(w, status, "application/json", v, true)
}

var (
	identID    = regexp.MustCompile(`^id:([1-9][0-9]{0,17})$`)
	identEmail = regexp.MustCompile(`^email:([^@\s]+@[^@\s]+\.[^@\s]+)$`)
	identPhone = regexp.MustCompile(`^phone:(\+[1-9][0-9]{6,14})$`)
)

// resolveLocked finds the contact an identifier names. bad reports an
// identifier that is not of a documented form.
func (s *Server) resolveLocked(identifier string) (c *Contact, bad bool) {
	switch {
	case identID.MatchString(identifier):
		id, err := strconv.ParseInt(identID.FindStringSubmatch(identifier)[1], 10, 64)
		if err != nil {
			return nil, true
		}
		return s.contacts[id], false
	case identEmail.MatchString(identifier):
		addr := identEmail.FindStringSubmatch(identifier)[1]
		for _, c := range s.contacts {
			if c.Email != "" && strings.EqualFold(c.Email, addr) {
				return c, false
			}
		}
		return nil, false
	case identPhone.MatchString(identifier):
		phone := identPhone.FindStringSubmatch(identifier)[1]
		for _, c := range s.contacts {
			if c.Phone == phone {
				return c, false
			}
		}
		return nil, false
	}
	return nil, true
}

// contactFor resolves the request's {identifier}, answering the error itself
// when there is no usable contact.
func (s *Server) contactFor(w http.ResponseWriter, r *http.Request) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, bad := s.resolveLocked(r.PathValue("identifier"))
	switch {
	case bad:
		writeError(w, http.StatusBadRequest, MsgValidation)
		return Contact{}, false
	case c == nil:
		writeError(w, http.StatusNotFound, MsgNotFound)
		return Contact{}, false
	case s.queued[c.ID] > 0:
		s.queued[c.ID]--
		writeError(w, 449, MsgQueued)
		return Contact{}, false
	}
	return *c, true
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request, _ string) {
	c, ok := s.contactFor(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	body := s.contactJSONLocked(&c)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request, token string) {
	var in struct {
		Text *string `json:"text"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(raw, &in) != nil || in.Text == nil || strings.TrimSpace(*in.Text) == "" {
		writeError(w, http.StatusBadRequest, MsgValidation)
		return
	}
	if utf8.RuneCountInString(*in.Text) > MaxCommentLength {
		writeError(w, http.StatusBadRequest, MsgTooLong)
		return
	}
	c, ok := s.contactFor(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	author := s.tokens[token]
	s.mu.Unlock()
	stored := s.store(Comment{ContactID: c.ID, Text: *in.Text, CreatedAt: s.now().Unix(), AuthorID: author})
	writeJSON(w, http.StatusOK, map[string]any{
		"contactId":  stored.ContactID,
		"text":       stored.Text,
		"created_at": stored.CreatedAt,
	})
}

// listParams reads limit (1..100, default 10) and cursorId (an int; negative
// pages backward, as the docs' "previous" links do).
func listParams(r *http.Request) (limit int, cursor int64, ok bool) {
	limit = 10
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, false
		}
		limit = n
	}
	if v := q.Get("cursorId"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		cursor = n
	}
	return limit, cursor, true
}

// page cuts one page from ids (ascending): after cursor>0, or before -cursor
// when cursor<0. It returns the page and the next/previous cursors (0: none).
func page(ids []int64, limit int, cursor int64) (out []int64, next, prev int64) {
	start, end := 0, len(ids)
	switch {
	case cursor > 0:
		start = sort.Search(len(ids), func(i int) bool { return ids[i] > cursor })
		end = min(len(ids), start+limit)
	case cursor < 0:
		end = sort.Search(len(ids), func(i int) bool { return ids[i] >= -cursor })
		start = max(0, end-limit)
	default:
		end = min(len(ids), limit)
	}
	out = ids[start:end]
	if end < len(ids) && len(out) > 0 {
		next = out[len(out)-1]
	}
	if start > 0 && len(out) > 0 {
		prev = -out[0]
	}
	return out, next, prev
}

func (s *Server) link(path string, limit int, cursor int64) string {
	if cursor == 0 {
		return ""
	}
	return fmt.Sprintf("%s%s?limit=%d&cursorId=%d", s.Origin, path, limit, cursor)
}

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request, _ string) {
	limit, cursor, ok := listParams(r)
	var body struct {
		Search string `json:"search"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if !ok || err != nil || json.Unmarshal(raw, &body) != nil {
		writeError(w, http.StatusBadRequest, MsgValidation)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	search := strings.ToLower(strings.TrimSpace(body.Search))
	var ids []int64
	for id, c := range s.contacts {
		hay := strings.ToLower(c.FirstName + " " + c.LastName + " " + c.Email + " " + c.Phone)
		if search == "" || strings.Contains(hay, search) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	got, next, prev := page(ids, limit, cursor)
	items := make([]map[string]any, 0, len(got))
	for _, id := range got {
		items = append(items, s.contactJSONLocked(s.contacts[id]))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"items":      items,
		"pagination": pagination(s.link("/contact/list", limit, next), s.link("/contact/list", limit, prev)),
	})
}

func pagination(next, prev string) map[string]any {
	p := map[string]any{}
	if next != "" {
		p["next"] = next
	}
	if prev != "" {
		p["previous"] = prev
	}
	return p
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ string) {
	limit, cursor, ok := listParams(r)
	if !ok {
		writeError(w, http.StatusBadRequest, MsgValidation)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.users))
	for id := range s.users {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	got, next, prev := page(ids, limit, cursor)
	items := make([]map[string]any, 0, len(got))
	for _, id := range got {
		items = append(items, userJSON(s.users[id]))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"items":      items,
		"pagination": pagination(s.link("/space/user", limit, next), s.link("/space/user", limit, prev)),
	})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, MsgValidation)
		return
	}
	s.mu.Lock()
	u := s.users[id]
	var body map[string]any
	if u != nil {
		body = userJSON(u)
	}
	s.mu.Unlock()
	if u == nil {
		writeError(w, http.StatusNotFound, "User not found")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func userJSON(u *User) map[string]any {
	var team any
	if u.TeamID != 0 || u.TeamName != "" {
		team = map[string]any{"id": u.TeamID, "name": u.TeamName}
	}
	restrictions := u.Restrictions
	if restrictions == nil {
		restrictions = []string{}
	}
	return map[string]any{
		"id":           u.ID,
		"firstName":    u.FirstName,
		"lastName":     u.LastName,
		"email":        u.Email,
		"role":         u.Role,
		"team":         team,
		"restrictions": restrictions,
	}
}

func (s *Server) contactJSONLocked(c *Contact) map[string]any {
	var assignee any
	if u := s.users[c.AssigneeID]; u != nil {
		assignee = map[string]any{"id": u.ID, "firstName": u.FirstName, "lastName": u.LastName, "email": u.Email}
	}
	status := c.Status
	if status == "" {
		status = "open"
	}
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"id":            c.ID,
		"firstName":     c.FirstName,
		"lastName":      nullable(c.LastName),
		"phone":         nullable(c.Phone),
		"email":         nullable(c.Email),
		"language":      nullable(c.Language),
		"profilePic":    nil,
		"countryCode":   nullable(c.CountryCode),
		"custom_fields": []any{},
		"status":        status,
		"tags":          tags,
		"assignee":      assignee,
		"lifecycle":     nullable(c.Lifecycle),
		"created_at":    c.CreatedAt,
		"isBlocked":     status == "blocked",
	}
}
