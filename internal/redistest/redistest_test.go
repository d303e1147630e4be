package redistest_test

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/internal/redistest"
)

func ping(t *testing.T, addr string) error {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		t.Fatalf("PING answered %q", line)
	}
	return nil
}

func TestStartKillRestart(t *testing.T) {
	s := redistest.MustStart(t)
	if s.Addr == "" {
		t.Skip("REDIS_URL in use")
	}
	if err := ping(t, s.Addr); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	s.Kill()
	if err := ping(t, s.Addr); err == nil {
		t.Fatal("killed server still answers")
	}
	s.Restart()
	if err := ping(t, s.Addr); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}
