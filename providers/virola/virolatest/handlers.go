package virolatest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"time"
)

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request, uid int64) {
	writeJSON(w, http.StatusOK, map[string]any{
		"httpStatusCode": http.StatusOK, "userId": uid, "userSessionId": fmt.Sprintf("webapi-%d", uid),
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request, _ int64) {
	writeJSON(w, http.StatusOK, map[string]any{"httpStatusCode": http.StatusOK})
}

func (s *Server) handleUsers(w http.ResponseWriter, _ *http.Request, _ int64) {
	s.mu.Lock()
	users := make([]wireUser, 0, len(s.world.userOrder))
	for _, id := range s.world.userOrder {
		users = append(users, *s.world.users[id])
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"httpStatusCode": http.StatusOK, "users": users})
}

func (s *Server) handleRooms(w http.ResponseWriter, _ *http.Request, uid int64) {
	s.mu.Lock()
	rooms := make([]wireRoom, 0, len(s.world.roomOrder))
	for _, id := range s.world.roomOrder {
		if r := s.world.rooms[id]; r.canAccess(uid) {
			rooms = append(rooms, r.wire)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"httpStatusCode": http.StatusOK, "rooms": rooms})
}

// pageQuery is a list's cursor, limit and direction.
type pageQuery struct {
	cursor   int64 // 0: from the end the direction starts at
	limit    int   // 0: everything
	backward bool
}

// parsePage reads cursor, limit and direction as the docs define them: no
// cursor (or -1, or 0, which the reference client never sends) starts at the
// end the direction walks from; no limit means everything; no direction is
// forward.
func parsePage(r *http.Request) (pageQuery, string) {
	var p pageQuery
	q := r.URL.Query()
	if c := q.Get("cursor"); c != "" && c != "-1" && c != "0" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			return p, "Invalid cursor parameter"
		}
		p.cursor = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return p, "Invalid limit parameter"
		}
		p.limit = n
	}
	switch q.Get("direction") {
	case "", "forward":
	case "backward":
		p.backward = true
	default:
		return p, "Invalid direction parameter"
	}
	return p, ""
}

// pick selects the ids of one page from ascending ids, ascending.
func (p pageQuery) pick(ids []int64, inclusive bool) []int64 {
	if p.backward {
		end := len(ids)
		if p.cursor != 0 {
			end, _ = slices.BinarySearch(ids, p.cursor) // first id >= cursor
			if inclusive && end < len(ids) && ids[end] == p.cursor {
				end++
			}
		}
		start := 0
		if p.limit > 0 && end-p.limit > 0 {
			start = end - p.limit
		}
		return slices.Clone(ids[start:end])
	}
	start := 0
	if p.cursor != 0 {
		var found bool
		start, found = slices.BinarySearch(ids, p.cursor)
		if found && !inclusive {
			start++
		}
	}
	end := len(ids)
	if p.limit > 0 && start+p.limit < end {
		end = start + p.limit
	}
	return slices.Clone(ids[start:end])
}

func pathID(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}

// roomFor finds a room the caller may access; it writes the error otherwise.
func (s *Server) roomForLocked(w http.ResponseWriter, id, uid int64) (*storedRoom, bool) {
	room, ok := s.world.rooms[id]
	if !ok {
		writeError(w, http.StatusNotFound, "Room not found")
		return nil, false
	}
	if !room.canAccess(uid) {
		writeError(w, http.StatusForbidden, "Access denied")
		return nil, false
	}
	return room, true
}

// messageFor finds a message in a room the caller may access; it writes the
// error otherwise.
func (s *Server) messageForLocked(w http.ResponseWriter, r *http.Request, uid int64) (*wireMessage, bool) {
	id, ok := pathID(r, "messageId")
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid messageId")
		return nil, false
	}
	msg, ok := s.world.msgs[id]
	if !ok {
		writeError(w, http.StatusNotFound, "Message not found")
		return nil, false
	}
	if !s.world.rooms[msg.RoomID].canAccess(uid) {
		writeError(w, http.StatusForbidden, "Access denied")
		return nil, false
	}
	return msg, true
}

func (s *Server) messagesLocked(ids []int64) []wireMessage {
	out := make([]wireMessage, 0, len(ids))
	for _, id := range ids {
		out = append(out, *s.world.msgs[id])
	}
	return out
}

func (s *Server) handleRoomMessages(w http.ResponseWriter, r *http.Request, uid int64) {
	id, ok := pathID(r, "roomId")
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid roomId")
		return
	}
	p, bad := parsePage(r)
	if bad != "" {
		writeError(w, http.StatusBadRequest, bad)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roomForLocked(w, id, uid); !ok {
		return
	}
	msgs := s.messagesLocked(p.pick(s.world.roomMsgs[id], s.opts.InclusiveCursor))
	writeJSON(w, http.StatusOK, map[string]any{"httpStatusCode": http.StatusOK, "roomId": id, "messages": msgs})
}

