package klinktest

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// call makes one request with the default token (token "" sends none).
func call(t *testing.T, s *Server, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
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
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
	}
	return resp.StatusCode, out
}

// tick is a clock that moves one second per reading.
func tick() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 2, 27, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func TestAuth(t *testing.T) {
	s := NewServer(Options{Tokens: []string{"kpt_a", "kpt_b"}})
	defer s.Close()
	s.AddRoom("r1", "Acme")
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", 401},
		{"wrong token", "kpt_c", 401},
		{"first token", "kpt_a", 200},
		{"second token", "kpt_b", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, s, "GET", "/api/v1/comments/rooms/r1", tc.token, nil)
			if status != tc.want {
				t.Fatalf("status %d, want %d", status, tc.want)
			}
			if status == 401 && body["message"] == "" {
				t.Fatalf("401 without a message: %v", body)
			}
		})
	}
}

func TestCreateComment(t *testing.T) {
	s := NewServer(Options{Now: tick()})
	defer s.Close()
	s.AddRoom("r1", "Acme")
	s.AddUser("u-zoe", "Zoë Park")
	s.AddUser("u-sato", "Sato Yūki")

	status, body := call(t, s, "POST", "/api/v1/comments/rooms/r1", DefaultToken, map[string]any{
		"text":     "🚀 shipped — thanks {0} and {1}",
		"mentions": []map[string]any{{"index": 0, "userId": "u-zoe"}, {"index": 1, "userId": "u-sato"}},
	})
	if status != 201 {
		t.Fatalf("status %d: %v", status, body)
	}
	data := body["data"].(map[string]any)
	if got, want := data["text"], "🚀 shipped — thanks @Zoë Park and @Sato Yūki"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if data["type"] != "comment" || data["roomId"] != "r1" || body["requestId"] == "" {
		t.Errorf("envelope or fields wrong: %v", body)
	}
	sender := data["sender"].(map[string]any)
	if sender["id"] != BotID || sender["name"] != BotName {
		t.Errorf("sender %v, want the token's user", sender)
	}
	ms := data["mentions"].([]any)
	if len(ms) != 2 || ms[1].(map[string]any)["name"] != "Sato Yūki" || ms[0].(map[string]any)["userId"] != "u-zoe" {
		t.Errorf("mentions %v", ms)
	}
	if got := data["createdAt"]; got != "2026-02-27T12:00:01.000000Z" {
		t.Errorf("createdAt %v, want µs precision from the clock", got)
	}
	if n := s.Calls(EndpointCreateComment); n != 1 {
		t.Errorf("Calls(create) = %d", n)
	}
}

func TestCreateCommentRejects(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.AddRoom("r1", "Acme")
	s.AddUser("u1", "Ana Lee")
	for _, tc := range []struct {
		name string
		room string
		body any
		want int
	}{
		{"unknown room", "nope", map[string]any{"text": "hi"}, 404},
		{"empty text", "r1", map[string]any{"text": "  "}, 422},
		{"no text", "r1", map[string]any{}, 422},
		{"unknown user", "r1", map[string]any{"text": "hi {0}", "mentions": []any{map[string]any{"index": 0, "userId": "ghost"}}}, 422},
		{"index without placeholder", "r1", map[string]any{"text": "hi {0}", "mentions": []any{map[string]any{"index": 1, "userId": "u1"}}}, 422},
		{"mention without index", "r1", map[string]any{"text": "hi {0}", "mentions": []any{map[string]any{"userId": "u1"}}}, 422},
		{"text not a string", "r1", map[string]any{"text": 5}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, s, "POST", "/api/v1/comments/rooms/"+tc.room, DefaultToken, tc.body)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %v", status, tc.want, body)
			}
			if msg, _ := body["message"].(string); msg == "" {
				t.Fatalf("error without message: %v", body)
			}
		})
	}
	if n := s.CommentCount("r1"); n != 0 {
		t.Fatalf("a rejected create stored %d comments", n)
	}
}

