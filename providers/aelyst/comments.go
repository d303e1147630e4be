package aelyst

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// MaxCommentLength is Aelyst's limit on a comment's text, in characters
// (code points), counted on the text as sent: {{@user.ID}} tokens included.
const MaxCommentLength = 1000

// ListComments pages a contact's comments from the journal: the ones the
// gateway created and the ones Aelyst delivered by webhook. It makes no
// upstream call for an id:<n> thread.
func (p *Provider) ListComments(ctx context.Context, thread *model.Thread, page providers.Page) (*providers.CommentPage, error) {
	id, err := p.contactID(ctx, thread)
	if err != nil {
		return nil, err
	}
	jp, err := p.opts.Journal.List(ctx, p.scope, id, page)
	if err != nil {
		return nil, p.journalError(err)
	}
	out := &providers.CommentPage{HasNextPage: jp.HasNextPage, HasPreviousPage: jp.HasPreviousPage}
	for i := range jp.Entries {
		out.Edges = append(out.Edges, providers.CommentEdge{Cursor: jp.Entries[i].Cursor, Comment: p.commentOf(&jp.Entries[i])})
	}
	return out, nil
}

// GetComment returns one journaled comment.
func (p *Provider) GetComment(ctx context.Context, thread *model.Thread, ref string) (*model.Comment, error) {
	id, err := p.contactID(ctx, thread)
	if err != nil {
		return nil, err
	}
	if !validRef(ref) {
		return nil, p.tag(model.Errorf(model.CodeNotFound, "no comment %q on this contact", clip(ref)))
	}
	e, err := p.opts.Journal.Get(ctx, p.scope, id, ref)
	if err != nil {
		return nil, p.journalError(err)
	}
	return p.commentOf(&e), nil
}

// journalError keeps the journal's own *model.Error (NOT_FOUND, a bad
// cursor) and hides a storage failure behind UPSTREAM_UNAVAILABLE.
func (p *Provider) journalError(err error) error {
	if model.ErrorCode(err) != model.CodeInternal {
		return p.tag(err)
	}
	return &model.Error{Code: model.CodeUpstreamUnavailable, Provider: p.opts.ID, Message: "the comment journal is unavailable", Err: err}
}

// CreateComment posts a comment to a contact and journals it.
//
// Input is checked before any call: the template, mentioned ids (they must be
// space users: Aelyst would post an unknown one as a dead token) and the
// 1000-character limit. The POST is retried after 429 and 449, which Aelyst
// answers without storing anything. After a timeout or 5xx it is NOT sent
// again: Aelyst may have stored the comment, and the error says so; if it
// did, the webhook delivers it and it joins the journal then. With an
// IdempotencyKey, a second call returns the first call's comment without
// posting.
func (p *Provider) CreateComment(ctx context.Context, in providers.CommentInput) (*model.Comment, error) {
	identifier, id, err := p.checkThread(in.Thread)
	if err != nil {
		return nil, err
	}
	if in.ParentRef != "" {
		return nil, providers.Unsupported(p.opts.ID, "replying to a comment")
	}
	segs, err := providers.ParseTemplate(in.Text, in.Mentions)
	if err != nil {
		return nil, p.tag(err)
	}
	for _, m := range in.Mentions {
		if !validUserRef(m.UserRef) {
			return nil, p.tag(model.Errorf(model.CodeBadUserInput, "mentioned user %q is not an Aelyst user id", clip(m.UserRef)))
		}
	}
	body := encodeBody(segs)
	if n := utf8.RuneCountInString(body); n > MaxCommentLength {
		return nil, p.tag(model.Errorf(model.CodeBadUserInput, "the comment is %d characters long as Aelyst counts them; the limit is %d", n, MaxCommentLength))
	}
	if strings.TrimSpace(body) == "" {
		return nil, p.tag(model.Errorf(model.CodeBadUserInput, "the comment is empty"))
	}
	var refs []string
	for _, m := range in.Mentions {
		refs = append(refs, m.UserRef)
	}
	users, err := p.Users(ctx, refs)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if users[r] == nil {
			return nil, p.tag(model.Errorf(model.CodeBadUserInput, "mentioned user %s does not exist", r))
		}
	}
	if in.IdempotencyKey == "" {
		return p.post(ctx, identifier, body, "")
	}
	// Concurrent calls with one key in this process wait for the first; the
	// journal answers calls that come after it, here or on another instance.
	if id == 0 {
		if id, err = p.contactID(ctx, in.Thread); err != nil {
			return nil, err
		}
	}
	alias := "idem:" + in.IdempotencyKey
	v, err, _ := p.flight.Do(fmt.Sprintf("create\x00%d\x00%s", id, alias), func() (any, error) {
		e, found, err := p.opts.Journal.Lookup(ctx, p.scope, id, alias)
		if err != nil {
			return nil, p.journalError(err)
		}
		if found {
			return p.commentOf(&e), nil
		}
		return p.post(ctx, identifier, body, alias)
	})
	if err != nil {
		return nil, err
	}
	return v.(*model.Comment), nil
}

