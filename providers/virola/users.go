package virola

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Users looks users up in the user list (Virola has only the full list).
func (p *Provider) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	return lookup(refs, func(need []string) (map[string]*model.User, error) {
		l, err := p.userDirectory(ctx, need...)
		if err != nil {
			return nil, err
		}
		return l.byRef, nil
	})
}

// Rooms looks rooms up in the caller's room list.
func (p *Provider) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	return lookup(refs, func(need []string) (map[string]*model.Room, error) {
		l, err := p.roomDirectory(ctx, need...)
		if err != nil {
			return nil, err
		}
		return l.byRef, nil
	})
}

// lookup finds refs in the list directory returns, asked for the refs that
// can be Virola ids; the others are not found, without a call.
func lookup[T any](refs []string, directory func(need []string) (map[string]*T, error)) (map[string]*T, error) {
	valid := slices.DeleteFunc(slices.Clone(refs), func(r string) bool { _, ok := parseRef(r); return !ok })
	out := make(map[string]*T, len(refs))
	if len(valid) == 0 {
		return out, nil
	}
	byRef, err := directory(valid)
	if err != nil {
		return nil, err
	}
	for _, r := range valid {
		if v, ok := byRef[r]; ok {
			out[r] = v
		}
	}
	return out, nil
}

// userList is one fetch of GET /users, mapped.
type userList struct {
	fetched time.Time
	byRef   map[string]*model.User
	names   *nameIndex
}

// userDirectory returns the user list, fetching it when it is older than
// DirectoryTTL or lacks one of need. When a fetch fails an older list is used
// if there is one, since mentions and names from a minute ago beat no comments.
func (p *Provider) userDirectory(ctx context.Context, need ...string) (*userList, error) {
	p.mu.Lock()
	cur := p.users
	p.mu.Unlock()
	if cur != nil && p.opts.Now().Sub(cur.fetched) < p.opts.DirectoryTTL && hasAll(cur.byRef, need) {
		return cur, nil
	}
	v, err, _ := p.flight.Do("users", func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it or stops it
		var body struct {
			Users []apiUser `json:"users"`
		}
		if _, err := p.call.JSON(ctx, providers.Request{Method: http.MethodGet, Endpoint: epUsers, Path: epUsers}, &body); err != nil {
			return nil, err
		}
		l := p.mapUsers(body.Users)
		p.mu.Lock()
		p.users = l
		p.mu.Unlock()
		return l, nil
	})
	if err != nil {
		if cur != nil {
			p.log.Warn("virola: user list refresh failed; using the previous one", "err", err)
			return cur, nil
		}
		return nil, err
	}
	return v.(*userList), nil
}

// roomList is one fetch of GET /rooms, mapped.
type roomList struct {
	fetched time.Time
	rooms   []apiRoom
	byRef   map[string]*model.Room
}

// roomDirectory returns the caller's rooms, like userDirectory.
func (p *Provider) roomDirectory(ctx context.Context, need ...string) (*roomList, error) {
	p.mu.Lock()
	cur := p.rooms
	p.mu.Unlock()
	if cur != nil && p.opts.Now().Sub(cur.fetched) < p.opts.DirectoryTTL && hasAll(cur.byRef, need) {
		return cur, nil
	}
	v, err, _ := p.flight.Do("rooms", func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it or stops it
		var body struct {
			Rooms []apiRoom `json:"rooms"`
		}
		if _, err := p.call.JSON(ctx, providers.Request{Method: http.MethodGet, Endpoint: epRooms, Path: epRooms}, &body); err != nil {
			return nil, err
		}
		l := &roomList{fetched: p.opts.Now(), rooms: body.Rooms, byRef: make(map[string]*model.Room, len(body.Rooms))}
		for i := range body.Rooms {
			r := p.toRoom(&body.Rooms[i])
			l.byRef[r.Ref] = r
		}
		p.mu.Lock()
		p.rooms = l
		p.mu.Unlock()
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*roomList), nil
}

// forgetRooms drops the cached room list, after the events stream said a room
// changed.
func (p *Provider) forgetRooms() {
	p.mu.Lock()
	p.rooms = nil
	p.mu.Unlock()
}

func hasAll[V any](m map[string]V, refs []string) bool {
	for _, r := range refs {
		if _, ok := m[r]; !ok {
			return false
		}
	}
	return true
}
