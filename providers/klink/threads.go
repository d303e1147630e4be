package klink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Thread checks a room reference and that the room exists (reading its
// comments), and titles it (see title).
func (p *Provider) Thread(ctx context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	if err := p.checkThread(kind, ref); err != nil {
		return nil, err
	}
	t := &model.Thread{ProviderID: p.opts.ID, Kind: model.ThreadKindRoom, Ref: ref, RoomRef: ref}
	name := p.roomNames(ctx, []string{ref})[ref]
	if name != "" {
		if _, err := p.fetchPage(ctx, ref, 1, 1); err != nil {
			return nil, err
		}
		t.Title = &name
		// The Directory has just shown the room: learnRoom would look it up
		// again.
		p.addRoom(ref)
		p.markRemembered(ref, p.opts.Now())
		return t, nil
	}
	// Reading the latest comment checks the room exists too.
	text, err := p.latestText(ctx, ref)
	if err != nil {
		return nil, err
	}
	t.Title = titleOf(text)
	p.learnRoom(ctx, ref, "")
	return t, nil
}

func (p *Provider) checkThread(kind model.ThreadKind, ref string) error {
	if kind != model.ThreadKindRoom {
		return providers.Unsupported(p.opts.ID, fmt.Sprintf("thread kind %s", kind))
	}
	return checkRef(p.opts.ID, "room", ref)
}

// A room's title is its contact's name: a K-LINK room is the conversation
// with one contact, and the name is learned from the webhooks that carry the
// contact (message events, contact.create) into the Directory. K-LINK has no
// room or contact-of-room endpoint, so a room no webhook has named yet is
// titled from its latest comment's text instead (the only messages of a room
// K-LINK lets the gateway list; see latestText): its first line, at most
// maxTitleRunes code points, "…" marking a cut. A room with neither is
// untitled.
const maxTitleRunes = 80

// titleOf makes a title of a message's text; nil when it has none.
func titleOf(text string) *string {
	for line := range strings.Lines(text) {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if utf8.RuneCountInString(line) > maxTitleRunes {
			line = string([]rune(line)[:maxTitleRunes-1]) + "…"
		}
		return &line
	}
	return nil
}

// roomNames answers the rooms' contact names from the Directory, "" where
// none is known. A Directory failure is logged and answers no names.
func (p *Provider) roomNames(ctx context.Context, ids []string) map[string]string {
	out := make(map[string]string, len(ids))
	rooms, err := p.dir.LookupRooms(ctx, p.scope, ids)
	if err != nil {
		p.log.Warn("klink: room directory look-up failed", "err", err)
		return out
	}
	for id, r := range rooms {
		if r != nil && r.Name != nil {
			out[id] = strings.TrimSpace(*r.Name)
		}
	}
	return out
}

// latestText reads the text of a room's newest comment: "" when the room has
// none, or when it lies out of cheap reach. The list's order is undocumented,
// so it costs at most two calls: page 1, and, when page 1 is not the whole
// list and holds the oldest comments, the last page the legacy block names.
// An oldest-first list without that block would need every page read, so
// such a room goes untitled rather than cost a scan (and a failure on the
// second page only costs the title: page 1 showed the room exists).
func (p *Provider) latestText(ctx context.Context, room string) (string, error) {
	s := p.newScan(room)
	l, err := s.fetch(ctx, 1)
	if err != nil {
		return "", err
	}
	page := itemsOf(l.Data)
	if len(page) == 0 {
		return "", nil
	}
	if newestFirst(page) {
		return page[0].c.Text, nil
	}
	if s.isLast(l, 1) {
		return page[len(page)-1].c.Text, nil
	}
	if l.LastPage == nil || *l.LastPage <= 1 {
		p.log.Debug("klink: room lists oldest first without a page count; untitled", "room", room)
		return "", nil
	}
	last, err := s.fetch(ctx, *l.LastPage)
	if err != nil {
		p.log.Warn("klink: could not read a room's last page for its title", "room", room, "err", err)
		return "", nil
	}
	if len(last.Data) == 0 {
		return page[len(page)-1].c.Text, nil // the list shrank meanwhile
	}
	return last.Data[len(last.Data)-1].Text, nil
}

func itemsOf(cs []wireComment) []item {
	out := make([]item, len(cs))
	for i := range cs {
		at, _ := parseTime(cs[i].CreatedAt)
		out[i] = item{c: cs[i], at: at}
	}
	return out
}

// titleReads bounds the rooms one ListThreads page reads at once for titles.
const titleReads = 4

// ListThreads lists the configured rooms, then the ones learned, forward only.
// A cursor is the room id of the previous page's last edge. Each room is
// titled as Thread titles it; a room whose latest comment cannot be read is
// listed untitled (and logged) rather than failing the page.
func (p *Provider) ListThreads(ctx context.Context, page providers.Page) (*providers.ThreadPage, error) {
	if page.Last > 0 || page.Before != "" {
		return nil, providers.Unsupported(p.opts.ID, "listing threads backward")
	}
	if page.First <= 0 {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "first must be positive"}
	}
	p.mu.Lock()
	rooms := slices.Clone(p.rooms)
	p.mu.Unlock()
	start := 0
	if page.After != "" {
		i := slices.Index(rooms, page.After)
		if i < 0 {
			return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "after is not a cursor of this list"}
		}
		start = i + 1
	}
	end := min(start+page.First, len(rooms))
	ids := rooms[start:end]
	names := p.roomNames(ctx, ids)
	titles := make([]*string, len(ids))
	var g errgroup.Group
	g.SetLimit(titleReads)
	for i, r := range ids {
		if n := names[r]; n != "" {
			titles[i] = &n
			continue
		}
		g.Go(func() error {
			text, err := p.latestText(ctx, r)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				p.log.Warn("klink: could not read a room's latest comment for its title", "room", r, "err", err)
				return nil
			}
			titles[i] = titleOf(text)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := &providers.ThreadPage{HasNextPage: end < len(rooms)}
	for i, r := range ids {
		t := &model.Thread{ProviderID: p.opts.ID, Kind: model.ThreadKindRoom, Ref: r, RoomRef: r, Title: titles[i]}
		out.Edges = append(out.Edges, providers.ThreadEdge{Cursor: r, Thread: t})
	}
	return out, nil
}

// addRoom adds a room id to the list ListThreads serves; false if it was there.
func (p *Provider) addRoom(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.roomSet[id] {
		return false
	}
	p.roomSet[id] = true
	p.rooms = append(p.rooms, id)
	return true
}
