// Package loaders batches the look-ups a GraphQL response makes into one
// upstream call per provider and kind: a page of 50 comments from 5 senders
// asks each provider once for its 5 users, not 50 times.
//
// Loaders live for one response (one query, or one subscription event) and are
// reached through the context: With puts a fresh set in, For takes it out.
package loaders

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Options tunes batching.
type Options struct {
	// Wait is how long a loader collects keys before it calls the upstream.
	// Default 1ms: the library's 16ms default would be a latency floor on every
	// query, while resolvers of one response ask within microseconds of each other.
	Wait time.Duration
	// MaxBatch caps keys per upstream call when the provider states no limit of
	// its own (model.Provider.MaxBatch). Default 100.
	MaxBatch int
	// Unbatched makes every key its own upstream call, with no per-request
	// memo: the naive baseline benchmarks compare against. Default false.
	Unbatched bool
}

func (o Options) withDefaults() Options {
	if o.Wait <= 0 {
		o.Wait = time.Millisecond
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 100
	}
	return o
}

// ThreadKey names a thread of one provider.
type ThreadKey struct {
	Kind model.ThreadKind
	Ref  string
}

// CommentKey names a comment of one provider.
type CommentKey struct {
	Thread ThreadKey
	Ref    string
}

// Loaders is one response's set of loaders, one per provider and kind, made on
// first use.
type Loaders struct {
	reg  *providers.Registry
	opts Options

	mu    sync.Mutex
	users map[string]*dataloader.Loader[string, *model.User]
	// userCaches are the users loaders' memos, kept so Prefetch can answer
	// them (with errors too, which dataloader's Prime cannot).
	userCaches   map[string]*dataloader.InMemoryCache[string, *model.User]
	threadCaches map[string]*dataloader.InMemoryCache[ThreadKey, *model.Thread]
	rooms        map[string]*dataloader.Loader[string, *model.Room]
	threads      map[string]*dataloader.Loader[ThreadKey, *model.Thread]
	comments     map[string]*dataloader.Loader[CommentKey, *model.Comment]
}

// New makes an empty set for one response.
func New(reg *providers.Registry, opts Options) *Loaders {
	return &Loaders{
		reg:          reg,
		opts:         opts.withDefaults(),
		users:        make(map[string]*dataloader.Loader[string, *model.User]),
		userCaches:   make(map[string]*dataloader.InMemoryCache[string, *model.User]),
		threadCaches: make(map[string]*dataloader.InMemoryCache[ThreadKey, *model.Thread]),
		rooms:        make(map[string]*dataloader.Loader[string, *model.Room]),
		threads:      make(map[string]*dataloader.Loader[ThreadKey, *model.Thread]),
		comments:     make(map[string]*dataloader.Loader[CommentKey, *model.Comment]),
	}
}

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// For returns the loaders in ctx. Outside a response (a test, a background job)
// it returns a fresh set that batches nothing across calls, so callers never
// need a nil check.
func For(ctx context.Context, reg *providers.Registry) *Loaders {
	if l, ok := ctx.Value(ctxKey{}).(*Loaders); ok {
		return l
	}
	return New(reg, Options{})
}

// User loads one user. A user the provider does not have is NOT_FOUND.
func (l *Loaders) User(ctx context.Context, provider, ref string) (*model.User, error) {
	ld, memo, _, err := l.userLoaderAndCache(provider)
	if err != nil {
		return nil, err
	}
	return loadMemoFirst(ctx, ld, memo, ref)
}

// Users loads several users of one provider, in the order asked. The error
// slice always has one entry per ref (nil where the user loaded), unlike the
// library's LoadMany, which returns no slice at all when nothing failed.
func (l *Loaders) Users(ctx context.Context, provider string, refs []string) ([]*model.User, []error) {
	ld, err := l.userLoader(provider)
	if err != nil {
		errs := make([]error, len(refs))
		for i := range errs {
			errs[i] = err
		}
		return make([]*model.User, len(refs)), errs
	}
	users, errs := ld.LoadMany(ctx, refs)()
	if len(errs) != len(refs) {
		errs = make([]error, len(refs))
	}
	return users, errs
}

