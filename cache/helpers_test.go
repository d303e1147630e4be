package cache

import (
	"context"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers"
)

// upstream is a small in-process provider that counts what it is asked. It
// returns fresh copies on every call, as a real HTTP adapter would.
type upstream struct {
	info *model.Provider

	mu          sync.Mutex
	users       map[string]model.User
	rooms       map[string]model.Room
	userCalls   [][]string
	roomCalls   [][]string
	otherCalls  int
	threadCalls int
	err         error
	// gate, when set, holds Users until it is closed; entered receives one
	// value (without blocking) each time Users starts waiting on it.
	gate    chan struct{}
	entered chan struct{}
}

var _ providers.Provider = (*upstream)(nil)

func newUpstream(id string, maxBatch int) *upstream {
	return &upstream{
		info:  &model.Provider{ID: id, Kind: model.ProviderKindKlink, Name: id, MaxBatch: maxBatch},
		users: make(map[string]model.User),
		rooms: make(map[string]model.Room),
	}
}

func (u *upstream) addUser(ref, name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.users[ref] = model.User{ProviderID: u.info.ID, Ref: ref, Name: name}
}

func (u *upstream) addRoom(ref, name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rooms[ref] = model.Room{ProviderID: u.info.ID, Ref: ref, Name: &name}
}

func (u *upstream) setErr(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.err = err
}

func (u *upstream) Info() *model.Provider { return u.info }

// Thread answers any ref, except "missing…" (NOT_FOUND) and "bad…"
// (BAD_USER_INPUT); threadCalls counts the calls. A ref "t@r" is a thread
// of room r (Thread.RoomRef).
func (u *upstream) Thread(_ context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.otherCalls++
	u.threadCalls++
	switch {
	case strings.HasPrefix(ref, "missing"):
		return nil, &model.Error{Code: model.CodeNotFound, Provider: u.info.ID, Message: "no such thread"}
	case strings.HasPrefix(ref, "bad"):
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: u.info.ID, Message: "malformed ref"}
	}
	title := "Title of " + ref
	th := &model.Thread{ProviderID: u.info.ID, Kind: kind, Ref: ref, Title: &title}
	if _, room, ok := strings.Cut(ref, "@"); ok { // "t1@r1" hangs off room r1
		th.RoomRef = room
	}
	return th, nil
}

func (u *upstream) ListThreads(context.Context, providers.Page) (*providers.ThreadPage, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.otherCalls++
	return &providers.ThreadPage{}, nil
}

func (u *upstream) ListComments(context.Context, *model.Thread, providers.Page) (*providers.CommentPage, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.otherCalls++
	return &providers.CommentPage{}, nil
}

func (u *upstream) GetComment(_ context.Context, _ *model.Thread, ref string) (*model.Comment, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.otherCalls++
	return &model.Comment{ProviderID: u.info.ID, Ref: ref}, nil
}

func (u *upstream) CreateComment(_ context.Context, in providers.CommentInput) (*model.Comment, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.otherCalls++
	return &model.Comment{ProviderID: u.info.ID, Text: in.Text}, nil
}

func (u *upstream) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	u.mu.Lock()
	u.userCalls = append(u.userCalls, slices.Clone(refs))
	gate, entered, err := u.gate, u.entered, u.err
	u.mu.Unlock()
	if gate != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	if u.info.MaxBatch > 0 && len(refs) > u.info.MaxBatch {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: u.info.ID, Message: "too many refs"}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]*model.User)
	for _, r := range refs {
		if v, ok := u.users[r]; ok {
			out[r] = &v
		}
	}
	return out, nil
}

func (u *upstream) Rooms(_ context.Context, refs []string) (map[string]*model.Room, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.roomCalls = append(u.roomCalls, slices.Clone(refs))
	if u.err != nil {
		return nil, u.err
	}
	out := make(map[string]*model.Room)
	for _, r := range refs {
		if v, ok := u.rooms[r]; ok {
			out[r] = &v
		}
	}
	return out, nil
}

func (u *upstream) userFetches() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.userCalls)
}

func (u *upstream) roomFetches() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.roomCalls)
}

func newClock() *clocktest.Clock { return clocktest.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) }

// redisCounter is a go-redis hook that counts what reaches the client: single
// commands, pipelines (each one round trip), and dials.
type redisCounter struct {
	commands, pipelines, dials atomic.Int64
}

func (h *redisCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.dials.Add(1)
		return next(ctx, network, addr)
	}
}

func (h *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.commands.Add(1)
		return next(ctx, cmd)
	}
}

func (h *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		return next(ctx, cmds)
	}
}

// roundTrips is every command or pipeline sent so far.
func (h *redisCounter) roundTrips() int64 { return h.commands.Load() + h.pipelines.Load() }

