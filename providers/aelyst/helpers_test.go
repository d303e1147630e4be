package aelyst

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
)

const (
	testToken  = "tok-super-secret-123"
	testSecret = "whsec-never-logged-456"
)

type fixture struct {
	srv *aelysttest.Server
	p   *Provider
	clk *clocktest.Clock // shared by the emulator and the adapter, so rate limit windows and staleness are deterministic

	mu     sync.Mutex
	sleeps []time.Duration
}

// Sleep stands in for real waiting: it records the wait and moves the shared
// clock past it, so the emulator's rate-limit window has passed.
func (f *fixture) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	f.mu.Unlock()
	f.clk.Advance(d)
	return nil
}

func (f *fixture) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// Seeded people and contacts. The names are non-ASCII on purpose.
var (
	userAna   = aelysttest.User{ID: 101, FirstName: "Ana", LastName: "Lee", Email: "ana@example.com", Role: "owner", TeamID: 1, TeamName: "Support"}
	userEmile = aelysttest.User{ID: 105, FirstName: "Émile", LastName: "Rousseau", Email: "emile@example.com", Role: "agent", TeamID: 2, TeamName: "Engineering"}
	userSato  = aelysttest.User{ID: 106, FirstName: "Sato", LastName: "Yūki", Email: "sato@example.com", Role: "agent"}
	userZoe   = aelysttest.User{ID: 107, FirstName: "Zoë", LastName: "Park", Email: "zoe@example.com", Role: "manager", TeamID: 1, TeamName: "Support"}
	userBot   = aelysttest.User{ID: 100, FirstName: "commentgraph", LastName: "bot", Role: "manager"}

	contactJane  = aelysttest.Contact{ID: 2001, FirstName: "Jane", LastName: "Doe", Email: "jane@acme.com", Phone: "+60121233112"}
	contactMateo = aelysttest.Contact{ID: 2002, FirstName: "Mateo", LastName: "García", Email: "mateo@lumen.es"}
	contactAiko  = aelysttest.Contact{ID: 2003, FirstName: "Aiko", Phone: "+81312345678"}
	contactFemi  = aelysttest.Contact{ID: 2004, FirstName: "Femi", LastName: "Adeyemi"}
	contactLena  = aelysttest.Contact{ID: 2005, FirstName: "Lena", LastName: "Müller"}
)

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	f := &fixture{clk: clocktest.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))}
	f.srv = aelysttest.NewServer(aelysttest.Options{Token: testToken, Now: f.clk.Now})
	t.Cleanup(f.srv.Close)
	for _, u := range []aelysttest.User{userAna, userEmile, userSato, userZoe, userBot} {
		f.srv.AddUser(u)
	}
	for _, c := range []aelysttest.Contact{contactJane, contactMateo, contactAiko, contactFemi, contactLena} {
		f.srv.AddContact(c)
	}
	opts := Options{
		ID:            "aelyst1",
		BaseURL:       f.srv.URL,
		Token:         testToken,
		WebhookSecret: testSecret,
		BotUserRef:    "100",
		Now:           f.clk.Now,
		Sleep:         f.Sleep,
	}
	if mod != nil {
		mod(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.p = p
	return f
}

func contactThread(ref string) *model.Thread {
	return &model.Thread{ProviderID: "aelyst1", Kind: model.ThreadKindContact, Ref: ref}
}

// wantCode fails unless err is a *model.Error with code and the provider set.
func wantCode(t *testing.T, err error, code model.Code) *model.Error {
	t.Helper()
	var me *model.Error
	if !errors.As(err, &me) {
		t.Fatalf("error = %v (%T), want *model.Error %s", err, err, code)
	}
	if me.Code != code {
		t.Fatalf("code = %s (%v), want %s", me.Code, err, code)
	}
	if me.Provider != "aelyst1" {
		t.Fatalf("error provider = %q, want aelyst1 (%v)", me.Provider, err)
	}
	return me
}
