package loaders_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/commentgraph/commentgraph/cache"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/upstreamtest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
	"github.com/commentgraph/commentgraph/resolvers/loaders"
)

func world(t *testing.T) (*virolatest.Server, *providers.Registry) {
	t.Helper()
	v, p := virolaWorld(t)
	return v, providers.NewRegistry(p)
}

// virolaWorld is a Virola emulator with users 101..105 and its adapter,
// which keeps no user list of its own (each look-up is a call).
func virolaWorld(t *testing.T) (*virolatest.Server, providers.Provider) {
	t.Helper()
	v := virolatest.NewServer(virolatest.Options{})
	t.Cleanup(v.Close)
	for i := 1; i <= 5; i++ {
		v.AddUser(virolatest.User{ID: int64(100 + i), UserName: fmt.Sprint("u", i), DisplayName: fmt.Sprint("User ", i)})
	}
	p, err := virola.New(virola.Options{ID: "virola", BaseURL: v.URL, Token: virolatest.DefaultToken, DirectoryTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	return v, p
}

// Concurrent look-ups within one response become one upstream call, results
// come back per key, and a missing key fails alone.
func TestUsersBatchPerResponse(t *testing.T) {
	v, reg := world(t)
	l := loaders.New(reg, loaders.Options{})
	ctx := loaders.With(context.Background(), l)
	refs := []string{"103", "101", "999", "105", "101"}
	users := make([]*model.User, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			users[i], errs[i] = loaders.For(ctx, reg).User(ctx, "virola", ref)
		}()
	}
	wg.Wait()
	for i, ref := range refs {
		if ref == "999" {
			if !model.IsCode(errs[i], model.CodeNotFound) {
				t.Errorf("missing user: %v", errs[i])
			}
			continue
		}
		if errs[i] != nil || users[i] == nil || users[i].Ref != ref {
			t.Errorf("refs[%d]=%s: %+v %v", i, ref, users[i], errs[i])
		}
	}
	if n := v.Calls("GET /api/v1/users"); n != 1 {
		t.Errorf("%d upstream user calls, want 1 for one batch", n)
	}
	// Asked again in the same response: answered from the loader.
	if _, err := l.User(ctx, "virola", "103"); err != nil || v.Calls("GET /api/v1/users") != 1 {
		t.Errorf("repeat in one response: %v, %d calls", err, v.Calls("GET /api/v1/users"))
	}
	// A new response gets new loaders (nothing outlives a response).
	l2 := loaders.New(reg, loaders.Options{})
	if _, err := l2.User(ctx, "virola", "103"); err != nil || v.Calls("GET /api/v1/users") != 2 {
		t.Errorf("fresh loaders: %v, %d calls", err, v.Calls("GET /api/v1/users"))
	}
}

func TestUnbatchedMakesOneCallPerLookup(t *testing.T) {
	v, reg := world(t)
	l := loaders.New(reg, loaders.Options{Unbatched: true})
	ctx := context.Background()
	for _, ref := range []string{"101", "101", "102"} {
		if _, err := l.User(ctx, "virola", ref); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.Calls("GET /api/v1/users"); n != 3 {
		t.Errorf("%d calls, want 3 (the naive baseline batches nothing)", n)
	}
}

func TestUnknownProvider(t *testing.T) {
	_, reg := world(t)
	l := loaders.New(reg, loaders.Options{})
	if _, err := l.User(context.Background(), "nope", "1"); !model.IsCode(err, model.CodeNotFound) {
		t.Errorf("err = %v", err)
	}
	us, errs := l.Users(context.Background(), "nope", []string{"1", "2"})
	if len(us) != 2 || errs[0] == nil || errs[1] == nil {
		t.Errorf("Users on an unknown provider: %v %v", us, errs)
	}
}

// Users answers one error slot per ref whether or not anything failed.
func TestUsersErrorSlicePerRef(t *testing.T) {
	_, reg := world(t)
	l := loaders.New(reg, loaders.Options{})
	for _, refs := range [][]string{{"101", "102"}, {"101", "999"}} {
		users, errs := l.Users(context.Background(), "virola", refs)
		if len(users) != len(refs) || len(errs) != len(refs) {
			t.Fatalf("Users(%v): %d users, %d errors", refs, len(users), len(errs))
		}
	}
}

// PrefetchUsers answers the users loader ahead of the field loads: one
// upstream call for all the refs (each once), the loads after it make none,
// a missing ref is NOT_FOUND on its own, and refs already seen are not
// fetched again.
func TestPrefetchUsersAnswersTheLoader(t *testing.T) {
	v, reg := world(t)
	l := loaders.New(reg, loaders.Options{})
	ctx := context.Background()
	l.PrefetchUsers(ctx, "virola", []string{"101", "102", "101", "999"})
	if n := v.Calls("GET /api/v1/users"); n != 1 {
		t.Fatalf("prefetch made %d user calls, want 1", n)
	}
	for _, ref := range []string{"102", "101", "102"} {
		u, err := l.User(ctx, "virola", ref)
		if err != nil || u == nil || u.Ref != ref {
			t.Errorf("User(%s) after prefetch = %+v, %v", ref, u, err)
		}
	}
	if _, err := l.User(ctx, "virola", "999"); !model.IsCode(err, model.CodeNotFound) {
		t.Errorf("User(999) after prefetch: err = %v, want NOT_FOUND", err)
	}
	if n := v.Calls("GET /api/v1/users"); n != 1 {
		t.Errorf("loads after prefetch made %d more calls, want 0", n-1)
	}
	// Everything asked is known: a second prefetch calls nothing.
	l.PrefetchUsers(ctx, "virola", []string{"101", "999"})
	if n := v.Calls("GET /api/v1/users"); n != 1 {
		t.Errorf("a prefetch of seen refs made %d calls", n-1)
	}
	// A ref not seen yet is fetched, alone.
	l.PrefetchUsers(ctx, "virola", []string{"101", "103"})
	if n := v.Calls("GET /api/v1/users"); n != 2 {
		t.Errorf("a prefetch with one new ref: %d calls in all, want 2", n)
	}
	if u, err := l.User(ctx, "virola", "103"); err != nil || u.Ref != "103" {
		t.Errorf("User(103) = %+v, %v", u, err)
	}
}

// A failing upstream is answered into the loader as that failure for each
// key, so the field loads report it instead of calling again.
func TestPrefetchUsersKeepsTheFailure(t *testing.T) {
	v, reg := world(t)
	v.FailNext("GET /api/v1/users", upstreamtest.Fault{Status: 503, Times: 5})
	l := loaders.New(reg, loaders.Options{})
	ctx := context.Background()
	l.PrefetchUsers(ctx, "virola", []string{"101", "102"})
	calls := v.Calls("GET /api/v1/users")
	for _, ref := range []string{"101", "102"} {
		if _, err := l.User(ctx, "virola", ref); err == nil || model.IsCode(err, model.CodeNotFound) {
			t.Errorf("User(%s) after a failed prefetch: err = %v, want the upstream failure", ref, err)
		}
	}
	if n := v.Calls("GET /api/v1/users"); n != calls {
		t.Errorf("loads after a failed prefetch made %d more calls, want 0", n-calls)
	}
}

// The naive baseline prefetches nothing: every look-up stays its own call.
func TestPrefetchUsersUnbatchedDoesNothing(t *testing.T) {
	v, reg := world(t)
	l := loaders.New(reg, loaders.Options{Unbatched: true})
	ctx := context.Background()
	l.PrefetchUsers(ctx, "virola", []string{"101", "102"})
	if n := v.Calls("GET /api/v1/users"); n != 0 {
		t.Errorf("unbatched prefetch made %d calls, want 0", n)
	}
	for _, ref := range []string{"101", "102"} {
		if _, err := l.User(ctx, "virola", ref); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.Calls("GET /api/v1/users"); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// PeekUsers answers a response's loader with the users the process's cache
// holds, making no call, and says how many refs are left to fetch; what it
// leaves is fetched by PrefetchUsers, alone.
func TestPeekUsersAnswersTheLoaderFromTheCache(t *testing.T) {
	v, p := virolaWorld(t)
	c, err := cache.New(cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRegistry(c.Wrap(p, ""))
	ctx := context.Background()
	calls := func() int { return v.Calls("GET /api/v1/users") }

	loaders.New(reg, loaders.Options{}).PrefetchUsers(ctx, "virola", []string{"101", "102"}) // an earlier response fills the cache
	if calls() != 1 {
		t.Fatalf("the first response made %d user calls, want 1", calls())
	}
	l := loaders.New(reg, loaders.Options{})
	if left := l.PeekUsers(ctx, "virola", []string{"101", "102", "103", "101"}); !slices.Equal(left, []string{"103"}) {
		t.Errorf("PeekUsers left %q, want [103] (never fetched)", left)
	}
	if calls() != 1 {
		t.Fatalf("a peek made %d user calls", calls()-1)
	}
	for _, ref := range []string{"101", "102"} {
		if u, err := l.User(ctx, "virola", ref); err != nil || u.Ref != ref {
			t.Errorf("User(%s) after a peek = %+v, %v", ref, u, err)
		}
	}
	if calls() != 1 {
		t.Errorf("loads of peeked users made %d calls", calls()-1)
	}
	if left := l.PeekUsers(ctx, "virola", []string{"101", "102"}); len(left) != 0 {
		t.Errorf("a second peek of answered refs left %q", left)
	}
	l.PrefetchUsers(ctx, "virola", []string{"101", "102", "103"})
	if calls() != 2 {
		t.Errorf("the prefetch after a peek: %d calls in all, want 2 (103 alone)", calls())
	}
}

// With no cache in front of the provider there is nothing to peek: every
// unseen ref is left, and no call is made.
func TestPeekUsersWithoutACacheLeavesEveryRef(t *testing.T) {
	v, reg := world(t)
	l := loaders.New(reg, loaders.Options{})
	ctx := context.Background()
	if left := l.PeekUsers(ctx, "virola", []string{"101", "102", "101"}); !slices.Equal(left, []string{"101", "102"}) {
		t.Errorf("PeekUsers left %q, want [101 102], each once", left)
	}
	if n := v.Calls("GET /api/v1/users"); n != 0 {
		t.Errorf("a peek made %d calls", n)
	}
	if left := loaders.New(reg, loaders.Options{Unbatched: true}).PeekUsers(ctx, "virola", []string{"101"}); len(left) != 0 {
		t.Errorf("unbatched loaders left %q to prefetch, want none (they prefetch nothing)", left)
	}
}
