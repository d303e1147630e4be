package ziiktest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxMessageLength bounds a message body; the notes give no limit, so this is
// only a guard against absurd input.
const maxMessageLength = 10000

// single writes one object, data-wrapped when the server imitates the older
// API generations.
func (s *Server) single(w http.ResponseWriter, status int, v any) {
	if s.wrap {
		v = map[string]any{"data": v}
	}
	writeJSON(w, status, v)
}

// intParam parses a query parameter; def when absent, ok false when malformed
// or outside [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// visibleConversation finds the conversation in the path and checks the user
// may view it; it writes the 404/403 itself. s.mu must be held.
func (s *Server) visibleConversation(w http.ResponseWriter, r *http.Request, uid int) (*conversation, bool) {
	id, err := strconv.Atoi(r.PathValue("conversation"))
	c := s.convs[id]
	if err != nil || c == nil {
		writeError(w, http.StatusNotFound, "not_found", "Conversation not found.")
		return nil, false
	}
	if !slices.Contains(c.Participants, uid) {
		writeError(w, http.StatusForbidden, "forbidden", "You do not have permission to view this conversation.")
		return nil, false
	}
	return c, true
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request, uid int) {
	limit, ok := intParam(r, "limit", 25, 1, 100)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The limit must be between 1 and 100.")
		return
	}
	page, ok := intParam(r, "page", 1, 1, 1<<30)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The page must be at least 1.")
		return
	}
	status := r.URL.Query().Get("status")
	switch status {
	case "", "normal", "unread", "archived":
	default:
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The selected status is invalid.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var mine []*conversation
	if status != "archived" { // nobody archives in the emulator
		for _, c := range s.convs {
			if slices.Contains(c.Participants, uid) {
				mine = append(mine, c)
			}
		}
	}
	// Most recently active first, as the app lists them.
	sort.Slice(mine, func(i, j int) bool {
		if !mine[i].updated.Equal(mine[j].updated) {
			return mine[i].updated.After(mine[j].updated)
		}
		return mine[i].ID > mine[j].ID
	})
	total := len(mine)
	lastPage := max(1, (total+limit-1)/limit)
	from := min((page-1)*limit, total)
	to := min(from+limit, total)
	data := make([]wireConversation, 0, to-from)
	for _, c := range mine[from:to] {
		data = append(data, s.conversationJSON(c))
	}
	base := s.URL + "/conversations"
	link := func(p int) any {
		if p < 1 || p > lastPage {
			return nil
		}
		return fmt.Sprintf("%s?page=%d&limit=%d", base, p, limit)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": data,
		"meta": map[string]any{"current_page": page, "last_page": lastPage, "per_page": limit, "total": total,
			"from": nilIfZero(from+1, to > from), "to": nilIfZero(to, to > from), "path": base},
		"links": map[string]any{"first": link(1), "last": link(lastPage), "prev": link(page - 1), "next": link(page + 1)},
	})
}

func nilIfZero(n int, ok bool) any {
	if !ok {
		return nil
	}
	return n
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request, uid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.visibleConversation(w, r, uid)
	if !ok {
		return
	}
	s.single(w, http.StatusOK, s.conversationJSON(c))
}

// pageCursor is Laravel's cursor: the boundary item and which way it points.
type pageCursor struct {
	ID    int  `json:"id"`
	Older bool `json:"_pointsToNextItems"`
}

func encodeCursor(c pageCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (pageCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageCursor{}, false
	}
	var c pageCursor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.ID <= 0 {
		return pageCursor{}, false
	}
	return c, true
}