// Room loads one room. A room the provider does not have is NOT_FOUND.
func (l *Loaders) Room(ctx context.Context, provider, ref string) (*model.Room, error) {
	l.mu.Lock()
	ld, ok := l.rooms[provider]
	if !ok {
		p, err := l.reg.Get(provider)
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		ld = dataloader.NewBatchedLoader(batchLookup(p, "room", p.Rooms), batchOpts[*model.Room](l.opts, p)...)
		l.rooms[provider] = ld
	}
	l.mu.Unlock()
	return ld.Load(ctx, ref)()
}

// Thread loads one thread by its native reference.
func (l *Loaders) Thread(ctx context.Context, provider string, kind model.ThreadKind, ref string) (*model.Thread, error) {
	ld, memo, _, err := l.threadLoader(provider)
	if err != nil {
		return nil, err
	}
	return loadMemoFirst(ctx, ld, memo, ThreadKey{Kind: kind, Ref: ref})
}

// loadMemoFirst answers key from the loader's memo when it holds it (a
// prefetched page's users and threads: every sender and mention of a page is
// one), and through the loader otherwise. The loader would answer a memo hit
// too, but only after taking both its locks and calling its tracer, which
// allocates a closure per load, several per comment of a page. The
// memo has its own lock, and a key it holds is never batched again, so
// reading it first changes nothing the loader guarantees. memo may be nil
// (unbatched loaders keep none).
func loadMemoFirst[K comparable, V any](ctx context.Context, ld *dataloader.Loader[K, V], memo *dataloader.InMemoryCache[K, V], key K) (V, error) {
	if memo != nil {
		if th, ok := memo.Get(ctx, key); ok {
			return th()
		}
	}
	return ld.Load(ctx, key)()
}

// PrefetchThreads looks up now, in parallel (no upstream has a batch
// endpoint for threads), the threads of one provider a resolver is about to
// load one by one (a timeline's threads), and answers the threads loader
// with them, so those loads pay no batch window.
func (l *Loaders) PrefetchThreads(ctx context.Context, provider string, keys []ThreadKey) {
	if l.opts.Unbatched {
		return
	}
	_, memo, p, err := l.threadLoader(provider)
	if err != nil {
		return // the loads report it
	}
	prime(ctx, memo, keys, len(keys), threadLookup(p))
}

func (l *Loaders) threadLoader(provider string) (*dataloader.Loader[ThreadKey, *model.Thread], *dataloader.InMemoryCache[ThreadKey, *model.Thread], providers.Provider, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, err := l.reg.Get(provider)
	if err != nil {
		return nil, nil, nil, err
	}
	if ld, ok := l.threads[provider]; ok {
		return ld, l.threadCaches[provider], p, nil
	}
	memo := dataloader.NewCache[ThreadKey, *model.Thread]()
	ld := dataloader.NewBatchedLoader(threadLookup(p), dataloader.WithWait[ThreadKey, *model.Thread](l.opts.Wait), dataloader.WithCache[ThreadKey, *model.Thread](memo))
	l.threads[provider] = ld
	l.threadCaches[provider] = memo
	return ld, memo, p, nil
}

func threadLookup(p providers.Provider) dataloader.BatchFunc[ThreadKey, *model.Thread] {
	return eachInParallel(func(ctx context.Context, k ThreadKey) (*model.Thread, error) {
		return p.Thread(ctx, k.Kind, k.Ref)
	})
}

