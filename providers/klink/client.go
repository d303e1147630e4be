package klink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Route templates, as the reference names them; they label metrics.
const (
	endpointComments    = "/api/v1/comments/rooms/{roomId}"
	endpointSendMessage = "/api/v1/messages/send"
)

func (p *Provider) newCaller() *providers.Caller {
	return &providers.Caller{
		Provider: p.opts.ID,
		BaseURL:  strings.TrimRight(p.opts.BaseURL, "/"),
		Client:   p.opts.HTTPClient,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+p.opts.Token)
			return nil
		},
		ErrorText: p.errorText,
		// The token is redacted as the Authorization header sent; the
		// webhook secret should never come back, but costs nothing to hide.
		Redact: []string{p.opts.Token, p.opts.WebhookSecret},
		OnCall: p.opts.OnCall,
	}
}

// errorText reads K-LINK's error body, whose shape is undocumented: JSON with
// a message (string, or a list of strings, Nest-style) and maybe a requestId,
// or anything else. The token is never repeated back, whatever the upstream
// echoes.
func (p *Provider) errorText(body []byte) string {
	var e struct {
		Message   json.RawMessage `json:"message"`
		Error     json.RawMessage `json:"error"`
		RequestID string          `json:"requestId"`
	}
	text := ""
	if json.Unmarshal(body, &e) == nil {
		text = rawText(e.Message)
		if text == "" {
			text = rawText(e.Error)
		}
		if text != "" && e.RequestID != "" {
			text += " (requestId " + truncate(e.RequestID, 64) + ")"
		}
	}
	if text == "" {
		text = string(body)
	}
	return p.clean(text)
}

// clean makes upstream text fit for a log line or a client message: valid
// UTF-8, one line, bounded, and never holding the token.
func (p *Provider) clean(text string) string {
	// The token goes first, so truncation cannot leave a piece of it behind.
	text = strings.ReplaceAll(strings.ToValidUTF8(text, "?"), p.opts.Token, "[token]")
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	text = strings.TrimSpace(text)
	if len(text) > 300 {
		cut := 300
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	return text
}

// rawText is a JSON string, or the strings of a JSON array joined.
func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, "; ")
	}
	return ""
}

// fetchPage reads one upstream page of a room's comments.
func (p *Provider) fetchPage(ctx context.Context, roomID string, page, size int) (*commentList, error) {
	path := fmt.Sprintf("/api/v1/comments/rooms/%s?page=%d&pageSize=%d", url.PathEscape(roomID), page, size)
	resp, err := p.caller.Do(ctx, providers.Request{Method: http.MethodGet, Endpoint: endpointComments, Path: path})
	if err != nil {
		return nil, err
	}
	l, err := parseCommentList(resp.Body)
	if err != nil {
		return nil, providers.GarbageError(p.opts.ID, fmt.Errorf("GET %s: %w", endpointComments, err))
	}
	return l, nil
}

// Message is a message sent to a contact.
type Message struct {
	ID         string
	RoomRef    string
	ContactRef string
	Text       string
	CreatedAt  time.Time
}

type sendRequest struct {
	ContactID   string `json:"contactId"`
	MessageType string `json:"messageType"`
	Message     string `json:"message"`
	CreatedAt   string `json:"createdAt,omitempty"`
}

type sendResponse struct {
	Status  json.RawMessage `json:"status"`
	Message string          `json:"message"`
	Data    *struct {
		ID        string  `json:"id"`
		RoomID    string  `json:"roomId"`
		ContactID *string `json:"contactId"`
		Message   string  `json:"message"`
		CreatedAt string  `json:"createdAt"`
	} `json:"data"`
}

func parseSendResponse(body []byte) (*sendResponse, error) {
	var out sendResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendMessage sends text to a contact (POST /api/v1/messages/send) and learns
// the contact's room from the answer.
func (p *Provider) SendMessage(ctx context.Context, contactID, text string) (*Message, error) {
	if err := checkRef(p.opts.ID, "contact", contactID); err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) == "" {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "message text is empty"}
	}
	req := sendRequest{ContactID: contactID, MessageType: "text", Message: text,
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
	created, err := parseTime(out.Data.CreatedAt)
	if err != nil {
		p.log.Debug("klink: message timestamp unreadable", "message", out.Data.ID, "err", err)
	}
	m := &Message{ID: out.Data.ID, RoomRef: out.Data.RoomID, ContactRef: contactID, Text: text, CreatedAt: created}
	if out.Data.Message != "" {
		m.Text = out.Data.Message
	}
	if out.Data.ContactID != nil && *out.Data.ContactID != "" {
		m.ContactRef = *out.Data.ContactID
	}
	if m.RoomRef != "" {
		p.learnRoom(ctx, m.RoomRef, "")
	}
	return m, nil
}