func TestListComments(t *testing.T) {
	for _, tc := range []struct {
		name        string
		opts        Options
		wantFirst   string // text of the first item of page 1
		wantMetaSet bool
	}{
		{"newest first with legacy block", Options{}, "c6", true},
		{"without block", Options{OmitPagination: true}, "c6", false},
		{"oldest first", Options{OldestFirst: true}, "c0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = tick()
			s := NewServer(tc.opts)
			defer s.Close()
			s.AddRoom("r1", "Acme")
			for i := range 7 {
				if _, err := s.AddComment("r1", BotID, "c"+string(rune('0'+i))); err != nil {
					t.Fatal(err)
				}
			}
			status, body := call(t, s, "GET", "/api/v1/comments/rooms/r1?page=1&pageSize=3", DefaultToken, nil)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			data := body["data"].([]any)
			if len(data) != 3 || data[0].(map[string]any)["text"] != tc.wantFirst {
				t.Fatalf("page 1 = %v", data)
			}
			_, hasTotal := body["total"]
			if hasTotal != tc.wantMetaSet {
				t.Fatalf("legacy block present = %v, want %v", hasTotal, tc.wantMetaSet)
			}
			if tc.wantMetaSet && (body["total"] != 7.0 || body["lastPage"] != 3.0 || body["page"] != 1.0 || body["pageSize"] != 3.0) {
				t.Fatalf("legacy block %v", body)
			}
			_, body = call(t, s, "GET", "/api/v1/comments/rooms/r1?page=3&pageSize=3", DefaultToken, nil)
			if n := len(body["data"].([]any)); n != 1 {
				t.Fatalf("page 3 has %d items, want 1", n)
			}
			_, body = call(t, s, "GET", "/api/v1/comments/rooms/r1?page=9&pageSize=3", DefaultToken, nil)
			if n := len(body["data"].([]any)); n != 0 {
				t.Fatalf("page past the end has %d items", n)
			}
		})
	}
}

func TestListCommentsRejects(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.AddRoom("r1", "Acme")
	for _, tc := range []struct {
		name, path string
		want       int
	}{
		{"pageSize over 100", "/api/v1/comments/rooms/r1?pageSize=101", 422},
		{"page zero", "/api/v1/comments/rooms/r1?page=0", 422},
		{"page not a number", "/api/v1/comments/rooms/r1?page=x", 422},
		{"unknown room", "/api/v1/comments/rooms/nope", 404},
		{"pageSize 100 is fine", "/api/v1/comments/rooms/r1?pageSize=100", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := call(t, s, "GET", tc.path, DefaultToken, nil); status != tc.want {
				t.Fatalf("status %d, want %d: %v", status, tc.want, body)
			}
		})
	}
}

