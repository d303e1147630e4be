package ziiktest

import (
	"net/http"
	"strconv"
)

// Editing and deleting a message, as the notes describe them (§4 "Other
// message operations"); the paths and bodies are the notes' assumptions:
//
//   - PATCH /conversations/{c}/messages/{m} {"message": text} is the update
//     step. It stages the text and answers the message as it still lists: the
//     notes say finalize-update "returns the final message" and exists so that
//     file changes can complete first, so the edit shows only once finalized.
//   - POST /conversations/{c}/messages/{m}/finalize-update applies the staged
//     text, sets edited_at and answers the final message. With nothing staged
//     it answers the message unchanged, so a repeated finalize is harmless.
//   - DELETE /conversations/{c}/messages/{m} soft-deletes: the message stays
//     listed with deleted true and its reactions, files and voice note
//     stripped, which is all the notes say is stripped; its text is kept
//     (adapters must not show it). It answers 204 No Content.
//
// Unknown messages, messages of another conversation and deleted messages are
// 404; a non-participant gets 403, and so does anyone but the author when
// Options.AuthorOnlyWrites is set.

// writableMessage finds the message in the path for an edit or a delete,
// writing the 404/403 itself. s.mu must be held.
func (s *Server) writableMessage(w http.ResponseWriter, r *http.Request, uid int) (*message, bool) {
	c, ok := s.visibleConversation(w, r, uid)
	if !ok {
		return nil, false
	}
	id, err := strconv.Atoi(r.PathValue("message"))
	m := s.msgs[id]
	if err != nil || m == nil || m.ConversationID != c.ID || m.Deleted {
		writeError(w, http.StatusNotFound, "not_found", "Message not found.")
		return nil, false
	}
	if s.authorOnly && m.AuthorID != uid {
		writeError(w, http.StatusForbidden, "forbidden", "You may only change your own messages.")
		return nil, false
	}
	return m, true
}

func (s *Server) updateMessage(w http.ResponseWriter, r *http.Request, uid int) {
	_, text, ok := readMessageBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.writableMessage(w, r, uid)
	if !ok {
		return
	}
	m.pending = &text
	s.single(w, http.StatusOK, s.messageJSON(m))
}

func (s *Server) finalizeUpdate(w http.ResponseWriter, r *http.Request, uid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.writableMessage(w, r, uid)
	if !ok {
		return
	}
	if m.pending != nil {
		m.Text, m.pending = *m.pending, nil
		m.EditedAt = s.now()
	}
	s.single(w, http.StatusOK, s.messageJSON(m))
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request, uid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.writableMessage(w, r, uid)
	if !ok {
		return
	}
	m.Deleted = true
	m.Files, m.Voice, m.Reactions, m.pending = nil, nil, nil, nil
	w.WriteHeader(http.StatusNoContent)
}
