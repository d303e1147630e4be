package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Wrap returns p with its Users, Rooms and Thread look-ups served through the
// cache; every other method goes straight to p. scope names whose data this is: the
// provider instance and a fingerprint of its credential, e.g.
// "klink:" + providers.Fingerprint(token), so two credentials never see each
// other's entries. An empty scope means p.Info().ID alone.
//
// The maps it returns may share *model.User and *model.Room values with
// concurrent callers (one upstream fetch answers them all): treat them as
// read-only.
func (c *Cache) Wrap(p providers.Provider, scope string) providers.Provider {
	if scope == "" {
		scope = p.Info().ID
	}
	return &cached{Provider: p, c: c, scope: scope}
}

// cached is the decorator Wrap returns. The embedded Provider answers every
// method it does not override.
type cached struct {
	providers.Provider
	c     *Cache
	scope string
}

// Unwrap returns the provider Wrap was given, for callers that need its own
// methods (a webhook handler, say).
func (w *cached) Unwrap() providers.Provider { return w.Provider }

func (w *cached) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	return lookup(ctx, w.c, w.scope, kindUser, refs, w.Provider.Info().MaxBatch, w.Provider.Users)
}

func (w *cached) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	return lookup(ctx, w.c, w.scope, kindRoom, refs, w.Provider.Info().MaxBatch, w.Provider.Rooms)
}

var _ providers.UserPeeker = (*cached)(nil)

// PeekUsers answers refs from this process alone (see peek).
func (w *cached) PeekUsers(ctx context.Context, refs []string) map[string]*model.User {
	return peek[*model.User](ctx, w.c, w.scope, kindUser, refs)
}

// Thread caches a thread's metadata (title, room) and its existence, which
// nearly every query checks before listing comments: a warm page then costs
// one upstream round trip, not two. A thread the provider does not have is
// remembered for NegativeTTL; malformed refs and other errors are not cached.
func (w *cached) Thread(ctx context.Context, k model.ThreadKind, ref string) (*model.Thread, error) {
	id := string(k) + ":" + ref
	found, err := lookup(ctx, w.c, w.scope, kindThread, []string{id}, 1, func(ctx context.Context, _ []string) (map[string]*model.Thread, error) {
		th, err := w.Provider.Thread(ctx, k, ref)
		switch {
		case model.IsCode(err, model.CodeNotFound):
			return map[string]*model.Thread{}, nil
		case err != nil:
			return nil, err
		}
		w.c.indexThread(ctx, w.scope, id, th) // a miss: only then is the thread written
		return map[string]*model.Thread{id: th}, nil
	})
	if err != nil {
		return nil, err
	}
	th, ok := found[id]
	if !ok {
		return nil, &model.Error{Code: model.CodeNotFound, Provider: w.Provider.Info().ID, Message: "thread not found"}
	}
	return th, nil
}

type fetchFunc[T any] func(context.Context, []string) (map[string]T, error)

// lookup answers refs in the providers.Provider contract (a map of the found;
// absent means does not exist): one cache read for the whole batch, then one
// shared upstream fetch for the misses.
func lookup[T comparable](ctx context.Context, c *Cache, scope string, k kind, refs []string, maxBatch int, fetch fetchFunc[T]) (map[string]T, error) {
	refs, vals, since, err := readBatch(ctx, c, scope, k, refs)
	out := make(map[string]T, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	var missing []string
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		// Fail open: the upstream answers everything.
		c.m.count(k, resultError, len(refs))
		missing = refs
	} else {
		hits, negatives := 0, 0
		for i, v := range vals {
			switch {
			case v == nil:
				missing = append(missing, refs[i])
			case isNegative(v):
				negatives++
			default:
				got, ok := decode[T](v)
				if !ok {
					missing = append(missing, refs[i])
					continue
				}
				out[refs[i]] = got
				hits++
			}
		}
		c.m.count(k, resultHit, hits)
		c.m.count(k, resultNegativeHit, negatives)
		c.m.count(k, resultMiss, len(missing))
	}
	if len(missing) == 0 {
		return out, nil
	}
	fetched, err := fetchShared(ctx, c, scope, k, missing, maxBatch, since, fetch)
	if err != nil {
		return nil, err
	}
	for r, v := range fetched {
		out[r] = v
	}
	return out, nil
}

// flight is one upstream fetch of one key, which concurrent look-ups of the
// same key wait for instead of fetching again.
type flight struct {
	done  chan struct{}
	val   any // the T found, when found
	found bool
	err   error
	// waiters counts look-ups that joined this flight (guarded by Cache.mu).
	waiters int
}