func TestSendMessage(t *testing.T) {
	s := NewServer(Options{Now: func() time.Time { return time.Date(2026, 2, 20, 11, 46, 31, 616038690, time.UTC) }})
	defer s.Close()
	contact := s.AddRoom("room-1", "Acme")
	status, body := call(t, s, "POST", "/api/v1/messages/send", DefaultToken, map[string]any{
		"contactId": contact, "messageType": "text", "message": "Hello 👋", "createdAt": "2026-01-08T16:03:39.923Z",
	})
	if status != 200 || body["status"] != 200.0 || body["message"] != "Message sent successfully" {
		t.Fatalf("status %d: %v", status, body)
	}
	data := body["data"].(map[string]any)
	if data["roomId"] != "room-1" || data["message"] != "Hello 👋" || data["contactId"] != contact || data["direction"] != "outgoing" || data["type"] != "text" {
		t.Errorf("data %v", data)
	}
	if got := data["createdAt"]; got != "2026-02-20T11:46:31.616038000Z" {
		t.Errorf("createdAt %v, want 9 fraction digits", got)
	}
	sent := s.SentMessages()
	if len(sent) != 1 || sent[0].Token != DefaultToken || sent[0].ContactID != contact || sent[0].Message != "Hello 👋" ||
		sent[0].CreatedAt != "2026-01-08T16:03:39.923Z" || sent[0].ID != data["id"] || sent[0].RoomID != "room-1" ||
		strings.Join(sent[0].Fields, ",") != "contactId,createdAt,message,messageType" {
		t.Errorf("sent %+v", sent)
	}
	for _, tc := range []struct {
		name  string
		token string
		body  any
		want  int
	}{
		{"no contact", DefaultToken, map[string]any{"messageType": "text", "message": "x"}, 400},
		{"contact not a UUID", DefaultToken, map[string]any{"contactId": "ghost", "messageType": "text", "message": "x"}, 400},
		{"unknown contact", DefaultToken, map[string]any{"contactId": "81d8f399-e4d3-4fd4-a8ec-61bb3c3dc8c4", "messageType": "text", "message": "x"}, 404},
		{"empty message", DefaultToken, map[string]any{"contactId": contact, "messageType": "text", "message": ""}, 400},
		{"unknown type", DefaultToken, map[string]any{"contactId": contact, "messageType": "sticker", "message": "x"}, 400},
		{"bad createdAt", DefaultToken, map[string]any{"contactId": contact, "messageType": "text", "message": "x", "createdAt": "yesterday"}, 400},
		{"not JSON", DefaultToken, "just text", 400},
		{"no token", "", map[string]any{"contactId": contact, "messageType": "text", "message": "x"}, 401},
		{"wrong token", "kpt_nope", map[string]any{"contactId": contact, "messageType": "text", "message": "x"}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := call(t, s, "POST", "/api/v1/messages/send", tc.token, tc.body); status != tc.want {
				t.Fatalf("status %d, want %d: %v", status, tc.want, body)
			}
		})
	}
	if n := len(s.SentMessages()); n != 1 {
		t.Fatalf("%d messages sent, want the one accepted", n)
	}
}

// The answer has the reference page's response example's fields, in its
// order, at both levels.
func TestSendMessageAnswersTheSeedShape(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	contact := s.AddRoom("room-1", "Acme")
	b, _ := json.Marshal(map[string]any{"contactId": contact, "messageType": "text", "message": "It is your message."})
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/messages/send", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	wantTop, wantData := jsonKeys(t, []byte(SeedSendMessageResponse))
	gotTop, gotData := jsonKeys(t, got)
	if strings.Join(gotTop, ",") != strings.Join(wantTop, ",") {
		t.Errorf("envelope keys %v, want %v", gotTop, wantTop)
	}
	if strings.Join(gotData, ",") != strings.Join(wantData, ",") {
		t.Errorf("data keys\n got %v\nwant %v", gotData, wantData)
	}
}

// jsonKeys returns the keys of a JSON object and of its "data" object, in
// document order.
func jsonKeys(t *testing.T, doc []byte) (top, data []string) {
	t.Helper()
	keys := func(raw []byte) []string {
		dec := json.NewDecoder(bytes.NewReader(raw))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("not an object: %s", raw)
		}
		var out []string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tok.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	var env struct{ Data json.RawMessage }
	if err := json.Unmarshal(doc, &env); err != nil {
		t.Fatal(err)
	}
	return keys(doc), keys(env.Data)
}

