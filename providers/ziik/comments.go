package ziik

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// maxWalk bounds how many pages one ListComments may read when it has to
// walk (from the oldest end, or filtering a parent's replies): 20,000
// messages.
const maxWalk = 200

// message fetches one message of conversation t.conv through a one-message
// window around it; NOT_FOUND when the conversation does not hold it.
func (p *Provider) message(ctx context.Context, t threadRef, id int64) (*wireMessage, error) {
	pg, err := p.fetch(ctx, t.conv, url.Values{"starter_message_id": {strconv.FormatInt(id, 10)}, "limit": {"1"}})
	if err != nil {
		return nil, err
	}
	for i := range pg.items {
		if int64(pg.items[i].ID) == id {
			return &pg.items[i], nil
		}
	}
	return nil, &model.Error{Code: model.CodeNotFound, Provider: p.id, Message: fmt.Sprintf("message %d is not in conversation %d", id, t.conv)}
}

// fetch reads one page of a conversation's messages.
func (p *Provider) fetch(ctx context.Context, conv int64, q url.Values) (*messagePage, error) {
	body, err := p.call(ctx, providers.Request{Method: http.MethodGet, Endpoint: epMessages,
		Path: "/conversations/" + strconv.FormatInt(conv, 10) + "/messages?" + q.Encode()})
	if err != nil {
		return nil, err
	}
	pg, err := parseMessagePage(body)
	if err != nil {
		return nil, p.garbage("GET "+epMessages, err)
	}
	p.mapAuthors(pg)
	return pg, nil
}

// mapAuthors maps each author once per page (users are shared, never
// changed) and learns them for mention detection.
func (p *Provider) mapAuthors(pg *messagePage) {
	authors := map[flexInt]*model.User{}
	for i := range pg.items {
		m := &pg.items[i]
		if a := m.Author; a != nil && a.ID > 0 {
			u, ok := authors[a.ID]
			if !ok {
				u = user(p.id, a)
				authors[a.ID] = u
				p.people.learn(u)
			}
			m.author = u
		}
	}
}

// parseCursor reads a comment cursor: the message id of the edge.
func (p *Provider) parseCursor(name, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	id, ok := parseID(s)
	if !ok {
		return 0, p.badInput("%s %q is not a Ziik comment cursor", name, truncate(s))
	}
	return id, nil
}

// ListComments pages a thread's comments, oldest first.
//
// Ziik pages messages newest first with opaque cursors and can centre a page
// on a message (starter_message_id). Edge cursors are message ids: Before and
// After open a window on that message and walk on with Ziik's cursors. Last
// with no Before is one call. First with no After must walk from the newest
// end of a conversation, since Ziik cannot start at the oldest. A MESSAGE
// thread is the parent's replies, found inline in the conversation by their
// parent; its walks stop at the parent.
func (p *Provider) ListComments(ctx context.Context, th *model.Thread, page providers.Page) (*providers.CommentPage, error) {
	if th == nil {
		return nil, p.badInput("no thread given")
	}
	t, err := p.parseThread(th.Kind, th.Ref)
	if err != nil {
		return nil, err
	}
	n := clampSize(page.Size())
	after, err := p.parseCursor("after", page.After)
	if err != nil {
		return nil, err
	}
	before, err := p.parseCursor("before", page.Before)
	if err != nil {
		return nil, err
	}
	p.refreshParticipants(ctx, t.convRef())

	// inThread says whether a message belongs to the thread.
	inThread := func(m *wireMessage) bool { return t.msg == 0 || m.parentID() == t.msg }
	var (
		got  []*wireMessage // in walk order
		more bool           // more of the thread lies beyond got, in walk order
	)
	if page.Backward() {
		var first *messagePage
		switch {
		case before != 0:
			first, err = p.fetch(ctx, t.conv, window(before))
		case t.msg == 0:
			first, err = p.fetch(ctx, t.conv, url.Values{"limit": {strconv.Itoa(n)}})
		default:
			first, err = p.fetch(ctx, t.conv, url.Values{"limit": {strconv.Itoa(maxLimit)}})
		}
		if err != nil {
			return nil, err
		}
		left, err := p.walk(ctx, t.conv, first, true, func(m *wireMessage) bool {
			id := int64(m.ID)
			if before != 0 && id >= before {
				return true
			}
			if t.msg != 0 && id <= t.msg {
				return false // replies are newer than their parent
			}
			if !inThread(m) {
				return true
			}
			if len(got) == n {
				more = true
				return false
			}
			got = append(got, m)
			return true
		}, func() bool { return t.msg == 0 && len(got) == n })
		if err != nil {
			return nil, err
		}
		more = more || left
		reverse(got)
		return p.commentPage(th, t, got, more, before != 0), nil
	}

	if after == 0 && t.msg == 0 {
		// Oldest first: walk back to the start, keeping the oldest n+1.
		first, err := p.fetch(ctx, t.conv, url.Values{"limit": {strconv.Itoa(maxLimit)}})
		if err != nil {
			return nil, err
		}
		var tail []*wireMessage
		if _, err := p.walk(ctx, t.conv, first, true, func(m *wireMessage) bool {
			tail = append(tail, m)
			if len(tail) > 2*(n+1) {
				tail = append(tail[:0:0], tail[len(tail)-(n+1):]...)
			}
			return true
		}, nil); err != nil {
			return nil, err
		}
		reverse(tail) // oldest first
		more = len(tail) > n
		return p.commentPage(th, t, tail[:min(n, len(tail))], false, more), nil
	}

	from := after
	if from == 0 {
		from = t.msg
	}
	first, err := p.fetch(ctx, t.conv, window(from))
	if err != nil {
		return nil, err
	}
	left, err := p.walk(ctx, t.conv, first, false, func(m *wireMessage) bool {
		if int64(m.ID) <= from || !inThread(m) {
			return true
		}
		if len(got) == n {
			more = true
			return false
		}
		got = append(got, m)
		return true
	}, func() bool { return t.msg == 0 && len(got) == n })
	if err != nil {
		return nil, err
	}
	return p.commentPage(th, t, got, after != 0, more || left), nil
}

