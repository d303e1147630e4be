package cache

import (
	"context"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

func TestDirectory(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("remembers per scope for LearnedTTL", func(t *testing.T) {
				e := b.open(t, Options{})
				err := e.c.RememberUsers(ctx, "klink:aaaa", []*model.User{
					{ProviderID: "klink", Ref: "u1", Name: "Émile Rousseau"},
					nil,
					{ProviderID: "klink", Ref: "", Name: "no ref, not kept"},
				})
				if err != nil {
					t.Fatal(err)
				}
				got, err := e.c.LookupUsers(ctx, "klink:aaaa", []string{"u1", "u2", ""})
				if err != nil {
					t.Fatal(err)
				}
				equalNames(t, names(got), map[string]string{"u1": "Émile Rousseau"})

				other, err := e.c.LookupUsers(ctx, "klink:bbbb", []string{"u1"})
				if err != nil || len(other) != 0 {
					t.Fatalf("another scope saw %v (%v), want nothing", other, err)
				}
				d := e.pttl(t, key("klink:aaaa", kindLearnedUser, "u1"))
				if d < 26*24*time.Hour || d > 33*24*time.Hour {
					t.Fatalf("learned user TTL %v, want LearnedTTL (30 days ± 10%%)", d)
				}
			})

			t.Run("rooms, and invalidate forgets", func(t *testing.T) {
				e := b.open(t, Options{})
				name := "Launch 🚀"
				if err := e.c.RememberRooms(ctx, "s", []*model.Room{{ProviderID: "klink", Ref: "r:1", Name: &name}}); err != nil {
					t.Fatal(err)
				}
				rooms, err := e.c.LookupRooms(ctx, "s", []string{"r:1"})
				if err != nil || rooms["r:1"] == nil || *rooms["r:1"].Name != name {
					t.Fatalf("LookupRooms: %v %v", rooms, err)
				}
				if err := e.c.RememberUsers(ctx, "s", []*model.User{{ProviderID: "klink", Ref: "u1", Name: "Bo Tan"}}); err != nil {
					t.Fatal(err)
				}
				if err := e.c.Invalidate(ctx, "s", []string{"u1"}, []string{"r:1"}); err != nil {
					t.Fatal(err)
				}
				rooms, _ = e.c.LookupRooms(ctx, "s", []string{"r:1"})
				users, _ := e.c.LookupUsers(ctx, "s", []string{"u1"})
				if len(rooms) != 0 || len(users) != 0 {
					t.Fatalf("after Invalidate: rooms %v users %v, want none", rooms, users)
				}
			})

			t.Run("read-through entries do not shorten learned ones", func(t *testing.T) {
				e := b.open(t, Options{})
				if err := e.c.RememberUsers(ctx, "s", []*model.User{{ProviderID: "klink", Ref: "u1", Name: "Dana Kowalski"}}); err != nil {
					t.Fatal(err)
				}
				up := newUpstream("klink", 0)
				up.addUser("u1", "Dana Kowalski")
				mustUsers(t, e.c.Wrap(up, "s"), "u1")
				if d := e.pttl(t, key("s", kindLearnedUser, "u1")); d < 26*24*time.Hour {
					t.Fatalf("learned entry TTL fell to %v after a read-through write", d)
				}
			})
		})
	}
}