func TestFaultsAndCounters(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.AddRoom("r1", "Acme")
	s.FailNext(EndpointListComments, Fault{Status: 503, Body: "{not json", Times: 2})
	s.FailNext(EndpointListComments, Fault{Status: 429, Header: http.Header{"Retry-After": {"7"}}})
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/comments/rooms/r1", nil)
		req.Header.Set("Authorization", "Bearer "+DefaultToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	var got []int
	for range 4 {
		got = append(got, get().StatusCode)
	}
	if want := []int{503, 503, 429, 200}; !equalInts(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if n := s.Calls(EndpointListComments); n != 4 {
		t.Fatalf("Calls = %d, want 4", n)
	}
	if n := s.TotalCalls(); n != 4 {
		t.Fatalf("TotalCalls = %d, want 4", n)
	}
	s.ResetCalls()
	if n := s.TotalCalls(); n != 0 {
		t.Fatalf("after ResetCalls TotalCalls = %d", n)
	}

	// A delay longer than the client waits is a timeout for the client.
	s.FailNext(EndpointListComments, Fault{Delay: time.Minute, Status: 200})
	client := &http.Client{Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/comments/rooms/r1", nil)
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("delayed call answered before the client timeout")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSign(t *testing.T) {
	// RFC-style HMAC-SHA256 test vector.
	got := Sign("key", []byte("The quick brown fox jumps over the lazy dog"))
	if want := "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

type delivery struct {
	header http.Header
	body   []byte
}

func hookServer(t *testing.T) (*httptest.Server, chan delivery) {
	t.Helper()
	ch := make(chan delivery, 8)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- delivery{r.Header.Clone(), b}
	}))
	t.Cleanup(hs.Close)
	return hs, ch
}

func TestInboundMessage(t *testing.T) {
	s := NewServer(Options{Now: tick()})
	defer s.Close()
	contact := s.AddRoom("r1", "Acme")
	if err := s.InboundMessage("r1", "Acme", "hi"); err != ErrNoWebhook {
		t.Fatalf("with no webhook: %v, want ErrNoWebhook", err)
	}
	hs, ch := hookServer(t)
	s.SetWebhook(hs.URL, "s3cret")
	if err := s.InboundMessage("r1", "Jo Müller", "Hallo 👋"); err != nil {
		t.Fatal(err)
	}
	d := <-ch
	if got, want := d.header.Get("x-signature"), Sign("s3cret", d.body); got != want {
		t.Fatalf("x-signature %q, want %q", got, want)
	}
	var env struct {
		Event     string         `json:"event"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(d.body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Event != "message.inbound" || env.Data["roomId"] != "r1" || env.Data["contactId"] != contact || env.Data["message"] != "Hallo 👋" {
		t.Fatalf("delivery %s", d.body)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z", env.Timestamp); err != nil {
		t.Fatalf("timestamp %q is not µs ISO-8601: %v", env.Timestamp, err)
	}
	if err := s.InboundMessage("nope", "x", "y"); err == nil {
		t.Fatal("unknown room delivered")
	}
}

func TestSeedDemoAndActivity(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.SeedDemo()
	rooms := s.Rooms()
	if len(rooms) != 3 {
		t.Fatalf("rooms %v", rooms)
	}
	status, body := call(t, s, "GET", "/api/v1/comments/rooms/"+rooms[0]+"?pageSize=100", DefaultToken, nil)
	if status != 200 {
		t.Fatal(status)
	}
	var texts []string
	for _, c := range body["data"].([]any) {
		texts = append(texts, c.(map[string]any)["text"].(string))
	}
	joined := strings.Join(texts, "\n")
	if !strings.Contains(joined, "🚀 shipped — thanks @Bo Tan") {
		t.Fatalf("demo room 0 lacks the rendered emoji mention:\n%s", joined)
	}
	before := 0
	for _, r := range rooms {
		before += s.CommentCount(r)
	}
	hs, ch := hookServer(t)
	s.SetWebhook(hs.URL, "x")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		s.DemoActivity(rng)
	}
	after := 0
	for _, r := range rooms {
		after += s.CommentCount(r)
	}
	if after != before+8 {
		t.Fatalf("8 DemoActivity calls added %d comments", after-before)
	}
	// With this seed at least one of the eight draws fires an inbound message.
	select {
	case d := <-ch:
		if !bytes.Contains(d.body, []byte(`"message.inbound"`)) {
			t.Fatalf("unexpected delivery %s", d.body)
		}
	default:
		t.Fatal("no inbound message delivered in 8 activities")
	}
}