// window asks for the largest page centred on message id.
func window(id int64) url.Values {
	return url.Values{"starter_message_id": {strconv.FormatInt(id, 10)}, "limit": {strconv.Itoa(maxLimit)}}
}

// walk visits messages from first onwards, newest to oldest when older, else
// oldest to newest, following Ziik's cursors until visit returns false or the
// messages run out. Before fetching another page it asks full (when set)
// whether to stop; it then reports whether a cursor was left unfollowed.
func (p *Provider) walk(ctx context.Context, conv int64, pg *messagePage, older bool, visit func(*wireMessage) bool, full func() bool) (bool, error) {
	var last int64 // the id the walk reached, to catch cursors that go nowhere
	for pages := 1; ; pages++ {
		progressed := false
		for k := range pg.items {
			i := k
			if older {
				i = len(pg.items) - 1 - k
			}
			m := &pg.items[i]
			id := int64(m.ID)
			if last != 0 && ((older && id >= last) || (!older && id <= last)) {
				continue // seen on an earlier page
			}
			if !visit(m) {
				return false, nil
			}
			last, progressed = id, true
		}
		cursor := pg.newer
		if older {
			cursor = pg.older
		}
		if cursor == "" {
			return false, nil
		}
		if full != nil && full() {
			return true, nil
		}
		if !progressed && pages > 1 {
			return false, p.garbage("GET "+epMessages, fmt.Errorf("cursor %.40q leads nowhere new", cursor))
		}
		if pages >= maxWalk {
			return false, &model.Error{Code: model.CodeUpstreamUnavailable, Provider: p.id,
				Message: fmt.Sprintf("the conversation is too long to page this way (more than %d pages); page from the newest end with last/before", maxWalk)}
		}
		var err error
		if pg, err = p.fetch(ctx, conv, url.Values{"cursor": {cursor}, "limit": {strconv.Itoa(maxLimit)}}); err != nil {
			return false, err
		}
	}
}

func reverse(ms []*wireMessage) {
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
}

// commentPage builds the page from messages oldest first.
func (p *Provider) commentPage(th *model.Thread, t threadRef, ms []*wireMessage, hasPrev, hasNext bool) *providers.CommentPage {
	out := &providers.CommentPage{HasPreviousPage: hasPrev, HasNextPage: hasNext, Edges: make([]providers.CommentEdge, 0, len(ms))}
	for _, m := range ms {
		c := p.comment(th, t, m)
		out.Edges = append(out.Edges, providers.CommentEdge{Cursor: c.Ref, Comment: c})
	}
	return out
}

// comment maps m as of the adapter's clock (which ages file placeholders)
// and finds its mentions.
func (p *Provider) comment(th *model.Thread, t threadRef, m *wireMessage) *model.Comment {
	m.asOf = p.now()
	c := comment(p.id, th, m)
	if c.Text != "" {
		c.Mentions = p.people.detect(p.id, t.convRef(), c.Text)
	}
	return c
}

// refreshParticipants fetches the conversation's participants when they are
// unknown or stale, so their mentions are found. A failure only costs
// mention detection (the listing that follows reports real failures), so it
// is logged, not returned.
func (p *Provider) refreshParticipants(ctx context.Context, conv string) {
	if !p.people.stale(conv, p.now()) {
		return
	}
	if _, err := p.conversation(ctx, conv); err != nil && ctx.Err() == nil {
		p.log.Debug("ziik: could not load participants", "provider", p.id, "conversation", conv, "err", err)
	}
}

