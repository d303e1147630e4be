package providers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/internal/upstreamwait"
	"github.com/commentgraph/commentgraph/providers"
)

// TestCallerCountsItsCallUntilTheBodyIsRead: the upstream takes 10 ms of the
// manual clock to answer its headers and 5 ms more, once the client has
// them, for the rest of its body. The call is upstream time until the whole
// body is in, and not a moment after a failed call.
func TestCallerCountsItsCallUntilTheBodyIsRead(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	gotHeaders := make(chan struct{}, 1)
	half := strings.Repeat("x", 32<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(10 * time.Millisecond)
		w.Header().Set("Content-Length", strconv.Itoa(2*len(half)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(half))
		w.(http.Flusher).Flush()
		select {
		case <-gotHeaders:
		case <-r.Context().Done():
			return
		}
		clock.Advance(5 * time.Millisecond)
		_, _ = w.Write([]byte(half))
	}))
	c := &providers.Caller{Provider: "p", BaseURL: srv.URL, Client: srv.Client()}

	tr := upstreamwait.New(clock.Now)
	ctx := upstreamwait.NewContext(context.Background(), tr)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotFirstResponseByte: func() { gotHeaders <- struct{}{} }})
	resp, err := c.Do(ctx, providers.Request{Method: http.MethodGet, Path: "/page", Endpoint: "GET /page"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Body) != 2*len(half) {
		t.Fatalf("body: %d bytes", len(resp.Body))
	}
	clock.Advance(time.Second) // the gateway's own time from here
	if got := tr.Waited(); got != 15*time.Millisecond {
		t.Fatalf("after a call of 15 ms: Waited() = %v", got)
	}

	srv.Close()
	if _, err := c.Do(upstreamwait.NewContext(context.Background(), tr), providers.Request{Method: http.MethodGet, Path: "/page", Endpoint: "GET /page"}); err == nil {
		t.Fatal("a call to a closed upstream succeeded")
	}
	clock.Advance(time.Second)
	if got := tr.Waited(); got != 15*time.Millisecond {
		t.Fatalf("after a failed call: Waited() = %v, want still 15ms (the failed call took none of the clock)", got)
	}
}
