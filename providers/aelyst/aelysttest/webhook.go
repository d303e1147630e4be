package aelysttest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// SignatureHeader carries the delivery's signature.
const SignatureHeader = "X-Webhook-Signature"

// Sign is the signature Aelyst puts in X-Webhook-Signature: HMAC-SHA256 of the
// raw body keyed with the webhook's signing key, base64-encoded ([respond.io]).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SetWebhook points deliveries at url, signed with secret, and queues every
// stored comment not yet delivered (so data seeded before the receiver was
// listening still reaches it). An empty url stops deliveries.
func (s *Server) SetWebhook(url, secret string) {
	s.mu.Lock()
	s.hookURL, s.hookKey = url, secret
	var backlog []outgoing
	if url != "" {
		for _, id := range s.contactIDsLocked() {
			for _, c := range s.comments[id] {
				if c.EventID == "" {
					backlog = append(backlog, s.commentEventLocked(c))
				}
			}
		}
	}
	s.mu.Unlock()
	for _, o := range backlog {
		s.enqueue(o)
	}
}

// Redeliver sends an earlier delivery again, byte for byte, and waits for the
// answer: what Aelyst does when it retries. It returns the receiver's status.
func (s *Server) Redeliver(eventID string) (int, error) {
	s.mu.Lock()
	body, ok := s.events[eventID]
	url, secret := s.hookURL, s.hookKey
	s.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("aelysttest: no delivery %q", eventID)
	}
	if url == "" {
		return 0, fmt.Errorf("aelysttest: no webhook is set")
	}
	return s.post(context.Background(), url, secret, body)
}

// Deliveries lists the webhook POSTs made so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.delivered...)
}

// EventIDs lists the ids of the events queued so far, oldest first.
func (s *Server) EventIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, d := range s.delivered {
		ids = append(ids, d.EventID)
	}
	return ids
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// commentEventLocked builds the comment.created delivery for c and marks c as
// queued. The payload follows the notes' [respond.io]-based shape.
func (s *Server) commentEventLocked(c *Comment) outgoing {
	c.EventID = newEventID()
	body, _ := json.Marshal(map[string]any{
		"event_type": "comment.created",
		"event_id":   c.EventID,
		"contact":    s.webhookContactLocked(s.contacts[c.ContactID]),
		"comment":    map[string]any{"text": c.Text, "created_at": c.CreatedAt},
	})
	s.events[c.EventID] = body
	return outgoing{eventID: c.EventID, eventType: "comment.created", body: body}
}

func (s *Server) contactEventLocked(eventType string, c *Contact) outgoing {
	id := newEventID()
	body, _ := json.Marshal(map[string]any{
		"event_type": eventType,
		"event_id":   id,
		"contact":    s.webhookContactLocked(c),
	})
	s.events[id] = body
	return outgoing{eventID: id, eventType: eventType, body: body}
}

func (s *Server) webhookContactLocked(c *Contact) map[string]any {
	if c == nil {
		return nil
	}
	var assignee any
	if c.AssigneeID != 0 {
		assignee = map[string]any{"id": c.AssigneeID}
	}
	return map[string]any{
		"id":        c.ID,
		"firstName": c.FirstName,
		"lastName":  nullable(c.LastName),
		"email":     nullable(c.Email),
		"phone":     nullable(c.Phone),
		"assignee":  assignee,
	}
}

// enqueue hands a delivery to the single sender, so deliveries arrive in the
// order the events happened.
func (s *Server) enqueue(o outgoing) {
	select {
	case s.outbox <- o:
	case <-s.done:
	}
}

func (s *Server) deliverLoop() {
	defer s.workerWG.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.done
		cancel()
	}()
	for {
		select {
		case <-s.done:
			return
		case o := <-s.outbox:
			s.deliver(ctx, o)
		}
	}
}

// deliver POSTs one event, trying three times with a short backoff when the
// receiver fails (Aelyst's own retry policy is undocumented).
func (s *Server) deliver(ctx context.Context, o outgoing) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		s.mu.Lock()
		url, secret := s.hookURL, s.hookKey
		s.mu.Unlock()
		if url == "" {
			return
		}
		status, err := s.post(ctx, url, secret, o.body)
		d := Delivery{EventID: o.eventID, EventType: o.eventType, Status: status}
		if err != nil {
			d.Err = err.Error()
		}
		s.mu.Lock()
		s.delivered = append(s.delivered, d)
		s.mu.Unlock()
		if err == nil && status >= 200 && status < 300 {
			return
		}
		s.log.Warn("aelysttest: webhook delivery failed", "event_id", o.eventID, "status", status, "attempt", attempt, "err", err)
		if attempt == 3 || !s.wait(ctx, backoff) {
			return
		}
		backoff *= 4
	}
}

func (s *Server) post(ctx context.Context, url, secret string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(secret, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
