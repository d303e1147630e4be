package credstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/internal/redistest"
)

const (
	testKey  = "test-credential-key-0123456789abcdef"
	otherKey = "another-credential-key-fedcba9876543210"
	secret   = "tok_live_S3CR3T-value-for-tests"
	provider = "virola"
)

var alice = Owner{Tenant: "acme", Issuer: "https://id.example.com", User: "alice-user-id-42"}

// backendEnv is one backend's storage, shared by every Store it opens.
type backendEnv struct {
	// open returns a Store with key over this storage.
	open func(t *testing.T, key string, opts Options) Store
	// raw returns every stored key and value, as the backend holds them.
	raw func(t *testing.T) map[string][]byte
	// write stores value at key, bypassing the Store.
	write func(t *testing.T, key string, value []byte)
	// srv is the private Redis; nil for the memory backend.
	srv *redistest.Server
}

var backends = []struct {
	name string
	new  func(t *testing.T) *backendEnv
}{
	{"memory", newMemoryEnv},
	{"redis", newRedisEnv},
}

// forEachBackend runs f once per backend, each with fresh storage.
func forEachBackend(t *testing.T, f func(t *testing.T, env *backendEnv)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.new(t)) })
	}
}

func newMemoryEnv(t *testing.T) *backendEnv {
	mb := newMemoryBackend(time.Now, DefaultMaxEntries)
	return &backendEnv{
		open: func(t *testing.T, key string, opts Options) Store {
			t.Helper()
			s, err := newStore(key, mb, opts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		raw: func(*testing.T) map[string][]byte {
			mb.mu.Lock()
			defer mb.mu.Unlock()
			out := map[string][]byte{}
			for k, e := range mb.items {
				out[k] = bytes.Clone(e.value)
			}
			return out
		},
		write: func(t *testing.T, key string, value []byte) {
			t.Helper()
			if err := mb.set(context.Background(), key, value, 0); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func newRedisEnv(t *testing.T) *backendEnv {
	srv := redistest.MustStart(t)
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Fail fast once the server is killed.
	opt.MaxRetries = -1
	opt.DialTimeout = time.Second
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	return &backendEnv{
		srv: srv,
		open: func(t *testing.T, key string, opts Options) Store {
			t.Helper()
			s, err := New(key, rdb, opts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		raw: func(t *testing.T) map[string][]byte {
			t.Helper()
			keys, err := rdb.Keys(ctx, "*").Result()
			if err != nil {
				t.Fatal(err)
			}
			out := map[string][]byte{}
			for _, k := range keys {
				v, err := rdb.Get(ctx, k).Bytes()
				if err != nil {
					t.Fatal(err)
				}
				out[k] = v
			}
			return out
		},
		write: func(t *testing.T, key string, value []byte) {
			t.Helper()
			if err := rdb.Set(ctx, key, value, 0).Err(); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// mustPut stores secret for o and provider and returns the key it is under.
func mustPut(t *testing.T, env *backendEnv, s Store, o Owner, provider, secret string) string {
	t.Helper()
	before := env.raw(t)
	if err := s.Put(context.Background(), o, provider, secret); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for k := range env.raw(t) {
		if _, ok := before[k]; !ok {
			return k
		}
	}
	return s.(*store).key(o, provider) // replaced an existing value
}

// checkNoSecret fails when err's text shows the secret or a raw user id.
func checkNoSecret(t *testing.T, err error, owners ...Owner) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.Contains(msg, secret) {
		t.Errorf("error %q contains the secret", msg)
	}
	for _, o := range owners {
		if strings.Contains(msg, o.User) {
			t.Errorf("error %q contains user id %q", msg, o.User)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		ctx := context.Background()
		s := env.open(t, testKey, Options{})
		if got, ok, err := s.Get(ctx, alice, provider); err != nil || ok || got != "" {
			t.Fatalf("Get before Put = %q, %v, %v; want \"\", false, nil", got, ok, err)
		}
		mustPut(t, env, s, alice, provider, secret)
		got, ok, err := s.Get(ctx, alice, provider)
		if err != nil || !ok || got != secret {
			t.Fatalf("Get = %q, %v, %v; want the secret, true, nil", got, ok, err)
		}
		// A second store over the same storage (another instance) reads it.
		if got, ok, err := env.open(t, testKey, Options{}).Get(ctx, alice, provider); err != nil || !ok || got != secret {
			t.Fatalf("Get from another instance = %q, %v, %v", got, ok, err)
		}
		// Put replaces.
		if err := s.Put(ctx, alice, provider, "second"); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Get(ctx, alice, provider); err != nil || !ok || got != "second" {
			t.Fatalf("Get after replace = %q, %v, %v", got, ok, err)
		}
		if n := len(env.raw(t)); n != 1 {
			t.Errorf("%d stored values after replacing, want 1", n)
		}
	})
}

func TestOtherOwnerOrProviderFindsNothing(t *testing.T) {
	others := []struct {
		name     string
		owner    Owner
		provider string
	}{
		{"tenant", Owner{Tenant: "other", Issuer: alice.Issuer, User: alice.User}, provider},
		{"default tenant", Owner{Issuer: alice.Issuer, User: alice.User}, provider},
		{"issuer", Owner{Tenant: alice.Tenant, Issuer: "https://evil.example.com", User: alice.User}, provider},
		{"user", Owner{Tenant: alice.Tenant, Issuer: alice.Issuer, User: "bob"}, provider},
		{"fields shifted", Owner{Tenant: alice.Tenant + alice.Issuer[:1], Issuer: alice.Issuer[1:], User: alice.User}, provider},
		{"provider", alice, "k-link"},
	}
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		ctx := context.Background()
		s := env.open(t, testKey, Options{})
		mustPut(t, env, s, alice, provider, secret)
		for _, tc := range others {
			t.Run(tc.name, func(t *testing.T) {
				got, ok, err := s.Get(ctx, tc.owner, tc.provider)
				if err != nil || ok || got != "" {
					t.Fatalf("Get = %q, %v, %v; want \"\", false, nil", got, ok, err)
				}
				if removed, err := s.Delete(ctx, tc.owner, tc.provider); err != nil || removed {
					t.Fatalf("Delete = %v, %v; want false, nil", removed, err)
				}
			})
		}
		if got, ok, err := s.Get(ctx, alice, provider); err != nil || !ok || got != secret {
			t.Fatalf("alice's Get after the others = %q, %v, %v", got, ok, err)
		}
	})
}

func TestCopiedCiphertextIsRefused(t *testing.T) {
	mallory := Owner{Tenant: alice.Tenant, Issuer: alice.Issuer, User: "mallory"}
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		ctx := context.Background()
		s := env.open(t, testKey, Options{})
		aliceKey := mustPut(t, env, s, alice, provider, secret)
		sealed := env.raw(t)[aliceKey]
		cases := []struct {
			name     string
			owner    Owner
			provider string
		}{
			{"to another user", mallory, provider},
			{"to another tenant", Owner{Tenant: "other", Issuer: alice.Issuer, User: alice.User}, provider},
			{"to another issuer", Owner{Tenant: alice.Tenant, Issuer: "https://evil.example.com", User: alice.User}, provider},
			{"to another provider", alice, "aelyst"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				env.write(t, s.(*store).key(tc.owner, tc.provider), sealed)
				got, ok, err := s.Get(ctx, tc.owner, tc.provider)
				if !errors.Is(err, ErrUnreadable) || ok || got != "" {
					t.Fatalf("Get = %q, %v, %v; want \"\", false, ErrUnreadable", got, ok, err)
				}
				checkNoSecret(t, err, alice, tc.owner)
				// The owner can still remove it, or replace it by connecting again.
				if removed, err := s.Delete(ctx, tc.owner, tc.provider); err != nil || !removed {
					t.Fatalf("Delete = %v, %v; want true, nil", removed, err)
				}
			})
		}
	})
}

func TestTamperedValueIsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		ctx := context.Background()
		s := env.open(t, testKey, Options{})
		key := mustPut(t, env, s, alice, provider, secret)
		sealed := env.raw(t)[key]
		flip := func(i int) []byte { b := bytes.Clone(sealed); b[i] ^= 1; return b }
		cases := []struct {
			name  string
			value []byte
		}{
			{"empty", []byte{}},
			{"version only", []byte{version}},
			{"unknown version", flip(0)},
			{"nonce", flip(1)},
			{"ciphertext", flip(1 + 12)},
			{"tag", flip(len(sealed) - 1)},
			{"truncated", sealed[:len(sealed)-1]},
			{"plaintext", []byte(secret)},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				env.write(t, key, tc.value)
				got, ok, err := s.Get(ctx, alice, provider)
				if !errors.Is(err, ErrUnreadable) || ok || got != "" {
					t.Fatalf("Get = %q, %v, %v; want \"\", false, ErrUnreadable", got, ok, err)
				}
				checkNoSecret(t, err, alice)
			})
		}
	})
}

func TestWrongKeyIsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		ctx := context.Background()
		mustPut(t, env, env.open(t, testKey, Options{}), alice, provider, secret)
		rotated := env.open(t, otherKey, Options{})
		got, ok, err := rotated.Get(ctx, alice, provider)
		if !errors.Is(err, ErrUnreadable) || ok || got != "" {
			t.Fatalf("Get with another key = %q, %v, %v; want \"\", false, ErrUnreadable", got, ok, err)
		}
		checkNoSecret(t, err, alice)
		// After a key change the user connects again, and that works.
		if err := rotated.Put(ctx, alice, provider, "new"); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := rotated.Get(ctx, alice, provider); err != nil || !ok || got != "new" {
			t.Fatalf("Get after reconnecting = %q, %v, %v", got, ok, err)
		}
	})
}

func TestDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		ctx := context.Background()
		s := env.open(t, testKey, Options{})
		mustPut(t, env, s, alice, provider, secret)
		mustPut(t, env, s, alice, "k-link", "other secret")
		for i, want := range []bool{true, false} {
			if removed, err := s.Delete(ctx, alice, provider); err != nil || removed != want {
				t.Fatalf("Delete #%d = %v, %v; want %v, nil", i+1, removed, err, want)
			}
		}
		if got, ok, err := s.Get(ctx, alice, provider); err != nil || ok || got != "" {
			t.Fatalf("Get after Delete = %q, %v, %v", got, ok, err)
		}
		if got, ok, err := s.Get(ctx, alice, "k-link"); err != nil || !ok || got != "other secret" {
			t.Fatalf("other provider's Get after Delete = %q, %v, %v", got, ok, err)
		}
	})
}

func TestStoredBytesHideSecretAndUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		s := env.open(t, testKey, Options{})
		mustPut(t, env, s, alice, provider, secret)
		mustPut(t, env, s, alice, "k-link", secret)
		raw := env.raw(t)
		if len(raw) != 2 {
			t.Fatalf("%d stored values, want 2", len(raw))
		}
		var tags []string
		for k, v := range raw {
			for _, hidden := range []string{secret, alice.User, alice.Issuer, alice.Tenant} {
				if strings.Contains(k, hidden) || bytes.Contains(v, []byte(hidden)) {
					t.Errorf("key %q or its value %x contains %q", k, v, hidden)
				}
			}
			if !strings.HasPrefix(k, DefaultPrefix+"{") {
				t.Errorf("key %q does not start with %q", k, DefaultPrefix+"{")
			}
			if v[0] != version {
				t.Errorf("value starts with %d, want version %d", v[0], version)
			}
			if want := 1 + 12 + len(secret) + 16; len(v) != want {
				t.Errorf("value is %d bytes, want %d (version, nonce, ciphertext, tag)", len(v), want)
			}
			tags = append(tags, k[len(DefaultPrefix):strings.Index(k, "}")+1])
		}
		// One owner's keys share a hash tag: one Cluster slot.
		if tags[0] != tags[1] {
			t.Errorf("hash tags %q and %q differ for one owner", tags[0], tags[1])
		}
		// The same secret sealed twice differs: a fresh nonce each Put.
		a, b := raw[s.(*store).key(alice, provider)], raw[s.(*store).key(alice, "k-link")]
		if bytes.Equal(a[1:13], b[1:13]) {
			t.Error("two Puts used the same nonce")
		}
	})
}

func TestOptions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		s := env.open(t, testKey, Options{Prefix: "test:cred:", TTL: time.Hour})
		key := mustPut(t, env, s, alice, provider, secret)
		if !strings.HasPrefix(key, "test:cred:{") {
			t.Errorf("key %q does not use the prefix", key)
		}
		if env.srv != nil {
			opt, _ := redis.ParseURL(env.srv.URL)
			rdb := redis.NewClient(opt)
			defer rdb.Close()
			ttl, err := rdb.PTTL(context.Background(), key).Result()
			if err != nil || ttl <= 0 || ttl > time.Hour {
				t.Errorf("PTTL = %v, %v; want (0, 1h]", ttl, err)
			}
		}
	})
}

func TestNewRefuses(t *testing.T) {
	cases := []struct {
		name string
		key  string
		opts Options
	}{
		{"empty key", "", Options{}},
		{"31-character key", strings.Repeat("k", MinKeyLength-1), Options{}},
		{"negative TTL", testKey, Options{TTL: -time.Second}},
		{"negative MaxEntries", testKey, Options{MaxEntries: -1}},
		{"brace in prefix", testKey, Options{Prefix: "cg:{x}:"}},
	}
	// This client is never dialled: New does not talk to Redis.
	unused := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = unused.Close() })
	for _, b := range []struct {
		name string
		rdb  redis.UniversalClient
	}{
		{"memory", nil},
		{"redis", unused},
	} {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s, err := New(tc.key, b.rdb, tc.opts)
					if err == nil || s != nil {
						t.Fatalf("New = %v, %v; want an error", s, err)
					}
					if tc.key != "" && strings.Contains(err.Error(), tc.key) {
						t.Errorf("error %q shows the key", err)
					}
				})
			}
			if _, err := New(strings.Repeat("k", MinKeyLength), b.rdb, Options{}); err != nil {
				t.Errorf("New with a %d-character key: %v", MinKeyLength, err)
			}
		})
	}
}

