package klinktest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// deliveryTimeout bounds one webhook POST; K-LINK's own is undocumented.
const deliveryTimeout = 10 * time.Second

type webhook struct {
	url    string
	secret string
}

// SetWebhook makes the emulator deliver events to url, signed with secret
// ("Settings → Webhooks": one endpoint, its own signing secret). An empty url
// turns delivery off.
func (s *Server) SetWebhook(url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = webhook{url: url, secret: secret}
}

// Sign is K-LINK's webhook signature as the notes assume it: the lowercase hex
// HMAC-SHA256 of the raw body, keyed with the webhook's signing secret. It
// travels in the x-signature header.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrNoWebhook is returned when an event is sent with no webhook set.
var ErrNoWebhook = errors.New("klinktest: no webhook set")

// InboundMessage has contactName write text into roomID, the way a customer
// would, and delivers the signed message.inbound event to the webhook. It
// returns the delivery's error, if any (ErrNoWebhook when none is set).
func (s *Server) InboundMessage(roomID, contactName, text string) error {
	s.mu.Lock()
	r, ok := s.rooms[roomID]
	var contactID string
	if ok {
		contactID = r.ContactID
	}
	now := s.now()
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("klinktest: no room %q", roomID)
	}
	ts := now.Format(layoutMicro)
	// Message event fields are undocumented; this is the notes' assumption:
	// {id, roomId, contactId, channelId, channel, messageType, message, sender,
	// attachments, createdAt}.
	data := map[string]any{
		"id": newID(), "roomId": roomID, "contactId": contactID,
		"channelId": "5f0c3a52-8d7e-4c1b-9f4e-2a6b1c9d0e71", "channel": "whatsapp",
		"direction": "incoming", "messageType": "text", "message": text,
		"sender":      map[string]any{"id": contactID, "name": contactName, "type": "contact"},
		"contact":     map[string]any{"id": contactID, "name": contactName},
		"attachments": []any{}, "createdAt": ts,
	}
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	defer cancel()
	return s.Deliver(ctx, "message.inbound", data)
}

// Deliver POSTs one signed event {event, timestamp, data} to the webhook, as
// K-LINK does (Content-Type application/json, x-signature, x-real-ip). A
// non-2xx answer is an error.
func (s *Server) Deliver(ctx context.Context, event string, data any) error {
	s.mu.Lock()
	hook := s.hook
	now := s.now()
	s.mu.Unlock()
	if hook.url == "" {
		return ErrNoWebhook
	}
	body, err := json.Marshal(map[string]any{"event": event, "timestamp": now.Format(layoutMicro), "data": data})
	if err != nil {
		return fmt.Errorf("klinktest: encode %s: %w", event, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("klinktest: deliver %s: %w", event, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("x-signature", Sign(hook.secret, body))
	req.Header.Set("x-real-ip", "127.0.0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("klinktest: deliver %s: %w", event, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("klinktest: deliver %s: webhook answered %d", event, resp.StatusCode)
	}
	return nil
}