// Comment loads one comment of a thread (a comment's parent, a node by ID).
func (l *Loaders) Comment(ctx context.Context, provider string, key CommentKey) (*model.Comment, error) {
	l.mu.Lock()
	ld, ok := l.comments[provider]
	if !ok {
		p, err := l.reg.Get(provider)
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		ld = dataloader.NewBatchedLoader(eachInParallel(func(ctx context.Context, k CommentKey) (*model.Comment, error) {
			th, err := l.Thread(ctx, provider, k.Thread.Kind, k.Thread.Ref)
			if err != nil {
				return nil, err
			}
			return p.GetComment(ctx, th, k.Ref)
		}), dataloader.WithWait[CommentKey, *model.Comment](l.opts.Wait))
		l.comments[provider] = ld
	}
	l.mu.Unlock()
	return ld.Load(ctx, key)()
}

func (l *Loaders) userLoader(provider string) (*dataloader.Loader[string, *model.User], error) {
	ld, _, _, err := l.userLoaderAndCache(provider)
	return ld, err
}

func (l *Loaders) userLoaderAndCache(provider string) (*dataloader.Loader[string, *model.User], *dataloader.InMemoryCache[string, *model.User], providers.Provider, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, err := l.reg.Get(provider)
	if err != nil {
		return nil, nil, nil, err
	}
	if ld, ok := l.users[provider]; ok {
		return ld, l.userCaches[provider], p, nil
	}
	opts := batchOpts[*model.User](l.opts, p)
	var memo *dataloader.InMemoryCache[string, *model.User]
	if !l.opts.Unbatched {
		memo = dataloader.NewCache[string, *model.User]()
		opts = append(opts, dataloader.WithCache[string, *model.User](memo))
	}
	ld := dataloader.NewBatchedLoader(batchLookup(p, "user", p.Users), opts...)
	l.users[provider] = ld
	l.userCaches[provider] = memo
	return ld, memo, p, nil
}

// PrefetchUsers looks up, now, the users of one provider that a response is
// about to ask for one field at a time (a page's senders and mentioned
// users), in one batch call per MaxBatch refs, and answers the users loader
// with the results: found users, and per-key errors (NOT_FOUND, or the
// batch's failure) just as a batch of the loader would have. The loads the
// field resolvers make next are then answered from the loader's memo at once
// instead of each waiting out the batch window, so a page pays no batch wait
// and no per-field channel hand-off. Refs the loader has already seen are
// not fetched again. Unbatched loaders (the naive baseline) prefetch nothing.
func (l *Loaders) PrefetchUsers(ctx context.Context, provider string, refs []string) {
	if l.opts.Unbatched || len(refs) == 0 {
		return
	}
	_, memo, p, err := l.userLoaderAndCache(provider)
	if err != nil {
		return // the field loads report it, each at its path
	}
	n := p.Info().MaxBatch
	if n <= 0 || n > l.opts.MaxBatch {
		n = l.opts.MaxBatch
	}
	prime(ctx, memo, refs, n, batchLookup(p, "user", p.Users))
}

// PeekUsers answers the users loader's memo, for refs it has not seen, with
// what the provider holds in this process (providers.UserPeeker; a provider
// that is not one holds nothing), and returns the refs still unanswered,
// each once: a PrefetchUsers of no refs makes no call. It never waits on a
// call. Unbatched loaders keep no memo and peek nothing (none left: they
// prefetch nothing either).
func (l *Loaders) PeekUsers(ctx context.Context, provider string, refs []string) (left []string) {
	if l.opts.Unbatched || len(refs) == 0 {
		return nil
	}
	_, memo, p, err := l.userLoaderAndCache(provider)
	if err != nil {
		return nil // the field loads report it
	}
	todo := unseen(ctx, memo, refs)
	pk, ok := p.(providers.UserPeeker)
	if !ok || len(todo) == 0 {
		return todo
	}
	found := pk.PeekUsers(ctx, todo)
	for _, r := range todo {
		if u, ok := found[r]; ok {
			memo.Set(ctx, r, func() (*model.User, error) { return u, nil })
		} else {
			left = append(left, r)
		}
	}
	return left
}

