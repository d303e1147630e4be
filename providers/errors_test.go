package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

func TestCallerMapsUpstreamAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		header map[string]string
		delay  time.Duration
		code   model.Code
	}{
		{"401", 401, `{"message":"bad token kpt_secret"}`, nil, 0, model.CodeUnauthenticated},
		{"403", 403, `{}`, nil, 0, model.CodeForbidden},
		{"404", 404, `{}`, nil, 0, model.CodeNotFound},
		{"422", 422, `{"message":"unknown userId"}`, nil, 0, model.CodeBadUserInput},
		{"429", 429, `{}`, map[string]string{"Retry-After": "3"}, 0, model.CodeUpstreamRateLimited},
		{"500", 500, `oops`, nil, 0, model.CodeUpstreamUnavailable},
		{"302", 302, ``, nil, 0, model.CodeUpstreamUnavailable},
		{"garbage", 200, `{"data": [`, nil, 0, model.CodeUpstreamUnavailable},
		{"timeout", 200, `{}`, nil, time.Second, model.CodeUpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer kpt_secret" {
					t.Errorf("auth header %q", r.Header.Get("Authorization"))
				}
				if tt.delay > 0 {
					select {
					case <-time.After(tt.delay):
					case <-r.Context().Done():
					}
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			var calls []providers.CallInfo
			c := &providers.Caller{
				Provider: "p", BaseURL: srv.URL, Client: &http.Client{Timeout: 100 * time.Millisecond},
				Authorize: func(_ context.Context, r *http.Request) error {
					r.Header.Set("Authorization", "Bearer kpt_secret")
					return nil
				},
				OnCall: func(ci providers.CallInfo) { calls = append(calls, ci) },
			}
			var out map[string]any
			_, err := c.JSON(context.Background(), providers.Request{Method: "GET", Endpoint: "GET /things/{id}", Path: "/things/7"}, &out)
			var me *model.Error
			if !errors.As(err, &me) || me.Code != tt.code || me.Provider != "p" {
				t.Fatalf("err = %#v, want %s from p", err, tt.code)
			}
			if strings.Contains(me.Message, "kpt_secret") {
				t.Error("the client-facing message repeats what the upstream said")
			}
			if tt.code == model.CodeUpstreamRateLimited && me.RetryAfter != 3*time.Second {
				t.Errorf("RetryAfter = %v", me.RetryAfter)
			}
			if len(calls) != 1 || calls[0].Endpoint != "GET /things/{id}" {
				t.Errorf("OnCall saw %+v", calls)
			}
		})
	}
}

// The answer is read whole up to MaxBody, whether the upstream says its
// length (read into one buffer of that size) or not (chunked); beyond it, or
// cut short, it is an upstream failure.
func TestCallerReadsAnswersUpToMaxBody(t *testing.T) {
	const max = 1024
	body := func(n int) string { return `"` + strings.Repeat("x", n-2) + `"` }
	for _, tc := range []struct {
		name    string
		size    int
		length  bool // send a Content-Length
		cut     int  // with length: close the connection after this many bytes
		wantErr model.Code
	}{
		{name: "at the limit, with a length", size: max, length: true},
		{name: "at the limit, chunked", size: max},
		{name: "over the limit, with a length", size: 2048, length: true, wantErr: model.CodeUpstreamUnavailable},
		{name: "over the limit, chunked", size: 2048, wantErr: model.CodeUpstreamUnavailable},
		{name: "shorter than its length", size: 900, length: true, cut: 100, wantErr: model.CodeUpstreamUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := body(tc.size)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.length {
					w.(http.Flusher).Flush() // no length: chunked
					w.Write([]byte(b))
					return
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				if tc.cut > 0 {
					w.Write([]byte(b[:tc.cut]))
					w.(http.Flusher).Flush()
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
					return
				}
				w.Write([]byte(b))
			}))
			defer srv.Close()
			c := &providers.Caller{Provider: "p", BaseURL: srv.URL, MaxBody: max}
			resp, err := c.Do(context.Background(), providers.Request{Method: "GET", Path: "/"})
			if tc.wantErr != "" {
				if !model.IsCode(err, tc.wantErr) {
					t.Errorf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != b {
				t.Errorf("got %d bytes, want the %d sent", len(resp.Body), len(b))
			}
		})
	}
}

func TestCanceledRequestStaysCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&providers.Caller{Provider: "p", BaseURL: srv.URL}).Do(ctx, providers.Request{Method: "GET", Path: "/"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "5": 5 * time.Second, "0.5": 500 * time.Millisecond, "-3": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		h := http.Header{}
		h.Set("Retry-After", v)
		if got := providers.RetryAfter(h, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
