package providers

import (
	"context"
	"sync"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Directory remembers users and rooms that payloads name, for providers with no
// directory endpoint (K-LINK): what a comment's sender or mention says is all
// the gateway will ever know of that user. The cache package implements it over
// Redis so every gateway instance shares what one learned; MemoryDirectory is
// the single-instance default.
//
// scope is the provider instance plus a fingerprint of its credential, so one
// credential's view never answers for another.
type Directory interface {
	RememberUsers(ctx context.Context, scope string, users []*model.User) error
	LookupUsers(ctx context.Context, scope string, refs []string) (map[string]*model.User, error)
	RememberRooms(ctx context.Context, scope string, rooms []*model.Room) error
	LookupRooms(ctx context.Context, scope string, refs []string) (map[string]*model.Room, error)
}

// MemoryDirectory is a Directory in process memory. The zero value is ready.
type MemoryDirectory struct {
	mu    sync.RWMutex
	users map[string]*model.User
	rooms map[string]*model.Room
}

func (d *MemoryDirectory) RememberUsers(_ context.Context, scope string, users []*model.User) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.users == nil {
		d.users = make(map[string]*model.User)
	}
	for _, u := range users {
		if u != nil && u.Ref != "" {
			d.users[scope+"\x00"+u.Ref] = u
		}
	}
	return nil
}

func (d *MemoryDirectory) LookupUsers(_ context.Context, scope string, refs []string) (map[string]*model.User, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make(map[string]*model.User, len(refs))
	for _, r := range refs {
		if u, ok := d.users[scope+"\x00"+r]; ok {
			out[r] = u
		}
	}
	return out, nil
}

func (d *MemoryDirectory) RememberRooms(_ context.Context, scope string, rooms []*model.Room) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rooms == nil {
		d.rooms = make(map[string]*model.Room)
	}
	for _, r := range rooms {
		if r != nil && r.Ref != "" {
			d.rooms[scope+"\x00"+r.Ref] = r
		}
	}
	return nil
}

func (d *MemoryDirectory) LookupRooms(_ context.Context, scope string, refs []string) (map[string]*model.Room, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make(map[string]*model.Room, len(refs))
	for _, r := range refs {
		if room, ok := d.rooms[scope+"\x00"+r]; ok {
			out[r] = room
		}
	}
	return out, nil
}
