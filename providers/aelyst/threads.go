package aelyst

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// maxIdentifier bounds an identifier (an email address is at most 254).
const maxIdentifier = 300

// parseIdentifier checks a contact identifier: id:<int> | email:<address> |
// phone:<E.164>. It returns the contact id for the id: form (0 otherwise).
// Malformed identifiers are BAD_USER_INPUT and cost no call.
func parseIdentifier(ref string) (id int64, err error) {
	bad := func(why string) error {
		return model.Errorf(model.CodeBadUserInput, "%q is not an Aelyst contact (%s); use id:<number>, email:<address> or phone:<+E.164>", clip(ref), why)
	}
	if len(ref) > maxIdentifier {
		return 0, bad("too long")
	}
	kind, value, ok := strings.Cut(ref, ":")
	if !ok {
		return 0, bad("no kind")
	}
	switch kind {
	case "id":
		n, ok := parseID(value)
		if !ok {
			return 0, bad("not a positive number")
		}
		return n, nil
	case "email":
		local, domain, ok := strings.Cut(value, "@")
		if !ok || local == "" || domain == "" || strings.Contains(domain, "@") ||
			!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
			return 0, bad("not an email address")
		}
		for _, r := range value {
			if unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' || r == '?' || r == '#' {
				return 0, bad("not an email address")
			}
		}
		return 0, nil
	case "phone":
		digits, ok := strings.CutPrefix(value, "+")
		if !ok || len(digits) < 7 || len(digits) > 15 || digits[0] == '0' {
			return 0, bad("not an E.164 number")
		}
		for _, r := range digits {
			if r < '0' || r > '9' {
				return 0, bad("not an E.164 number")
			}
		}
		return 0, nil
	}
	return 0, bad("unknown kind")
}

// contactIdentifier is the canonical ref of a contact's thread.
func contactIdentifier(id int64) string { return "id:" + strconv.FormatInt(id, 10) }

// escapeIdentifier makes an identifier one path segment; '@' and '+' are
// escaped too, as the docs advise.
func escapeIdentifier(ref string) string {
	s := url.PathEscape(ref)
	s = strings.ReplaceAll(s, "@", "%40")
	return strings.ReplaceAll(s, "+", "%2B")
}

// checkThread validates a thread the gateway hands back and returns its
// identifier and, for the id: form, the contact id.
func (p *Provider) checkThread(t *model.Thread) (string, int64, error) {
	if t == nil {
		return "", 0, p.tag(model.Errorf(model.CodeBadUserInput, "no thread given"))
	}
	if t.Kind != model.ThreadKindContact {
		return "", 0, providers.Unsupported(p.opts.ID, fmt.Sprintf("a %s thread", t.Kind))
	}
	id, err := parseIdentifier(t.Ref)
	if err != nil {
		return "", 0, p.tag(err)
	}
	return t.Ref, id, nil
}

// Thread checks a contact identifier and returns its thread. The thread's ref
// is the canonical "id:<n>" whatever form was given, so one contact is one
// thread (and one journal) however it is named.
func (p *Provider) Thread(ctx context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	if kind != model.ThreadKindContact {
		return nil, providers.Unsupported(p.opts.ID, fmt.Sprintf("a %s thread", kind))
	}
	if _, err := parseIdentifier(ref); err != nil {
		return nil, p.tag(err)
	}
	c, err := p.getContact(ctx, ref)
	if err != nil {
		return nil, err
	}
	return p.threadOf(c), nil
}

// getContact fetches GET /contact/{identifier} and remembers which contact
// the identifier named.
func (p *Provider) getContact(ctx context.Context, identifier string) (*contactJSON, error) {
	var raw jsonRaw
	err := p.call(ctx, false, providers.Request{
		Method:   "GET",
		Endpoint: "/contact/{identifier}",
		Path:     "/contact/" + escapeIdentifier(identifier),
	}, &raw)
	if err != nil {
		return nil, err
	}
	c, err := decodeContact(raw)
	if err != nil {
		return nil, providers.GarbageError(p.opts.ID, fmt.Errorf("GET /contact/{identifier}: %w", err))
	}
	p.rememberContact(identifier, c.ID)
	return c, nil
}

