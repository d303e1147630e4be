package ziik_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

func TestConcurrentCallsShareOneAuthentication(t *testing.T) {
	tests := []struct {
		name     string
		age      func(e *env)
		wantAuth int
		wantRen  int
	}{
		{"token expired by the clock", func(e *env) { e.clock.Advance(2 * time.Hour) }, 1, 0},
		{"token about to expire", func(e *env) { e.clock.Advance(59 * time.Minute) }, 0, 1},
		{"token revoked upstream (401)", func(e *env) { e.srv.ExpireTokens() }, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ana := e.user(t, "Ana", "Lee")
			c := e.conv(t, "Team", ana)
			e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "hello"})
			ctx := context.Background()
			if _, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 1}); err != nil {
				t.Fatal(err)
			}
			tc.age(e)
			e.srv.ResetCalls()
			start := make(chan struct{})
			errs := make(chan error, 20)
			var wg sync.WaitGroup
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					pg, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 1})
					if err == nil && len(pg.Edges) != 1 {
						err = fmt.Errorf("got %d edges", len(pg.Edges))
					}
					errs <- err
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if a, r := e.srv.Calls(epAuth), e.srv.Calls(epRenew); a != tc.wantAuth || r != tc.wantRen {
				t.Errorf("authenticate %d renew %d, want %d and %d", a, r, tc.wantAuth, tc.wantRen)
			}
		})
	}
}

func TestAuthFailures(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		e := newEnv(t, nil)
		c := e.conv(t, "Team")
		p, err := ziik.New(ziik.Options{ID: providerID, BaseURL: e.srv.URL, Email: "bot@acme.test", Password: "wrong-" + password,
			Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Thread(context.Background(), model.ThreadKindConversation, strconv.Itoa(c))
		if !model.IsCode(err, model.CodeUnauthenticated) || strings.Contains(err.Error(), password) {
			t.Errorf("got %v", err)
		}
		if strings.Contains(e.logs.String(), "wrong-"+password) {
			t.Error("the password is in the log")
		}
		if e.srv.Calls(epConv) != 0 {
			t.Error("called the API without a token")
		}
	})
	t.Run("renewal outage keeps the valid token", func(t *testing.T) {
		e := newEnv(t, nil)
		c := e.conv(t, "Team")
		ctx := context.Background()
		if _, err := e.p.Thread(ctx, model.ThreadKindConversation, strconv.Itoa(c)); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(59 * time.Minute)
		e.srv.FailNext(epRenew, ziiktest.Fault{Status: 503, Body: `{"error":{"code":"maintenance","message":"back soon","is_ziik_error":true}}`})
		e.srv.ResetCalls()
		for range 3 {
			if _, err := e.p.Thread(ctx, model.ThreadKindConversation, strconv.Itoa(c)); err != nil {
				t.Fatal(err)
			}
		}
		if r, a := e.srv.Calls(epRenew), e.srv.Calls(epAuth); r != 1 || a != 0 {
			t.Errorf("renew %d authenticate %d, want 1 and 0", r, a)
		}
	})
	t.Run("echoed password is scrubbed", func(t *testing.T) {
		e := newEnv(t, nil)
		e.srv.FailNext(epAuth, ziiktest.Fault{Status: 422, Body: `{"error":{"code":"invalid","message":"bad password ` + password + `","is_ziik_error":true}}`})
		_, err := e.p.Thread(context.Background(), model.ThreadKindConversation, "57")
		if !model.IsCode(err, model.CodeBadUserInput) || strings.Contains(err.Error(), password) {
			t.Errorf("got %v", err)
		}
	})
}