// countingStore counts store calls, for both backends alike.
type countingStore struct {
	store
	gets, sets, dels atomic.Int64
}

func (s *countingStore) get(ctx context.Context, keys []string) ([][]byte, error) {
	s.gets.Add(1)
	return s.store.get(ctx, keys)
}

func (s *countingStore) set(ctx context.Context, entries []entry) error {
	s.sets.Add(1)
	return s.store.set(ctx, entries)
}

func (s *countingStore) del(ctx context.Context, keys []string) error {
	s.dels.Add(1)
	return s.store.del(ctx, keys)
}

// env is one cache under test with what the behaviour table needs to look
// inside its backend.
type env struct {
	c      *Cache
	clock  *clocktest.Clock
	calls  *countingStore
	redis  *redisCounter     // nil for memory
	rdb    *redis.Client     // nil for memory; a client of its own, uncounted
	server *redistest.Server // nil for memory
	mem    *memoryStore      // nil for Redis
	pttlFn func(string) time.Duration
}

// pttl is what is left of key's life; 0 when it is gone.
func (e *env) pttl(t *testing.T, key string) time.Duration {
	t.Helper()
	return e.pttlFn(key)
}

// expire waits until key has expired: on the fake clock for memory, by
// watching the key (deadline-bounded) for Redis, whose clock is real.
func (e *env) expire(t *testing.T, key string, ttl time.Duration) {
	t.Helper()
	if e.mem != nil {
		e.clock.Advance(ttl + time.Millisecond)
		return
	}
	// Not PTTL <= 0: PTTL says 0 while less than a millisecond is left, and a
	// read in that window still finds the value. Wait until a read finds none
	// (through the store beneath the counter, so round-trip counts hold).
	waitFor(t, "key "+key+" to expire", func() bool {
		vals, err := e.calls.store.get(context.Background(), []string{key})
		return err == nil && len(vals) == 1 && vals[0] == nil
	})
}

// rawSet writes a raw value straight into the backend.
func (e *env) rawSet(t *testing.T, key string, value []byte) {
	t.Helper()
	if err := e.calls.store.set(context.Background(), []entry{{key, value, time.Minute}}); err != nil {
		t.Fatal(err)
	}
}

type backend struct {
	name string
	open func(t *testing.T, o Options) *env
}

var backends = []backend{
	{"memory", openMemory},
	{"redis", openRedis},
}

func openMemory(t *testing.T, o Options) *env {
	t.Helper()
	clk := newClock()
	o.Now = clk.Now
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mem := c.store.(*memoryStore)
	cs := &countingStore{store: mem}
	c.store = cs
	return &env{c: c, clock: clk, calls: cs, mem: mem, pttlFn: mem.ttl}
}

func openRedis(t *testing.T, o Options) *env {
	t.Helper()
	srv := redistest.MustStart(t)
	rdb, err := NewRedisClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	// Open the connections first, so the hook counts the cache's own round
	// trips and not go-redis's connection handshake (HELLO, CLIENT SETINFO).
	warm := context.Background()
	if err := rdb.Ping(warm).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := rdb.Pipelined(warm, func(p redis.Pipeliner) error { return p.Ping(warm).Err() }); err != nil {
		t.Fatal(err)
	}
	hook := &redisCounter{}
	rdb.AddHook(hook)
	clk := newClock()
	o.Redis, o.Now = rdb, clk.Now
	if o.NearTTL == 0 {
		// The users and rooms near store turns on when its subscription is
		// confirmed, asynchronously: tests counting Redis reads would race
		// it. The near store's own tests ask for it.
		o.NearTTL = -1
	}
	if o.CallTimeout == 0 {
		// Generous for a loaded test machine; the slow-Redis test sets its own.
		o.CallTimeout = 2 * time.Second
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{store: c.store}
	c.store = cs
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	side := redis.NewClient(opt)
	t.Cleanup(func() { _ = side.Close() })
	pttl := func(key string) time.Duration {
		d, err := side.PTTL(context.Background(), key).Result()
		if err != nil || d < 0 {
			return 0
		}
		return d
	}
	return &env{c: c, clock: clk, calls: cs, redis: hook, rdb: side, server: srv, pttlFn: pttl}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func names(m map[string]*model.User) map[string]string {
	out := make(map[string]string, len(m))
	for r, u := range m {
		out[r] = u.Name
	}
	return out
}

func mustUsers(t *testing.T, p providers.Provider, refs ...string) map[string]string {
	t.Helper()
	got, err := p.Users(context.Background(), refs)
	if err != nil {
		t.Fatalf("Users(%q): %v", refs, err)
	}
	return names(got)
}

func equalNames(t *testing.T, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