// prime answers a loader's memo for keys it has not seen, calling fetch (a
// batch function, results in key order) once per n keys, chunks in parallel.
func prime[K comparable, V any](ctx context.Context, memo *dataloader.InMemoryCache[K, V], keys []K, n int, fetch dataloader.BatchFunc[K, V]) {
	todo := unseen(ctx, memo, keys)
	answer := func(keys []K) {
		defer func() {
			// A panicking upstream adapter fails these keys, as a loader's
			// batch does (dataloader's PanicErrorWrapper), not the process.
			if p := recover(); p != nil {
				err := fmt.Errorf("prefetch: panic in a batch look-up: %v", p)
				for _, k := range keys {
					memo.Set(ctx, k, func() (V, error) { var zero V; return zero, err })
				}
			}
		}()
		for i, r := range fetch(ctx, keys) {
			memo.Set(ctx, keys[i], func() (V, error) { return r.Data, r.Error })
		}
	}
	switch {
	case len(todo) == 0:
	case len(todo) <= n:
		answer(todo)
	default:
		var wg sync.WaitGroup
		for chunk := range slices.Chunk(todo, n) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answer(chunk)
			}()
		}
		wg.Wait()
	}
}

// unseen is keys the memo holds no answer for, each once, in first-seen
// order.
func unseen[K comparable, V any](ctx context.Context, memo *dataloader.InMemoryCache[K, V], keys []K) []K {
	var todo []K
	seen := make(map[K]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := memo.Get(ctx, k); !ok {
			todo = append(todo, k)
		}
	}
	return todo
}

// batchOpts caps each batch at what the upstream accepts in one call.
func batchOpts[V any](o Options, p providers.Provider) []dataloader.Option[string, V] {
	n := p.Info().MaxBatch
	if n <= 0 || n > o.MaxBatch {
		n = o.MaxBatch
	}
	if o.Unbatched {
		return []dataloader.Option[string, V]{
			dataloader.WithBatchCapacity[string, V](1),
			dataloader.WithWait[string, V](0),
			dataloader.WithCache[string, V](&dataloader.NoCache[string, V]{}),
		}
	}
	return []dataloader.Option[string, V]{
		dataloader.WithWait[string, V](o.Wait),
		dataloader.WithBatchCapacity[string, V](n),
	}
}

// batchLookup turns a provider's map-returning look-up into a batch function:
// results in key order, one per key, a missing key NOT_FOUND on its own.
func batchLookup[V any](p providers.Provider, what string, lookup func(context.Context, []string) (map[string]V, error)) dataloader.BatchFunc[string, V] {
	info := p.Info()
	return func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		out := make([]*dataloader.Result[V], len(keys))
		found, err := lookup(ctx, keys)
		for i, k := range keys {
			switch v, ok := found[k]; {
			case err != nil:
				out[i] = &dataloader.Result[V]{Error: err}
			case !ok:
				out[i] = &dataloader.Result[V]{Error: &model.Error{Code: model.CodeNotFound, Provider: info.ID, Message: what + " not found"}}
			default:
				out[i] = &dataloader.Result[V]{Data: v}
			}
		}
		return out
	}
}

// eachInParallel makes a batch function for upstreams with no batch endpoint:
// the keys of one batch are fetched concurrently, so N look-ups cost one
// round-trip time, not N.
func eachInParallel[K comparable, V any](one func(context.Context, K) (V, error)) dataloader.BatchFunc[K, V] {
	return func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		out := make([]*dataloader.Result[V], len(keys))
		var wg sync.WaitGroup
		for i, k := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if p := recover(); p != nil { // a panicking adapter fails its key, not the process
						out[i] = &dataloader.Result[V]{Error: fmt.Errorf("look-up panicked: %v", p)}
					}
				}()
				v, err := one(ctx, k)
				out[i] = &dataloader.Result[V]{Data: v, Error: err}
			}()
		}
		wg.Wait()
		return out
	}
}
