package ziiktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

type fixture struct {
	srv   *ziiktest.Server
	clock *clocktest.Clock
	jwt   string
}

func newFixture(t *testing.T, opts ziiktest.Options) *fixture {
	t.Helper()
	c := clocktest.New(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	opts.Now = c.Now
	srv := ziiktest.NewServer(opts)
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, clock: c}
	email, pass := srv.Credentials()
	status, body := f.do(t, "POST", "/authenticate", "", map[string]string{"username": email, "password": pass})
	if status != 200 {
		t.Fatalf("authenticate: %d %s", status, body)
	}
	var grants []struct {
		JWT     string `json:"jwt"`
		Expires int64  `json:"expires"`
	}
	if err := json.Unmarshal(body, &grants); err != nil || len(grants) != 1 || strings.Count(grants[0].JWT, ".") != 2 {
		t.Fatalf("authenticate answer %s", body)
	}
	if want := c.Now().Add(time.Hour).Unix(); grants[0].Expires != want {
		t.Errorf("expires %d, want %d", grants[0].Expires, want)
	}
	f.jwt = grants[0].JWT
	return f
}

// do sends one request; jwt "" sends no Authorization.
func (f *fixture) do(t *testing.T, method, path, jwt string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if jwt != "" {
		req.Header.Set("Authorization", "Bearer "+jwt)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// errorCode checks the documented error body and returns its code.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			IsZiik  *bool  `json:"is_ziik_error"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.IsZiik == nil {
		t.Fatalf("not a Ziik error body: %s", body)
	}
	return e.Error.Code
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, ziiktest.Options{Email: "bot@acme.test", Password: "pw-123"})
	tests := []struct {
		name   string
		method string
		path   string
		jwt    func() string
		body   any
		status int
		code   string
	}{
		{"wrong password", "POST", "/authenticate", nil, map[string]string{"username": "bot@acme.test", "password": "nope"}, 401, "invalid_credentials"},
		{"missing password", "POST", "/authenticate", nil, map[string]string{"username": "bot@acme.test"}, 422, "invalid_parameters"},
		{"no token", "GET", "/conversations", nil, nil, 401, "token_not_provided"},
		{"made-up token", "GET", "/conversations", func() string { return "a.b.c" }, nil, 401, "token_invalid"},
		{"valid token", "GET", "/conversations", func() string { return f.jwt }, nil, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jwt := ""
			if tc.jwt != nil {
				jwt = tc.jwt()
			}
			status, body := f.do(t, tc.method, tc.path, jwt, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.code != "" {
				if got := errorCode(t, body); got != tc.code {
					t.Errorf("code %q, want %q", got, tc.code)
				}
			}
		})
	}

	t.Run("renew swaps the token and retires the old one", func(t *testing.T) {
		status, body := f.do(t, "POST", "/renew", f.jwt, nil)
		if status != 200 {
			t.Fatalf("renew: %d %s", status, body)
		}
		var grants []struct {
			JWT string `json:"jwt"`
		}
		if err := json.Unmarshal(body, &grants); err != nil || len(grants) != 1 || grants[0].JWT == f.jwt {
			t.Fatalf("renew answer %s", body)
		}
		if status, _ := f.do(t, "GET", "/conversations", f.jwt, nil); status != 401 {
			t.Errorf("old token still works: %d", status)
		}
		if status, _ := f.do(t, "GET", "/conversations", grants[0].JWT, nil); status != 200 {
			t.Errorf("new token refused: %d", status)
		}
		f.clock.Advance(61 * time.Minute)
		status, body = f.do(t, "GET", "/conversations", grants[0].JWT, nil)
		if status != 401 || errorCode(t, body) != "token_expired" {
			t.Errorf("expired token: %d %s", status, body)
		}
		if status, _ := f.do(t, "POST", "/renew", grants[0].JWT, nil); status != 401 {
			t.Errorf("renewed an expired token: %d", status)
		}
	})
	if got := f.srv.Calls("POST /authenticate"); got != 3 {
		t.Errorf("authenticate calls %d, want 3", got)
	}
	if got := f.srv.Calls("POST /renew"); got != 2 {
		t.Errorf("renew calls %d, want 2", got)
	}
}

type page struct {
	Data []struct {
		ID      int    `json:"id"`
		Message string `json:"message"`
	} `json:"data"`
	Meta struct {
		NextCursor *string `json:"next_cursor"`
		PrevCursor *string `json:"prev_cursor"`
		PerPage    int     `json:"per_page"`
	} `json:"meta"`
}

func (p page) ids() []int {
	out := make([]int, len(p.Data))
	for i, d := range p.Data {
		out[i] = d.ID
	}
	return out
}

