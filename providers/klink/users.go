package klink

import (
	"context"
	"fmt"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Users answers from the Directory: K-LINK has no user endpoint, so a user is
// known once a payload named them.
func (p *Provider) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	users, err := p.dir.LookupUsers(ctx, p.scope, refs)
	if err != nil {
		return nil, fmt.Errorf("klink: user directory: %w", err)
	}
	return users, nil
}

// Rooms answers from the Directory, like Users.
func (p *Provider) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	rooms, err := p.dir.LookupRooms(ctx, p.scope, refs)
	if err != nil {
		return nil, fmt.Errorf("klink: room directory: %w", err)
	}
	return rooms, nil
}

// learnUsers remembers users a payload named. Learning is best effort: a
// Directory failure is logged, never the caller's failure.
func (p *Provider) learnUsers(ctx context.Context, users []*model.User) {
	if len(users) == 0 {
		return
	}
	if err := p.dir.RememberUsers(ctx, p.scope, users); err != nil {
		p.log.Warn("klink: remembering users failed", "err", err)
	}
}

// learnRoom remembers a room a payload named, and lists it; it returns the
// room as now known, or nil when there is nothing new to tell. A payload that
// names the room without a name (a comment list, a send-message answer) does
// not overwrite a name learned before.
func (p *Provider) learnRoom(ctx context.Context, id, name string) *model.Room {
	if checkRef(p.opts.ID, "room", id) != nil {
		return nil
	}
	p.addRoom(id)
	room := &model.Room{ProviderID: p.opts.ID, Ref: id}
	now := p.opts.Now()
	p.mu.Lock()
	fresh := now.Sub(p.remembered[id]) < rememberFor
	p.mu.Unlock()
	if name == "" && fresh {
		return nil
	}
	if name != "" {
		room.Name = &name
	} else {
		known, err := p.dir.LookupRooms(ctx, p.scope, []string{id})
		if err != nil {
			p.log.Warn("klink: room directory look-up failed", "err", err)
			return room
		}
		if k := known[id]; k != nil {
			p.markRemembered(id, now)
			return k
		}
	}
	if err := p.dir.RememberRooms(ctx, p.scope, []*model.Room{room}); err != nil {
		p.log.Warn("klink: remembering room failed", "err", err)
		return room
	}
	p.markRemembered(id, now)
	return room
}

func (p *Provider) markRemembered(id string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remembered[id] = now
}

func dedupUsers(us []*model.User) []*model.User {
	seen := make(map[string]bool, len(us))
	out := us[:0]
	for _, u := range us {
		if !seen[u.Ref] {
			seen[u.Ref] = true
			out = append(out, u)
		}
	}
	return out
}
