package ziiktest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// listed is a message as GET …/messages lists it.
type listed struct {
	ID        int               `json:"id"`
	Deleted   bool              `json:"deleted"`
	Message   string            `json:"message"`
	EditedAt  *int64            `json:"edited_at"`
	Reactions []json.RawMessage `json:"reactions"`
	Files     []json.RawMessage `json:"files"`
	Voice     json.RawMessage   `json:"voice"`
}

// listedMessage reads message id through the listing, as an adapter would.
func (f *fixture) listedMessage(t *testing.T, conv, id int) listed {
	t.Helper()
	status, body := f.do(t, "GET", fmt.Sprintf("/conversations/%d/messages?starter_message_id=%d&limit=1", conv, id), f.jwt, nil)
	var pg struct {
		Data []listed `json:"data"`
	}
	if status != 200 || json.Unmarshal(body, &pg) != nil || len(pg.Data) != 1 || pg.Data[0].ID != id {
		t.Fatalf("list around %d: %d %s", id, status, body)
	}
	return pg.Data[0]
}

// rawBody is a request body sent as is, not JSON-encoded.
type rawBody string

// doRaw sends body unencoded.
func (f *fixture) doRaw(t *testing.T, method, path, jwt, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
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

func msgPath(conv, id int) string { return fmt.Sprintf("/conversations/%d/messages/%d", conv, id) }

// lifecycleFixture is a tenant with Ana, a conversation with the bot, one
// the bot cannot see, and a second visible one.
type lifecycleFixture struct {
	*fixture
	ana, conv, other, hidden int
}

func newLifecycleFixture(t *testing.T, opts ziiktest.Options) *lifecycleFixture {
	t.Helper()
	f := &lifecycleFixture{fixture: newFixture(t, opts)}
	f.ana = f.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee"})
	f.conv, _ = f.srv.AddConversation(ziiktest.Conversation{Title: "T", Participants: []int{f.srv.BotID(), f.ana}})
	f.other, _ = f.srv.AddConversation(ziiktest.Conversation{Title: "U", Participants: []int{f.srv.BotID(), f.ana}})
	f.hidden, _ = f.srv.AddConversation(ziiktest.Conversation{Title: "H", Participants: []int{f.ana}})
	return f
}

func (f *lifecycleFixture) add(t *testing.T, m ziiktest.Message) int {
	t.Helper()
	id, err := f.srv.AddMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestEditIsStagedUntilFinalized(t *testing.T) {
	f := newLifecycleFixture(t, ziiktest.Options{})
	id := f.add(t, ziiktest.Message{ConversationID: f.conv, AuthorID: f.srv.BotID(), Text: "typo hre"})

	status, body := f.do(t, "PATCH", msgPath(f.conv, id), f.jwt, map[string]any{"message": "typo here"})
	if status != 200 {
		t.Fatalf("update: %d %s", status, body)
	}
	if m := f.listedMessage(t, f.conv, id); m.Message != "typo hre" || m.EditedAt != nil {
		t.Errorf("before finalize the listing shows %q edited_at %v", m.Message, m.EditedAt)
	}

	f.clock.Advance(time.Minute)
	editedAt := f.clock.Now().Unix()
	status, body = f.do(t, "POST", msgPath(f.conv, id)+"/finalize-update", f.jwt, nil)
	if status != 200 {
		t.Fatalf("finalize: %d %s", status, body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if got := keys(raw); fmt.Sprint(got) != fmt.Sprint(sorted(seedKeys["message"])) {
		t.Errorf("finalize answer keys %v", got)
	}
	if string(raw["message"]) != `"typo here"` || string(raw["edited_at"]) != fmt.Sprint(editedAt) {
		t.Errorf("finalize answered message %s edited_at %s", raw["message"], raw["edited_at"])
	}
	if m := f.listedMessage(t, f.conv, id); m.Message != "typo here" || m.EditedAt == nil || *m.EditedAt != editedAt {
		t.Errorf("after finalize the listing shows %q edited_at %v", m.Message, m.EditedAt)
	}

	// A finalize with nothing staged changes nothing.
	f.clock.Advance(time.Minute)
	status, body = f.do(t, "POST", msgPath(f.conv, id)+"/finalize-update", f.jwt, nil)
	if status != 200 {
		t.Fatalf("second finalize: %d %s", status, body)
	}
	if m := f.listedMessage(t, f.conv, id); m.Message != "typo here" || *m.EditedAt != editedAt {
		t.Errorf("after a second finalize the listing shows %q edited_at %v", m.Message, *m.EditedAt)
	}
}

func TestDeleteIsSoft(t *testing.T) {
	f := newLifecycleFixture(t, ziiktest.Options{})
	id := f.add(t, ziiktest.Message{ConversationID: f.conv, AuthorID: f.ana, Text: "with everything",
		Files:     []ziiktest.File{{Name: "a.pdf", Mime: "application/pdf", Size: 10}},
		Voice:     &ziiktest.Voice{Duration: 3},
		Reactions: []ziiktest.Reaction{{Emoji: "👍", UserIDs: []int{f.srv.BotID()}}}})
	// An update staged before the delete must not resurface.
	if status, body := f.do(t, "PATCH", msgPath(f.conv, id), f.jwt, map[string]any{"message": "staged"}); status != 200 {
		t.Fatalf("update: %d %s", status, body)
	}

	status, body := f.do(t, "DELETE", msgPath(f.conv, id), f.jwt, nil)
	if status != 204 || len(body) != 0 {
		t.Fatalf("delete: %d %s", status, body)
	}
	m := f.listedMessage(t, f.conv, id)
	if !m.Deleted || len(m.Files) != 0 || len(m.Reactions) != 0 || string(m.Voice) != "null" || m.Files == nil || m.Reactions == nil {
		t.Errorf("deleted message lists as %+v", m)
	}
	if m.Message != "with everything" {
		t.Errorf("text %q: the notes strip reactions, files and voice only", m.Message)
	}
	for _, call := range []struct{ method, path string }{
		{"DELETE", msgPath(f.conv, id)},
		{"PATCH", msgPath(f.conv, id)},
		{"POST", msgPath(f.conv, id) + "/finalize-update"},
	} {
		status, body := f.do(t, call.method, call.path, f.jwt, map[string]any{"message": "again"})
		if status != 404 || errorCode(t, body) != "not_found" {
			t.Errorf("%s of a deleted message: %d %s", call.method, status, body)
		}
	}
	if got, ok := f.srv.Message(id); !ok || !got.Deleted || got.Voice != nil || len(got.Files) != 0 {
		t.Errorf("Server.Message: %+v %v", got, ok)
	}
}

func TestLifecycleRefusals(t *testing.T) {
	f := newLifecycleFixture(t, ziiktest.Options{})
	mine := f.add(t, ziiktest.Message{ConversationID: f.conv, AuthorID: f.srv.BotID(), Text: "mine"})
	elsewhere := f.add(t, ziiktest.Message{ConversationID: f.other, AuthorID: f.srv.BotID(), Text: "elsewhere"})
	hiddenMsg := f.add(t, ziiktest.Message{ConversationID: f.hidden, AuthorID: f.ana, Text: "hidden"})
	ok := map[string]any{"message": "new"}
	tests := []struct {
		name         string
		method, path string
		jwt          string
		body         any
		status       int
		code         string
	}{
		{"update without a token", "PATCH", msgPath(f.conv, mine), "", ok, 401, "token_not_provided"},
		{"finalize without a token", "POST", msgPath(f.conv, mine) + "/finalize-update", "", nil, 401, "token_not_provided"},
		{"delete without a token", "DELETE", msgPath(f.conv, mine), "", nil, 401, "token_not_provided"},
		{"delete with a bad token", "DELETE", msgPath(f.conv, mine), "a.b.c", nil, 401, "token_invalid"},
		{"update not JSON", "PATCH", msgPath(f.conv, mine), f.jwt, rawBody("{"), 400, "bad_request"},
		{"update without message", "PATCH", msgPath(f.conv, mine), f.jwt, map[string]any{}, 422, "invalid_parameters"},
		{"update blank message", "PATCH", msgPath(f.conv, mine), f.jwt, map[string]any{"message": " \n"}, 422, "invalid_parameters"},
		{"update unknown message", "PATCH", msgPath(f.conv, 424242), f.jwt, ok, 404, "not_found"},
		{"finalize unknown message", "POST", msgPath(f.conv, 424242) + "/finalize-update", f.jwt, nil, 404, "not_found"},
		{"delete unknown message", "DELETE", msgPath(f.conv, 424242), f.jwt, nil, 404, "not_found"},
		{"delete non-numeric id", "DELETE", fmt.Sprintf("/conversations/%d/messages/abc", f.conv), f.jwt, nil, 404, "not_found"},
		{"update a message of another conversation", "PATCH", msgPath(f.conv, elsewhere), f.jwt, ok, 404, "not_found"},
		{"delete a message of another conversation", "DELETE", msgPath(f.conv, elsewhere), f.jwt, nil, 404, "not_found"},
		{"delete in an unknown conversation", "DELETE", msgPath(999999, mine), f.jwt, nil, 404, "not_found"},
		{"update in a conversation the user cannot see", "PATCH", msgPath(f.hidden, hiddenMsg), f.jwt, ok, 403, "forbidden"},
		{"delete in a conversation the user cannot see", "DELETE", msgPath(f.hidden, hiddenMsg), f.jwt, nil, 403, "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				status int
				got    []byte
			)
			if raw, isRaw := tc.body.(rawBody); isRaw {
				status, got = f.doRaw(t, tc.method, tc.path, tc.jwt, string(raw))
			} else {
				status, got = f.do(t, tc.method, tc.path, tc.jwt, tc.body)
			}
			if status != tc.status || errorCode(t, got) != tc.code {
				t.Fatalf("%d %s, want %d %s", status, got, tc.status, tc.code)
			}
		})
	}
	if m := f.listedMessage(t, f.conv, mine); m.Message != "mine" || m.Deleted {
		t.Errorf("a refused call changed the message: %+v", m)
	}
}

func TestAuthorOnlyWrites(t *testing.T) {
	for _, authorOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("AuthorOnlyWrites=%v", authorOnly), func(t *testing.T) {
			f := newLifecycleFixture(t, ziiktest.Options{AuthorOnlyWrites: authorOnly})
			anas := f.add(t, ziiktest.Message{ConversationID: f.conv, AuthorID: f.ana, Text: "Ana's"})
			mine := f.add(t, ziiktest.Message{ConversationID: f.conv, AuthorID: f.srv.BotID(), Text: "mine"})
			want := 200
			if authorOnly {
				want = 403
			}
			for _, call := range []struct {
				method, path string
				ok           int
			}{
				{"PATCH", msgPath(f.conv, anas), 200},
				{"POST", msgPath(f.conv, anas) + "/finalize-update", 200},
				{"DELETE", msgPath(f.conv, anas), 204},
			} {
				status, body := f.do(t, call.method, call.path, f.jwt, map[string]any{"message": "edited by the bot"})
				if w := map[bool]int{true: 403, false: call.ok}[want == 403]; status != w {
					t.Errorf("%s of Ana's message: %d %s, want %d", call.method, status, body, w)
				}
				if status == 403 && errorCode(t, body) != "forbidden" {
					t.Errorf("%s: code %s", call.method, body)
				}
			}
			// The author may always.
			if status, body := f.do(t, "PATCH", msgPath(f.conv, mine), f.jwt, map[string]any{"message": "mine, edited"}); status != 200 {
				t.Errorf("own update: %d %s", status, body)
			}
			if status, body := f.do(t, "DELETE", msgPath(f.conv, mine), f.jwt, nil); status != 204 {
				t.Errorf("own delete: %d %s", status, body)
			}
		})
	}
}