func (p *Provider) rememberContact(identifier string, id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.contacts[identifier] = id
}

// forgetContact drops what identifiers were known to name contact id (its
// email or phone may have changed).
func (p *Provider) forgetContact(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.contacts {
		if v == id {
			delete(p.contacts, k)
		}
	}
}

// contactID resolves a thread's identifier to the numeric contact id the
// journal is keyed by: free for id:<n>, else cached, else one GET.
func (p *Provider) contactID(ctx context.Context, t *model.Thread) (int64, error) {
	ref, id, err := p.checkThread(t)
	if err != nil {
		return 0, err
	}
	if id > 0 {
		return id, nil
	}
	p.mu.Lock()
	id, ok := p.contacts[ref]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	v, err, _ := p.flight.Do("contact\x00"+ref, func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it or stops it
		c, err := p.getContact(ctx, ref)
		if err != nil {
			return int64(0), err
		}
		return c.ID, nil
	})
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// ListThreads lists contacts, in Aelyst's order, First/After only. The cursor
// is the contact id Aelyst continues after (its cursorId).
func (p *Provider) ListThreads(ctx context.Context, page providers.Page) (*providers.ThreadPage, error) {
	if page.Backward() {
		return nil, providers.Unsupported(p.opts.ID, "listing contacts backward")
	}
	limit := page.First
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, 100)
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if page.After != "" {
		cursor, err := strconv.ParseInt(page.After, 10, 64)
		if err != nil || cursor <= 0 {
			return nil, p.tag(model.Errorf(model.CodeBadUserInput, "%q is not a contact cursor", clip(page.After)))
		}
		q.Set("cursorId", page.After)
	}
	var list listJSON[jsonRaw]
	err := p.call(ctx, false, providers.Request{
		Method:   "POST",
		Endpoint: "/contact/list",
		Path:     "/contact/list?" + q.Encode(),
		Body:     map[string]any{"search": "", "timezone": "UTC", "filter": map[string]any{"$and": []any{}}},
	}, &list)
	if err != nil {
		return nil, err
	}
	out := &providers.ThreadPage{}
	for _, raw := range list.Items {
		c, err := decodeContact(raw)
		if err != nil {
			return nil, providers.GarbageError(p.opts.ID, fmt.Errorf("POST /contact/list: %w", err))
		}
		out.Edges = append(out.Edges, providers.ThreadEdge{Cursor: strconv.FormatInt(c.ID, 10), Thread: p.threadOf(c)})
	}
	// Aelyst's "next" is a full URL (without /v1 in the docs' examples): only
	// its cursorId is trusted, and an unreadable one ends the list.
	if next := nextCursor(list.Pagination.Next); next > 0 && len(out.Edges) > 0 {
		out.HasNextPage = true
		out.Edges[len(out.Edges)-1].Cursor = strconv.FormatInt(next, 10)
	}
	return out, nil
}

// nextCursor reads the cursorId of a pagination link; 0 when there is none.
func nextCursor(link *string) int64 {
	if link == nil || *link == "" {
		return 0
	}
	u, err := url.Parse(*link)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(u.Query().Get("cursorId"), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// rememberIdentifiers notes the email and phone a payload gives a contact, so
// threads named by them resolve without a call.
func (p *Provider) rememberIdentifiers(c *contactJSON) {
	p.rememberContact(contactIdentifier(c.ID), c.ID)
	if e := str(c.Email); e != "" {
		if _, err := parseIdentifier("email:" + e); err == nil {
			p.rememberContact("email:"+e, c.ID)
		}
	}
	if ph := str(c.Phone); ph != "" {
		if _, err := parseIdentifier("phone:" + ph); err == nil {
			p.rememberContact("phone:"+ph, c.ID)
		}
	}
}
