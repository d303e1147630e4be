package providers_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// The credentials the tests' Caller sends, and a password it declares.
const (
	leakToken    = "kpt_live_4f9a8b7c6d5e"
	leakAPIKey   = "ak_live_0a1b2c3d4e"
	leakCookie   = "sess-7e6d5c4b3a"
	leakPassword = "hunter2-correct-horse"
	// undeclaredPassword is in the request body but not in Caller.Redact:
	// only its field name gives it away.
	undeclaredPassword = "battery-staple-9"
)

// TestCallerKeepsUpstreamTextFromClients: an upstream that refuses the input
// echoing the request's credentials and body. The client's message is ours
// alone; the log's text keeps what the upstream said with every secret
// replaced, also one that straddles the log's 200-byte cut.
func TestCallerKeepsUpstreamTextFromClients(t *testing.T) {
	secrets := []string{leakToken, leakAPIKey, leakCookie, leakPassword, undeclaredPassword}
	for _, status := range []int{http.StatusBadRequest, http.StatusUnprocessableEntity} {
		for _, tc := range []struct {
			name string
			// echo writes the answer from the request and its body.
			echo      func(r *http.Request, body string) string
			errorText func([]byte) string
		}{
			{name: "JSON echo of headers and body", echo: func(r *http.Request, body string) string {
				return `{"message":"invalid","authorization":"` + r.Header.Get("Authorization") + `","request":` + body + `}`
			}},
			{name: "header lines", echo: func(r *http.Request, body string) string {
				return "bad request\nAuthorization: " + r.Header.Get("Authorization") + "\nX-Api-Key: " + r.Header.Get("X-Api-Key") +
					"\nCookie: " + r.Header.Get("Cookie") + "\n" + body
			}},
			{name: "bare token in prose", echo: func(r *http.Request, body string) string {
				token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
				return "the key " + token + " may not post as " + r.Header.Get("X-Api-Key") + " with session " + leakCookie
			}},
			{name: "quoted JSON inside the message", echo: func(r *http.Request, body string) string {
				return `{"message":"could not parse {\"password\":\"` + undeclaredPassword + `\",\"token\":\"` + leakToken + `\"}"}`
			}},
			{name: "the token across the log's cut", echo: func(r *http.Request, body string) string {
				return strings.Repeat("x", 195) + " " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			}},
			{name: "through the adapter's ErrorText", echo: func(r *http.Request, body string) string {
				return `{"error":{"message":"refused ` + r.Header.Get("Authorization") + ` for ` + body + `"}}`
			}, errorText: func(b []byte) string {
				return strings.TrimPrefix(strings.TrimSuffix(string(b), `"}}`), `{"error":{"message":"`)
			}},
		} {
			t.Run(http.StatusText(status)+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					w.WriteHeader(status)
					io.WriteString(w, tc.echo(r, string(body)))
				}))
				defer srv.Close()
				c := &providers.Caller{
					Provider: "p", BaseURL: srv.URL,
					Authorize: func(_ context.Context, r *http.Request) error {
						r.Header.Set("Authorization", "Bearer "+leakToken)
						r.Header.Set("X-Api-Key", leakAPIKey)
						r.Header.Set("Cookie", "sid="+leakCookie)
						return nil
					},
					ErrorText: tc.errorText,
					Redact:    []string{leakPassword},
				}
				_, err := c.Do(context.Background(), providers.Request{Method: "POST", Endpoint: "/login", Path: "/login",
					Body: map[string]string{"username": "bot", "password": leakPassword, "old_password": undeclaredPassword}})
				var me *model.Error
				if !errors.As(err, &me) || me.Code != model.CodeBadUserInput || me.Provider != "p" {
					t.Fatalf("err = %#v, want BAD_USER_INPUT from p", err)
				}
				if me.Message != "the upstream refused the input" {
					t.Errorf("client message %q carries upstream text", me.Message)
				}
				if got := providers.UpstreamStatus(err); got != status {
					t.Errorf("UpstreamStatus = %d, want %d", got, status)
				}
				logged := err.Error() // what the gateway logs: Message and Err
				for _, s := range secrets {
					if strings.Contains(logged, s) {
						t.Errorf("the log line holds %q: %s", s, logged)
					}
				}
				if strings.Contains(logged, leakToken[:8]) {
					t.Errorf("the log line holds a piece of the token: %s", logged)
				}
				if !strings.Contains(me.Err.Error(), "[RED") {
					t.Errorf("the log line marks no redaction: %s", me.Err)
				}
			})
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		secrets  []string
		gone     []string // must not survive
		kept     []string // must survive
	}{
		{name: "declared secret, JSON-escaped and URL-encoded too", in: `a p@ss"w/rd b p%40ss%22w%2Frd c p@ss\"w/rd`,
			secrets: []string{`p@ss"w/rd`}, gone: []string{"p@ss", "p%40ss"}, kept: []string{"a ", " b ", " c "}},
		{name: "longest secret first", in: "tok-abcdef-ghij", secrets: []string{"abcdef", "tok-abcdef-ghij"},
			gone: []string{"tok-", "ghij"}},
		{name: "short secrets are left", in: "abc def", secrets: []string{"abc"}, kept: []string{"abc def"}},
		{name: "JSON fields by name", in: `{"user":"zoe","password":"pw1","access_token":"at2","refreshToken":"rt3","client_secret":"cs4","Cookie":"c5","api_key":7}`,
			gone: []string{"pw1", "at2", "rt3", "cs4", "c5", ":7"}, kept: []string{`"user":"zoe"`}},
		{name: "form parameters", in: "grant=x&password=pw1&token=tk2&next=/home",
			gone: []string{"pw1", "tk2"}, kept: []string{"grant=x", "next=/home"}},
		{name: "Bearer anywhere", in: "sent bearer eyJhbGciOi.eyJzdWIi.sig== twice",
			gone: []string{"eyJ"}, kept: []string{"sent bearer", "twice"}},
		{name: "echoed header lines", in: "Authorization: Basic dTpw\ncookie: a=b; c=d\nAccept: */*",
			gone: []string{"dTpw", "a=b"}, kept: []string{"Accept: */*"}},
		{name: "nothing secret", in: `{"message":"unknown userId 42"}`, kept: []string{`{"message":"unknown userId 42"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := providers.Redact(tc.in, tc.secrets...)
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Errorf("Redact(%q) = %q: %q is left", tc.in, got, g)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(got, k) {
					t.Errorf("Redact(%q) = %q: %q is gone", tc.in, got, k)
				}
			}
		})
	}
}

// TestStatusErrorKeepsItsStatus: the status behind an error survives the
// wrapping and copying adapters do, and nothing else has one.
func TestStatusErrorKeepsItsStatus(t *testing.T) {
	e := providers.StatusError("p", 449, `{"message":"queued"}`, nil)
	c := *e
	for name, tc := range map[string]struct {
		err  error
		want int
	}{
		"as made":      {e, 449},
		"wrapped":      {errors.Join(errors.New("ctx"), e), 449},
		"copied":       {&c, 449},
		"garbage":      {providers.GarbageError("p", errors.New("x")), 0},
		"not upstream": {errors.New("x"), 0},
		"nil":          {nil, 0},
	} {
		if got := providers.UpstreamStatus(tc.err); got != tc.want {
			t.Errorf("%s: UpstreamStatus = %d, want %d", name, got, tc.want)
		}
	}
}
