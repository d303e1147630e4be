package main

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// stuckUpstream accepts TCP connections, reads whatever is sent and never
// answers: an upstream that is up but stuck. It counts the connections that
// sent something and those their client has closed since.
type stuckUpstream struct {
	ln net.Listener

	mu      sync.Mutex
	talking int // connections that sent at least one byte
	closed  int // of those, the ones closed by the client
	changed chan struct{}
}

func newStuckUpstream(t *testing.T) *stuckUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &stuckUpstream{ln: ln, changed: make(chan struct{})}
	var (
		wg    sync.WaitGroup
		cmu   sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Read(make([]byte, 1)); err != nil {
					return
				}
				u.update(func() { u.talking++ })
				_, _ = io.Copy(io.Discard, c) // until the client closes it
				u.update(func() { u.closed++ })
			}()
		}
	}()
	return u
}

func (u *stuckUpstream) url() string { return "http://" + u.ln.Addr().String() }

func (u *stuckUpstream) update(f func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f()
	close(u.changed)
	u.changed = make(chan struct{})
}

// waitUntil waits for cond on (talking, closed), or fails the test at
// deadline.
func (u *stuckUpstream) waitUntil(t *testing.T, deadline <-chan time.Time, what string, cond func(talking, closed int) bool) {
	t.Helper()
	for {
		u.mu.Lock()
		talking, closed, ch := u.talking, u.closed, u.changed
		u.mu.Unlock()
		if cond(talking, closed) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: %d connections talked to the upstream, %d of them closed", what, talking, closed)
		}
	}
}

// With every upstream stuck (Virola's events dial waiting on an upgrade that
// never comes, K-LINK's pollers on answers that never come), cancelling run's
// ctx (what SIGTERM does) ends the program within -shutdown-timeout, and
// every connection to the upstream is closed on the way out, not left to the
// dial's or the call's own timeout (10 s and 8 s).
func TestShutdownIsBoundedWithStuckUpstreams(t *testing.T) {
	up := newStuckUpstream(t)
	path := t.TempDir() + "/commentgraph.yaml"
	if err := writeFile(path, `listen: "127.0.0.1:0"
providers:
  - id: virola
    kind: virola
    baseURL: "`+up.url()+`"
    token: "virola-token"
  - id: klink
    kind: klink
    baseURL: "`+up.url()+`"
    token: "klink-token"
    threads: ["3f1c2a9e-0000-4000-8000-00000000000a"]
`); err != nil {
		t.Fatal(err)
	}
	const shutdownTimeout = time.Second
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", path, "-shutdown-timeout", shutdownTimeout.String(), "-gc-heap-target", "0"},
			func(string) string { return "" }, logs)
	}()
	defer func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	}()

	// The events dial and the poller's first call are both waiting on the
	// upstream.
	up.waitUntil(t, time.After(10*time.Second), "before shutdown", func(talking, _ int) bool { return talking >= 2 })

	cancel()
	// Generous next to the shutdown timeout, well short of the dial's and
	// the calls' own timeouts: a job that ignores its ctx fails here.
	deadline := time.After(shutdownTimeout + 4*time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-deadline:
		t.Fatalf("run still shutting down past -shutdown-timeout %v", shutdownTimeout)
	}
	up.waitUntil(t, deadline, "after shutdown", func(talking, closed int) bool { return closed == talking })
}
