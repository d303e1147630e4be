package virola

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault virolatest.Fault
		code  model.Code
		retry time.Duration
	}{
		{"401", virolatest.Fault{Status: 401, Body: `{"errorText":"Wrong Bearer, please renew Web API Access Token","httpStatusCode":401}`}, model.CodeUnauthenticated, 0},
		{"403", virolatest.Fault{Status: 403}, model.CodeForbidden, 0},
		{"404", virolatest.Fault{Status: 404, Body: `{"errorText":"Message not found","httpStatusCode":404}`}, model.CodeNotFound, 0},
		{"429", virolatest.Fault{Status: 429, Header: http.Header{"Retry-After": {"12"}}}, model.CodeUpstreamRateLimited, 12 * time.Second},
		{"500", virolatest.Fault{Status: 500}, model.CodeUpstreamUnavailable, 0},
		{"502 html", virolatest.Fault{Status: 502, Body: "<html>bad gateway</html>"}, model.CodeUpstreamUnavailable, 0},
		{"garbage 200", virolatest.Fault{Status: 200, Body: `{"messages":[{"messageId":"x"`}, model.CodeUpstreamUnavailable, 0},
		{"timeout", virolatest.Fault{Delay: 10 * time.Second}, model.CodeUpstreamTimeout, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, virolatest.Options{}, Options{HTTPClient: &http.Client{Timeout: time.Second}})
			e.s.FailNext(epGetComments, tc.fault)
			_, err := e.p.ListComments(ctxT(t), e.thread, providers.Page{First: 5})
			wantCode(t, err, tc.code)
			if me := err.(*model.Error); me.RetryAfter != tc.retry {
				t.Fatalf("retryAfter %v, want %v", me.RetryAfter, tc.retry)
			}
			if strings.Contains(err.Error(), e.s.Token()) {
				t.Fatal("the token leaked into the error")
			}
		})
	}
}

func TestWrongTokenAndDeadline(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{Token: "expired-token-value"})
	_, err := e.p.Users(ctxT(t), []string{"1"})
	wantCode(t, err, model.CodeUnauthenticated)
	if strings.Contains(err.Error(), "expired-token-value") {
		t.Fatal("token in error")
	}

	e2 := newEnv(t, virolatest.Options{}, Options{})
	e2.s.FailNext(epGetComments, virolatest.Fault{Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := e2.p.Users(ctx, []string{"1"}); err != nil { // warms the user list within the deadline
		t.Fatal(err)
	}
	_, err = e2.p.ListComments(ctx, e2.thread, providers.Page{First: 1})
	wantCode(t, err, model.CodeUpstreamTimeout)
}
