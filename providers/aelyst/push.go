package aelyst

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// SignatureHeader carries a delivery's signature: base64 of HMAC-SHA256 over
// the raw body, keyed with the webhook secret ([respond.io]).
const SignatureHeader = "X-Webhook-Signature"

// MaxWebhookBody bounds a delivery the adapter will parse (1 MiB).
const MaxWebhookBody = 1 << 20

// maxEventID bounds event_id: it becomes a journal alias and a dedup key.
const maxEventID = 200

// ReceiveWebhook checks and ingests one delivery; it is the instance's
// providers.WebhookFunc. The signature is verified before anything is parsed;
// a forged, unsigned or stale delivery is UNAUTHENTICATED and changes nothing,
// and one that is signed but unreadable is BAD_USER_INPUT.
//
// The Change's Key is Aelyst's event_id; a replay has the same. Its Comments
// are as journaled: a replayed delivery, or the echo of a comment
// CreateComment posted, gives the same comment (same Ref, same ID) again. The
// echo may even arrive before CreateComment returns, so neither side can tell
// which is first: publish with a dedupe keyed by the comment's ID
// (events.PublishOnce with c.ID()), on both the create and the webhook path.
// Aelyst documents no deletion event, so nothing is ever reported deleted.
//
// Staleness: Aelyst documents no delivery timestamp (and no timestamp header
// to sign), so a comment.created delivery is refused when its comment's
// created_at is further than WebhookMaxAge from the clock. Contact events
// carry no event time; they only refresh cached data, so replaying one is
// harmless. Replays inside the window are absorbed by the journal (event_id
// and content both dedupe).
func (p *Provider) ReceiveWebhook(ctx context.Context, header http.Header, body []byte) (*providers.Change, error) {
	if !p.verify(header, body) {
		p.log.WarnContext(ctx, "aelyst: webhook refused: bad or missing signature", "bytes", len(body))
		return nil, &model.Error{Code: model.CodeUnauthenticated, Provider: p.opts.ID, Message: "the webhook delivery is not signed with this provider's secret"}
	}
	if len(body) > MaxWebhookBody {
		return nil, p.badDelivery(fmt.Errorf("body of %d bytes", len(body)))
	}
	var w webhookJSON
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, p.badDelivery(err)
	}
	if w.EventID == "" || len(w.EventID) > maxEventID {
		return nil, p.badDelivery(fmt.Errorf("event_id missing or longer than %d", maxEventID))
	}
	ch := &providers.Change{Key: w.EventID}
	switch w.EventType {
	case "comment.created":
		if err := p.commentCreated(ctx, &w, ch); err != nil {
			return nil, err
		}
	case "contact.created", "contact.updated":
		c, err := decodeContact(w.Contact)
		if err != nil {
			return nil, p.badDelivery(fmt.Errorf("contact: %w", err))
		}
		p.forgetContact(c.ID)
		p.rememberIdentifiers(c)
		ch.Rooms = append(ch.Rooms, p.roomOf(c))
	default:
		// Messages, tags, assignments…: nothing the gateway keeps.
	}
	p.log.DebugContext(ctx, "aelyst: webhook accepted", "event_type", w.EventType, "event_id", w.EventID, "comments", len(ch.Comments))
	return ch, nil
}

// verify checks the signature on the raw body in constant time.
func (p *Provider) verify(header http.Header, body []byte) bool {
	if p.opts.WebhookSecret == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header.Get(SignatureHeader)))
	if err != nil || len(got) == 0 {
		return false
	}
	m := hmac.New(sha256.New, []byte(p.opts.WebhookSecret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func (p *Provider) badDelivery(err error) error {
	return &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "the webhook delivery is unreadable", Err: err}
}

func (p *Provider) commentCreated(ctx context.Context, w *webhookJSON, ch *providers.Change) error {
	c, err := decodeContact(w.Contact)
	if err != nil {
		return p.badDelivery(fmt.Errorf("contact: %w", err))
	}
	if w.Comment == nil || w.Comment.Text == nil || w.Comment.CreatedAt == nil ||
		*w.Comment.CreatedAt < 0 || *w.Comment.CreatedAt > maxUnix {
		return p.badDelivery(fmt.Errorf("comment without text or created_at"))
	}
	created := time.Unix(*w.Comment.CreatedAt, 0)
	if age := p.now().Sub(created); age > p.opts.WebhookMaxAge || -age > p.opts.WebhookMaxAge {
		p.log.WarnContext(ctx, "aelyst: webhook refused: stale", "event_id", w.EventID, "age", age)
		return &model.Error{Code: model.CodeUnauthenticated, Provider: p.opts.ID, Message: "the webhook delivery is too old (or from the future) to be trusted"}
	}
	if c.FirstName != nil || c.LastName != nil {
		ch.Rooms = append(ch.Rooms, p.roomOf(c))
	}
	p.rememberIdentifiers(c)
	// The delivery names no author; a comment this process is posting is
	// the acting user's (see trackPost).
	e := p.entry(ctx, c.ID, *w.Comment.Text, *w.Comment.CreatedAt, p.postedBy(c, *w.Comment.Text), c)
	stored, _, err := p.opts.Journal.Append(ctx, p.scope, e, "event:"+w.EventID)
	if err != nil {
		// Failing makes Aelyst retry (if it does) rather than lose the comment.
		return p.journalError(err)
	}
	ch.Comments = append(ch.Comments, p.commentOf(&stored))
	return nil
}
