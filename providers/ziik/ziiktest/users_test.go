package ziiktest_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// login authenticates as email/password and returns the JWT.
func (f *fixture) login(t *testing.T, email, password string) string {
	t.Helper()
	status, body := f.do(t, "POST", "/authenticate", "", map[string]string{"username": email, "password": password})
	if status != 200 {
		t.Fatalf("authenticate %s: %d %s", email, status, body)
	}
	var grants []struct {
		JWT string `json:"jwt"`
	}
	if err := json.Unmarshal(body, &grants); err != nil || len(grants) != 1 {
		t.Fatalf("authenticate answer %s", body)
	}
	return grants[0].JWT
}

// TestUsersActAsThemselves checks that users log in with their own email and
// password (or hold a JWT issued for them), that a message posted with their
// JWT has them as author, and that a conversation they do not take part in is
// missing from their list and 403 to read or post in.
func TestUsersActAsThemselves(t *testing.T) {
	f := newFixture(t, ziiktest.Options{})
	ana := f.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee", Email: "ana@ziik.test", Password: "ana-pw"})
	bo := f.srv.AddUser(ziiktest.User{FirstName: "Bo", LastName: "Tan", Email: "bo@ziik.test", Password: "bo-pw"})
	anaOnly, err := f.srv.AddConversation(ziiktest.Conversation{Participants: []int{ana, f.srv.BotID()}})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := f.srv.AddConversation(ziiktest.Conversation{Title: "Team", Participants: []int{ana, bo, f.srv.BotID()}})
	if err != nil {
		t.Fatal(err)
	}
	anaJWT := f.login(t, "ana@ziik.test", "ana-pw")
	boJWT, err := f.srv.IssueToken(bo)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a wrong password is refused", func(t *testing.T) {
		status, body := f.do(t, "POST", "/authenticate", "", map[string]string{"username": "ana@ziik.test", "password": "bo-pw"})
		if status != 401 || errorCode(t, body) != "invalid_credentials" {
			t.Fatalf("%d %s", status, body)
		}
	})

	for _, tc := range []struct {
		name string
		jwt  string
		user int
		conv int
		want int
	}{
		{"Ana in her direct conversation", anaJWT, ana, anaOnly, 201},
		{"Ana in the group", anaJWT, ana, shared, 201},
		{"Bo in the group", boJWT, bo, shared, 201},
		{"Bo in Ana's direct conversation", boJWT, bo, anaOnly, 403},
		{"the integration user", f.jwt, f.srv.BotID(), anaOnly, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := fmt.Sprintf("/conversations/%d", tc.conv)
			status, body := f.do(t, "POST", path+"/messages", tc.jwt, map[string]any{"message": "hi from " + tc.name})
			if status != tc.want {
				t.Fatalf("create: %d, want %d: %s", status, tc.want, body)
			}
			readWant := map[int]int{201: 200, 403: 403}[tc.want]
			if status == 201 {
				var m struct {
					Author struct {
						ID int `json:"id"`
					} `json:"author"`
				}
				if err := json.Unmarshal(body, &m); err != nil || m.Author.ID != tc.user {
					t.Errorf("author of %s, want %d", body, tc.user)
				}
			} else if code := errorCode(t, body); code != "forbidden" {
				t.Errorf("error code %q, want forbidden", code)
			}
			status, body = f.do(t, "GET", path+"/messages?limit=1", tc.jwt, nil)
			if status != readWant {
				t.Fatalf("list messages: %d, want %d: %s", status, readWant, body)
			}
			if status == 200 {
				var pg struct {
					Data []struct {
						Message string `json:"message"`
						Author  struct {
							ID int `json:"id"`
						} `json:"author"`
					} `json:"data"`
				}
				if err := json.Unmarshal(body, &pg); err != nil || len(pg.Data) != 1 || pg.Data[0].Author.ID != tc.user || pg.Data[0].Message != "hi from "+tc.name {
					t.Errorf("newest message %s, want ours by %d", body, tc.user)
				}
			}
			if status, _ := f.do(t, "GET", path, tc.jwt, nil); status != readWant {
				t.Errorf("get conversation: %d, want %d", status, readWant)
			}
			status, body = f.do(t, "GET", "/conversations", tc.jwt, nil)
			var list struct {
				Data []struct {
					ID int `json:"id"`
				} `json:"data"`
			}
			if status != 200 || json.Unmarshal(body, &list) != nil {
				t.Fatalf("list conversations: %d %s", status, body)
			}
			var ids []int
			for _, c := range list.Data {
				ids = append(ids, c.ID)
			}
			if slices.Contains(ids, tc.conv) != (readWant == 200) {
				t.Errorf("GET /conversations lists %v; %d listed should be %v", ids, tc.conv, readWant == 200)
			}
		})
	}

	t.Run("participants set later", func(t *testing.T) {
		path := fmt.Sprintf("/conversations/%d/messages", anaOnly)
		if err := f.srv.AddParticipant(anaOnly, bo); err != nil {
			t.Fatal(err)
		}
		if status, body := f.do(t, "GET", path, boJWT, nil); status != 200 {
			t.Fatalf("after AddParticipant: %d %s", status, body)
		}
		if err := f.srv.SetParticipants(anaOnly, ana, f.srv.BotID()); err != nil {
			t.Fatal(err)
		}
		if status, body := f.do(t, "GET", path, boJWT, nil); status != 403 {
			t.Fatalf("after SetParticipants without Bo: %d %s", status, body)
		}
		if err := f.srv.SetParticipants(anaOnly, 424242); err == nil {
			t.Error("SetParticipants took a user that does not exist")
		}
	})
}
