package klinktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Page sizes of the legacy Pagination guide: default 10, max 100.
const (
	defaultPageSize = 10
	maxPageSize     = 100
)

type mentionOut struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
}

type senderOut struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type commentOut struct {
	ID        string       `json:"id"`
	RoomID    string       `json:"roomId"`
	Text      string       `json:"text"`
	Type      string       `json:"type"`
	Mentions  []mentionOut `json:"mentions"`
	Sender    senderOut    `json:"sender"`
	CreatedAt string       `json:"createdAt"`
}

func (s *Server) out(c *comment) commentOut {
	ms := c.Mentions
	if ms == nil {
		ms = []mentionOut{}
	}
	return commentOut{
		ID: c.ID, RoomID: c.RoomID, Text: c.Text, Type: "comment", Mentions: ms,
		Sender:    senderOut{ID: c.SenderID, Name: s.users[c.SenderID]},
		CreatedAt: c.CreatedAt.Format(layoutMicro),
	}
}

// listComments serves GET /api/v1/comments/rooms/{roomId}?page&pageSize.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, ok := intParam(w, q.Get("page"), 1, "page")
	if !ok {
		return
	}
	size, ok := intParam(w, q.Get("pageSize"), defaultPageSize, "pageSize")
	if !ok {
		return
	}
	// A pageSize over the guide's maximum is refused, not clamped: a silent
	// clamp would make a client that trusts its own pageSize think a full page
	// was the last one.
	if size > maxPageSize {
		errorf(w, http.StatusUnprocessableEntity, "pageSize must not be greater than %d.", maxPageSize)
		return
	}
	roomID := r.PathValue("roomId")

	s.mu.Lock()
	if _, ok := s.rooms[roomID]; !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Room not found.")
		return
	}
	all := s.comments[roomID]
	total := len(all)
	data := []commentOut{}
	for i := (page - 1) * size; i < page*size && i < total; i++ {
		c := all[total-1-i] // newest first
		if s.opts.OldestFirst {
			c = all[i]
		}
		data = append(data, s.out(c))
	}
	s.mu.Unlock()

	body := map[string]any{"requestId": newID(), "data": data}
	if !s.opts.OmitPagination {
		last := (total + size - 1) / size
		body["total"], body["page"], body["pageSize"], body["lastPage"] = total, page, size, max(last, 1)
	}
	writeJSON(w, http.StatusOK, body)
}

func intParam(w http.ResponseWriter, v string, def int, name string) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		errorf(w, http.StatusUnprocessableEntity, "%s must be a positive integer.", name)
		return 0, false
	}
	return n, true
}

type createRequest struct {
	Text     *string `json:"text"`
	Mentions []struct {
		Index  *int   `json:"index"`
		UserID string `json:"userId"`
	} `json:"mentions"`
}

// createComment serves POST /api/v1/comments/rooms/{roomId}: 201 with the
// comment, its text rendered with @Name, its sender the token's user.
func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Malformed JSON body.")
		return
	}
	if req.Text == nil {
		writeError(w, http.StatusUnprocessableEntity, "text is required.")
		return
	}
	mentions := make([]mentionIn, 0, len(req.Mentions))
	for i, m := range req.Mentions {
		if m.Index == nil {
			errorf(w, http.StatusUnprocessableEntity, "mentions.%d.index is required.", i)
			return
		}
		mentions = append(mentions, mentionIn{Index: *m.Index, UserID: m.UserID})
	}
	roomID := r.PathValue("roomId")

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rooms[roomID]; !ok {
		writeError(w, http.StatusNotFound, "Room not found.")
		return
	}
	c, err := s.addComment(roomID, callerOf(r), *req.Text, mentions, s.opts.Now())
	if err != nil {
		// The notes assume 400/422 for these; 422 is what the call SDK saw
		// for unprocessable input.
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"requestId": newID(), "data": s.out(c)})
}

type mentionIn struct {
	Index  int
	UserID string
}

var placeholder = regexp.MustCompile(`\{([0-9]+)\}`)

// addComment checks and renders a comment and stores it. The caller holds mu.
func (s *Server) addComment(roomID, senderID, text string, mentions []mentionIn, at time.Time) (*comment, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("text must not be empty.")
	}
	present := map[int]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil {
			present[n] = true
		}
	}
	names := map[int]string{}
	out := make([]mentionOut, 0, len(mentions))
	for _, m := range mentions {
		name, ok := s.users[m.UserID]
		if !ok {
			return nil, fmt.Errorf("mentioned user %q does not exist.", m.UserID)
		}
		if !present[m.Index] {
			return nil, fmt.Errorf("mention index %d has no placeholder {%d} in text.", m.Index, m.Index)
		}
		names[m.Index] = name
		out = append(out, mentionOut{UserID: m.UserID, Name: name})
	}
	rendered := placeholder.ReplaceAllStringFunc(text, func(p string) string {
		n, _ := strconv.Atoi(p[1 : len(p)-1])
		if name, ok := names[n]; ok {
			return "@" + name
		}
		return p
	})
	c := &comment{ID: newID(), RoomID: roomID, Text: rendered, Mentions: out, SenderID: senderID, CreatedAt: s.stamp(at)}
	s.comments[roomID] = append(s.comments[roomID], c)
	return c, nil
}

// AddUser adds (or renames) a workspace user: an agent who can comment and be
// mentioned.
func (s *Server) AddUser(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = name
}

// AddRoom adds a chat room with its contact and returns the contact's id (what
// send-message takes).
func (s *Server) AddRoom(id, contactName string) (contactID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rooms[id]; ok {
		r.ContactName = contactName
		return r.ContactID
	}
	r := &room{ID: id, ContactID: newID(), ContactName: contactName}
	s.rooms[id] = r
	s.order = append(s.order, id)
	s.contacts[r.ContactID] = id
	return r.ContactID
}

// Rooms lists the rooms added, in order.
func (s *Server) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// AddComment posts a comment as senderID, as the app would: text marks
// mentions with {0}, {1}, … and mentionUserIDs[i] fills {i}. It returns the
// comment's id.
func (s *Server) AddComment(roomID, senderID, text string, mentionUserIDs ...string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addCommentAt(roomID, senderID, text, mentionUserIDs, s.opts.Now())
}

// addCommentAt is AddComment at a given time. The caller holds mu.
func (s *Server) addCommentAt(roomID, senderID, text string, mentionUserIDs []string, at time.Time) (string, error) {
	if _, ok := s.rooms[roomID]; !ok {
		return "", fmt.Errorf("klinktest: no room %q", roomID)
	}
	if _, ok := s.users[senderID]; !ok {
		return "", fmt.Errorf("klinktest: no user %q", senderID)
	}
	ms := make([]mentionIn, len(mentionUserIDs))
	for i, id := range mentionUserIDs {
		ms[i] = mentionIn{Index: i, UserID: id}
	}
	c, err := s.addComment(roomID, senderID, text, ms, at)
	if err != nil {
		return "", fmt.Errorf("klinktest: %w", err)
	}
	return c.ID, nil
}

// CommentCount is how many comments room holds.
func (s *Server) CommentCount(roomID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.comments[roomID])
}
