package ziik

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

const (
	// maxLimit is the most messages or conversations one Ziik page holds.
	maxLimit = 100
	// defaultPage is the page size when none is asked for.
	defaultPage = 25
	// maxWalk bounds how many pages one ListComments may read when it has to
	// walk (from the oldest end, or filtering a parent's replies): 20,000
	// messages.
	maxWalk = 200
	// maxOffset bounds a ListThreads cursor.
	maxOffset = 1_000_000
	// lookupConcurrency bounds parallel GET /users/{id} and
	// GET /conversations/{id} calls in one Users or Rooms batch.
	lookupConcurrency = 8
	// titleRunes bounds a MESSAGE thread's title (the parent's text).
	titleRunes = 120
)

// Endpoints as the Ziik notes write them, for metrics.
const (
	epConversations = "/conversations"
	epConversation  = "/conversations/{conversation}"
	epMessages      = "/conversations/{conversation}/messages"
	epUser          = "/users/{id}"
)

// Info describes the instance.
func (p *Provider) Info() *model.Provider {
	return &model.Provider{
		ID:   p.id,
		Kind: model.ProviderKindZiik,
		Name: p.name,
		Capabilities: []model.Capability{
			model.CapabilityListComments, model.CapabilityCreateComment, model.CapabilityMentions,
			model.CapabilityReplies, model.CapabilityAttachments, model.CapabilityReactions,
			model.CapabilityUserDirectory, model.CapabilityListThreads,
		},
	}
}

// threadRef is a parsed thread reference: a conversation, or a parent message
// in one (msg > 0).
type threadRef struct {
	conv, msg int64
}

func (t threadRef) convRef() string { return strconv.FormatInt(t.conv, 10) }

// parseID reads a Ziik id in canonical form (positive, no sign, no leading
// zeros), so one id has one ref.
func parseID(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 15 || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// parseThread checks a thread's kind and ref before any call.
func (p *Provider) parseThread(kind model.ThreadKind, ref string) (threadRef, error) {
	switch kind {
	case model.ThreadKindConversation:
		c, ok := parseID(ref)
		if !ok {
			return threadRef{}, p.badInput("%q is not a Ziik conversation id", truncate(ref))
		}
		return threadRef{conv: c}, nil
	case model.ThreadKindMessage:
		cs, ms, found := strings.Cut(ref, ":")
		c, okc := parseID(cs)
		m, okm := parseID(ms)
		if !found || !okc || !okm {
			return threadRef{}, p.badInput(`%q is not a Ziik message thread ref ("<conversationId>:<messageId>")`, truncate(ref))
		}
		return threadRef{conv: c, msg: m}, nil
	default:
		return threadRef{}, providers.Unsupported(p.id, fmt.Sprintf("a %s thread", kind))
	}
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}

func (p *Provider) thread(kind model.ThreadKind, ref string, t threadRef, title string) *model.Thread {
	th := &model.Thread{ProviderID: p.id, Kind: kind, Ref: ref, RoomRef: t.convRef()}
	if title != "" {
		th.Title = &title
	}
	return th
}

// Thread checks ref and fetches what the thread hangs off: the conversation,
// or the parent message.
func (p *Provider) Thread(ctx context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	t, err := p.parseThread(kind, ref)
	if err != nil {
		return nil, err
	}
	if t.msg == 0 {
		c, err := p.conversation(ctx, t.convRef())
		if err != nil {
			return nil, err
		}
		return p.thread(kind, ref, t, conversationName(p.id, c)), nil
	}
	parent, err := p.message(ctx, t, t.msg)
	if err != nil {
		return nil, err
	}
	title := ""
	if !parent.Deleted {
		title = parent.Message
		if utf8.RuneCountInString(title) > titleRunes {
			title = string([]rune(title)[:titleRunes-1]) + "…"
		}
	}
	return p.thread(kind, ref, t, title), nil
}

// conversation fetches one conversation and learns its participants.
func (p *Provider) conversation(ctx context.Context, id string) (*wireConversation, error) {
	body, err := p.call(ctx, providers.Request{Method: http.MethodGet, Endpoint: epConversation, Path: "/conversations/" + id})
	if err != nil {
		return nil, err
	}
	c, err := parseConversation(body)
	if err != nil {
		return nil, p.garbage("GET "+epConversation, err)
	}
	p.learnParticipants(c)
	return c, nil
}

func (p *Provider) learnParticipants(c *wireConversation) {
	users := make([]*model.User, 0, len(c.Participants))
	for i := range c.Participants {
		if c.Participants[i].ID > 0 {
			users = append(users, user(p.id, &c.Participants[i]))
		}
	}
	p.people.learnConversation(c.ID.String(), users, p.now())
}

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

// ListThreads lists the integration user's conversations, most recently
// active first. The cursor is the offset of the edge in that list; Ziik pages
// by number, so an offset that does not fall on a page boundary costs a
// second call.
func (p *Provider) ListThreads(ctx context.Context, page providers.Page) (*providers.ThreadPage, error) {
	n := clampSize(page.First)
	offset := 0
	if page.After != "" {
		o, err := strconv.Atoi(page.After)
		if err != nil || o < 0 || o >= maxOffset || strconv.Itoa(o) != page.After {
			return nil, p.badInput("after %q is not a Ziik thread cursor", truncate(page.After))
		}
		offset = o + 1
	}
	pageNo := offset/n + 1
	skip := offset % n
	first, err := p.conversations(ctx, pageNo, n)
	if err != nil {
		return nil, err
	}
	items := first.items
	more := first.hasMore
	if skip > 0 {
		items = items[min(skip, len(items)):]
		if more {
			second, err := p.conversations(ctx, pageNo+1, n)
			if err != nil {
				return nil, err
			}
			items = append(items, second.items...)
			more = second.hasMore
		}
		if len(items) > n {
			items, more = items[:n], true
		}
	}
	out := &providers.ThreadPage{HasNextPage: more}
	for i := range items {
		c := &items[i]
		if c.ID <= 0 {
			continue
		}
		p.learnParticipants(c)
		ref := c.ID.String()
		out.Edges = append(out.Edges, providers.ThreadEdge{
			Cursor: strconv.Itoa(offset + i),
			Thread: p.thread(model.ThreadKindConversation, ref, threadRef{conv: int64(c.ID)}, conversationName(p.id, c)),
		})
	}
	return out, nil
}

func (p *Provider) conversations(ctx context.Context, page, limit int) (*conversationPage, error) {
	q := url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(limit)}}
	body, err := p.call(ctx, providers.Request{Method: http.MethodGet, Endpoint: epConversations, Path: "/conversations?" + q.Encode()})
	if err != nil {
		return nil, err
	}
	pg, err := parseConversationPage(body, limit)
	if err != nil {
		return nil, p.garbage("GET "+epConversations, err)
	}
	return pg, nil
}