// post sends the comment once (with the 429/449 retries of call) and
// journals what Aelyst answered.
func (p *Provider) post(ctx context.Context, identifier, body, alias string) (*model.Comment, error) {
	sender := p.actingUser(ctx)
	done := p.trackPost(identifier, body, sender)
	defer done()
	var created createdJSON
	err := p.call(ctx, true, providers.Request{
		Method:   "POST",
		Endpoint: "/contact/{identifier}/comment",
		Path:     "/contact/" + escapeIdentifier(identifier) + "/comment",
		Body:     map[string]string{"text": body},
	}, &created)
	if err != nil {
		return nil, p.ambiguous(err)
	}
	if created.ContactID <= 0 || created.CreatedAt == nil || *created.CreatedAt < 0 || *created.CreatedAt > maxUnix {
		// Aelyst took the comment but its answer is unusable: say so rather
		// than invite a retry that would post it twice.
		return nil, &model.Error{
			Code: model.CodeUpstreamUnavailable, Provider: p.opts.ID,
			Message: "the comment was posted but the upstream's answer is unreadable; it will appear when the webhook delivers it",
			Err:     fmt.Errorf("POST /contact/{identifier}/comment answered contactId %d without created_at", created.ContactID),
		}
	}
	p.rememberContact(identifier, created.ContactID)
	stored := body
	if created.Text != nil {
		stored = *created.Text
	}
	var aliases []string
	if alias != "" {
		aliases = append(aliases, alias)
	}
	e := p.entry(ctx, created.ContactID, stored, *created.CreatedAt, sender, nil)
	got, _, err := p.opts.Journal.Append(ctx, p.scope, e, aliases...)
	if err != nil {
		// The comment is posted; failing now would make the client post it
		// again. The webhook journals it later.
		p.log.ErrorContext(ctx, "aelyst: journal append failed after posting", "contact", created.ContactID, "err", err)
		got = e
	}
	return p.commentOf(&got), nil
}

// pendingPost is a comment being posted: where to, its body as sent, and who
// it will be attributed to.
type pendingPost struct {
	identifier, body, sender string
}

// trackPost notes a comment about to be posted until done is called. Aelyst
// may deliver its webhook echo, which names no author, before the POST is
// answered and journaled; postedBy lets that echo name the sender all the
// same, so no subscriber sees the gateway's comment with a null sender. (An
// echo landing on another instance meanwhile is attributed once the create
// journals it: the journal fills a missing sender.)
func (p *Provider) trackPost(identifier, body, sender string) (done func()) {
	if sender == "" {
		return func() {}
	}
	pp := &pendingPost{identifier: identifier, body: body, sender: sender}
	p.mu.Lock()
	p.posting[pp] = true
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.posting, pp)
		p.mu.Unlock()
	}
}

// postedBy is the sender of a comment with body this process is posting to
// contact c, "" when it is posting none.
func (p *Provider) postedBy(c *contactJSON, body string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pp := range p.posting {
		if pp.body != body {
			continue
		}
		if id, known := p.contacts[pp.identifier]; known && id == c.ID {
			return pp.sender
		}
		kind, v, _ := strings.Cut(pp.identifier, ":")
		switch {
		case kind == "id" && v == strconv.FormatInt(c.ID, 10),
			kind == "email" && strings.EqualFold(v, str(c.Email)),
			kind == "phone" && v == str(c.Phone):
			return pp.sender
		}
	}
	return ""
}

// ambiguous rewords errors after which the comment may exist upstream.
func (p *Provider) ambiguous(err error) error {
	var e *model.Error
	if !errors.As(err, &e) || (e.Code != model.CodeUpstreamTimeout && e.Code != model.CodeUpstreamUnavailable) {
		return err
	}
	c := *e
	c.Message += "; the comment may have been posted (it is not sent again, so it is never posted twice) and will appear if the upstream delivers it"
	return &c
}

// entry builds a journal entry, rendering mentions with names from the user
// directory and contact variables with the contact's fields (contact is what
// a payload carried, nil for none; see contactFor). A name it cannot get
// (unknown user, upstream trouble) is shown as user.<id>; the span still
// points at the right user. A variable it cannot fill stays as written.
func (p *Provider) entry(ctx context.Context, contactID int64, body string, createdAt int64, sender string, contact *contactJSON) Entry {
	names := map[string]string{}
	if refs := mentionedUsers(body); len(refs) > 0 {
		users, err := p.Users(ctx, refs)
		if err != nil {
			p.log.WarnContext(ctx, "aelyst: could not name mentioned users", "err", err)
		}
		for ref, u := range users {
			names[ref] = u.Name
		}
	}
	text, mentions := renderBody(body, func(ref string) string {
		if n, ok := names[ref]; ok {
			return n
		}
		return unknownName(ref)
	}, contactField(p.contactFor(ctx, contactID, body, contact)))
	return Entry{
		Ref:       EntryRef(createdAt, body),
		ContactID: contactID,
		Body:      body,
		Text:      text,
		Mentions:  mentions,
		CreatedAt: createdAt,
		SenderRef: sender,
	}
}

// contactFor returns the contact whose fields fill body's variables: nil when
// body uses none. given (a webhook's contact object) serves when it carries a
// name; otherwise the contact is fetched, once, outside the request's call
// budget: the comment is already posted and its text is journaled for good.
// A failed fetch is logged and leaves the variables as written.
func (p *Provider) contactFor(ctx context.Context, id int64, body string, given *contactJSON) *contactJSON {
	if !hasContactFields(body) {
		return nil
	}
	if given != nil && given.ID == id && (str(given.FirstName) != "" || str(given.LastName) != "") {
		return given
	}
	c, err := p.getContact(providers.WithoutCallBudget(ctx), contactIdentifier(id))
	if err != nil {
		p.log.WarnContext(ctx, "aelyst: could not read the contact to fill its variables", "contact", id, "err", err)
		if given != nil && given.ID == id {
			return given
		}
		return nil
	}
	return c
}
