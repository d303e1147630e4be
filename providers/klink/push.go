package klink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Webhook limits.
const (
	// MaxWebhookBody is the largest delivery read (1 MiB).
	MaxWebhookBody = 1 << 20
	// A delivery older than webhookMaxAge, or dated more than webhookMaxSkew
	// ahead of the clock, is refused: it may be a replay.
	webhookMaxAge  = 5 * time.Minute
	webhookMaxSkew = time.Minute
)

// ReceiveWebhook checks and reads one delivery; it is the instance's
// providers.WebhookFunc. The signature is checked against the raw body before
// anything is parsed; an unsigned, forged or stale delivery is UNAUTHENTICATED
// (and nothing is learned from it); a signed one that cannot be read is
// BAD_USER_INPUT.
//
// The Change's Key is event + ":" + data.id, so a replayed delivery has the
// same Key and the gateway can drop it. Its Comments stay empty: K-LINK
// documents no comment event, so its comments are polled through
// ListComments. The Users and Rooms it names are already in the Directory.
func (p *Provider) ReceiveWebhook(ctx context.Context, header http.Header, body []byte) (*providers.Change, error) {
	if err := p.verify(header, body); err != nil {
		return nil, err
	}
	bad := func(msg string, err error) error {
		return &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: msg, Err: err}
	}
	var env struct {
		Event     string          `json:"event"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, bad("the webhook body is not a K-LINK event", err)
	}
	if env.Event == "" {
		return nil, bad("the webhook body names no event", nil)
	}
	at, err := parseTime(env.Timestamp)
	if err != nil {
		return nil, p.unauthenticated("the webhook delivery has no readable timestamp")
	}
	if now := p.opts.Now(); at.Before(now.Add(-webhookMaxAge)) || at.After(now.Add(webhookMaxSkew)) {
		return nil, p.unauthenticated("the webhook delivery is stale")
	}
	var d wireEvent
	if len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return nil, bad("the webhook event's data is unreadable", err)
		}
	}
	ch := &providers.Change{Key: env.Event + ":" + d.id(body)}
	switch env.Event {
	case "message.inbound", "message.outbound":
		p.readMessage(ctx, env.Event, &d, ch)
	case "contact.create", "contact.update":
		p.readContact(ctx, &d, ch)
	case "contact.delete":
		if id := d.id(nil); id != "" {
			ch.DeletedUsers = append(ch.DeletedUsers, id)
		}
	default:
		// room.solved and whatever else: nothing the gateway keeps. Still a
		// 2xx, so K-LINK does not retry it.
		p.log.Debug("klink: webhook event ignored", "event", truncate(env.Event, 64))
	}
	return ch, nil
}

func (p *Provider) unauthenticated(msg string) error {
	return &model.Error{Code: model.CodeUnauthenticated, Provider: p.opts.ID, Message: msg}
}

// verify checks the HMAC-SHA256 of the raw body, in lowercase hex, keyed with
// the webhook secret. x-signature carries it; the older Setup page puts it in
// an authorization-type header, so that is read when x-signature is absent.
func (p *Provider) verify(header http.Header, body []byte) error {
	if p.opts.WebhookSecret == "" {
		return p.unauthenticated("no webhook secret is configured, so no delivery can be trusted")
	}
	if len(body) > MaxWebhookBody {
		return &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "the webhook body is too large"}
	}
	sig := strings.TrimSpace(header.Get("X-Signature"))
	if sig == "" {
		sig = signatureFromAuthorization(header.Get("Authorization"))
	}
	if sig == "" {
		return p.unauthenticated("the webhook delivery is not signed")
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return p.unauthenticated("the webhook signature is malformed")
	}
	mac := hmac.New(sha256.New, []byte(p.opts.WebhookSecret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return p.unauthenticated("the webhook signature does not match")
	}
	return nil
}

// signatureFromAuthorization takes the digest out of "Authorization: <hex>",
// "<scheme> <hex>" or "<scheme> sha256=<hex>".
func signatureFromAuthorization(v string) string {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return ""
	}
	return strings.TrimPrefix(fields[len(fields)-1], "sha256=")
}

// readMessage learns the users and the room a message event names. The
// message itself is not kept: the gateway serves comments, not chat messages.
func (p *Provider) readMessage(ctx context.Context, event string, d *wireEvent, ch *providers.Change) {
	var users []*model.User
	addUser := func(u *wireUser) {
		if u != nil && u.ID != "" && u.Name != "" && checkRef(p.opts.ID, "user", u.ID) == nil {
			users = append(users, &model.User{ProviderID: p.opts.ID, Ref: u.ID, Name: u.Name})
		}
	}
	addUser(d.Sender)
	addUser(d.Contact)
	users = dedupUsers(users)
	p.learnUsers(ctx, users)
	ch.Users = users

	// The room is the contact's conversation, so it is named after the
	// contact: the contact object, or the sender of an inbound message.
	name := ""
	if d.Contact != nil {
		name = d.Contact.Name
	}
	if name == "" && event == "message.inbound" && d.Sender != nil {
		name = d.Sender.Name
	}
	if room := p.learnRoom(ctx, d.RoomID, name); room != nil {
		ch.Rooms = append(ch.Rooms, room)
	}
}

// readContact keeps a contact as a user (it is who writes inbound messages)
// and, when the object names its room, renames the room after it.
func (p *Provider) readContact(ctx context.Context, d *wireEvent, ch *providers.Change) {
	id := d.id(nil)
	if id == "" || d.Name == "" || checkRef(p.opts.ID, "user", id) != nil {
		return
	}
	u := &model.User{ProviderID: p.opts.ID, Ref: id, Name: d.Name}
	for _, e := range d.ContactEmails {
		if e.Email != "" && (u.Email == nil || e.IsPrimary) {
			email := e.Email
			u.Email = &email
		}
	}
	p.learnUsers(ctx, []*model.User{u})
	ch.Users = append(ch.Users, u)
	if room := p.learnRoom(ctx, d.RoomID, d.Name); room != nil {
		ch.Rooms = append(ch.Rooms, room)
	}
}