func TestFinalizeWrapData(t *testing.T) {
	f := newLifecycleFixture(t, ziiktest.Options{WrapData: true})
	id := f.add(t, ziiktest.Message{ConversationID: f.conv, AuthorID: f.srv.BotID(), Text: "old"})
	if status, body := f.do(t, "PATCH", msgPath(f.conv, id), f.jwt, map[string]any{"message": "new"}); status != 200 {
		t.Fatalf("update: %d %s", status, body)
	}
	status, body := f.do(t, "POST", msgPath(f.conv, id)+"/finalize-update", f.jwt, nil)
	var env struct {
		Data *listed `json:"data"`
	}
	if status != 200 || json.Unmarshal(body, &env) != nil || env.Data == nil || env.Data.Message != "new" || env.Data.EditedAt == nil {
		t.Errorf("finalize: %d %s", status, body)
	}
}

func TestLifecycleCallsAreCounted(t *testing.T) {
	f := newLifecycleFixture(t, ziiktest.Options{})
	id := f.add(t, ziiktest.Message{ConversationID: f.conv, AuthorID: f.srv.BotID(), Text: "x"})
	f.srv.ResetCalls()
	f.srv.FailNext("POST /conversations/{conversation}/messages/{message}/finalize-update",
		ziiktest.Fault{Status: 503, Body: `{"error":{"code":"maintenance","message":"back soon","is_ziik_error":true}}`})
	f.do(t, "PATCH", msgPath(f.conv, id), f.jwt, map[string]any{"message": "y"})
	if status, _ := f.do(t, "POST", msgPath(f.conv, id)+"/finalize-update", f.jwt, nil); status != 503 {
		t.Errorf("injected fault answered %d", status)
	}
	if m := f.listedMessage(t, f.conv, id); m.Message != "x" {
		t.Errorf("a failed finalize applied the edit: %q", m.Message)
	}
	if status, _ := f.do(t, "POST", msgPath(f.conv, id)+"/finalize-update", f.jwt, nil); status != 200 {
		t.Errorf("finalize after the fault: %d", status)
	}
	if m := f.listedMessage(t, f.conv, id); m.Message != "y" {
		t.Errorf("the staged edit was lost: %q", m.Message)
	}
	f.do(t, "DELETE", msgPath(f.conv, id), f.jwt, nil)
	for ep, want := range map[string]int{
		"PATCH /conversations/{conversation}/messages/{message}":                1,
		"POST /conversations/{conversation}/messages/{message}/finalize-update": 2,
		"DELETE /conversations/{conversation}/messages/{message}":               1,
	} {
		if got := f.srv.Calls(ep); got != want {
			t.Errorf("%s: %d calls, want %d", ep, got, want)
		}
	}
}
