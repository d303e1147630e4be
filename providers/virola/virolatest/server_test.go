package virolatest

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// do sends one request as token and decodes the JSON answer into a map.
func do(t *testing.T, s *Server, token, method, path, body string) (int, map[string]any, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, raw
}

func messageIDs(t *testing.T, body map[string]any) []int64 {
	t.Helper()
	msgs, ok := body["messages"].([]any)
	if !ok {
		t.Fatalf("no messages array in %v", body)
	}
	var ids []int64
	for _, m := range msgs {
		ids = append(ids, int64(m.(map[string]any)["messageId"].(float64)))
	}
	return ids
}

// fixture is a room with one parent message and n comments under it.
func fixture(t *testing.T, opts Options, n int) (*Server, int64, []int64) {
	t.Helper()
	s := NewServer(opts)
	t.Cleanup(s.Close)
	room := s.AddRoom(Room{Name: "General"})
	parent, err := s.AddMessage(Message{RoomID: room.ID, Text: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range n {
		id, err := s.AddComment(parent, Message{Text: "c" + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return s, parent, ids
}

func TestAuth(t *testing.T) {
	s, parent, _ := fixture(t, Options{}, 1)
	path := "/api/v1/messages/" + itoa(parent) + "/comments"
	tests := []struct {
		name   string
		header string
		status int
		text   string
	}{
		{"no header", "", 401, "The Authorization HTTP-header or VirolaUserSessionId cookie expected"},
		{"wrong token", "Bearer nope", 401, "Wrong Bearer, please renew Web API Access Token"},
		{"not bearer", "Basic " + DefaultToken, 401, "Wrong Bearer, please renew Web API Access Token"},
		{"good token", "Bearer " + DefaultToken, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				ErrorText      string `json:"errorText"`
				HTTPStatusCode int    `json:"httpStatusCode"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || body.HTTPStatusCode != tc.status || body.ErrorText != tc.text {
				t.Fatalf("got %d %+v, want %d %q", resp.StatusCode, body, tc.status, tc.text)
			}
		})
	}
}

func TestNewTokenInvalidatesOld(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	u := s.AddUser(User{DisplayName: "Ana Lee"})
	s.AddToken("first", u.ID)
	s.AddToken("second", u.ID)
	if st, _, _ := do(t, s, "first", "GET", "/api/v1/status", ""); st != 401 {
		t.Fatalf("old token: %d, want 401", st)
	}
	st, body, _ := do(t, s, "second", "GET", "/api/v1/status", "")
	if st != 200 || body["userId"].(float64) != float64(u.ID) {
		t.Fatalf("new token: %d %v", st, body)
	}
}

func TestCommentPaging(t *testing.T) {
	for _, inclusive := range []bool{false, true} {
		s, parent, ids := fixture(t, Options{InclusiveCursor: inclusive}, 5) // ids[0..4]
		base := "/api/v1/messages/" + itoa(parent) + "/comments"
		tests := []struct {
			name  string
			query string
			want  []int64
		}{
			{"all, default forward", "", ids},
			{"cursor -1 is absent", "?cursor=-1&limit=2&direction=backward", ids[3:]},
			{"forward from oldest", "?limit=2&direction=forward", ids[:2]},
			{"backward from newest", "?limit=2&direction=backward", ids[3:]},
			{"forward after cursor", "?cursor=" + itoa(ids[1]) + "&limit=2&direction=forward", pick(inclusive, ids[1:3], ids[2:4])},
			{"backward before cursor", "?cursor=" + itoa(ids[3]) + "&limit=2&direction=backward", pick(inclusive, ids[2:4], ids[1:3])},
			{"backward no limit", "?cursor=" + itoa(ids[2]) + "&direction=backward", pick(inclusive, ids[:3], ids[:2])},
			{"past the end", "?cursor=" + itoa(ids[4]) + "&direction=forward", pick(inclusive, ids[4:], nil)},
		}
		for _, tc := range tests {
			t.Run(map[bool]string{false: "exclusive/", true: "inclusive/"}[inclusive]+tc.name, func(t *testing.T) {
				st, body, raw := do(t, s, DefaultToken, "GET", base+tc.query, "")
				if st != 200 {
					t.Fatalf("status %d: %s", st, raw)
				}
				if got := messageIDs(t, body); !slices.Equal(got, tc.want) {
					t.Fatalf("ids %v, want %v", got, tc.want)
				}
				if body["roomId"] == nil || body["httpStatusCode"].(float64) != 200 {
					t.Fatalf("envelope %s", raw)
				}
			})
		}
	}
}

func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

func TestBadRequests(t *testing.T) {
	s, parent, ids := fixture(t, Options{}, 1)
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown message", "GET", "/api/v1/messages/999/comments", "", 404},
		{"non-numeric message", "GET", "/api/v1/messages/abc/comments", "", 400},
		{"bad direction", "GET", "/api/v1/messages/" + itoa(parent) + "/comments?direction=up", "", 400},
		{"bad limit", "GET", "/api/v1/messages/" + itoa(parent) + "/comments?limit=-3", "", 400},
		{"bad cursor", "GET", "/api/v1/messages/" + itoa(parent) + "/comments?cursor=x", "", 400},
		{"post to unknown", "POST", "/api/v1/messages/999/comments", `{"content":"x"}`, 404},
		{"post without content", "POST", "/api/v1/messages/" + itoa(parent) + "/comments", `{}`, 400},
		{"post garbage", "POST", "/api/v1/messages/" + itoa(parent) + "/comments", `{`, 400},
		{"comment on a comment", "POST", "/api/v1/messages/" + itoa(ids[0]) + "/comments", `{"content":"x"}`, 400},
		{"unknown room", "GET", "/api/v1/rooms/77/messages", "", 404},
		{"unknown path", "GET", "/api/v1/nothing", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body, raw := do(t, s, DefaultToken, tc.method, tc.path, tc.body)
			if st != tc.status || body["httpStatusCode"] != float64(tc.status) || body["errorText"] == "" || body["errorText"] == nil {
				t.Fatalf("got %d %s, want %d with errorText", st, raw, tc.status)
			}
		})
	}
}

func TestCreateAnswersOnlyStatus(t *testing.T) {
	for _, sample := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "doc sample"}[sample], func(t *testing.T) {
			s, parent, _ := fixture(t, Options{DocSampleBodies: sample}, 0)
			st, _, raw := do(t, s, DefaultToken, "POST", "/api/v1/messages/"+itoa(parent)+"/comments", `{"content":"Zoë 🚀 hi"}`)
			if st != 200 {
				t.Fatalf("status %d %s", st, raw)
			}
			want := `{"httpStatusCode":200}`
			if sample {
				want = "{\n    \"httpStatusCode\": 200,\n}"
			}
			if strings.TrimSpace(string(raw)) != want {
				t.Fatalf("body %q, want %q", raw, want)
			}
			got := s.Comments(parent)
			if len(got) != 1 || got[0].Text != "Zoë 🚀 hi" || got[0].UserID != s.BotID() || got[0].Markup != "TextPlain" {
				t.Fatalf("stored %+v", got)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	s, parent, _ := fixture(t, Options{}, 1)
	ep := "GET /api/v1/messages/{messageId}/comments"
	path := "/api/v1/messages/" + itoa(parent) + "/comments"
	s.FailNext(ep, Fault{Status: 429, Header: http.Header{"Retry-After": {"7"}}, Times: 2})
	s.FailNext(ep, Fault{Status: 200, Body: "{garbage"})
	for i, want := range []int{429, 429, 200, 200} {
		st, _, raw := do(t, s, DefaultToken, "GET", path, "")
		if st != want {
			t.Fatalf("call %d: %d, want %d", i, st, want)
		}
		if i == 2 && string(raw) != "{garbage" {
			t.Fatalf("call 2 body %q", raw)
		}
	}
	if got := s.Calls(ep); got != 4 {
		t.Fatalf("Calls = %d, want 4", got)
	}
	s.ResetCalls()
	if s.TotalCalls() != 0 {
		t.Fatal("ResetCalls left calls")
	}
	// A delay longer than the client's patience is a timeout.
	s.FailNext(ep, Fault{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("delayed call answered in time")
	}
}

func TestAttachments(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	room := s.AddRoom(Room{Name: "r"})
	parent, _ := s.AddMessage(Message{RoomID: room.ID, Text: "p"})
	_, err := s.AddComment(parent, Message{Text: "files", Attachments: []Attachment{
		{ID: 50, FileName: "a b.png", Content: []byte("png!")},
		{ID: 51, FileName: "c.pdf", State: StateUploading},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		status     int
		body       string
	}{
		{"ready download", "/api/v1/attachments/50/a%20b.png", 200, "png!"},
		{"wrong name", "/api/v1/attachments/50/other.png", 404, ""},
		{"not ready", "/api/v1/attachments/51/c.pdf", 404, ""},
		{"unknown", "/api/v1/attachments/99", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _, raw := do(t, s, DefaultToken, "GET", tc.path, "")
			if st != tc.status || (tc.body != "" && string(raw) != tc.body) {
				t.Fatalf("got %d %q", st, raw)
			}
		})
	}
	st, meta, _ := do(t, s, DefaultToken, "GET", "/api/v1/attachments/51", "")
	if st != 200 || meta["attachmentState"] != StateUploading || meta["fileName"] != "c.pdf" {
		t.Fatalf("metadata %d %v", st, meta)
	}
}

func TestPrivateRoomsAreHidden(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	other := s.AddUser(User{DisplayName: "Bo Tan"})
	s.AddRoom(Room{Name: "open"})
	secret := s.AddRoom(Room{Name: "secret", Type: "Private", Members: []int64{other.ID}})
	msg, _ := s.AddMessage(Message{RoomID: secret.ID, UserID: other.ID, Text: "hush"})
	_, body, _ := do(t, s, DefaultToken, "GET", "/api/v1/rooms", "")
	if rooms := body["rooms"].([]any); len(rooms) != 1 || rooms[0].(map[string]any)["displayName"] != "open" {
		t.Fatalf("rooms %v", rooms)
	}
	if st, _, _ := do(t, s, DefaultToken, "GET", "/api/v1/messages/"+itoa(msg)+"/comments", ""); st != 403 {
		t.Fatalf("comments of a private room: %d, want 403", st)
	}
}

// dial connects to the events WebSocket as token.
func dial(t *testing.T, s *Server, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL, "http")+"/api/v1/events", h)
}

type frame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func readFrame(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f frame
	if err := c.ReadJSON(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEvents(t *testing.T) {
	s, parent, _ := fixture(t, Options{}, 0)
	if _, resp, err := dial(t, s, "wrong"); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("dial with a wrong token: %v", err)
	}
	c, _, err := dial(t, s, DefaultToken)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}

	st, _, _ := do(t, s, DefaultToken, "POST", "/api/v1/messages/"+itoa(parent)+"/comments", `{"content":"via API"}`)
	if st != 200 {
		t.Fatalf("post %d", st)
	}
	f := readFrame(t, c)
	var created struct{ Messages []wireMessage }
	if err := json.Unmarshal(f.Data, &created); err != nil || f.Type != "TextMessagesCreated" || len(created.Messages) != 1 ||
		created.Messages[0].Text != "via API" || created.Messages[0].ParentMessageID != parent {
		t.Fatalf("frame %s %s", f.Type, f.Data)
	}
	if f := readFrame(t, c); f.Type != "TextMessagesUpdated" || !strings.Contains(string(f.Data), `"commentCount":1`) {
		t.Fatalf("parent update %s %s", f.Type, f.Data)
	}
	id := created.Messages[0].MessageID
	if err := s.DeleteMessage(id); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, c); f.Type != "TextMessageDeleted" || !strings.Contains(string(f.Data), `"messageId":`+itoa(id)) {
		t.Fatalf("delete %s %s", f.Type, f.Data)
	}

	s.DropStreams()
	if err := s.WaitStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("connection still open after DropStreams")
	}
}

func TestSeedDemoAndActivity(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	if err := s.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	_, body, _ := do(t, s, DefaultToken, "GET", "/api/v1/users", "")
	var names []string
	for _, u := range body["users"].([]any) {
		names = append(names, u.(map[string]any)["displayName"].(string))
	}
	for _, want := range append([]string{"commentgraph bot"}, Cast...) {
		if !slices.Contains(names, want) {
			t.Fatalf("users %v lack %q", names, want)
		}
	}
	s.mu.Lock()
	threads := slices.Clone(s.demo.threads)
	states := map[string]bool{}
	for _, a := range s.world.atts {
		states[a.wire.AttachmentState] = true
	}
	s.mu.Unlock()
	for _, st := range AllAttachmentStates {
		if !states[st] {
			t.Errorf("no demo attachment in state %s", st)
		}
	}

	c, _, err := dial(t, s, DefaultToken)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	before := 0
	for _, p := range threads {
		before += len(s.Comments(p))
	}
	s.DemoActivity(rand.New(rand.NewPCG(1, 2)))
	after := 0
	for _, p := range threads {
		after += len(s.Comments(p))
	}
	if after != before+1 {
		t.Fatalf("DemoActivity added %d comments, want 1", after-before)
	}
	if f := readFrame(t, c); f.Type != "TextMessagesCreated" {
		t.Fatalf("DemoActivity pushed %s", f.Type)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
