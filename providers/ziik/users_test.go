package ziik_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

func TestUsersAndRooms(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee", Email: "ana@acme.test", Title: "PM", Department: "Product", Unit: "HQ"})
	zoe := e.user(t, "Zoë", "Park")
	team := e.conv(t, "Team", ana, zoe)
	hidden, err := e.srv.AddConversation(ziiktest.Conversation{Title: "hidden", Participants: []int{ana}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	users, err := e.p.Users(ctx, []string{strconv.Itoa(ana), strconv.Itoa(zoe), strconv.Itoa(zoe), "424242", "not-an-id", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || e.srv.Calls(epUser) != 3 {
		t.Fatalf("got %d users in %d calls", len(users), e.srv.Calls(epUser))
	}
	a := users[strconv.Itoa(ana)]
	if a.Name != "Ana Lee" || deref(a.Email) != "ana@acme.test" || deref(a.Title) != "PM" || deref(a.Department) != "Product" || deref(a.Unit) != "HQ" || a.ProviderID != providerID {
		t.Errorf("user %+v", a)
	}
	if users[strconv.Itoa(zoe)].Name != "Zoë Park" {
		t.Errorf("user %+v", users[strconv.Itoa(zoe)])
	}

	rooms, err := e.p.Rooms(ctx, []string{strconv.Itoa(team), strconv.Itoa(hidden), "999999", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || deref(rooms[strconv.Itoa(team)].Name) != "Team" || rooms[strconv.Itoa(team)].ProviderID != providerID {
		t.Errorf("rooms %v", rooms)
	}

	e.srv.FailNext(epUser, ziiktest.Fault{Status: 500, Body: `{"error":{"code":"x","message":"y","is_ziik_error":false}}`})
	if _, err := e.p.Users(ctx, []string{strconv.Itoa(ana)}); !model.IsCode(err, model.CodeUpstreamUnavailable) {
		t.Errorf("got %v", err)
	}
}
