package virola

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// env is an emulator with the cast as users and a room with one parent
// message, and an adapter pointed at it.
type env struct {
	s      *virolatest.Server
	p      *Provider
	users  map[string]int64 // display name → userId
	room   int64
	parent int64
	thread *model.Thread
}

func newEnv(t *testing.T, eo virolatest.Options, po Options) *env {
	t.Helper()
	s := virolatest.NewServer(eo)
	t.Cleanup(s.Close)
	e := &env{s: s, users: map[string]int64{}}
	for _, n := range virolatest.Cast {
		e.users[n] = s.AddUser(virolatest.User{DisplayName: n}).ID
	}
	// A user whose name is a prefix of another's, to prove longest match first.
	e.users["Ana"] = s.AddUser(virolatest.User{DisplayName: "Ana"}).ID
	e.room = s.AddRoom(virolatest.Room{Name: "General"}).ID
	var err error
	e.parent, err = s.AddMessage(virolatest.Message{RoomID: e.room, UserID: e.users["Ana Lee"], Text: "Release plan\nsecond line"})
	if err != nil {
		t.Fatal(err)
	}
	po.ID = "vir"
	po.BaseURL = s.URL
	if po.Token == "" {
		po.Token = s.Token()
	}
	setDefault(&po.ReadBackWait, time.Millisecond)
	setDefault(&po.ReconnectMin, 5*time.Millisecond)
	setDefault(&po.ReconnectMax, 20*time.Millisecond)
	e.p, err = New(po)
	if err != nil {
		t.Fatal(err)
	}
	e.thread = &model.Thread{ProviderID: "vir", Kind: model.ThreadKindMessage, Ref: ref(e.parent)}
	return e
}

func (e *env) comment(t *testing.T, parent int64, m virolatest.Message) int64 {
	t.Helper()
	id, err := e.s.AddComment(parent, m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code model.Code) {
	t.Helper()
	var me *model.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *model.Error with %s", err, err, code)
	}
	if me.Code != code || me.Provider != "vir" {
		t.Fatalf("error %v: code %s provider %q, want %s vir", err, me.Code, me.Provider, code)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no id", Options{BaseURL: "http://x", Token: "t"}},
		{"no token", Options{ID: "v", BaseURL: "http://x"}},
		{"bad url", Options{ID: "v", BaseURL: "ftp://x", Token: "t"}},
		{"relative url", Options{ID: "v", BaseURL: "/api", Token: "t"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	p, err := New(Options{ID: "v", BaseURL: "https://virola.example.com/", Token: "secret-token"})
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info()
	if info.Kind != model.ProviderKindVirola || info.Name != "Virola" || info.MaxBatch != 0 {
		t.Fatalf("info %+v", info)
	}
	for _, c := range []model.Capability{model.CapabilityListComments, model.CapabilityCreateComment, model.CapabilityMentions,
		model.CapabilityAttachments, model.CapabilityReadReceipts, model.CapabilityUserDirectory, model.CapabilityListThreads, model.CapabilityPushEvents,
		model.CapabilityDeleteComments, model.CapabilityMarkRead} {
		if !info.Has(c) {
			t.Errorf("lacks %s", c)
		}
	}
	if info.Has(model.CapabilityReplies) || info.Has(model.CapabilityReactions) || info.Has(model.CapabilityEditComments) {
		t.Error("claims replies, reactions or edits")
	}
	// What Info claims is what the Provider implements, seen through a
	// decorator as the gateway sees it.
	var wrapped providers.Provider = unwrapper{p}
	if _, ok := providers.Lifecycle[providers.Deleter](wrapped); !ok {
		t.Error("no Deleter")
	}
	if _, ok := providers.Lifecycle[providers.ReadMarker](wrapped); !ok {
		t.Error("no ReadMarker")
	}
	if _, ok := providers.Lifecycle[providers.Editor](wrapped); ok {
		t.Error("an Editor, with no edit documented")
	}
}

// unwrapper is a decorator like the cache: a Provider that exposes the one it
// wraps.
type unwrapper struct{ providers.Provider }

func (u unwrapper) Unwrap() providers.Provider { return u.Provider }
