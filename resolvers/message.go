package resolvers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// sendMessage sends a message through a provider's providers.MessageSender,
// or answers UNSUPPORTED with no upstream call. What the provider cannot take
// (a malformed contact, empty text, attachments it cannot send) it refuses
// before calling its upstream too.
func (r *Resolver) sendMessage(ctx context.Context, in model.SendMessageInput) (*model.SendMessagePayload, error) {
	p, err := r.provider(ctx, in.Provider)
	if err != nil {
		return nil, err
	}
	ms, ok := providers.Lifecycle[providers.MessageSender](p)
	if !ok {
		return nil, providers.Unsupported(in.Provider, "sending messages")
	}
	mi := providers.MessageInput{Contact: in.Contact, Text: in.Text}
	for _, u := range in.Attachments {
		mi.Attachments = append(mi.Attachments, providers.File{Name: u.Filename, ContentType: u.ContentType, Size: u.Size, Content: u.File})
	}
	if in.ClientMutationID != nil {
		mi.IdempotencyKey = *in.ClientMutationID
	}
	rec, err := r.once(ctx, "sendMessage", in.ClientMutationID, in, func(ctx context.Context) (*model.Comment, error) {
		m, err := ms.SendMessage(ctx, mi)
		if err != nil {
			return nil, err
		}
		return messageRecord(m)
	})
	if err != nil {
		return nil, err
	}
	m, err := messageOf(rec)
	if err != nil {
		return nil, err
	}
	m.Provider = p.Info()
	return &model.SendMessagePayload{Message: m, ClientMutationID: in.ClientMutationID}, nil
}

// messageRecord is how a sent message is kept by the idempotency store,
// whose one result type is *model.Comment (and, on Redis, its JSON): the
// message as JSON in Body, and where it went in the fields that name a
// comment, so a record read in a log still says what it is.
func messageRecord(m *model.Message) (*model.Comment, error) {
	kept := *m
	kept.Provider = nil // the registry's, set again on the way out
	body, err := json.Marshal(&kept)
	if err != nil {
		return nil, fmt.Errorf("keep sent message: %w", err)
	}
	c := &model.Comment{Ref: m.Ref, Text: m.Text, Body: string(body), Markup: model.MarkupCode, CreatedAt: m.CreatedAt}
	if m.Provider != nil {
		c.ProviderID = m.Provider.ID
	}
	if m.Room != nil {
		c.ThreadKind, c.ThreadRef = model.ThreadKindRoom, m.Room.Ref
	}
	return c, nil
}

// messageOf reads a messageRecord back.
func messageOf(c *model.Comment) (*model.Message, error) {
	var m model.Message
	if c == nil || json.Unmarshal([]byte(c.Body), &m) != nil {
		return nil, fmt.Errorf("sent message: unreadable idempotency record")
	}
	return &m, nil
}
