package klink

import (
	"context"
	"fmt"
	"slices"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Thread checks a room reference and that the room exists (one cheap list call).
func (p *Provider) Thread(ctx context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	if err := p.checkThread(kind, ref); err != nil {
		return nil, err
	}
	if _, err := p.fetchPage(ctx, ref, 1, 1); err != nil {
		return nil, err
	}
	p.learnRoom(ctx, ref, "")
	return p.thread(ctx, ref), nil
}

func (p *Provider) checkThread(kind model.ThreadKind, ref string) error {
	if kind != model.ThreadKindRoom {
		return providers.Unsupported(p.opts.ID, fmt.Sprintf("thread kind %s", kind))
	}
	return checkRef(p.opts.ID, "room", ref)
}

func (p *Provider) thread(ctx context.Context, roomID string) *model.Thread {
	t := &model.Thread{ProviderID: p.opts.ID, Kind: model.ThreadKindRoom, Ref: roomID, RoomRef: roomID}
	rooms, err := p.dir.LookupRooms(ctx, p.scope, []string{roomID})
	if err != nil {
		p.log.Warn("klink: room directory look-up failed", "err", err)
	} else if r := rooms[roomID]; r != nil && r.Name != nil {
		t.Title = r.Name
	}
	return t
}

// ListThreads lists the configured rooms, then the ones learned, forward only.
// A cursor is the room id of the previous page's last edge.
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
	names, err := p.dir.LookupRooms(ctx, p.scope, rooms[start:end])
	if err != nil {
		p.log.Warn("klink: room directory look-up failed", "err", err)
	}
	out := &providers.ThreadPage{HasNextPage: end < len(rooms)}
	for _, r := range rooms[start:end] {
		t := &model.Thread{ProviderID: p.opts.ID, Kind: model.ThreadKindRoom, Ref: r, RoomRef: r}
		if room := names[r]; room != nil {
			t.Title = room.Name
		}
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