func TestArgumentsAreChecked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		ctx := context.Background()
		s := env.open(t, testKey, Options{})
		noUser := Owner{Tenant: alice.Tenant, Issuer: alice.Issuer}
		if err := s.Put(ctx, noUser, provider, secret); err == nil {
			t.Error("Put with no user succeeded")
		}
		if err := s.Put(ctx, alice, "", secret); err == nil {
			t.Error("Put with no provider succeeded")
		}
		if err := s.Put(ctx, alice, provider, ""); err == nil {
			t.Error("Put of an empty secret succeeded")
		}
		if _, ok, err := s.Get(ctx, noUser, provider); err == nil || ok {
			t.Errorf("Get with no user = %v, %v; want an error", ok, err)
		}
		if _, err := s.Delete(ctx, alice, ""); err == nil {
			t.Error("Delete with no provider succeeded")
		}
		if n := len(env.raw(t)); n != 0 {
			t.Errorf("%d values stored, want 0", n)
		}
	})
}

func TestRedisDown(t *testing.T) {
	env := newRedisEnv(t)
	ctx := context.Background()
	s := env.open(t, testKey, Options{})
	mustPut(t, env, s, alice, provider, secret)
	env.srv.Kill()

	got, ok, err := s.Get(ctx, alice, provider)
	if err == nil || ok || got != "" {
		t.Fatalf("Get with Redis down = %q, %v, %v; want \"\", false, an error", got, ok, err)
	}
	if errors.Is(err, ErrUnreadable) {
		t.Errorf("Get with Redis down = %v; want a Redis error, not ErrUnreadable", err)
	}
	checkNoSecret(t, err, alice)
	if err := s.Put(ctx, alice, provider, secret); err == nil {
		t.Error("Put with Redis down succeeded")
	} else {
		checkNoSecret(t, err, alice)
	}
	if removed, err := s.Delete(ctx, alice, provider); err == nil || removed {
		t.Errorf("Delete with Redis down = %v, %v; want false, an error", removed, err)
	}

	// A restarted Redis keeps nothing here; the store answers again.
	env.srv.Restart()
	if got, ok, err := s.Get(ctx, alice, provider); err != nil || ok || got != "" {
		t.Fatalf("Get after restart = %q, %v, %v; want \"\", false, nil", got, ok, err)
	}
}

func TestMemoryBound(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	mb := newMemoryBackend(func() time.Time { return now }, 2)
	s, err := newStore(testKey, mb, Options{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	user := func(i int) Owner { return Owner{Issuer: "iss", User: fmt.Sprint("user", i)} }
	for i := range 2 {
		if err := s.Put(ctx, user(i), provider, secret); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, user(2), provider, secret); !errors.Is(err, ErrFull) {
		t.Fatalf("Put past MaxEntries = %v, want ErrFull", err)
	}
	// Replacing a stored credential is not growth.
	if err := s.Put(ctx, user(0), provider, "replaced"); err != nil {
		t.Fatalf("replacing when full: %v", err)
	}
	// Deleting makes room.
	if _, err := s.Delete(ctx, user(1), provider); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, user(2), provider, secret); err != nil {
		t.Fatalf("Put after Delete: %v", err)
	}
	// Expired entries neither answer nor count.
	now = now.Add(time.Minute)
	if _, ok, err := s.Get(ctx, user(0), provider); err != nil || ok {
		t.Fatalf("Get after TTL = %v, %v; want false, nil", ok, err)
	}
	if removed, err := s.Delete(ctx, user(2), provider); err != nil || removed {
		t.Fatalf("Delete after TTL = %v, %v; want false, nil", removed, err)
	}
	for i := 3; i < 5; i++ {
		if err := s.Put(ctx, user(i), provider, secret); err != nil {
			t.Fatalf("Put %d after the others expired: %v", i, err)
		}
	}
}

func TestMemoryDefaultBound(t *testing.T) {
	s, err := New(testKey, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.(*store).b.(*memoryBackend).max; got != DefaultMaxEntries {
		t.Errorf("max = %d, want %d", got, DefaultMaxEntries)
	}
}

func TestConcurrentUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *backendEnv) {
		ctx := context.Background()
		s := env.open(t, testKey, Options{})
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				o := Owner{Issuer: "iss", User: fmt.Sprint("user", w)}
				for i := range 20 {
					want := fmt.Sprint("secret-", w, "-", i)
					if err := s.Put(ctx, o, provider, want); err != nil {
						t.Error(err)
						return
					}
					if got, ok, err := s.Get(ctx, o, provider); err != nil || !ok || got != want {
						t.Errorf("Get = %q, %v, %v; want %q", got, ok, err, want)
						return
					}
					if i%5 == 0 {
						if _, err := s.Delete(ctx, o, provider); err != nil {
							t.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
	})
}
