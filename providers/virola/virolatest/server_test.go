package virolatest

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// do sends one request as token, a body as JSON, and decodes the JSON answer
// into a map.
func do(t *testing.T, s *Server, token, method, path, body string) (int, map[string]any, []byte) {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	return doType(t, s, token, method, path, ctype, body)
}

// doType is do with the body's Content-Type given (none when empty).
func doType(t *testing.T, s *Server, token, method, path, ctype, body string) (int, map[string]any, []byte) {
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
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
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
	if f := readFrame(t, c); f.Type != "TextMessagesUpdated" || !strings.Contains(string(f.Data), `"commentCount":0`) {
		t.Fatalf("parent update after the delete %s %s", f.Type, f.Data)
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

// clock is a settable clock for Options.Now.
type clock struct{ ms atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ms.Store(t.UnixMilli())
	return c
}

func (c *clock) now() time.Time          { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// lifeFixture is a room where the bot wrote a room message with a comment of
// its own and one of another user's under it, beside another user's room
// message, and a private room the bot is not in.
type lifeFixture struct {
	s      *Server
	clock  *clock
	room   int64
	other  int64 // a user who is not the bot
	parent int64 // the bot's room message, the newest in the room
	mine   int64 // the bot's comment under parent
	theirs int64 // other's comment under parent
	before int64 // other's room message, older than parent
	hidden int64 // a room message in a room the bot may not access
}

func newLifeFixture(t *testing.T, perms *Permissions) *lifeFixture {
	t.Helper()
	f := &lifeFixture{clock: newClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}
	f.s = NewServer(Options{Now: f.clock.now})
	t.Cleanup(f.s.Close)
	f.other = f.s.AddUser(User{DisplayName: "Bo Tan"}).ID
	f.room = f.s.AddRoom(Room{Name: "General", Permissions: perms}).ID
	secret := f.s.AddRoom(Room{Name: "secret", Type: "Private", Members: []int64{f.other}}).ID
	must := func(id int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	f.before = must(f.s.AddMessage(Message{RoomID: f.room, UserID: f.other, Text: "earlier"}))
	f.parent = must(f.s.AddMessage(Message{RoomID: f.room, Text: "Release plan"}))
	f.mine = must(f.s.AddComment(f.parent, Message{Text: "mine"}))
	f.theirs = must(f.s.AddComment(f.parent, Message{UserID: f.other, Text: "theirs"}))
	f.hidden = must(f.s.AddMessage(Message{RoomID: secret, UserID: f.other, Text: "hush"}))
	return f
}

func commentIDs(s *Server, parent int64) []int64 {
	var ids []int64
	for _, c := range s.Comments(parent) {
		ids = append(ids, c.ID)
	}
	return ids
}

// tokenFor is a table's token: "" the bot's, "-" none, else as written.
func tokenFor(token string) string {
	switch token {
	case "":
		return DefaultToken
	case "-":
		return ""
	}
	return token
}

// errorTextOf is the errorText a decoded answer holds: none for a success.
func errorTextOf(text string) any {
	if text == "" {
		return nil
	}
	return text
}

func TestDeleteMessage(t *testing.T) {
	tests := []struct {
		name   string
		perms  *Permissions
		token  string
		target func(f *lifeFixture) string // the path's messageId
		before func(t *testing.T, f *lifeFixture)
		status int
		text   string
		after  func(t *testing.T, f *lifeFixture)
	}{
		{name: "own comment", target: func(f *lifeFixture) string { return itoa(f.mine) }, status: 200,
			after: func(t *testing.T, f *lifeFixture) {
				if got := commentIDs(f.s, f.parent); !slices.Equal(got, []int64{f.theirs}) {
					t.Fatalf("comments left %v, want [%d]", got, f.theirs)
				}
				_, body, _ := do(t, f.s, DefaultToken, "GET", "/api/v1/rooms/"+itoa(f.room)+"/messages", "")
				for _, m := range body["messages"].([]any) {
					if m := m.(map[string]any); int64(m["messageId"].(float64)) == f.parent && m["commentCount"] != 1.0 {
						t.Fatalf("parent commentCount %v, want 1", m["commentCount"])
					}
				}
			}},
		{name: "own comment twice", target: func(f *lifeFixture) string { return itoa(f.mine) },
			before: func(t *testing.T, f *lifeFixture) {
				if st, _, _ := do(t, f.s, DefaultToken, "DELETE", "/api/v1/messages/"+itoa(f.mine), ""); st != 200 {
					t.Fatalf("first delete %d", st)
				}
			},
			status: 404, text: "Message not found"},
		{name: "own room message takes its comments", target: func(f *lifeFixture) string { return itoa(f.parent) }, status: 200,
			after: func(t *testing.T, f *lifeFixture) {
				for _, id := range []int64{f.parent, f.mine, f.theirs} {
					if st, _, _ := do(t, f.s, DefaultToken, "GET", "/api/v1/messages/"+itoa(id)+"/comments", ""); st != 404 {
						t.Errorf("message %d still answers %d", id, st)
					}
				}
				_, body, _ := do(t, f.s, DefaultToken, "GET", "/api/v1/rooms", "")
				room := body["rooms"].([]any)[0].(map[string]any)
				if last := room["lastMessage"].(map[string]any); int64(last["messageId"].(float64)) != f.before {
					t.Fatalf("room lastMessage %v, want %d", last, f.before)
				}
			}},
		{name: "unknown id", target: func(*lifeFixture) string { return "999" }, status: 404, text: "Message not found"},
		{name: "not a number", target: func(*lifeFixture) string { return "abc" }, status: 400, text: "Invalid messageId"},
		{name: "no token", token: "-", target: func(f *lifeFixture) string { return itoa(f.mine) },
			status: 401, text: "The Authorization HTTP-header or VirolaUserSessionId cookie expected"},
		{name: "wrong token", token: "nope", target: func(f *lifeFixture) string { return itoa(f.mine) },
			status: 401, text: "Wrong Bearer, please renew Web API Access Token"},
		{name: "someone else's comment", target: func(f *lifeFixture) string { return itoa(f.theirs) },
			status: 403, text: "Only the author can delete this message"},
		{name: "someone else's room message", target: func(f *lifeFixture) string { return itoa(f.before) },
			status: 403, text: "Only the author can delete this message"},
		{name: "a room the caller may not access", target: func(f *lifeFixture) string { return itoa(f.hidden) },
			status: 403, text: "Access denied"},
		{name: "own comment, deleting in discussions not allowed", perms: &Permissions{CanEditOrDeleteOwnMessagesInMainThread: true},
			target: func(f *lifeFixture) string { return itoa(f.mine) }, status: 403, text: "You have no permission to delete messages here"},
		{name: "own room message, deleting in the main thread not allowed", perms: &Permissions{CanEditOrDeleteOwnMessagesInDiscussion: true},
			target: func(f *lifeFixture) string { return itoa(f.parent) }, status: 403, text: "You have no permission to delete messages here"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLifeFixture(t, tc.perms)
			if tc.before != nil {
				tc.before(t, f)
			}
			comments := commentIDs(f.s, f.parent)
			st, body, raw := do(t, f.s, tokenFor(tc.token), "DELETE", "/api/v1/messages/"+tc.target(f), "")
			if st != tc.status || body["httpStatusCode"] != float64(tc.status) || body["errorText"] != errorTextOf(tc.text) {
				t.Fatalf("got %d %s, want %d %q", st, raw, tc.status, tc.text)
			}
			if tc.after != nil {
				tc.after(t, f)
			} else if got := commentIDs(f.s, f.parent); !slices.Equal(got, comments) {
				t.Fatalf("comments %v after a refused delete, want %v", got, comments)
			}
		})
	}
}

func TestMarkReadEndpoint(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		target func(f *lifeFixture) int64
		id     string // the path's messageId when not target's
		ctype  string
		body   string
		status int
		text   string
	}{
		{name: "a comment", target: func(f *lifeFixture) int64 { return f.theirs }, ctype: "application/json", body: "{}", status: 200},
		{name: "own comment", target: func(f *lifeFixture) int64 { return f.mine }, ctype: "application/json", body: "{}", status: 200},
		{name: "a room message", target: func(f *lifeFixture) int64 { return f.before }, ctype: "application/json; charset=utf-8", body: "{}", status: 200},
		{name: "unknown id", id: "999", ctype: "application/json", body: "{}", status: 404, text: "Message not found"},
		{name: "not a number", id: "abc", ctype: "application/json", body: "{}", status: 400, text: "Invalid messageId"},
		{name: "no token", token: "-", target: func(f *lifeFixture) int64 { return f.theirs }, ctype: "application/json", body: "{}",
			status: 401, text: "The Authorization HTTP-header or VirolaUserSessionId cookie expected"},
		{name: "a room the caller may not access", target: func(f *lifeFixture) int64 { return f.hidden }, ctype: "application/json", body: "{}",
			status: 403, text: "Access denied"},
		{name: "no body", target: func(f *lifeFixture) int64 { return f.theirs }, status: 400, text: "Invalid JSON body"},
		{name: "not sent as JSON", target: func(f *lifeFixture) int64 { return f.theirs }, ctype: "text/plain", body: "{}", status: 400, text: "Invalid JSON body"},
		{name: "not an object", target: func(f *lifeFixture) int64 { return f.theirs }, ctype: "application/json", body: "[]", status: 400, text: "Invalid JSON body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLifeFixture(t, nil)
			path := tc.id
			var id int64
			if tc.target != nil {
				id = tc.target(f)
				path = itoa(id)
			}
			st, body, raw := doType(t, f.s, tokenFor(tc.token), "POST", "/api/v1/messages/"+path+"/read", tc.ctype, tc.body)
			if st != tc.status || body["httpStatusCode"] != float64(tc.status) || body["errorText"] != errorTextOf(tc.text) {
				t.Fatalf("got %d %s, want %d %q", st, raw, tc.status, tc.text)
			}
			if id == 0 {
				return
			}
			reads := f.s.ReadBy(id)
			if tc.status != 200 {
				if len(reads) != 0 {
					t.Fatalf("refused read recorded %+v", reads)
				}
				return
			}
			if want := []Read{{UserID: f.s.BotID(), At: f.clock.now()}}; !slices.Equal(reads, want) {
				t.Fatalf("read receipts %+v, want %+v", reads, want)
			}
		})
	}
}

// TestMarkReadKeepsFirstRead: reading again keeps the receipt's time.
func TestMarkReadKeepsFirstRead(t *testing.T) {
	f := newLifeFixture(t, nil)
	first := f.clock.now()
	for range 2 {
		if st, _, raw := do(t, f.s, DefaultToken, "POST", "/api/v1/messages/"+itoa(f.theirs)+"/read", "{}"); st != 200 {
			t.Fatalf("read %d %s", st, raw)
		}
		f.clock.advance(time.Minute)
	}
	if got, want := f.s.ReadBy(f.theirs), []Read{{UserID: f.s.BotID(), At: first}}; !slices.Equal(got, want) {
		t.Fatalf("read receipts %+v, want %+v", got, want)
	}
	_, body, _ := do(t, f.s, DefaultToken, "GET", "/api/v1/messages/"+itoa(f.parent)+"/comments", "")
	for _, m := range body["messages"].([]any) {
		m := m.(map[string]any)
		if int64(m["messageId"].(float64)) != f.theirs {
			continue
		}
		rs := m["readTimestamps"].([]any)
		if len(rs) != 1 || rs[0].(map[string]any)["readUtc"] != float64(first.UnixMilli()) {
			t.Fatalf("readTimestamps %v", rs)
		}
	}
}

// TestLifecycleEvents: deleting and reading through the API tell the events
// WebSocket what the notes name, in order, and nothing more: a comment's
// delete updates its parent's commentCount, a repeated read is no news, and a
// room message's delete is one frame however many comments go with it.
func TestLifecycleEvents(t *testing.T) {
	f := newLifeFixture(t, nil)
	c, _, err := dial(t, f.s, DefaultToken)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.s.WaitStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	type deleted struct {
		MessageID       int64 `json:"messageId"`
		RoomID          int64 `json:"roomId"`
		ParentMessageID int64 `json:"parentMessageId"`
	}
	wantDeleted := func(want deleted) {
		t.Helper()
		fr := readFrame(t, c)
		var got deleted
		if err := json.Unmarshal(fr.Data, &got); err != nil || fr.Type != "TextMessageDeleted" || got != want {
			t.Fatalf("frame %s %s, want TextMessageDeleted %+v", fr.Type, fr.Data, want)
		}
	}
	wantUpdated := func() wireMessage {
		t.Helper()
		fr := readFrame(t, c)
		var got struct{ Messages []wireMessage }
		if err := json.Unmarshal(fr.Data, &got); err != nil || fr.Type != "TextMessagesUpdated" || len(got.Messages) != 1 {
			t.Fatalf("frame %s %s, want TextMessagesUpdated of one message", fr.Type, fr.Data)
		}
		return got.Messages[0]
	}

	if st, _, _ := do(t, f.s, DefaultToken, "DELETE", "/api/v1/messages/"+itoa(f.mine), ""); st != 200 {
		t.Fatalf("delete %d", st)
	}
	wantDeleted(deleted{f.mine, f.room, f.parent})
	if m := wantUpdated(); m.MessageID != f.parent || m.CommentCount != 1 {
		t.Fatalf("parent update %+v", m)
	}

	for range 2 {
		if st, _, _ := do(t, f.s, DefaultToken, "POST", "/api/v1/messages/"+itoa(f.theirs)+"/read", "{}"); st != 200 {
			t.Fatalf("read %d", st)
		}
	}
	m := wantUpdated()
	if m.MessageID != f.theirs || m.ParentMessageID != f.parent ||
		!slices.Equal(m.ReadTimestamps, []wireRead{{UserID: f.s.BotID(), ReadUtc: f.clock.now().UnixMilli()}}) {
		t.Fatalf("read update %+v", m)
	}

	if st, _, _ := do(t, f.s, DefaultToken, "DELETE", "/api/v1/messages/"+itoa(f.parent), ""); st != 200 {
		t.Fatalf("delete parent %d", st)
	}
	wantDeleted(deleted{f.parent, f.room, 0}) // not the second read: it was no news
	f.s.AddRoom(Room{Name: "after"})
	if fr := readFrame(t, c); fr.Type != "RoomCreated" { // no frame per comment of the deleted parent
		t.Fatalf("frame %s %s, want RoomCreated", fr.Type, fr.Data)
	}
}
