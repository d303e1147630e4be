package ziik

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

const (
	// maxOffset bounds a ListThreads cursor.
	maxOffset = 1_000_000
	// titleRunes bounds a MESSAGE thread's title (the parent's text).
	titleRunes = 120
)

// threadRef is a parsed thread reference: a conversation, or a parent message
// in one (msg > 0).
type threadRef struct {
	conv, msg int64
}

func (t threadRef) convRef() string { return strconv.FormatInt(t.conv, 10) }

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