// fetchShared fetches refs upstream with at most one fetch per key in flight
// in the process: keys another look-up is already fetching are waited for,
// the rest are fetched here (in MaxBatch chunks) and written back.
func fetchShared[T comparable](ctx context.Context, c *Cache, scope string, k kind, refs []string, maxBatch int, since uint64, fetch fetchFunc[T]) (map[string]T, error) {
	var own []string
	var ownFlights []*flight
	var ownKeys []string
	wait := make(map[string]*flight)
	c.mu.Lock()
	for _, r := range refs {
		fk := key(scope, k, r)
		if f, ok := c.inflight[fk]; ok {
			f.waiters++
			wait[r] = f
			continue
		}
		f := &flight{done: make(chan struct{})}
		c.inflight[fk] = f
		own, ownFlights, ownKeys = append(own, r), append(ownFlights, f), append(ownKeys, fk)
	}
	c.mu.Unlock()

	out := make(map[string]T, len(refs))
	if len(own) > 0 {
		found, err := fetchOwned(ctx, c, own, ownFlights, ownKeys, maxBatch, fetch)
		if err != nil {
			return nil, err
		}
		pick(out, found, own)
		writeBack(ctx, c, scope, k, own, found, since)
	}

	var retry []string
	for r, f := range wait {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err != nil {
			// The fetch we waited for died with its own caller's context;
			// ours is still alive, so fetch for ourselves.
			if isContextErr(f.err) && ctx.Err() == nil {
				retry = append(retry, r)
				continue
			}
			return nil, f.err
		}
		if f.found {
			out[r] = f.val.(T)
		}
	}
	if len(retry) > 0 {
		found, err := fetchChunks(ctx, retry, maxBatch, fetch)
		if err != nil {
			return nil, err
		}
		pick(out, found, retry)
		writeBack(ctx, c, scope, k, retry, found, since)
	}
	return out, nil
}

// fetchOwned fetches the refs this look-up owns and settles their flights,
// whatever happens (a panicking provider included), so no waiter hangs.
func fetchOwned[T comparable](ctx context.Context, c *Cache, refs []string, flights []*flight, keys []string, maxBatch int, fetch fetchFunc[T]) (found map[string]T, err error) {
	settled := false
	defer func() {
		if !settled {
			err = errors.New("cache: upstream fetch did not complete")
			found = nil
		}
		c.mu.Lock()
		for _, fk := range keys {
			delete(c.inflight, fk)
		}
		c.mu.Unlock()
		var zero T
		for i, f := range flights {
			if err != nil {
				f.err = err
			} else if v, ok := found[refs[i]]; ok && v != zero {
				f.val, f.found = v, true
			}
			close(f.done)
		}
	}()
	found, err = fetchChunks(ctx, refs, maxBatch, fetch)
	settled = true
	return found, err
}

// fetchChunks calls fetch with at most maxBatch refs at a time (all at once
// when maxBatch <= 0), the chunks in parallel. The first error fails all.
func fetchChunks[T any](ctx context.Context, refs []string, maxBatch int, fetch fetchFunc[T]) (map[string]T, error) {
	if maxBatch <= 0 || len(refs) <= maxBatch {
		found, err := fetch(ctx, refs)
		if err != nil {
			return nil, err
		}
		return found, nil
	}
	var chunks [][]string
	for start := 0; start < len(refs); start += maxBatch {
		chunks = append(chunks, refs[start:min(start+maxBatch, len(refs))])
	}
	results := make([]map[string]T, len(chunks))
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	for i, chunk := range chunks {
		wg.Go(func() { results[i], errs[i] = fetch(ctx, chunk) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out := make(map[string]T, len(refs))
	for _, m := range results {
		for r, v := range m {
			out[r] = v
		}
	}
	return out, nil
}

// pick copies into out the refs found holds, skipping nil values and
// anything the upstream sent that was not asked for.
func pick[T comparable](out, found map[string]T, refs []string) {
	var zero T
	for _, r := range refs {
		if v, ok := found[r]; ok && v != zero {
			out[r] = v
		}
	}
}

// writeBack stores what the upstream said about refs in one round trip: the
// found with TTL, the rest as not-found with NegativeTTL. A failure is only
// counted; the request already has its answer.
func writeBack[T comparable](ctx context.Context, c *Cache, scope string, k kind, refs []string, found map[string]T, since uint64) {
	var zero T
	entries := make([]entry, 0, len(refs))
	for _, r := range refs {
		v, ok := found[r]
		switch {
		case ok && v != zero:
			b, err := encode(v)
			if err != nil {
				continue
			}
			entries = append(entries, entry{key(scope, k, r), b, c.jittered(c.opts.TTL)})
		case c.opts.NegativeTTL > 0:
			entries = append(entries, entry{key(scope, k, r), negative, c.jittered(c.opts.NegativeTTL)})
		}
	}
	if len(entries) == 0 {
		return
	}
	c.keepNear(k, entries, since)
	_ = c.call(ctx, func(ctx context.Context) error { return c.store.set(ctx, entries) })
}

// indexThread adds the thread fetched for id to its room's set
// (kindRoomThreads), so that a change pushed for the room can drop it. The
// set outlives any thread entry in it (TTL with the most jitter).
func (c *Cache) indexThread(ctx context.Context, scope, id string, th *model.Thread) {
	if th == nil || th.RoomRef == "" {
		return
	}
	m := member{
		key: key(scope, kindRoomThreads, th.RoomRef), member: key(scope, kindThread, id),
		ttl: time.Duration(float64(c.opts.TTL) * (1 + c.opts.Jitter)), max: maxRoomThreads,
	}
	_ = c.call(ctx, func(ctx context.Context) error { return c.store.addMembers(ctx, []member{m}) })
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