func (s *Server) handleComments(w http.ResponseWriter, r *http.Request, uid int64) {
	p, bad := parsePage(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, ok := s.messageForLocked(w, r, uid)
	if !ok {
		return
	}
	if bad != "" {
		writeError(w, http.StatusBadRequest, bad)
		return
	}
	msgs := s.messagesLocked(p.pick(s.world.children[parent.MessageID], s.opts.InclusiveCursor))
	writeJSON(w, http.StatusOK, map[string]any{"httpStatusCode": http.StatusOK, "roomId": parent.RoomID, "messages": msgs})
}

// readContent reads the {content} body of the two post endpoints.
func readContent(w http.ResponseWriter, r *http.Request) (string, bool) {
	var body struct {
		Content *string `json:"content"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(raw, &body) != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON body")
		return "", false
	}
	if body.Content == nil || *body.Content == "" {
		writeError(w, http.StatusBadRequest, "The content field is expected")
		return "", false
	}
	return *body.Content, true
}

func (s *Server) handlePostRoomMessage(w http.ResponseWriter, r *http.Request, uid int64) {
	id, ok := pathID(r, "roomId")
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid roomId")
		return
	}
	content, ok := readContent(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roomForLocked(w, id, uid); !ok {
		return
	}
	if _, err := s.addMessageLocked(0, Message{RoomID: id, UserID: uid, Text: content}); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	s.writeOK(w)
}

func (s *Server) handlePostComment(w http.ResponseWriter, r *http.Request, uid int64) {
	content, okBody := readContent(w, r)
	if !okBody {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, ok := s.messageForLocked(w, r, uid)
	if !ok {
		return
	}
	// Assumption: the desktop client only opens discussions on room messages,
	// so a comment on a comment is refused.
	if parent.ParentMessageID != 0 {
		writeError(w, http.StatusBadRequest, "Comments can only be added to room messages")
		return
	}
	if _, err := s.addMessageLocked(parent.MessageID, Message{RoomID: parent.RoomID, UserID: uid, Text: content}); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	s.writeOK(w)
}

// handleDeleteMessage deletes a room message or a comment (see
// deleteMessageLocked for what goes with it). The docs name the permission
// that governs it, canEditOrDeleteOwnMessagesIn{Discussion,MainThread}: a
// member deletes only messages they wrote, a comment when the room allows it
// in discussions, a room message when it allows it in the main thread.
// Assumption: nobody, admin or moderator, deletes someone else's message
// through the Web API (the docs name no permission for it); that, or the
// room's flag being off, is 403.
func (s *Server) handleDeleteMessage(w http.ResponseWriter, r *http.Request, uid int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, ok := s.messageForLocked(w, r, uid)
	if !ok {
		return
	}
	if msg.UserID != uid {
		writeError(w, http.StatusForbidden, "Only the author can delete this message")
		return
	}
	perms := s.world.rooms[msg.RoomID].perms
	if msg.ParentMessageID != 0 && !perms.CanEditOrDeleteOwnMessagesInDiscussion ||
		msg.ParentMessageID == 0 && !perms.CanEditOrDeleteOwnMessagesInMainThread {
		writeError(w, http.StatusForbidden, "You have no permission to delete messages here")
		return
	}
	s.deleteMessageLocked(msg.MessageID)
	s.writeOK(w)
}

// handleMarkRead records the caller's read receipt on a room message or a
// comment (see markReadLocked). The docs send `{}` as JSON; the fake refuses
// a body that is not a JSON object, or not sent as JSON, with 400.
func (s *Server) handleMarkRead(w http.ResponseWriter, r *http.Request, uid int64) {
	okBody := readEmptyObject(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, ok := s.messageForLocked(w, r, uid)
	if !ok {
		return
	}
	if !okBody {
		writeError(w, http.StatusBadRequest, "Invalid JSON body")
		return
	}
	s.markReadLocked(msg, uid)
	s.writeOK(w)
}

// readEmptyObject reports whether r carries a JSON object as
// application/json; its fields are ignored.
func readEmptyObject(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return false
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var obj map[string]json.RawMessage
	return err == nil && json.Unmarshal(raw, &obj) == nil && obj != nil
}

func (s *Server) attachmentForLocked(w http.ResponseWriter, r *http.Request, uid int64) (*storedAttachment, bool) {
	id, ok := pathID(r, "attachmentId")
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid attachmentId")
		return nil, false
	}
	a, ok := s.world.atts[id]
	if !ok {
		writeError(w, http.StatusNotFound, "Attachment not found")
		return nil, false
	}
	if !s.world.rooms[a.wire.RoomID].canAccess(uid) {
		writeError(w, http.StatusForbidden, "Access denied")
		return nil, false
	}
	return a, true
}

// handleAttachment answers the attachment object itself (no wrapper), with
// httpStatusCode beside its fields as on every JSON answer.
func (s *Server) handleAttachment(w http.ResponseWriter, r *http.Request, uid int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attachmentForLocked(w, r, uid)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, struct {
		HTTPStatusCode int `json:"httpStatusCode"`
		wireAttachment
	}{http.StatusOK, a.wire})
}

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request, uid int64) {
	s.mu.Lock()
	a, ok := s.attachmentForLocked(w, r, uid)
	if !ok {
		s.mu.Unlock()
		return
	}
	name, state, content := a.wire.FileName, a.wire.AttachmentState, a.content
	s.mu.Unlock()
	if r.PathValue("fileName") != name {
		writeError(w, http.StatusNotFound, "Attachment not found")
		return
	}
	// Assumption: only a ready attachment is downloadable (the docs say only
	// that state is), and the others answer 404.
	if state != StateReady {
		writeError(w, http.StatusNotFound, "Attachment is not ready for download")
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	// ServeContent sets Content-Length and answers Range with 206.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
}
