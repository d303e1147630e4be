package virolatest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestTokensAndRoomMembers checks what a user's own Web API token may do: a
// comment posted with it is that user's, and a room the user is not a member
// of is hidden from GET /rooms and 403 everywhere else, events included.
func TestTokensAndRoomMembers(t *testing.T) {
	s := NewServer(Options{})
	t.Cleanup(s.Close)
	ana := s.AddUser(User{UserName: "ana", DisplayName: "Ana Lee"}).ID
	bo := s.AddUser(User{UserName: "bo", DisplayName: "Bo Tan"}).ID
	s.AddToken("tok-ana", ana)
	s.AddToken("tok-bo", bo)
	anaOnly := s.AddRoom(Room{Name: "ana only", Members: []int64{ana}}).ID
	shared := s.AddRoom(Room{Name: "shared", Members: []int64{ana, bo}}).ID
	parents := map[int64]int64{}
	for _, room := range []int64{anaOnly, shared} {
		id, err := s.AddMessage(Message{RoomID: room, UserID: ana, Text: "parent"})
		if err != nil {
			t.Fatal(err)
		}
		parents[room] = id
	}

	for _, tc := range []struct {
		name  string
		token string
		user  int64
		room  int64
		want  int
	}{
		{"Ana in her room", "tok-ana", ana, anaOnly, 200},
		{"Ana in the shared room", "tok-ana", ana, shared, 200},
		{"Bo in the shared room", "tok-bo", bo, shared, 200},
		{"Bo in Ana's room", "tok-bo", bo, anaOnly, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comments := "/api/v1/messages/" + itoa(parents[tc.room]) + "/comments"
			st, body, _ := do(t, s, tc.token, "POST", comments, `{"content":"hi from `+tc.name+`"}`)
			if st != tc.want {
				t.Fatalf("post comment: %d, want %d: %v", st, tc.want, body)
			}
			if tc.want == 403 && body["errorText"] != "Access denied" {
				t.Errorf("403 body %v", body)
			}
			st, body, _ = do(t, s, tc.token, "GET", comments+"?limit=1&direction=backward", "")
			if st != tc.want {
				t.Fatalf("list comments: %d, want %d", st, tc.want)
			}
			if st == 200 {
				newest := body["messages"].([]any)[0].(map[string]any)
				if int64(newest["userId"].(float64)) != tc.user || newest["text"] != "hi from "+tc.name {
					t.Errorf("newest comment %v, want %q by user %d", newest, "hi from "+tc.name, tc.user)
				}
			}
			if st, _, _ := do(t, s, tc.token, "GET", "/api/v1/rooms/"+itoa(tc.room)+"/messages", ""); st != tc.want {
				t.Errorf("room messages: %d, want %d", st, tc.want)
			}
			if st, _, _ := do(t, s, tc.token, "POST", "/api/v1/rooms/"+itoa(tc.room)+"/messages", `{"content":"x"}`); st != tc.want {
				t.Errorf("post room message: %d, want %d", st, tc.want)
			}
			_, body, _ = do(t, s, tc.token, "GET", "/api/v1/rooms", "")
			var listed []int64
			for _, r := range body["rooms"].([]any) {
				listed = append(listed, int64(r.(map[string]any)["roomId"].(float64)))
			}
			if slices.Contains(listed, tc.room) != (tc.want == 200) {
				t.Errorf("GET /rooms lists %v; room %d listed should be %v", listed, tc.room, tc.want == 200)
			}
		})
	}

	t.Run("events skip rooms the user cannot access", func(t *testing.T) {
		c, _, err := dial(t, s, "tok-bo")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The upgrade answers before the stream is registered: a comment
		// added in between would reach nobody.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.WaitStreams(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddComment(parents[anaOnly], Message{UserID: ana, Text: "secret"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddComment(parents[shared], Message{UserID: ana, Text: "public"}); err != nil {
			t.Fatal(err)
		}
		// Frames arrive in order, so the first one Bo gets is the shared
		// room's only if the other was never sent to him.
		f := readFrame(t, c)
		var data struct {
			Messages []struct {
				Text string `json:"text"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(f.Data, &data); err != nil || f.Type != "TextMessagesCreated" || len(data.Messages) != 1 || data.Messages[0].Text != "public" {
			t.Fatalf("first frame %s %s, want the shared room's comment", f.Type, f.Data)
		}
	})

	t.Run("a member added later gets in", func(t *testing.T) {
		comments := "/api/v1/messages/" + itoa(parents[anaOnly]) + "/comments"
		if err := s.AddRoomMember(anaOnly, bo); err != nil {
			t.Fatal(err)
		}
		if st, _, _ := do(t, s, "tok-bo", "GET", comments, ""); st != 200 {
			t.Fatalf("after AddRoomMember: %d, want 200", st)
		}
		if err := s.SetRoomMembers(anaOnly, []int64{ana}); err != nil {
			t.Fatal(err)
		}
		if st, _, _ := do(t, s, "tok-bo", "GET", comments, ""); st != 403 {
			t.Fatalf("after SetRoomMembers without Bo: %d, want 403", st)
		}
	})
}