// GetComment returns one message of the thread. In a MESSAGE thread that is
// a reply to the parent or the parent itself (so a reply's parent resolves).
func (p *Provider) GetComment(ctx context.Context, th *model.Thread, ref string) (*model.Comment, error) {
	if th == nil {
		return nil, p.badInput("no thread given")
	}
	t, err := p.parseThread(th.Kind, th.Ref)
	if err != nil {
		return nil, err
	}
	id, ok := parseID(ref)
	if !ok {
		return nil, p.badInput("%q is not a Ziik message id", truncate(ref))
	}
	p.refreshParticipants(ctx, t.convRef())
	m, err := p.message(ctx, t, id)
	if err != nil {
		return nil, err
	}
	if t.msg != 0 && id != t.msg && m.parentID() != t.msg {
		return nil, &model.Error{Code: model.CodeNotFound, Provider: p.id, Message: fmt.Sprintf("message %d does not reply to %d", id, t.msg)}
	}
	return p.comment(th, t, m), nil
}

// CreateComment posts a message, mentions written as "@Name". In a MESSAGE
// thread it replies to the thread's message unless in.ParentRef names another.
func (p *Provider) CreateComment(ctx context.Context, in providers.CommentInput) (*model.Comment, error) {
	if in.Thread == nil {
		return nil, p.badInput("no thread given")
	}
	t, err := p.parseThread(in.Thread.Kind, in.Thread.Ref)
	if err != nil {
		return nil, err
	}
	segs, err := p.parseText(in.Text, in.Mentions)
	if err != nil {
		return nil, err
	}
	parent := t.msg
	if in.ParentRef != "" {
		if parent, _ = parseID(in.ParentRef); parent == 0 {
			return nil, p.badInput("parent %q is not a Ziik message id", truncate(in.ParentRef))
		}
	}
	text, err := p.render(ctx, segs, in.Mentions)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"message": text, "parent_id": nil}
	if parent != 0 {
		body["parent_id"] = parent
	}
	if len(in.Attachments) > 0 {
		body["fileCount"] = len(in.Attachments) // the files follow (upload.go)
	}
	p.refreshParticipants(ctx, t.convRef())
	raw, err := p.call(ctx, providers.Request{Method: http.MethodPost, Endpoint: epMessages,
		Path: "/conversations/" + t.convRef() + "/messages", Body: body})
	if err != nil {
		return nil, err
	}
	m, err := parseMessage(raw)
	if err != nil {
		return nil, p.garbage("POST "+epMessages, err)
	}
	if m.Author != nil && m.Author.ID > 0 {
		p.people.learn(user(p.id, m.Author))
	}
	if len(in.Attachments) > 0 {
		return p.attachFiles(ctx, in.Thread, t, m, in.Attachments), nil
	}
	return p.comment(in.Thread, t, m), nil
}

// parseText checks a comment's text template and its mentions before any
// call.
func (p *Provider) parseText(text string, mentions []providers.MentionRef) ([]providers.Segment, error) {
	segs, err := providers.ParseTemplate(text, mentions)
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) {
			me.Provider = p.id
		}
		return nil, err
	}
	return segs, nil
}

// render writes segs as Ziik text, each mention as "@Name" (see mentions.go),
// looking the mentioned users up where they are not known yet. Text that is
// blank once rendered is BAD_USER_INPUT.
func (p *Provider) render(ctx context.Context, segs []providers.Segment, mentions []providers.MentionRef) (string, error) {
	refs := make([]string, 0, len(mentions))
	for _, m := range mentions {
		refs = append(refs, m.UserRef)
	}
	mentioned, err := p.mentionedUsers(ctx, refs)
	if err != nil {
		return "", err
	}
	text, _ := providers.Render(p.id, segs, func(ref string) string { return mentioned[ref].Name })
	if strings.TrimSpace(text) == "" {
		return "", p.badInput("text is empty")
	}
	return text, nil
}

// mentionedUsers resolves every ref, from memory or the directory;
// BAD_USER_INPUT names the first that does not exist.
func (p *Provider) mentionedUsers(ctx context.Context, refs []string) (map[string]*model.User, error) {
	found := p.people.known(refs)
	var missing []string
	for _, r := range refs {
		if _, ok := found[r]; !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		more, err := p.Users(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, r := range missing {
			u, ok := more[r]
			if !ok {
				return nil, p.badInput("mentioned user %q does not exist in Ziik", truncate(r))
			}
			found[r] = u
		}
	}
	return found, nil
}
