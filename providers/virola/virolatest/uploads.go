package virolatest

import (
	"crypto/sha1"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"sync"
)

// POST /api/v1/messages/{messageId}/attachments, as the notes give it:
// multipart/form-data, one or more parts named `files`, answered with the
// status only. Each file becomes an attachment of the message that the
// existing attachment and download endpoints serve.
//
// Assumptions where the notes are silent: only the message's author may
// attach (the permission is named canAttachOrDeleteFilesInOwnMessagesIn…);
// while a part is being received its attachment is listed in
// UploadFromClientToServerInProgress, then in the state set by
// SetUploadOutcome (ReadyForDownloadFromServerToClient by default), and a
// part cut short ends in UploadFromClientToServerFailed; parts with another
// name are ignored, and a request with no `files` part is 400.

// maxUploadPart bounds one received file, so a runaway client cannot fill
// the test process's memory.
const maxUploadPart = 64 << 20

// uploads is the upload endpoint's state; Server.mu guards it.
type uploads struct {
	outcome string
	paused  chan struct{} // non-nil while PauseUploads holds parts
	started chan int64
}

// SetUploadOutcome makes every later upload end in state (one of the
// AttachmentState constants) instead of ready: a server still verifying the
// checksum, or one that found a mismatch.
func (s *Server) SetUploadOutcome(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uploads.outcome = state
}

// PauseUploads holds every uploaded part, once listed in
// UploadFromClientToServerInProgress and before its bytes are read, until
// resume is called, so a test can look at a message while its file is
// arriving. started receives each held attachment's id.
func (s *Server) PauseUploads() (started <-chan int64, resume func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, gate, once := make(chan int64, 16), make(chan struct{}), &sync.Once{}
	s.uploads.paused, s.uploads.started = gate, ch
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			if s.uploads.paused == gate {
				s.uploads.paused = nil
			}
			s.mu.Unlock()
			close(gate)
		})
	}
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, uid int64) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		writeError(w, http.StatusBadRequest, "multipart/form-data expected")
		return
	}
	s.mu.Lock()
	msg, ok := s.messageForLocked(w, r, uid)
	if !ok {
		s.mu.Unlock()
		return
	}
	if msg.UserID != uid {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "You can attach files to your own messages only")
		return
	}
	msgID := msg.MessageID
	s.mu.Unlock()

	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "multipart/form-data expected")
		return
	}
	files := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "Invalid multipart body")
			return
		}
		if part.FormName() != "files" || part.FileName() == "" {
			part.Close()
			continue
		}
		files++
		id, ok := s.startUpload(msgID, part.FileName())
		if !ok {
			writeError(w, http.StatusNotFound, "Message not found")
			return
		}
		content, err := io.ReadAll(io.LimitReader(part, maxUploadPart+1))
		part.Close()
		if err != nil || len(content) > maxUploadPart {
			s.finishUpload(msgID, id, nil, StateUploadFailed)
			writeError(w, http.StatusBadRequest, "The file upload failed")
			return
		}
		s.finishUpload(msgID, id, content, "")
	}
	if files == 0 {
		writeError(w, http.StatusBadRequest, "No files to attach")
		return
	}
	s.writeOK(w)
}

// startUpload lists a new attachment of message msgID in
// UploadFromClientToServerInProgress and tells clients; then it waits for
// PauseUploads' resume, if paused. It is false when the message is gone.
func (s *Server) startUpload(msgID int64, name string) (int64, bool) {
	s.mu.Lock()
	msg := s.world.msgs[msgID]
	if msg == nil {
		s.mu.Unlock()
		return 0, false
	}
	id := s.world.nextAtt
	s.world.nextAtt++
	now := ms(s.now())
	wa := wireAttachment{AttachmentID: id, AttachmentState: StateUploading, FileName: name, CreatedUtc: now,
		LastModifiedUtc: now, RoomID: msg.RoomID, TextMessageID: msgID}
	s.world.atts[id] = &storedAttachment{wire: wa}
	msg.Attachments = append(msg.Attachments, wa)
	msg.LastModifiedUtc = now
	s.broadcastLocked(s.world.rooms[msg.RoomID], "TextMessagesUpdated", map[string]any{"messages": []wireMessage{*msg}})
	gate, started := s.uploads.paused, s.uploads.started
	s.mu.Unlock()
	if gate != nil {
		select {
		case started <- id:
		default:
		}
		<-gate
	}
	return id, true
}

// finishUpload stores an attachment's bytes and moves it to state (empty:
// the configured outcome, by default ready), on the message and in the
// attachment endpoints.
func (s *Server) finishUpload(msgID, id int64, content []byte, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == "" {
		state = orDefault(s.uploads.outcome, StateReady)
	}
	a := s.world.atts[id]
	msg := s.world.msgs[msgID]
	if a == nil || msg == nil {
		return // deleted meanwhile
	}
	sum := sha1.Sum(content)
	a.content = content
	a.wire.AttachmentState = state
	a.wire.FileSize = int64(len(content))
	a.wire.FileChecksum = hex.EncodeToString(sum[:])
	a.wire.LastModifiedUtc = ms(s.now())
	for i := range msg.Attachments {
		if msg.Attachments[i].AttachmentID == id {
			msg.Attachments[i] = a.wire
		}
	}
	msg.LastModifiedUtc = a.wire.LastModifiedUtc
	s.broadcastLocked(s.world.rooms[msg.RoomID], "TextMessagesUpdated", map[string]any{"messages": []wireMessage{*msg}})
}