// listMessages pages newest first, like a chat app loads history: no cursor is
// the newest page; meta.next_cursor walks to older messages, meta.prev_cursor
// to newer ones. starter_message_id (without a cursor) centres a window on one
// message.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, uid int) {
	limit, ok := intParam(r, "limit", 25, 1, 100)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The limit must be between 1 and 100.")
		return
	}
	q := r.URL.Query()
	var cur pageCursor
	hasCursor := q.Get("cursor") != ""
	if hasCursor {
		if cur, ok = decodeCursor(q.Get("cursor")); !ok {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The cursor is invalid.")
			return
		}
	}
	starter := 0
	if !hasCursor && q.Get("starter_message_id") != "" {
		if starter, ok = intParam(r, "starter_message_id", 0, 1, 1<<62); !ok {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The starter message id must be an integer.")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.visibleConversation(w, r, uid)
	if !ok {
		return
	}
	all := s.convMessages(c.ID) // oldest first
	var lo, hi int              // the page is all[lo:hi]
	switch {
	case hasCursor && cur.Older:
		hi = sort.SearchInts(all, cur.ID) // first index with id >= cursor
		lo = max(0, hi-limit)
	case hasCursor:
		lo = sort.SearchInts(all, cur.ID+1)
		hi = min(len(all), lo+limit)
	case starter != 0:
		at := sort.SearchInts(all, starter)
		if at == len(all) || all[at] != starter {
			writeError(w, http.StatusNotFound, "not_found", "Message not found.")
			return
		}
		older := (limit - 1) / 2
		newer := limit - 1 - older
		if avail := len(all) - at - 1; avail < newer {
			older += newer - avail
		}
		lo = max(0, at-older)
		hi = min(len(all), lo+limit)
	default:
		hi = len(all)
		lo = max(0, hi-limit)
	}
	data := make([]wireMessage, 0, hi-lo)
	for i := hi - 1; i >= lo; i-- {
		data = append(data, s.messageJSON(s.msgs[all[i]]))
	}
	var next, prev any
	if lo > 0 && hi > lo {
		next = encodeCursor(pageCursor{ID: all[lo], Older: true})
	}
	if hi < len(all) && hi > lo {
		prev = encodeCursor(pageCursor{ID: all[hi-1], Older: false})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": data,
		"meta": map[string]any{"path": s.URL + r.URL.Path[len("/api"):], "per_page": limit, "next_cursor": next, "prev_cursor": prev},
	})
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request, uid int) {
	body, text, ok := readMessageBody(w, r)
	if !ok {
		return
	}
	var parent *int
	if raw, ok := body["parent_id"]; ok {
		if err := json.Unmarshal(raw, &parent); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The parent id must be an integer.")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.visibleConversation(w, r, uid)
	if !ok {
		return
	}
	m := Message{ConversationID: c.ID, AuthorID: uid, Text: text}
	if parent != nil {
		if p := s.msgs[*parent]; p == nil || p.ConversationID != c.ID {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The selected parent id is invalid.")
			return
		}
		m.ParentID = *parent
	}
	n, ok := fileCount(w, body) // files.go
	if !ok {
		return
	}
	m.Files = placeholders(n)
	id, err := s.addMessage(m)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "Could not store the message.")
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/messages/%d", s.URL, id))
	s.single(w, http.StatusCreated, s.messageJSON(s.msgs[id]))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ int) {
	id, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if err != nil || u == nil {
		writeError(w, http.StatusNotFound, "not_found", "User not found.")
		return
	}
	s.single(w, http.StatusOK, s.userJSON(u))
}

// readMessageBody reads a create or update body: JSON with a non-empty
// "message" of at most maxMessageLength characters. On a bad one it has
// answered the error and returns false.
func readMessageBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, string, bool) {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "The request body is not valid JSON.")
		return nil, "", false
	}
	var text string
	if err := json.Unmarshal(body["message"], &text); err != nil || strings.TrimSpace(text) == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", "The message field is required.")
		return nil, "", false
	}
	if utf8.RuneCountInString(text) > maxMessageLength {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameters", fmt.Sprintf("The message may not be greater than %d characters.", maxMessageLength))
		return nil, "", false
	}
	return body, text, true
}
