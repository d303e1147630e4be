package virola

import (
	"testing"

	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

func TestUsersAndRooms(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	zoe := ref(e.users["Zoë Park"])
	got, err := e.p.Users(ctxT(t), []string{zoe, "999", "abc", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[zoe].Name != "Zoë Park" || got[zoe].ProviderID != "vir" || got[zoe].Ref != zoe {
		t.Fatalf("users %+v", got)
	}
	// Cached: a second look-up of known users costs nothing.
	before := e.s.Calls("GET /api/v1/users")
	if _, err := e.p.Users(ctxT(t), []string{zoe}); err != nil {
		t.Fatal(err)
	}
	if e.s.Calls("GET /api/v1/users") != before {
		t.Fatal("a known user was fetched again")
	}
	// A user added since is found by refreshing on the miss.
	newcomer := ref(e.s.AddUser(virolatest.User{DisplayName: "Newcomer Ñ"}).ID)
	got, err = e.p.Users(ctxT(t), []string{newcomer})
	if err != nil || got[newcomer] == nil || got[newcomer].Name != "Newcomer Ñ" {
		t.Fatalf("newcomer %+v %v", got, err)
	}

	hidden := e.s.AddRoom(virolatest.Room{Name: "hidden", Members: []int64{e.users["Bo Tan"]}})
	rooms, err := e.p.Rooms(ctxT(t), []string{ref(e.room), ref(hidden.ID), "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || *rooms[ref(e.room)].Name != "General" {
		t.Fatalf("rooms %+v", rooms)
	}
}
