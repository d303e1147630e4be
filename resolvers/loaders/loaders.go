// Package loaders batches the look-ups a GraphQL response makes into one
// upstream call per provider and kind: a page of 50 comments from 5 senders
// asks each provider once for its 5 users, not 50 times.
//
// Loaders live for one response (one query, or one subscription event) and are
// reached through the context: Middleware puts a fresh set in, For takes it out.
package loaders

import (
	"context"
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

	mu       sync.Mutex
	users    map[string]*dataloader.Loader[string, *model.User]
	rooms    map[string]*dataloader.Loader[string, *model.Room]
	threads  map[string]*dataloader.Loader[ThreadKey, *model.Thread]
	comments map[string]*dataloader.Loader[CommentKey, *model.Comment]
}

// New makes an empty set for one response.
func New(reg *providers.Registry, opts Options) *Loaders {
	return &Loaders{
		reg:      reg,
		opts:     opts.withDefaults(),
		users:    make(map[string]*dataloader.Loader[string, *model.User]),
		rooms:    make(map[string]*dataloader.Loader[string, *model.Room]),
		threads:  make(map[string]*dataloader.Loader[ThreadKey, *model.Thread]),
		comments: make(map[string]*dataloader.Loader[CommentKey, *model.Comment]),
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
	ld, err := l.userLoader(provider)
	if err != nil {
		return nil, err
	}
	return ld.Load(ctx, ref)()
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
	l.mu.Lock()
	ld, ok := l.threads[provider]
	if !ok {
		p, err := l.reg.Get(provider)
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		ld = dataloader.NewBatchedLoader(eachInParallel(func(ctx context.Context, k ThreadKey) (*model.Thread, error) {
			return p.Thread(ctx, k.Kind, k.Ref)
		}), dataloader.WithWait[ThreadKey, *model.Thread](l.opts.Wait))
		l.threads[provider] = ld
	}
	l.mu.Unlock()
	return ld.Load(ctx, ThreadKey{Kind: kind, Ref: ref})()
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
	l.mu.Lock()
	defer l.mu.Unlock()
	if ld, ok := l.users[provider]; ok {
		return ld, nil
	}
	p, err := l.reg.Get(provider)
	if err != nil {
		return nil, err
	}
	ld := dataloader.NewBatchedLoader(batchLookup(p, "user", p.Users), batchOpts[*model.User](l.opts, p)...)
	l.users[provider] = ld
	return ld, nil
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
				v, err := one(ctx, k)
				out[i] = &dataloader.Result[V]{Data: v, Error: err}
			}()
		}
		wg.Wait()
		return out
	}
}
