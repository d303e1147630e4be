package klinktest

import "testing"

// TestTokensActAsTheirUsers checks that a comment created with a user's token
// has that user as sender, and that, K-LINK tokens being tenant-scoped with no
// room membership, every user's token reads and writes every room.
func TestTokensActAsTheirUsers(t *testing.T) {
	const (
		ana = "6f1c0000-0000-4000-8000-0000000000a1"
		bo  = "9b2e0000-0000-4000-8000-0000000000c4"
	)
	s := NewServer(Options{})
	defer s.Close()
	s.AddUser(ana, "Ana Lee")
	s.AddUser(bo, "Bo Tan")
	s.AddToken("kpt_ana", ana)
	s.AddToken("kpt_bo", bo)
	s.AddRoom("r1", "Acme")
	s.AddRoom("r2", "Globex")

	for _, tc := range []struct {
		name, token, room    string
		wantID, wantName     string
		wantCreate, wantList int
	}{
		{"Ana in r1", "kpt_ana", "r1", ana, "Ana Lee", 201, 200},
		{"Bo in r1", "kpt_bo", "r1", bo, "Bo Tan", 201, 200},
		{"Bo in r2", "kpt_bo", "r2", bo, "Bo Tan", 201, 200},
		{"the default token is the bot", DefaultToken, "r2", BotID, BotName, 201, 200},
		{"an unknown token", "kpt_nobody", "r1", "", "", 401, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, s, "POST", "/api/v1/comments/rooms/"+tc.room, tc.token, map[string]any{"text": "hello from " + tc.name})
			if status != tc.wantCreate {
				t.Fatalf("create: status %d, want %d: %v", status, tc.wantCreate, body)
			}
			if status == 201 {
				sender := body["data"].(map[string]any)["sender"].(map[string]any)
				if sender["id"] != tc.wantID || sender["name"] != tc.wantName {
					t.Errorf("sender %v, want {%s %s}", sender, tc.wantID, tc.wantName)
				}
			}
			status, body = call(t, s, "GET", "/api/v1/comments/rooms/"+tc.room+"?pageSize=1", tc.token, nil)
			if status != tc.wantList {
				t.Fatalf("list: status %d, want %d: %v", status, tc.wantList, body)
			}
			if status == 200 {
				newest := body["data"].([]any)[0].(map[string]any)
				if got := newest["sender"].(map[string]any)["id"]; got != tc.wantID {
					t.Errorf("listed sender %v, want %s", got, tc.wantID)
				}
			}
		})
	}
}
