// Package redistest starts a private redis-server for tests, like
// net/http/httptest does for HTTP servers.
//
// MustStart runs `redis-server` from PATH on a free loopback port with no
// persistence and stops it when the test ends. REDIS_URL, when set, is used
// instead (Kill and Restart then skip the test, since the server is not ours).
// With neither, the test is skipped with a message, except under CI=true where
// it fails: CI must run every Redis test.
//
// MustStartCluster does the same for a Redis Cluster of three masters
// (REDIS_CLUSTER_ADDRS names an existing one instead).
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one private redis-server.
type Server struct {
	// URL is redis://127.0.0.1:PORT/0, for go-redis's ParseURL or the config.
	URL  string
	Addr string

	tb       testing.TB
	external bool
	dir      string
	args     []string // added to the command line (cluster mode)
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
}

// MustStart starts a private server (or uses REDIS_URL) for tb's duration.
func MustStart(tb testing.TB) *Server {
	tb.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		return &Server{URL: u, tb: tb, external: true}
	}
	needPrograms(tb, "REDIS_URL is not set: skipping a test that needs Redis", "redis-server")
	s, err := startServer(tb, freePort)
	if err != nil {
		tb.Fatalf("redistest: start redis-server: %v", err)
	}
	s.URL = "redis://" + s.Addr + "/0"
	return s
}

// startServer starts a server on a port from pick, trying a few ports in case
// another process takes one between pick and listen, and stops it when tb
// ends. args are added to the command line.
func startServer(tb testing.TB, pick func() (int, error), args ...string) (*Server, error) {
	s := &Server{tb: tb, dir: tb.TempDir(), args: args}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var port int
		if port, err = pick(); err != nil {
			continue
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = s.start(); err == nil {
			tb.Cleanup(s.stop)
			return s, nil
		}
	}
	return nil, err
}

// needPrograms skips tb, or fails it under CI=true, when one of the programs
// is not on PATH.
func needPrograms(tb testing.TB, why string, programs ...string) {
	tb.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			msg := p + " is not on PATH and " + why + " (apt-get install redis-server)"
			if os.Getenv("CI") == "true" {
				tb.Fatal(msg)
			}
			tb.Skip(msg)
		}
	}
}

// Kill stops the server abruptly (SIGKILL), as a crash would.
func (s *Server) Kill() {
	s.tb.Helper()
	if s.external {
		s.tb.Skip("redistest: REDIS_URL points at a server this test does not own; cannot kill it")
	}
	s.stop()
}

// Restart starts the server again on the same address (with no data: it keeps
// nothing on disk).
func (s *Server) Restart() {
	s.tb.Helper()
	if s.external {
		s.tb.Skip("redistest: REDIS_URL points at a server this test does not own; cannot restart it")
	}
	s.stop()
	if err := s.start(); err != nil {
		s.tb.Fatalf("redistest: restart: %v", err)
	}
}

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command("redis-server", append([]string{
		"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "notice"}, s.args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	// Wait for the server to say it is ready, rather than sleeping and hoping.
	ready := make(chan struct{})
	exited := make(chan struct{})
	var log strings.Builder
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			logMu.Lock()
			if log.Len() < 8<<10 {
				log.WriteString(sc.Text() + "\n")
			}
			logMu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		logMu.Lock()
		defer logMu.Unlock()
		return fmt.Errorf("redis-server exited before it was ready:\n%s", log.String())
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server did not become ready in 20s")
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

func (s *Server) stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
