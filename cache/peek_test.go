package cache

import (
	"context"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/providers"
)

// PeekUsers answers only from the process: the in-memory store, or the near
// copies in front of Redis while they are served; never Redis, never the
// upstream; nothing held as not found, nothing of another scope's, nothing
// dropped.
func TestPeekUsersAnswersFromTheProcessOnly(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		open func(t *testing.T) *env
		// held says whether the process holds what a lookup read: false for
		// Redis with no near copies, where a peek must answer nothing.
		held bool
	}{
		{"memory", func(t *testing.T) *env { return openMemory(t, Options{}) }, true},
		{"redis, near copies off", func(t *testing.T) *env { return openRedis(t, Options{}) }, false},
		{"redis, near copies on", func(t *testing.T) *env { e, _, _ := openNear(t); return e }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.open(t)
			up := newUpstream("p", 0)
			up.addUser("u1", "Ann")
			up.addUser("u2", "Bob")
			p := e.c.Wrap(up, "scope")
			mustUsers(t, p, "u1", "ghost") // u1 cached, ghost cached as not found
			peeker, ok := p.(providers.UserPeeker)
			if !ok {
				t.Fatal("cache.Wrap's provider is not a providers.UserPeeker")
			}
			fetches := up.userFetches()
			var trips int64
			if e.redis != nil {
				trips = e.redis.roundTrips()
			}

			got := names(peeker.PeekUsers(ctx, []string{"u1", "ghost", "u2", "u1"}))
			want := map[string]string{}
			if tt.held {
				want["u1"] = "Ann"
			}
			equalNames(t, got, want)
			if up.userFetches() != fetches {
				t.Errorf("a peek fetched upstream")
			}
			if e.redis != nil && e.redis.roundTrips() != trips {
				t.Errorf("a peek made %d Redis round trips, want 0", e.redis.roundTrips()-trips)
			}
			// Another credential's scope sees nothing of scope's.
			if other := e.c.Wrap(up, "other-scope").(providers.UserPeeker).PeekUsers(ctx, []string{"u1"}); len(other) != 0 {
				t.Errorf("another scope peeked %v", names(other))
			}
			// A user dropped by an invalidation is not answered from a copy.
			if err := e.c.Invalidate(ctx, "scope", []string{"u1"}, nil); err != nil {
				t.Fatal(err)
			}
			if after := peeker.PeekUsers(ctx, []string{"u1"}); len(after) != 0 {
				t.Errorf("after an invalidation a peek answered %v", names(after))
			}
		})
	}
}

// A peek of an entry past its TTL answers nothing (memory: the fake clock).
func TestPeekUsersAnswersNothingExpired(t *testing.T) {
	e := openMemory(t, Options{TTL: time.Minute})
	up := newUpstream("p", 0)
	up.addUser("u1", "Ann")
	p := e.c.Wrap(up, "scope")
	mustUsers(t, p, "u1")
	e.expire(t, key("scope", kindUser, "u1"), 2*time.Minute)
	if got := p.(providers.UserPeeker).PeekUsers(context.Background(), []string{"u1"}); len(got) != 0 {
		t.Fatalf("expired entry peeked: %v", names(got))
	}
}
