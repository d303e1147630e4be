package klink

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

// wireComment is a comment as the comment endpoints send it. Only id, roomId,
// text and type were seen on lists; the rest is the create response's shape.
type wireComment struct {
	ID        string        `json:"id"`
	RoomID    string        `json:"roomId"`
	Text      string        `json:"text"`
	Type      string        `json:"type"`
	Mentions  []wireMention `json:"mentions"`
	Sender    *wireUser     `json:"sender"`
	CreatedAt string        `json:"createdAt"`
}

type wireMention struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
}

type wireUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// commentList is GET /comments/rooms/{roomId}: {requestId, data} plus, maybe,
// the legacy pagination block at top level.
type commentList struct {
	RequestID string        `json:"requestId"`
	Data      []wireComment `json:"data"`
	Total     *int          `json:"total"`
	Page      *int          `json:"page"`
	PageSize  *int          `json:"pageSize"`
	LastPage  *int          `json:"lastPage"`
	// rawCount is how many items the page held, before unusable ones were
	// dropped: a short page is how the list's end shows without metadata.
	rawCount int
}

type commentEnvelope struct {
	RequestID string       `json:"requestId"`
	Data      *wireComment `json:"data"`
}

// parseCommentList reads a comment list page. Items with no id cannot be
// pointed at by a cursor or a global ID, so they are dropped.
func parseCommentList(body []byte) (*commentList, error) {
	var l commentList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, err
	}
	l.rawCount = len(l.Data)
	kept := l.Data[:0]
	for _, c := range l.Data {
		if c.ID != "" {
			kept = append(kept, c)
		}
	}
	l.Data = kept
	return &l, nil
}

// parseTime reads K-LINK's ISO-8601 timestamps leniently: any number of
// fraction digits (ms, µs and ns all occur), "Z" or an offset, a 'T' or a space
// between date and time, and no zone at all meaning UTC. The result is UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return time.Time{}, fmt.Errorf("timestamp of %d bytes", len(s))
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable timestamp %q", truncate(s, 40))
}

// toComment maps a wire comment of room to the model. threadRef is used when
// the payload names no room.
func (p *Provider) toComment(c *wireComment, threadRef string) *model.Comment {
	if c.RoomID != "" {
		threadRef = c.RoomID
	}
	created, err := parseTime(c.CreatedAt)
	if err != nil && c.CreatedAt != "" {
		p.log.Debug("klink: comment timestamp unreadable", "comment", c.ID, "err", err)
	}
	out := &model.Comment{
		ProviderID:  p.opts.ID,
		ThreadKind:  model.ThreadKindRoom,
		ThreadRef:   threadRef,
		Ref:         c.ID,
		Text:        c.Text,
		Body:        c.Text,
		Markup:      model.MarkupPlain,
		Mentions:    p.mentionSpans(c.Text, c.Mentions),
		Attachments: []*model.Attachment{},
		Reactions:   []*model.Reaction{},
		ReadBy:      []*model.ReadReceipt{},
		CreatedAt:   created,
	}
	if c.Type != "" && c.Type != "comment" {
		t := c.Type
		out.MessageType = &t
	}
	if c.Sender != nil && c.Sender.ID != "" {
		out.SenderRef = c.Sender.ID
		if c.Sender.Name != "" {
			out.SenderHint = &model.User{ProviderID: p.opts.ID, Ref: c.Sender.ID, Name: c.Sender.Name}
		}
	}
	return out
}

// usersOf lists the users a comment names (sender and mentions), for the
// Directory.
func (p *Provider) usersOf(cs []wireComment) []*model.User {
	var out []*model.User
	add := func(id, name string) {
		if id != "" && name != "" {
			out = append(out, &model.User{ProviderID: p.opts.ID, Ref: id, Name: name})
		}
	}
	for i := range cs {
		if s := cs[i].Sender; s != nil {
			add(s.ID, s.Name)
		}
		for _, m := range cs[i].Mentions {
			add(m.UserID, m.Name)
		}
	}
	return out
}

// sendResponse is the answer to POST /api/v1/messages/send (seed 001): an
// envelope that repeats the HTTP status, and the message as stored. Of the
// example's forty-odd data fields only those the gateway shows are read.
type sendResponse struct {
	Status  json.RawMessage `json:"status"`
	Message string          `json:"message"`
	Data    *wireMessage    `json:"data"`
}

// wireMessage is a message as K-LINK stores it. contactId is null in the
// example answer (to a send by contactId), so it may be absent.
type wireMessage struct {
	ID                string  `json:"id"`
	RoomID            string  `json:"roomId"`
	ContactID         *string `json:"contactId"`
	Message           string  `json:"message"`
	Type              string  `json:"type"`
	Direction         string  `json:"direction"`
	PlatformMessageID *string `json:"platformMessageId"`
	CreatedAt         string  `json:"createdAt"`
	ReadAt            *string `json:"readAt"`
}

func parseSendResponse(body []byte) (*sendResponse, error) {
	var out sendResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// wireEvent is the data of the events read: message events (fields
// undocumented; the notes' assumption) and contact objects. Only what names
// users and rooms is read: the gateway keeps no chat messages.
type wireEvent struct {
	ID            json.RawMessage `json:"id"`
	RoomID        string          `json:"roomId"`
	Name          string          `json:"name"`
	Sender        *wireUser       `json:"sender"`
	Contact       *wireUser       `json:"contact"`
	ContactEmails []struct {
		Email     string `json:"email"`
		IsPrimary bool   `json:"isPrimary"`
	} `json:"contactEmails"`
}

// id is data.id as text (a string or a number); with none, a digest of the
// body when one is given, so an exact replay still has the same Key.
func (d *wireEvent) id(body []byte) string {
	var s string
	if json.Unmarshal(d.ID, &s) == nil && s != "" {
		return truncate(s, maxRefLength)
	}
	var n json.Number
	if json.Unmarshal(d.ID, &n) == nil && n != "" {
		return n.String()
	}
	if body == nil {
		return ""
	}
	sum := sha256.Sum256(body)
	return "sha256-" + hex.EncodeToString(sum[:16])
}
