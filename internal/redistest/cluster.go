package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a private Redis Cluster: three masters, no replicas, every hash
// slot assigned, so keys of one test spread over several nodes as they would
// in production.
type Cluster struct {
	// Addrs are the masters' host:port, for go-redis's ClusterOptions.Addrs
	// or the config's redis.addrs.
	Addrs []string
	// URL names the first master and the others as addr parameters
	// (redis://A?addr=B&addr=C), for go-redis's ParseClusterURL or the
	// config's redis.url with redis.cluster.
	URL string
}

// clusterTimeout bounds `redis-cli --cluster create` and the wait for every
// node to report the cluster ok.
const clusterTimeout = 30 * time.Second

// MustStartCluster starts a three-master cluster for tb's duration, or uses
// the one REDIS_CLUSTER_ADDRS names (comma-separated host:port). Without
// either redis-server or redis-cli on PATH the test is skipped, or fails
// under CI=true.
//
// Starting one takes a few seconds, most of it redis-cli waiting for the
// nodes to agree: start one per package's tests (one top-level test with
// subtests, each using keys of its own), not one per test.
func MustStartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	if env := os.Getenv("REDIS_CLUSTER_ADDRS"); env != "" {
		return newCluster(strings.Split(env, ","))
	}
	needPrograms(tb, "REDIS_CLUSTER_ADDRS is not set: skipping a test that needs a Redis Cluster", "redis-server", "redis-cli")
	var addrs []string
	for range 3 {
		s, err := startServer(tb, freeClusterPort,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		if err != nil {
			tb.Fatalf("redistest: start a cluster node: %v", err)
		}
		addrs = append(addrs, s.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	create := exec.CommandContext(ctx, "redis-cli", append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "0", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		if err := waitClusterOK(ctx, a); err != nil {
			tb.Fatalf("redistest: cluster node %s: %v", a, err)
		}
	}
	return newCluster(addrs)
}

// NewClient returns a cluster client of its own (one gateway instance's),
// closed when tb ends.
func (c *Cluster) NewClient(tb testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

func newCluster(addrs []string) *Cluster {
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return &Cluster{Addrs: addrs, URL: u}
}

// freeClusterPort is a free port p whose cluster bus port, p+10000, is free
// too.
func freeClusterPort() (int, error) {
	for attempt := 0; attempt < 50; attempt++ {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port p with p+10000 free too")
}

// waitClusterOK polls the node's CLUSTER INFO until it says cluster_state:ok
// (every slot served, as that node sees it), until ctx ends.
func waitClusterOK(ctx context.Context, addr string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		info, err := clusterInfo(ctx, addr)
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		last = info
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ok within %v; last CLUSTER INFO: %s", clusterTimeout, last)
		case <-tick.C:
		}
	}
}

// clusterInfo sends CLUSTER INFO and reads its bulk-string reply.
func clusterInfo(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n"); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(head, "$") {
		return "", fmt.Errorf("CLUSTER INFO answered %q", strings.TrimSpace(head))
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n < 0 {
		return "", fmt.Errorf("CLUSTER INFO answered %q", strings.TrimSpace(head))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	return string(body), nil
}
