package providers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/providers"
)

// TestOpenDownloadRedactsErrorText: an upstream that echoes the token it was
// sent in a refusal does not get it into the error's (logged) text, as with
// Do; a 206 passes on the range headers with the body unread.
func TestOpenDownloadRedactsErrorText(t *testing.T) {
	const token = "tok-1234-secret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		if r.URL.Path == "/refused" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"errorText":"token `+token+` may not read this"}`)
			return
		}
		w.Header().Set("Content-Range", "bytes 0-1/10")
		w.Header().Set("X-Other", "dropped")
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, "ab")
	}))
	t.Cleanup(srv.Close)
	c := &providers.Caller{Provider: "p", Client: srv.Client(), Authorize: func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}}
	_, err := c.OpenDownload(t.Context(), srv.URL+"/refused", "", nil)
	if providers.UpstreamStatus(err) != http.StatusForbidden {
		t.Fatalf("refused: %v", err)
	}
	if strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), providers.Redacted) {
		t.Fatalf("error text not redacted: %v", err)
	}
	d, err := c.OpenDownload(t.Context(), srv.URL+"/file", "bytes=0-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Body.Close()
	body, _ := io.ReadAll(d.Body)
	if d.Status != http.StatusPartialContent || string(body) != "ab" || d.Header.Get("Content-Range") != "bytes 0-1/10" || d.Header.Get("X-Other") != "" {
		t.Fatalf("download: %d %q %v", d.Status, body, d.Header)
	}
}
