package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upstreams is n test servers that answer only once all n have a request in
// flight (a barrier, not a sleep), so a pass-through that made its calls one
// after another would time out instead of passing. Each counts its calls
// and records the Authorization it got.
type upstreams struct {
	srv   []*httptest.Server
	calls []atomic.Int64
	auth  []atomic.Value
	fail  atomic.Int64 // index+1 of a server that answers 503; 0: none

	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func newUpstreams(t *testing.T, n int) *upstreams {
	t.Helper()
	u := &upstreams{calls: make([]atomic.Int64, n), auth: make([]atomic.Value, n), release: make(chan struct{})}
	for i := range n {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.calls[i].Add(1)
			u.auth[i].Store(r.Header.Get("Authorization"))
			select {
			case <-u.arrive(n):
			case <-time.After(5 * time.Second):
				http.Error(w, "the other calls never came", http.StatusGatewayTimeout)
				return
			}
			if u.fail.Load() == int64(i+1) {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, `{"items":[]}`)
		}))
		t.Cleanup(s.Close)
		u.srv = append(u.srv, s)
	}
	return u
}

// arrive counts one call in and returns what it waits on: the n-th closes
// it, releasing the round, and arms the next round's barrier.
func (u *upstreams) arrive(n int) <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	release := u.release
	u.waiting++
	if u.waiting == n {
		close(release)
		u.release = make(chan struct{})
		u.waiting = 0
	}
	return release
}

func (u *upstreams) handler(answer []byte) *handler {
	h := &handler{client: &http.Client{Timeout: 10 * time.Second}, answer: answer}
	for i, s := range u.srv {
		h.calls = append(h.calls, call{URL: s.URL + "/list", Authorization: "Bearer token-" + string(rune('a'+i))})
	}
	return h
}

func TestQueryMakesEveryCallAtOnceAndAnswersThePage(t *testing.T) {
	u := newUpstreams(t, 3)
	page := []byte(`{"data":{"comments":{"edges":[]}}}`)
	srv := httptest.NewServer(u.handler(page).routes())
	defer srv.Close()

	for q := 1; q <= 2; q++ {
		res, err := http.Post(srv.URL+"/query", "application/json", strings.NewReader(`{"query":"{ x }"}`))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Equal(got, page) {
			t.Fatalf("query %d: %d %s, want 200 and the page", q, res.StatusCode, got)
		}
		if cl, want := res.Header.Get("Content-Length"), strconv.Itoa(len(page)); cl != want {
			t.Errorf("query %d: Content-Length %q, want %s", q, cl, want)
		}
		for i := range u.srv {
			if n := u.calls[i].Load(); n != int64(q) {
				t.Errorf("after query %d: upstream %d called %d times, want %d", q, i, n, q)
			}
			if a, want := u.auth[i].Load(), "Bearer token-"+string(rune('a'+i)); a != want {
				t.Errorf("upstream %d got Authorization %v, want %q", i, a, want)
			}
		}
	}
}

func TestQueryFailsWhenAnUpstreamCallFails(t *testing.T) {
	u := newUpstreams(t, 2)
	u.fail.Store(2)
	srv := httptest.NewServer(u.handler([]byte(`{"data":{}}`)).routes())
	defer srv.Close()
	res, err := http.Post(srv.URL+"/query", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "503") {
		t.Fatalf("%d %s, want 502 naming the upstream's 503", res.StatusCode, body)
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	page := write("page.json", `{"data":{}}`)
	tests := []struct {
		name, calls, answer, want string
	}{
		{"no calls file", filepath.Join(dir, "missing.json"), page, "-calls"},
		{"calls not JSON", write("bad.json", "[{"), page, "-calls"},
		{"no calls", write("empty.json", "[]"), page, "no calls"},
		{"no answer file", write("one.json", `[{"url":"http://127.0.0.1:1/x"}]`), filepath.Join(dir, "missing-page.json"), "-answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(tt.calls, tt.answer)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("load: %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