func clampSize(n int) int {
	switch {
	case n <= 0:
		return defaultPage
	case n > maxLimit:
		return maxLimit
	}
	return n
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

// comment maps m and finds its mentions.
func (p *Provider) comment(th *model.Thread, t threadRef, m *wireMessage) *model.Comment {
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
	segs, err := providers.ParseTemplate(in.Text, in.Mentions)
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) {
			me.Provider = p.id
		}
		return nil, err
	}
	parent := t.msg
	if in.ParentRef != "" {
		if parent, _ = parseID(in.ParentRef); parent == 0 {
			return nil, p.badInput("parent %q is not a Ziik message id", truncate(in.ParentRef))
		}
	}
	refs := make([]string, 0, len(in.Mentions))
	for _, m := range in.Mentions {
		refs = append(refs, m.UserRef)
	}
	mentioned, err := p.mentionedUsers(ctx, refs)
	if err != nil {
		return nil, err
	}
	text, _ := providers.Render(p.id, segs, func(ref string) string { return mentioned[ref].Name })
	if strings.TrimSpace(text) == "" {
		return nil, p.badInput("text is empty")
	}
	body := map[string]any{"message": text, "parent_id": nil}
	if parent != 0 {
		body["parent_id"] = parent
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
	return p.comment(in.Thread, t, m), nil
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

// Users looks users up one GET /users/{id} at a time (Ziik has no batch
// look-up), a few in parallel. Refs that are not Ziik ids, and users Ziik
// does not know, are left out.
func (p *Provider) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	out := make(map[string]*model.User, len(refs))
	var mu sync.Mutex
	err := p.lookup(ctx, refs, func(ctx context.Context, ref string) error {
		body, err := p.call(ctx, providers.Request{Method: http.MethodGet, Endpoint: epUser, Path: "/users/" + ref})
		if err != nil {
			return err
		}
		w, err := parseUser(body)
		if err != nil {
			return p.garbage("GET "+epUser, err)
		}
		u := user(p.id, w)
		p.people.learn(u)
		mu.Lock()
		out[ref] = u
		mu.Unlock()
		return nil
	})
	return out, err
}

// Rooms looks conversations up with GET /conversations/{id}. Conversations
// that do not exist or that the integration user may not see are left out.
func (p *Provider) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	out := make(map[string]*model.Room, len(refs))
	var mu sync.Mutex
	err := p.lookup(ctx, refs, func(ctx context.Context, ref string) error {
		c, err := p.conversation(ctx, ref)
		if err != nil {
			if model.IsCode(err, model.CodeForbidden) {
				return nil
			}
			return err
		}
		mu.Lock()
		out[ref] = room(p.id, c)
		mu.Unlock()
		return nil
	})
	return out, err
}

// lookup runs one look-up per distinct valid ref, lookupConcurrency at a
// time. NOT_FOUND answers are skipped; the first other error cancels the rest
// and is returned.
func (p *Provider) lookup(ctx context.Context, refs []string, one func(ctx context.Context, ref string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := make(map[string]bool, len(refs))
	sem := make(chan struct{}, lookupConcurrency)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for _, ref := range refs {
		if _, ok := parseID(ref); !ok || seen[ref] {
			continue
		}
		seen[ref] = true
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := one(ctx, ref); err != nil && !model.IsCode(err, model.CodeNotFound) {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return providers.TransportError(p.id, err)
	}
	return nil
}

func init() { providers.Register("ziik", build) }

// build is Ziik's factory: Ziik pushes no chat events, so the configured
// threads are polled; a ref with a ':' is a message thread, otherwise a
// conversation.
func build(cfg providers.Config, deps providers.Deps) (*providers.Instance, error) {
	p, err := New(Options{
		ID: cfg.ID, Name: cfg.Name, BaseURL: cfg.BaseURL, Email: cfg.Email, Password: cfg.Password,
		HTTPClient: deps.HTTPClient, Logger: deps.Logger, OnCall: deps.OnCall,
	})
	if err != nil {
		return nil, err
	}
	inst := &providers.Instance{Provider: p}
	for _, ref := range cfg.Threads {
		kind := model.ThreadKindConversation
		if strings.Contains(ref, ":") {
			kind = model.ThreadKindMessage
		}
		inst.Poll = append(inst.Poll, providers.PollThread{Kind: kind, Ref: ref})
	}
	return inst, nil
}
