package ziik_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

const epMessages = "GET /conversations/{conversation}/messages"

// userWorld is a tenant where Ana and Bo can log in, with a direct
// conversation of Ana's that Bo is not in and a group they share.
type userWorld struct {
	srv             *ziiktest.Server
	clock           *clocktest.Clock
	ana, bo         int
	anaOnly, shared int
	anaJWT, boJWT   string
	anaPass         string
}

func newUserWorld(t *testing.T) *userWorld {
	t.Helper()
	// The clock starts at the real time: an instance from providers.Build
	// reads the real clock against the JWTs' exp claims.
	c := clocktest.New(time.Now())
	w := &userWorld{clock: c, anaPass: "ana-" + password}
	w.srv = ziiktest.NewServer(ziiktest.Options{Email: "bot@acme.test", Password: password, Now: c.Now, TokenTTL: time.Hour})
	t.Cleanup(w.srv.Close)
	w.ana = w.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee", Email: "ana@acme.test", Password: w.anaPass})
	w.bo = w.srv.AddUser(ziiktest.User{FirstName: "Bo", LastName: "Tan", Email: "bo@acme.test"})
	var err error
	if w.anaOnly, err = w.srv.AddConversation(ziiktest.Conversation{Participants: []int{w.ana, w.srv.BotID()}}); err != nil {
		t.Fatal(err)
	}
	if w.shared, err = w.srv.AddConversation(ziiktest.Conversation{Title: "Team", Participants: []int{w.ana, w.bo, w.srv.BotID()}}); err != nil {
		t.Fatal(err)
	}
	if w.anaJWT, err = w.srv.IssueToken(w.ana); err != nil {
		t.Fatal(err)
	}
	if w.boJWT, err = w.srv.IssueToken(w.bo); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestUserCredentials builds one instance per user credential, as the
// gateway does for "credentials: user": an email and password, or a Ziik JWT
// given as Config.Token. A comment posted with it has that user as sender;
// a conversation the user is not a participant of is FORBIDDEN to them.
func TestUserCredentials(t *testing.T) {
	w := newUserWorld(t)
	for _, tc := range []struct {
		name     string
		cfg      providers.Config
		user     int
		conv     int
		wantCode model.Code
	}{
		{"Ana by password, her conversation", providers.Config{Email: "ana@acme.test", Password: w.anaPass}, w.ana, w.anaOnly, ""},
		{"Ana by JWT, her conversation", providers.Config{Token: w.anaJWT}, w.ana, w.anaOnly, ""},
		{"Ana by JWT, the group", providers.Config{Token: w.anaJWT}, w.ana, w.shared, ""},
		{"Bo by JWT, the group", providers.Config{Token: w.boJWT}, w.bo, w.shared, ""},
		{"Bo by JWT, Ana's conversation", providers.Config{Token: w.boJWT}, w.bo, w.anaOnly, model.CodeForbidden},
		{"a JWT wins over a password", providers.Config{Token: w.boJWT, Email: "ana@acme.test", Password: w.anaPass}, w.bo, w.shared, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ID, cfg.Kind, cfg.BaseURL = providerID, "ziik", w.srv.URL
			inst, err := providers.Build(cfg, providers.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			thread := convThread(tc.conv)
			c, err := inst.Provider.CreateComment(ctx, providers.CommentInput{Thread: thread, Text: "hi from " + tc.name})
			if tc.wantCode != "" {
				if !model.IsCode(err, tc.wantCode) {
					t.Fatalf("create: %v, want %s", err, tc.wantCode)
				}
				if _, err := inst.Provider.ListComments(ctx, thread, providers.Page{Last: 1}); !model.IsCode(err, tc.wantCode) {
					t.Fatalf("list: %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.SenderRef != strconv.Itoa(tc.user) {
				t.Errorf("created comment's sender %q, want %d", c.SenderRef, tc.user)
			}
			pg, err := inst.Provider.ListComments(ctx, thread, providers.Page{Last: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Edges) != 1 || pg.Edges[0].Comment.SenderRef != strconv.Itoa(tc.user) {
				t.Errorf("listed %+v, want the comment by %d", pg.Edges, tc.user)
			}
		})
	}
}

// TestGivenTokenIsNeverRenewed checks that a JWT given as the credential is
// used as is and, once refused or expired, answers UNAUTHENTICATED: with no
// password there is nothing to log in with, and renewing would retire the
// JWT its holder keeps.
func TestGivenTokenIsNeverRenewed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		age       func(w *userWorld)
		wantCalls int // message-list calls the refused attempt makes
	}{
		{"refused upstream (401)", func(w *userWorld) { w.srv.ExpireTokens() }, 1},
		{"past its exp claim", func(w *userWorld) { w.clock.Advance(2 * time.Hour) }, 0},
		{"close to its exp claim, still used as is", func(w *userWorld) { w.clock.Advance(59 * time.Minute) }, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newUserWorld(t)
			logs := &bytes.Buffer{}
			p, err := ziik.New(ziik.Options{ID: providerID, BaseURL: w.srv.URL, Token: w.anaJWT, Now: w.clock.Now,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := p.ListComments(ctx, convThread(w.anaOnly), providers.Page{Last: 1}); err != nil {
				t.Fatal(err)
			}
			tc.age(w)
			w.srv.ResetCalls()
			for try := range 2 {
				_, err = p.ListComments(ctx, convThread(w.anaOnly), providers.Page{Last: 1})
				if tc.wantCalls < 0 {
					if err != nil {
						t.Fatalf("try %d: %v", try, err)
					}
					continue
				}
				if !model.IsCode(err, model.CodeUnauthenticated) {
					t.Fatalf("try %d: %v, want UNAUTHENTICATED", try, err)
				}
				if strings.Contains(err.Error(), w.anaJWT) {
					t.Error("the JWT is in the error")
				}
			}
			if tc.wantCalls >= 0 && w.srv.Calls(epMessages) != tc.wantCalls {
				t.Errorf("%d message-list calls, want %d (none after the first refusal)", w.srv.Calls(epMessages), tc.wantCalls)
			}
			if a, r := w.srv.Calls(epAuth), w.srv.Calls(epRenew); a != 0 || r != 0 {
				t.Errorf("authenticate %d renew %d, want neither", a, r)
			}
			if strings.Contains(logs.String(), w.anaJWT) {
				t.Error("the JWT is in the log")
			}
		})
	}
}

func TestNewNeedsACredential(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   ziik.Options
		wantOK bool
	}{
		{"a token", ziik.Options{Token: "a.b.c"}, true},
		{"email and password", ziik.Options{Email: "a@b.test", Password: "pw"}, true},
		{"an email only", ziik.Options{Email: "a@b.test"}, false},
		{"nothing", ziik.Options{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ID, tc.opts.BaseURL = providerID, "https://acme.ziik.test/api"
			if _, err := ziik.New(tc.opts); (err == nil) != tc.wantOK {
				t.Errorf("New: %v, want ok %v", err, tc.wantOK)
			}
		})
	}
}
