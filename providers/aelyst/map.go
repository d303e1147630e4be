package aelyst

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

// contactJSON is the part of Aelyst's contact object the gateway uses.
type contactJSON struct {
	ID        int64   `json:"id"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Email     *string `json:"email"`
	Phone     *string `json:"phone"`
}

// userJSON is Aelyst's space user.
type userJSON struct {
	ID        int64   `json:"id"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Email     *string `json:"email"`
	Role      *string `json:"role"`
	Team      *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"team"`
}

// listJSON is Aelyst's list envelope.
type listJSON[T any] struct {
	Items      []T `json:"items"`
	Pagination struct {
		Next     *string `json:"next"`
		Previous *string `json:"previous"`
	} `json:"pagination"`
}

// createdJSON is the answer to POST /contact/{identifier}/comment.
type createdJSON struct {
	ContactID int64   `json:"contactId"`
	Text      *string `json:"text"`
	CreatedAt *int64  `json:"created_at"`
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// contactName is how a contact is shown: its name, else how it is reached.
func contactName(c *contactJSON) string {
	name := strings.TrimSpace(str(c.FirstName) + " " + str(c.LastName))
	switch {
	case name != "":
		return name
	case str(c.Email) != "":
		return str(c.Email)
	case str(c.Phone) != "":
		return str(c.Phone)
	}
	return "Contact " + strconv.FormatInt(c.ID, 10)
}

// decodeContact parses a contact object; one without a positive id is
// garbage to us.
func decodeContact(raw []byte) (*contactJSON, error) {
	var c contactJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.ID <= 0 {
		return nil, fmt.Errorf("contact has no id")
	}
	return &c, nil
}

func (p *Provider) threadOf(c *contactJSON) *model.Thread {
	name := contactName(c)
	return &model.Thread{
		ProviderID: p.opts.ID,
		Kind:       model.ThreadKindContact,
		Ref:        contactIdentifier(c.ID),
		Title:      &name,
		RoomRef:    strconv.FormatInt(c.ID, 10),
	}
}

func (p *Provider) roomOf(c *contactJSON) *model.Room {
	name := contactName(c)
	return &model.Room{ProviderID: p.opts.ID, Ref: strconv.FormatInt(c.ID, 10), Name: &name}
}

// decodeUser parses a space user; one without a positive id is garbage.
func decodeUser(raw []byte) (*userJSON, error) {
	var u userJSON
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, err
	}
	if u.ID <= 0 {
		return nil, fmt.Errorf("user has no id")
	}
	return &u, nil
}

func (p *Provider) userOf(u *userJSON) *model.User {
	ref := strconv.FormatInt(u.ID, 10)
	name := strings.TrimSpace(str(u.FirstName) + " " + str(u.LastName))
	if name == "" {
		name = str(u.Email)
	}
	if name == "" {
		name = "User " + ref
	}
	out := &model.User{ProviderID: p.opts.ID, Ref: ref, Name: name, Email: ptr(str(u.Email)), Title: ptr(str(u.Role))}
	if u.Team != nil {
		out.Department = ptr(strings.TrimSpace(u.Team.Name))
	}
	return out
}

// maxUnix bounds the timestamps the journal accepts (year 5138): order keys
// are fixed-width, and nothing real is further out.
const maxUnix = 99_999_999_999

// commentOf turns a journal entry into the model comment.
func (p *Provider) commentOf(e *Entry) *model.Comment {
	mentions := make([]*model.Mention, 0, len(e.Mentions))
	for _, m := range e.Mentions {
		mentions = append(mentions, &model.Mention{ProviderID: p.opts.ID, UserRef: m.UserRef, Offset: m.Offset, Length: m.Length})
	}
	return &model.Comment{
		ProviderID:  p.opts.ID,
		ThreadKind:  model.ThreadKindContact,
		ThreadRef:   contactIdentifier(e.ContactID),
		Ref:         e.Ref,
		Text:        e.Text,
		Body:        e.Body,
		Markup:      model.MarkupPlain,
		Mentions:    mentions,
		SenderRef:   e.SenderRef,
		Attachments: []*model.Attachment{},
		Reactions:   []*model.Reaction{},
		ReadBy:      []*model.ReadReceipt{},
		CreatedAt:   time.Unix(e.CreatedAt, 0).UTC(),
	}
}

// jsonRaw holds an object decoded later, so one bad item is reported as
// garbage rather than silently zeroed.
type jsonRaw = json.RawMessage

// webhookJSON is a webhook delivery, the fields of the events read.
type webhookJSON struct {
	EventType string          `json:"event_type"`
	EventID   string          `json:"event_id"`
	Contact   json.RawMessage `json:"contact"`
	Comment   *struct {
		Text      *string `json:"text"`
		CreatedAt *int64  `json:"created_at"`
	} `json:"comment"`
}
