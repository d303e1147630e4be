package klink

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

var _ providers.MessageSender = (*Provider)(nil)

type sendRequest struct {
	ContactID   string `json:"contactId"`
	MessageType string `json:"messageType"`
	Message     string `json:"message"`
	CreatedAt   string `json:"createdAt,omitempty"`
}

// SendMessage sends text to a contact (POST /api/v1/messages/send, seed 001)
// and learns the contact's room from the answer.
//
// Attachments are UNSUPPORTED, refused before any call. The notes document the
// Media Manager's file upload only in part: POST /api/v1/media-manager/files
// takes base64 in `data`, but its other fields (name, MIME type, folder) and
// its answer are truncated in the docs, and Send message documents no way to
// name an uploaded file: its request example is text only, other messageType
// values are undocumented, and the example answer's uploadId/upload fields
// appear only in the response. Building uploads on guesses would send files
// nobody can be sure arrive, so K-LINK answers UNSUPPORTED until the docs say
// how.
func (p *Provider) SendMessage(ctx context.Context, in providers.MessageInput) (*model.Message, error) {
	if len(in.Attachments) > 0 {
		return nil, &model.Error{Code: model.CodeUnsupported, Provider: p.opts.ID,
			Message: "sending attachments with a message is not supported by this provider (K-LINK documents no way to attach an uploaded file to a message)"}
	}
	if err := checkRef(p.opts.ID, "contact", in.Contact); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Text) == "" {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "message text is empty"}
	}
	req := sendRequest{ContactID: in.Contact, MessageType: "text", Message: in.Text,
		CreatedAt: p.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	resp, err := p.caller.Do(ctx, providers.Request{Method: http.MethodPost, Endpoint: endpointSendMessage, Path: endpointSendMessage, Body: req})
	if err != nil {
		return nil, err
	}
	out, err := parseSendResponse(resp.Body)
	if err != nil {
		return nil, providers.GarbageError(p.opts.ID, fmt.Errorf("POST %s: %w", endpointSendMessage, err))
	}
	// The envelope repeats the status; believe it when it says failure.
	if status, err := strconv.Atoi(strings.Trim(string(out.Status), `"`)); err == nil && status >= 400 {
		return nil, providers.StatusError(p.opts.ID, status, p.clean(out.Message), resp.Header)
	}
	if out.Data == nil || out.Data.ID == "" {
		return nil, providers.GarbageError(p.opts.ID, fmt.Errorf("POST %s: answer has no data.id", endpointSendMessage))
	}
	m := p.toMessage(out.Data, in)
	if m.Room != nil {
		p.learnRoom(ctx, m.Room.Ref, "")
	}
	return m, nil
}

// toMessage maps the message K-LINK stored; what its answer leaves empty (the
// example's message is "" and its contactId null) is what was sent.
func (p *Provider) toMessage(d *wireMessage, in providers.MessageInput) *model.Message {
	m := &model.Message{Ref: d.ID, Provider: p.info, Contact: in.Contact, Text: in.Text, Type: "text", Status: model.MessageStatusSent}
	if d.ContactID != nil && *d.ContactID != "" {
		m.Contact = *d.ContactID
	}
	if d.Message != "" {
		m.Text = d.Message
	}
	if d.Type != "" {
		m.Type = truncate(d.Type, 64)
	}
	if d.RoomID != "" {
		m.Room = &model.Room{ProviderID: p.opts.ID, Ref: d.RoomID}
	}
	if d.PlatformMessageID != nil && *d.PlatformMessageID != "" {
		id := truncate(*d.PlatformMessageID, 256)
		m.PlatformMessageID = &id
	}
	var err error
	if m.CreatedAt, err = parseTime(d.CreatedAt); err != nil {
		p.log.Debug("klink: message timestamp unreadable", "message", d.ID, "err", err)
		m.CreatedAt = p.opts.Now().UTC()
	}
	if d.ReadAt != nil {
		if at, err := parseTime(*d.ReadAt); err == nil {
			m.ReadAt, m.Status = &at, model.MessageStatusRead
		}
	}
	return m
}
