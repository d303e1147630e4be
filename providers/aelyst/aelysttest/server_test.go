package aelysttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/internal/clocktest"
)

const tok = "tok-A"

func start(t *testing.T) (*Server, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.New(time.Unix(1735689600, 0))
	s := NewServer(Options{Token: tok, Tokens: []string{"tok-B"}, Now: clk.Now})
	t.Cleanup(s.Close)
	s.AddUser(User{ID: 42, FirstName: "Zoë", LastName: "Park", Email: "zoe@example.com", Role: "manager", TeamID: 1, TeamName: "Support"})
	s.AddUser(User{ID: 43, FirstName: "Bo", LastName: "Tan", Email: "bo@example.com"})
	s.AddUser(User{ID: 44, FirstName: "Ana", LastName: "Lee", Email: "ana@example.com"})
	s.AddContact(Contact{ID: 1, FirstName: "Jane", LastName: "Doe", Email: "jane@acme.com", Phone: "+60121233112", AssigneeID: 42})
	for i := range 4 {
		s.AddContact(Contact{ID: int64(2 + i), FirstName: "C" + string(rune('a'+i))})
	}
	return s, clk
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, s *Server, token, method, path, body string) answer {
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func wantError(t *testing.T, a answer, status int, message string) {
	t.Helper()
	if a.status != status || a.body["code"] != float64(status) || a.body["message"] != message {
		t.Fatalf("answer %d %s, want %d {code:%d, message:%q}", a.status, a.raw, status, status, message)
	}
}

func TestAuth(t *testing.T) {
	s, _ := start(t)
	for name, token := range map[string]string{"none": "", "wrong": "nope"} {
		t.Run(name, func(t *testing.T) {
			wantError(t, do(t, s, token, "GET", "/contact/id:1", ""), 401, MsgUnauthorized)
		})
	}
	if a := do(t, s, "tok-B", "GET", "/contact/id:1", ""); a.status != 200 {
		t.Fatalf("second token refused: %d", a.status)
	}
}

func TestContactIdentifiers(t *testing.T) {
	s, _ := start(t)
	cases := []struct {
		path   string
		status int
	}{
		{"/contact/id:1", 200},
		{"/contact/email:jane%40acme.com", 200},
		{"/contact/email:JANE@acme.com", 200},
		{"/contact/phone:%2B60121233112", 200},
		{"/contact/id:99", 404},
		{"/contact/email:nobody%40acme.com", 404},
		{"/contact/123", 400},
		{"/contact/id:abc", 400},
		{"/contact/phone:60121233112", 400},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			a := do(t, s, tok, "GET", c.path, "")
			switch c.status {
			case 200:
				if a.status != 200 || a.body["id"] != float64(1) || a.body["firstName"] != "Jane" || a.body["status"] != "open" {
					t.Fatalf("answer %d %s", a.status, a.raw)
				}
				if as, _ := a.body["assignee"].(map[string]any); as["id"] != float64(42) {
					t.Fatalf("assignee = %v", a.body["assignee"])
				}
			case 404:
				wantError(t, a, 404, MsgNotFound)
			default:
				wantError(t, a, 400, MsgValidation)
			}
		})
	}
}

func TestCreateComment(t *testing.T) {
	s, clk := start(t)
	text := strings.Repeat("😀", 990) + " {{@user.42}}" // 1003 code points with the token
	wantError(t, do(t, s, tok, "POST", "/contact/id:1/comment", `{"text":"`+text+`"}`), 400, MsgTooLong)
	ok := strings.Repeat("😀", 986) + " {{@user.42}}" // exactly 1000
	a := do(t, s, tok, "POST", "/contact/email:jane%40acme.com/comment", `{"text":"`+ok+`"}`)
	if a.status != 200 || a.body["contactId"] != float64(1) || a.body["text"] != ok || a.body["created_at"] != float64(clk.Now().Unix()) || len(a.body) != 3 {
		t.Fatalf("answer %d %.200s", a.status, a.raw)
	}
	for name, body := range map[string]string{"no text": `{}`, "empty": `{"text":""}`, "not JSON": `{"text":`, "text not a string": `{"text":5}`} {
		t.Run(name, func(t *testing.T) {
			wantError(t, do(t, s, tok, "POST", "/contact/id:2/comment", body), 400, MsgValidation)
		})
	}
	wantError(t, do(t, s, tok, "POST", "/contact/id:77/comment", `{"text":"x"}`), 404, MsgNotFound)
	got := s.Comments(1)
	if len(got) != 1 || got[0].Text != ok || len(s.Comments(2)) != 0 {
		t.Fatalf("stored %d comments on 1, %d on 2", len(got), len(s.Comments(2)))
	}
}

