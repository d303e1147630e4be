package ziik

import (
	"context"
	"net/http"
	"sync"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// lookupConcurrency bounds parallel GET /users/{id} and
// GET /conversations/{id} calls in one Users or Rooms batch.
const lookupConcurrency = 8

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