func TestMessagesPaging(t *testing.T) {
	f := newFixture(t, ziiktest.Options{})
	ana := f.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee"})
	c, err := f.srv.AddConversation(ziiktest.Conversation{Title: "T", Participants: []int{f.srv.BotID(), ana}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for i := range 10 {
		id, err := f.srv.AddMessage(ziiktest.Message{ConversationID: c, AuthorID: ana, Text: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	get := func(t *testing.T, q url.Values) (int, page, []byte) {
		t.Helper()
		status, body := f.do(t, "GET", fmt.Sprintf("/conversations/%d/messages?%s", c, q.Encode()), f.jwt, nil)
		var p page
		if status == 200 {
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		}
		return status, p, body
	}
	rev := func(ids []int) []int { out := slices.Clone(ids); slices.Reverse(out); return out }

	t.Run("newest first, next_cursor goes older, prev_cursor newer", func(t *testing.T) {
		_, p1, _ := get(t, url.Values{"limit": {"4"}})
		if fmt.Sprint(p1.ids()) != fmt.Sprint(rev(ids[6:])) || p1.Meta.PrevCursor != nil || p1.Meta.NextCursor == nil || p1.Meta.PerPage != 4 {
			t.Fatalf("page 1 %v %+v", p1.ids(), p1.Meta)
		}
		_, p2, _ := get(t, url.Values{"limit": {"4"}, "cursor": {*p1.Meta.NextCursor}})
		if fmt.Sprint(p2.ids()) != fmt.Sprint(rev(ids[2:6])) || p2.Meta.PrevCursor == nil || p2.Meta.NextCursor == nil {
			t.Fatalf("page 2 %v", p2.ids())
		}
		_, p3, _ := get(t, url.Values{"limit": {"4"}, "cursor": {*p2.Meta.NextCursor}})
		if fmt.Sprint(p3.ids()) != fmt.Sprint(rev(ids[:2])) || p3.Meta.NextCursor != nil {
			t.Fatalf("page 3 %v", p3.ids())
		}
		_, back, _ := get(t, url.Values{"limit": {"4"}, "cursor": {*p3.Meta.PrevCursor}})
		if fmt.Sprint(back.ids()) != fmt.Sprint(rev(ids[2:6])) {
			t.Fatalf("back %v", back.ids())
		}
	})
	t.Run("starter window", func(t *testing.T) {
		_, p, _ := get(t, url.Values{"limit": {"5"}, "starter_message_id": {fmt.Sprint(ids[5])}})
		if fmt.Sprint(p.ids()) != fmt.Sprint(rev(ids[3:8])) || p.Meta.NextCursor == nil || p.Meta.PrevCursor == nil {
			t.Fatalf("window %v", p.ids())
		}
		_, p, _ = get(t, url.Values{"limit": {"5"}, "starter_message_id": {fmt.Sprint(ids[9])}})
		if fmt.Sprint(p.ids()) != fmt.Sprint(rev(ids[5:])) || p.Meta.PrevCursor != nil {
			t.Fatalf("window at the end %v", p.ids())
		}
	})
	for _, tc := range []struct {
		name   string
		q      url.Values
		status int
	}{
		{"limit 0", url.Values{"limit": {"0"}}, 422},
		{"limit 101", url.Values{"limit": {"101"}}, 422},
		{"limit not a number", url.Values{"limit": {"ten"}}, 422},
		{"garbage cursor", url.Values{"cursor": {"%%%"}}, 422},
		{"unknown starter", url.Values{"starter_message_id": {"1"}}, 404},
		{"limit 100", url.Values{"limit": {"100"}}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := get(t, tc.q)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status != 200 {
				errorCode(t, body)
			}
		})
	}
}

// seedKeys are the message and nested object keys the captured page shows.
var seedKeys = map[string][]string{
	"message": {"id", "type", "conversationId", "is_reply", "parent", "deleted", "message", "date", "edited_at", "reactions", "author", "files", "voice"},
	"author":  {"id", "first_name", "last_name", "name", "title", "active", "avatar", "archived_at", "participant_type", "subtext", "department", "unit"},
	"file": {"id", "name", "mime", "size", "type", "extension", "uploaded", "processing", "height", "width", "source", "stream", "versions",
		"screenshot", "date", "created_at", "updated_at", "created_formatted", "updated_formatted"},
	"voice": {"id", "processing", "extension", "duration", "url"},
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string { out := slices.Clone(s); sort.Strings(out); return out }

func TestCreateMessage(t *testing.T) {
	f := newFixture(t, ziiktest.Options{})
	ana := f.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee", Title: "PM", Department: "Sales", Unit: "HQ"})
	c, _ := f.srv.AddConversation(ziiktest.Conversation{Title: "T", Participants: []int{f.srv.BotID(), ana}})
	c2, _ := f.srv.AddConversation(ziiktest.Conversation{Title: "U", Participants: []int{f.srv.BotID(), ana}})
	hidden, _ := f.srv.AddConversation(ziiktest.Conversation{Title: "H", Participants: []int{ana}})
	parent, err := f.srv.AddMessage(ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "p",
		Files: []ziiktest.File{{Name: "a.pdf", Mime: "application/pdf", Size: 10}}, Voice: &ziiktest.Voice{Duration: 3}})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, _ := f.srv.AddMessage(ziiktest.Message{ConversationID: c2, AuthorID: ana, Text: "x"})

	t.Run("201 with the documented shape", func(t *testing.T) {
		status, body := f.do(t, "POST", fmt.Sprintf("/conversations/%d/messages", c), f.jwt, map[string]any{"message": "Shipment delayed to Friday", "parent_id": parent})
		if status != 201 {
			t.Fatalf("%d %s", status, body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		if got := keys(m); fmt.Sprint(got) != fmt.Sprint(sorted(seedKeys["message"])) {
			t.Errorf("message keys %v", got)
		}
		var author map[string]json.RawMessage
		_ = json.Unmarshal(m["author"], &author)
		if got := keys(author); fmt.Sprint(got) != fmt.Sprint(sorted(seedKeys["author"])) {
			t.Errorf("author keys %v", got)
		}
		if string(m["is_reply"]) != "true" || string(m["parent"]) != fmt.Sprintf(`{"id":%d}`, parent) || string(m["message"]) != `"Shipment delayed to Friday"` {
			t.Errorf("reply fields %s %s", m["is_reply"], m["parent"])
		}
	})
	t.Run("files and voice carry the documented keys", func(t *testing.T) {
		_, body := f.do(t, "GET", fmt.Sprintf("/conversations/%d/messages?starter_message_id=%d&limit=1", c, parent), f.jwt, nil)
		var p struct {
			Data []struct {
				Files  []map[string]json.RawMessage `json:"files"`
				Voice  map[string]json.RawMessage   `json:"voice"`
				Author map[string]json.RawMessage   `json:"author"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &p); err != nil || len(p.Data) != 1 || len(p.Data[0].Files) != 1 {
			t.Fatalf("%s", body)
		}
		if got := keys(p.Data[0].Files[0]); fmt.Sprint(got) != fmt.Sprint(sorted(seedKeys["file"])) {
			t.Errorf("file keys %v", got)
		}
		if got := keys(p.Data[0].Voice); fmt.Sprint(got) != fmt.Sprint(sorted(seedKeys["voice"])) {
			t.Errorf("voice keys %v", got)
		}
		if string(p.Data[0].Author["department"]) == "null" || string(p.Data[0].Author["subtext"]) != `"PM - HQ (Sales)"` {
			t.Errorf("author %s %s", p.Data[0].Author["department"], p.Data[0].Author["subtext"])
		}
	})
	for _, tc := range []struct {
		name   string
		conv   int
		body   any
		status int
	}{
		{"parent in another conversation", c, map[string]any{"message": "x", "parent_id": elsewhere}, 422},
		{"unknown parent", c, map[string]any{"message": "x", "parent_id": 1}, 422},
		{"empty message", c, map[string]any{"message": "  "}, 422},
		{"message not a string", c, map[string]any{"message": 5}, 422},
		{"unknown conversation", 999999, map[string]any{"message": "x"}, 404},
		{"conversation not visible", hidden, map[string]any{"message": "x"}, 403},
		{"null parent", c, map[string]any{"message": "top level", "parent_id": nil}, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.do(t, "POST", fmt.Sprintf("/conversations/%d/messages", tc.conv), f.jwt, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status >= 400 {
				errorCode(t, body)
			}
		})
	}
}

func TestFaultsAndCounters(t *testing.T) {
	f := newFixture(t, ziiktest.Options{})
	f.srv.ResetCalls()
	f.srv.FailNext("GET /conversations", ziiktest.Fault{Status: 429, Header: http.Header{"Retry-After": {"3"}}, Body: `{"error":{"code":"too_many_requests","message":"slow down","is_ziik_error":false}}`, Times: 2})
	for i := range 3 {
		status, _ := f.do(t, "GET", "/conversations", f.jwt, nil)
		if want := map[bool]int{true: 429, false: 200}[i < 2]; status != want {
			t.Errorf("call %d: %d, want %d", i, status, want)
		}
	}
	if f.srv.Calls("GET /conversations") != 3 || f.srv.TotalCalls() != 3 {
		t.Errorf("calls %d total %d", f.srv.Calls("GET /conversations"), f.srv.TotalCalls())
	}

	f.srv.FailNext("GET /users/{id}", ziiktest.Fault{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/users/%d", f.srv.URL, f.srv.BotID()), nil)
	req.Header.Set("Authorization", "Bearer "+f.jwt)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("a delayed answer arrived before the deadline")
	}
	status, body := f.do(t, "GET", fmt.Sprintf("/users/%d", f.srv.BotID()), f.jwt, nil)
	if status != 200 || !strings.Contains(string(body), `"name":"commentgraph bot"`) {
		t.Errorf("user: %d %s", status, body)
	}
	if status, body := f.do(t, "GET", "/users/424242", f.jwt, nil); status != 404 || errorCode(t, body) != "not_found" {
		t.Errorf("unknown user: %d", status)
	}
}

func TestSeedDemoAndActivity(t *testing.T) {
	f := newFixture(t, ziiktest.Options{})
	f.srv.SeedDemo()
	convs := f.srv.Conversations()
	if len(convs) != 3 {
		t.Fatalf("Conversations %v after SeedDemo", convs)
	}
	count := func() int {
		n := 0
		for _, c := range convs {
			_, body := f.do(t, "GET", "/conversations/"+c+"/messages?limit=100", f.jwt, nil)
			var p page
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			n += len(p.Data)
		}
		return n
	}
	before := count()
	_, body := f.do(t, "GET", "/conversations/"+convs[0]+"/messages?limit=100", f.jwt, nil)
	for _, want := range []string{`"deleted":true`, `"processing":true`, `"uploaded":false`, `"edited_at":1`, `"reaction":"🚀"`, "@Zoë Park", `"duration":12.5`} {
		if !strings.Contains(string(body)+demoBody(t, f, convs[1]), want) {
			t.Errorf("demo data lacks %s", want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		f.srv.DemoActivity(rng)
	}
	if got := count(); got != before+5 {
		t.Errorf("%d messages after 5 activities, want %d", got, before+5)
	}
	fresh := ziiktest.NewServer(ziiktest.Options{})
	defer fresh.Close()
	fresh.DemoActivity(rng) // with no one seeded it must do nothing, not panic (rng.IntN(0) would)
}

func demoBody(t *testing.T, f *fixture, conv string) string {
	t.Helper()
	_, body := f.do(t, "GET", "/conversations/"+conv+"/messages?limit=100", f.jwt, nil)
	return string(body)
}

func TestWrapData(t *testing.T) {
	f := newFixture(t, ziiktest.Options{WrapData: true})
	status, body := f.do(t, "GET", fmt.Sprintf("/users/%d", f.srv.BotID()), f.jwt, nil)
	var w struct {
		Data struct {
			ID int `json:"id"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(body, &w) != nil || w.Data.ID != f.srv.BotID() {
		t.Errorf("%d %s", status, body)
	}
}

func TestConversationsList(t *testing.T) {
	f := newFixture(t, ziiktest.Options{})
	ana := f.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee"})
	for i := range 5 {
		if _, err := f.srv.AddConversation(ziiktest.Conversation{Title: fmt.Sprint("c", i), Participants: []int{f.srv.BotID(), ana}}); err != nil {
			t.Fatal(err)
		}
	}
	var p struct {
		Data []struct {
			ID           int               `json:"id"`
			Type         string            `json:"type"`
			Participants []json.RawMessage `json:"participants"`
		} `json:"data"`
		Meta struct {
			CurrentPage int `json:"current_page"`
			LastPage    int `json:"last_page"`
			Total       int `json:"total"`
			PerPage     int `json:"per_page"`
		} `json:"meta"`
	}
	status, body := f.do(t, "GET", "/conversations?page=2&limit=2", f.jwt, nil)
	if status != 200 || json.Unmarshal(body, &p) != nil {
		t.Fatalf("%d %s", status, body)
	}
	if len(p.Data) != 2 || p.Meta.CurrentPage != 2 || p.Meta.LastPage != 3 || p.Meta.Total != 5 || p.Meta.PerPage != 2 || p.Data[0].Type != "group" || len(p.Data[0].Participants) != 2 {
		t.Errorf("page %+v", p)
	}
	if status, _ := f.do(t, "GET", "/conversations?limit=101", f.jwt, nil); status != 422 {
		t.Errorf("limit 101: %d", status)
	}
}