func TestRateLimit(t *testing.T) {
	s, clk := start(t)
	for i := range 5 {
		a := do(t, s, tok, "GET", "/contact/id:1", "")
		if a.status != 200 || a.header.Get("X-RateLimit-Limit") != "5" || a.header.Get("X-RateLimit-Remaining") != string(rune('4'-i)) {
			t.Fatalf("request %d: %d limit %s remaining %s", i, a.status, a.header.Get("X-RateLimit-Limit"), a.header.Get("X-RateLimit-Remaining"))
		}
	}
	a := do(t, s, tok, "GET", "/contact/id:1", "")
	wantError(t, a, 429, MsgTooMany)
	if a.header.Get("Retry-After") != "1" || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429 headers %v", a.header)
	}
	// Separate buckets: another path (parameters count), method, workspace.
	for _, c := range []struct{ token, method, path, body string }{
		{tok, "GET", "/contact/id:2", ""},
		{tok, "POST", "/contact/id:1/comment", `{"text":"x"}`},
		{"tok-B", "GET", "/contact/id:1", ""},
	} {
		if a := do(t, s, c.token, c.method, c.path, c.body); a.status != 200 {
			t.Fatalf("%+v limited: %d", c, a.status)
		}
	}
	clk.Advance(time.Second)
	if a := do(t, s, tok, "GET", "/contact/id:1", ""); a.status != 200 {
		t.Fatalf("next second still limited: %d", a.status)
	}
}

func TestQueueContact(t *testing.T) {
	s, _ := start(t)
	s.QueueContact("email:jane@acme.com", 2)
	for range 2 {
		wantError(t, do(t, s, tok, "POST", "/contact/id:1/comment", `{"text":"x"}`), 449, MsgQueued)
	}
	if a := do(t, s, tok, "POST", "/contact/id:1/comment", `{"text":"x"}`); a.status != 200 {
		t.Fatalf("third try %d", a.status)
	}
	if len(s.Comments(1)) != 1 {
		t.Fatalf("stored %d", len(s.Comments(1)))
	}
}

func TestListPaging(t *testing.T) {
	s, clk := start(t)
	var ids []float64
	path := "/contact/list?limit=2"
	pages := 0
	for path != "" {
		a := do(t, s, tok, "POST", path, `{"search":""}`)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", path, a.status, a.raw)
		}
		pages++
		for _, it := range a.body["items"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(float64))
		}
		pg := a.body["pagination"].(map[string]any)
		next, _ := pg["next"].(string)
		if pages > 1 {
			if prev, _ := pg["previous"].(string); !strings.Contains(prev, "cursorId=-") {
				t.Fatalf("page %d previous link %q", pages, prev)
			}
		}
		path = ""
		if next != "" {
			// The docs' links leave out /v1: rebuild from cursorId.
			if strings.Contains(next, "/v1/") || !strings.HasPrefix(next, s.Origin+"/contact/list?") {
				t.Fatalf("next link %q", next)
			}
			path = strings.TrimPrefix(next, s.Origin)
		}
	}
	if pages != 3 || len(ids) != 5 || ids[0] != 1 || ids[4] != 5 {
		t.Fatalf("%d pages: %v", pages, ids)
	}
	clk.Advance(time.Second) // /contact/list is one 5/s bucket
	back := do(t, s, tok, "POST", "/contact/list?limit=2&cursorId=-5", `{}`)
	if items := back.body["items"].([]any); len(items) != 2 || items[0].(map[string]any)["id"] != float64(3) {
		t.Fatalf("previous page %s", back.raw)
	}
	wantError(t, do(t, s, tok, "POST", "/contact/list?limit=500", `{}`), 400, MsgValidation)
	wantError(t, do(t, s, tok, "POST", "/contact/list", `not json`), 400, MsgValidation)
	if found := do(t, s, tok, "POST", "/contact/list", `{"search":"jane"}`); len(found.body["items"].([]any)) != 1 {
		t.Fatalf("search: %s", found.raw)
	}
}

func TestUsers(t *testing.T) {
	s, _ := start(t)
	a := do(t, s, tok, "GET", "/space/user/42", "")
	team, _ := a.body["team"].(map[string]any)
	if a.status != 200 || a.body["firstName"] != "Zoë" || a.body["role"] != "manager" || team["name"] != "Support" {
		t.Fatalf("user: %s", a.raw)
	}
	if a := do(t, s, tok, "GET", "/space/user/43", ""); a.body["team"] != nil || a.body["role"] != "agent" {
		t.Fatalf("user without team: %s", a.raw)
	}
	if a := do(t, s, tok, "GET", "/space/user/999", ""); a.status != 404 {
		t.Fatalf("missing user: %d", a.status)
	}
	list := do(t, s, tok, "GET", "/space/user?limit=2", "")
	if items := list.body["items"].([]any); len(items) != 2 || !strings.Contains(list.raw, "cursorId=43") {
		t.Fatalf("user list: %s", list.raw)
	}
}

