package providers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// TestCallerRefusesLongAnswersUnread: an answer whose Content-Length is over
// MaxBody is refused from its headers. The upstream sends its headers and a
// first 1 KiB, then holds the rest back until the client hangs up: a client
// that read on would wait for it (until the client's timeout, failing the
// test); one that refuses at once closes the connection, and the upstream's
// next write fails having sent 1 KiB of its 10 MB.
func TestCallerRefusesLongAnswersUnread(t *testing.T) {
	const total = 10 << 20
	for _, tc := range []struct {
		name    string
		status  int
		maxBody int64
	}{
		{name: "10 MB over the default 8 MiB", status: 200},
		{name: "10 MB over a MaxBody of 1 MiB", status: 200, maxBody: 1 << 20},
		{name: "an error answer of 10 MB", status: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type outcome struct {
				written int
				err     error
			}
			done := make(chan outcome, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(total))
				w.WriteHeader(tc.status)
				chunk := []byte(strings.Repeat("x", 1<<10))
				n, _ := w.Write(chunk)
				w.(http.Flusher).Flush()
				<-r.Context().Done() // the client hung up
				var err error
				for n < total && err == nil {
					var m int
					m, err = w.Write(chunk)
					n += m
					if err == nil {
						w.(http.Flusher).Flush()
					}
				}
				done <- outcome{n, err}
			}))
			defer srv.Close()
			c := &providers.Caller{Provider: "p", BaseURL: srv.URL, MaxBody: tc.maxBody,
				Client: &http.Client{Timeout: 30 * time.Second}}
			_, err := c.Do(context.Background(), providers.Request{Method: "GET", Path: "/big"})
			if !model.IsCode(err, model.CodeUpstreamUnavailable) {
				t.Fatalf("err = %v, want UPSTREAM_UNAVAILABLE", err)
			}
			if strings.Contains(err.Error(), "Timeout") || strings.Contains(err.Error(), "deadline") {
				t.Fatalf("the client read on until its timeout: %v", err)
			}
			got := <-done
			if got.err == nil || got.written >= total {
				t.Errorf("the upstream wrote %d of %d bytes (last error %v): the answer was read", got.written, total, got.err)
			}
		})
	}
}
