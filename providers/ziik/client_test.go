package ziik_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

func TestUpstreamErrors(t *testing.T) {
	garbage := "{not json"
	tests := []struct {
		name       string
		fault      ziiktest.Fault
		code       model.Code
		retryAfter time.Duration
	}{
		{"401 twice", ziiktest.Fault{Status: 401, Times: 2, Body: `{"error":{"code":"token_invalid","message":"The token is invalid.","is_ziik_error":true}}`}, model.CodeUnauthenticated, 0},
		{"403", ziiktest.Fault{Status: 403, Body: `{"error":{"code":"forbidden","message":"no","is_ziik_error":true}}`}, model.CodeForbidden, 0},
		{"404", ziiktest.Fault{Status: 404, Body: `{"error":{"code":"not_found","message":"Conversation not found.","is_ziik_error":true}}`}, model.CodeNotFound, 0},
		{"410 gone", ziiktest.Fault{Status: 410, Body: `{"error":{"code":"gone","message":"removed","is_ziik_error":true}}`}, model.CodeNotFound, 0},
		{"422", ziiktest.Fault{Status: 422, Body: `{"error":{"code":"invalid_parameters","message":"The cursor is invalid.","is_ziik_error":true}}`}, model.CodeBadUserInput, 0},
		{"429 with Retry-After", ziiktest.Fault{Status: 429, Header: http.Header{"Retry-After": {"7"}}, Body: `{"error":{"code":"too_many_requests","message":"slow down","is_ziik_error":false}}`}, model.CodeUpstreamRateLimited, 7 * time.Second},
		{"429 without Retry-After", ziiktest.Fault{Status: 429, Body: `{"error":{"code":"too_many_requests","message":"slow down","is_ziik_error":false}}`}, model.CodeUpstreamRateLimited, 0},
		{"500", ziiktest.Fault{Status: 500, Body: `{"error":{"code":"server_error","message":"boom","is_ziik_error":false}}`}, model.CodeUpstreamUnavailable, 0},
		{"503 maintenance", ziiktest.Fault{Status: 503, Body: `<html>maintenance</html>`}, model.CodeUpstreamUnavailable, 0},
		{"garbage JSON", ziiktest.Fault{Status: 200, Body: garbage}, model.CodeUpstreamUnavailable, 0},
		{"wrong JSON type", ziiktest.Fault{Status: 200, Body: `{"data":"nope"}`}, model.CodeUpstreamUnavailable, 0},
		{"timeout", ziiktest.Fault{Delay: 2 * time.Second}, model.CodeUpstreamTimeout, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ana := e.user(t, "Ana", "Lee")
			c := e.conv(t, "Team", ana)
			ctx := context.Background()
			// Warm up: authenticate and learn participants outside the fault.
			if _, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 1}); err != nil {
				t.Fatal(err)
			}
			e.srv.FailNext(epList, tc.fault)
			ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err := e.p.ListComments(ctx, convThread(c), providers.Page{Last: 5})
			var me *model.Error
			if !errors.As(err, &me) {
				t.Fatalf("got %T %v, want *model.Error", err, err)
			}
			if me.Code != tc.code || me.Provider != providerID || me.RetryAfter != tc.retryAfter {
				t.Errorf("got code %s provider %q retryAfter %v; want %s %q %v", me.Code, me.Provider, me.RetryAfter, tc.code, providerID, tc.retryAfter)
			}
			if strings.Contains(err.Error(), password) {
				t.Error("the password is in the error")
			}
			for _, tok := range e.rec.seen() {
				if strings.Contains(err.Error(), tok) {
					t.Error("a token is in the error")
				}
			}
		})
	}
}
