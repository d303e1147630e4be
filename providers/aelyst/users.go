package aelyst

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"golang.org/x/sync/errgroup"
)

// Users looks space users up by id, GET /space/user/{id} each (Aelyst has no
// batch look-up). Answers are kept briefly so rendering mentions does not
// spend the rate limit on the same people again.
func (p *Provider) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	out := make(map[string]*model.User, len(refs))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupParallelism)
	for _, ref := range dedupe(refs) {
		if !validUserRef(ref) {
			continue // not a user id: it does not exist
		}
		g.Go(func() error {
			u, err := p.user(gctx, ref)
			if err != nil {
				return err
			}
			if u != nil {
				mu.Lock()
				out[ref] = u
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func validUserRef(ref string) bool {
	n, err := strconv.ParseInt(ref, 10, 64)
	return err == nil && n > 0 && ref[0] != '+' && ref[0] != '0'
}

// user returns one user (nil when there is none), from the cache when fresh.
func (p *Provider) user(ctx context.Context, ref string) (*model.User, error) {
	now := p.now()
	p.mu.Lock()
	c, ok := p.users[ref]
	p.mu.Unlock()
	if ok {
		ttl := userTTL
		if c.user == nil {
			ttl = missingUserTTL
		}
		if now.Sub(c.at) < ttl {
			return c.user, nil
		}
	}
	v, err, _ := p.flight.Do("user\x00"+ref, func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it or stops it
		var raw jsonRaw
		err := p.call(ctx, false, providers.Request{
			Method:   "GET",
			Endpoint: "/space/user/{id}",
			Path:     "/space/user/" + ref,
		}, &raw)
		var u *model.User
		switch {
		case model.IsCode(err, model.CodeNotFound):
		case err != nil:
			return (*model.User)(nil), err
		default:
			uj, derr := decodeUser(raw)
			if derr != nil {
				return (*model.User)(nil), providers.GarbageError(p.opts.ID, fmt.Errorf("GET /space/user/{id}: %w", derr))
			}
			u = p.userOf(uj)
		}
		p.mu.Lock()
		p.users[ref] = cachedUser{user: u, at: now}
		p.mu.Unlock()
		return u, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*model.User), nil
}

// Rooms looks contacts up by numeric id (Thread.RoomRef), one call each.
func (p *Provider) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	out := make(map[string]*model.Room, len(refs))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupParallelism)
	for _, ref := range dedupe(refs) {
		id, err := strconv.ParseInt(ref, 10, 64)
		if err != nil || id <= 0 || ref[0] == '+' || ref[0] == '0' {
			continue // not a contact id: it does not exist
		}
		g.Go(func() error {
			c, err := p.getContact(gctx, contactIdentifier(id))
			if model.IsCode(err, model.CodeNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			out[ref] = p.roomOf(c)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func dedupe(refs []string) []string {
	seen := make(map[string]bool, len(refs))
	out := refs[:0:0]
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
