package redistest_test

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/internal/redistest"
)

// inline sends one inline command and returns its reply: a bulk string's
// content, "(nil)" for a nil one, or a status or error line as it came.
func inline(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(head, "$") {
		return strings.TrimSpace(head)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		t.Fatalf("%s answered %q", cmd, head)
	}
	if n < 0 {
		return "(nil)"
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// Every node sees a healthy cluster of three masters, and a key is served by
// one of them only: the others redirect.
func TestClusterHasThreeMasters(t *testing.T) {
	c := redistest.MustStartCluster(t)
	if len(c.Addrs) != 3 || !strings.HasPrefix(c.URL, "redis://"+c.Addrs[0]+"?addr=") {
		t.Fatalf("cluster %+v", c)
	}
	moved := 0
	for _, a := range c.Addrs {
		info := inline(t, a, "CLUSTER INFO")
		for _, want := range []string{"cluster_state:ok", "cluster_size:3", "cluster_known_nodes:3"} {
			if !strings.Contains(info, want) {
				t.Errorf("%s: CLUSTER INFO lacks %s:\n%s", a, want, info)
			}
		}
		if strings.HasPrefix(inline(t, a, "GET redistest:probe"), "-MOVED") {
			moved++
		}
	}
	if moved != 2 {
		t.Errorf("%d of 3 nodes redirected a key; want 2 (one node serves each slot)", moved)
	}
}