func TestFailNextAndCalls(t *testing.T) {
	s, _ := start(t)
	s.FailNext(EndpointGetContact, Fault{Status: 500, Body: `{"code":500,"message":"Unexpected error occurred"}`, Times: 2})
	s.FailNext(EndpointGetContact, Fault{Status: 200, Body: `{garbage`})
	for range 2 {
		wantError(t, do(t, s, tok, "GET", "/contact/id:1", ""), 500, MsgUnexpected)
	}
	if a := do(t, s, tok, "GET", "/contact/id:2", ""); a.status != 200 || a.raw != `{garbage` {
		t.Fatalf("garbage fault: %d %q", a.status, a.raw)
	}
	if a := do(t, s, tok, "GET", "/contact/id:2", ""); a.status != 200 || a.body["id"] != float64(2) {
		t.Fatalf("after faults: %d %s", a.status, a.raw)
	}
	do(t, s, tok, "GET", "/space/user/42", "")
	if s.Calls(EndpointGetContact) != 4 || s.Calls(EndpointGetUser) != 1 || s.TotalCalls() != 5 {
		t.Fatalf("calls %d/%d/%d", s.Calls(EndpointGetContact), s.Calls(EndpointGetUser), s.TotalCalls())
	}
	s.ResetCalls()
	if s.TotalCalls() != 0 {
		t.Fatal("reset kept counts")
	}
	t.Run("latency outlasts a client timeout", func(t *testing.T) {
		s.SetLatency(10 * time.Second)
		defer s.SetLatency(0)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/space/user/42", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("answered inside the latency")
		}
	})
	t.Run("delay outlasts a client timeout", func(t *testing.T) {
		s.FailNext(EndpointGetContact, Fault{Delay: 10 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/contact/id:1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("answered inside the delay")
		}
	})
}

func TestWebhookDeliveries(t *testing.T) {
	s, clk := start(t)
	type got struct {
		body []byte
		sig  string
	}
	ch := make(chan got, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{b, r.Header.Get(SignatureHeader)}
	}))
	defer hook.Close()
	s.AddComment(Comment{ContactID: 2, Text: "before the receiver existed"})
	s.SetWebhook(hook.URL, "whsec")
	wait := func() got {
		t.Helper()
		select {
		case g := <-ch:
			return g
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery")
			return got{}
		}
	}
	backlog := wait()
	if !strings.Contains(string(backlog.body), "before the receiver existed") || backlog.sig != Sign("whsec", backlog.body) {
		t.Fatalf("backlog delivery %s", backlog.body)
	}
	do(t, s, tok, "POST", "/contact/id:1/comment", `{"text":"hi {{@user.42}}"}`)
	d := wait()
	var ev struct {
		EventType string `json:"event_type"`
		EventID   string `json:"event_id"`
		Contact   struct {
			ID       int64  `json:"id"`
			Email    string `json:"email"`
			Assignee struct {
				ID int64 `json:"id"`
			} `json:"assignee"`
		} `json:"contact"`
		Comment struct {
			Text      string `json:"text"`
			CreatedAt int64  `json:"created_at"`
		} `json:"comment"`
	}
	if err := json.Unmarshal(d.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventType != "comment.created" || ev.EventID == "" || ev.Contact.ID != 1 || ev.Contact.Email != "jane@acme.com" ||
		ev.Contact.Assignee.ID != 42 || ev.Comment.Text != "hi {{@user.42}}" || ev.Comment.CreatedAt != clk.Now().Unix() {
		t.Fatalf("event %s", d.body)
	}
	if d.sig != Sign("whsec", d.body) || d.sig == Sign("other", d.body) {
		t.Fatal("signature does not match the body and secret")
	}
	if status, err := s.Redeliver(ev.EventID); err != nil || status != 200 {
		t.Fatalf("redeliver %d %v", status, err)
	}
	if again := wait(); !bytes.Equal(again.body, d.body) || again.sig != d.sig {
		t.Fatal("redelivery differs from the original")
	}
	if _, err := s.Redeliver("nope"); err == nil {
		t.Fatal("redelivered an unknown event")
	}
}

func TestDemo(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.SeedDemo()
	if got := s.Contacts(); len(got) != 5 || got[0] != "id:2001" {
		t.Fatalf("contacts %v", got)
	}
	a := do(t, s, DefaultToken, "GET", "/space/user/107", "")
	if a.body["firstName"] != "Zoë" || a.body["lastName"] != "Park" {
		t.Fatalf("cast: %s", a.raw)
	}
	before := 0
	for _, id := range []int64{2001, 2002, 2003, 2004, 2005} {
		before += len(s.Comments(id))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		s.DemoActivity(rng)
	}
	after := 0
	var last Comment
	for _, id := range []int64{2001, 2002, 2003, 2004, 2005} {
		cs := s.Comments(id)
		after += len(cs)
		for _, c := range cs {
			if c.CreatedAt >= last.CreatedAt {
				last = c
			}
		}
	}
	if after != before+5 || !strings.Contains(last.Text, "{{@user.1") || last.AuthorID < 101 {
		t.Fatalf("demo activity: %d → %d, last %+v", before, after, last)
	}
}
