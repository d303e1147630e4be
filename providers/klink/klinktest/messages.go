package klinktest

import (
	_ "embed"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// SeedSendMessageResponse is the "200 - Success" response example of the
// Send message reference page (seed 001), byte for byte. The emulator answers
// with its field names, in its order; tests replay it as is (FailNext with
// Status 200) to check a client reads the documented answer.
//
//go:embed seed/send_message_200.json
var SeedSendMessageResponse string

// SentMessage is a Send message request the emulator accepted.
type SentMessage struct {
	// Token is the bearer token it came with.
	Token string
	// ContactID, MessageType, Message and CreatedAt are the body's fields.
	ContactID, MessageType, Message, CreatedAt string
	// Fields are the body's field names, sorted.
	Fields []string
	// ID and RoomID are the stored message's.
	ID, RoomID string
}

// SentMessages lists the messages sent, oldest first.
func (s *Server) SentMessages() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent...)
}

type sendRequest struct {
	ContactID      string `json:"contactId"`
	PlatformUserID string `json:"platformUserId"`
	ChannelID      string `json:"channelId"`
	MessageType    string `json:"messageType"`
	Message        string `json:"message"`
	CreatedAt      string `json:"createdAt"`
}

// storedMessage is data of the Send message answer: the response example's
// fields, in its order. Values the example shows for an image sent through
// the Media Manager (upload, uploadId) are null for text, the emulator's
// assumption; contactId echoes the request (null in the example, which
// matches no request shown).
type storedMessage struct {
	ID                        string         `json:"id"`
	CreatedAt                 string         `json:"createdAt"`
	UpdatedAt                 string         `json:"updatedAt"`
	DeletedAt                 *string        `json:"deletedAt"`
	ClientRequestID           string         `json:"clientRequestId"`
	PartitionKey              string         `json:"partition_key"`
	Message                   string         `json:"message"`
	Direction                 string         `json:"direction"`
	Type                      string         `json:"type"`
	ReadAt                    *string        `json:"readAt"`
	Metadata                  map[string]any `json:"metadata"`
	PlatformID                string         `json:"platformId"`
	PlatformMessageID         string         `json:"platformMessageId"`
	ReplyPlatformMessageID    *string        `json:"replyPlatformMessageId"`
	ReplyReaction             any            `json:"replyReaction"`
	LinkMessageID             *string        `json:"linkMessageId"`
	LinkMessagePartitionKey   *string        `json:"linkMessagePartitionKey"`
	Template                  any            `json:"template"`
	Locale                    string         `json:"locale"`
	URL                       string         `json:"url"`
	PreviewURL                string         `json:"previewUrl"`
	ImageSetID                string         `json:"imageSetId"`
	RoomID                    string         `json:"roomId"`
	Room                      map[string]any `json:"room"`
	ActorID                   *string        `json:"actorId"`
	ActorType                 string         `json:"actorType"`
	Actor                     any            `json:"actor"`
	UploadID                  *string        `json:"uploadId"`
	Upload                    any            `json:"upload"`
	SenderID                  *string        `json:"senderId"`
	WorkflowRule              any            `json:"workflowRule"`
	AssigneeID                *string        `json:"assigneeId"`
	Assignee                  any            `json:"assignee"`
	RepliedMessage            any            `json:"repliedMessage"`
	EditedMessageID           *string        `json:"editedMessageId"`
	EditedMessagePartitionKey *string        `json:"editedMessagePartitionKey"`
	EditedMessage             any            `json:"editedMessage"`
	IsEdited                  bool           `json:"isEdited"`
	EditedAt                  *string        `json:"editedAt"`
	Label                     string         `json:"label"`
	ContactID                 *string        `json:"contactId"`
	ReceiverMetadata          any            `json:"receiverMetadata"`
	Attachments               any            `json:"attachments"`
}

// sendEnvelope is the Send message answer: the HTTP status repeated, a
// message, and data.
type sendEnvelope struct {
	Status  int            `json:"status"`
	Message string         `json:"message"`
	Data    *storedMessage `json:"data"`
}

// platformID is the channel page id the example shows; every message is sent
// through it.
const platformID = "614318778436396"

// sendMessage serves POST /api/v1/messages/send (seed 001): 200 with the
// {status, message, data} envelope and nanosecond timestamps. The page
// documents a 400 without its body: the emulator answers 400 with the notes'
// assumed {message, requestId} for a body it cannot take, and 404 for a
// contact it does not know (the call SDK's "not found").
func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	raw := map[string]json.RawMessage{}
	body, _ := io.ReadAll(r.Body) // bounded by route
	if err := json.Unmarshal(body, &raw); err != nil {
		writeError(w, http.StatusBadRequest, "Malformed JSON body.")
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Malformed JSON body.")
		return
	}
	switch {
	case req.ContactID == "":
		writeError(w, http.StatusBadRequest, "contactId is required.")
		return
	case !isUUID(req.ContactID):
		// IDs are UUIDs everywhere (the notes).
		writeError(w, http.StatusBadRequest, "contactId must be a UUID.")
		return
	case req.MessageType != "text":
		// Only "text" is documented; media types need a Media Manager upload.
		writeError(w, http.StatusBadRequest, "messageType must be text.")
		return
	case strings.TrimSpace(req.Message) == "":
		writeError(w, http.StatusBadRequest, "message is required.")
		return
	case req.CreatedAt != "":
		if _, err := time.Parse(time.RFC3339Nano, req.CreatedAt); err != nil {
			writeError(w, http.StatusBadRequest, "createdAt must be an ISO-8601 date.")
			return
		}
	}
	s.mu.Lock()
	roomID, ok := s.contacts[req.ContactID]
	now := s.now()
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Contact not found.")
		return
	}
	ts := now.Format(layoutNano)
	contact := req.ContactID
	m := &storedMessage{
		ID: newID(), CreatedAt: ts, UpdatedAt: ts, PartitionKey: now.Format("2006_01"),
		Message: req.Message, Direction: "outgoing", Type: "text", Metadata: map[string]any{},
		PlatformID: platformID, PlatformMessageID: "m_" + strings.ReplaceAll(newID(), "-", ""),
		RoomID: roomID, Room: map[string]any{}, ActorType: "api", ContactID: &contact,
	}
	fields := slices.Sorted(maps.Keys(raw))
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	s.sent = append(s.sent, SentMessage{Token: token, ContactID: req.ContactID, MessageType: req.MessageType,
		Message: req.Message, CreatedAt: req.CreatedAt, Fields: fields, ID: m.ID, RoomID: roomID})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, sendEnvelope{Status: 200, Message: "Message sent successfully", Data: m})
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
