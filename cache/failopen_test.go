package cache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestRedisKilledThenRestarted(t *testing.T) {
	e := openRedis(t, Options{Backoff: time.Second})
	up := newUpstream("klink", 0)
	up.addUser("u1", "Ana Lee")
	p := e.c.Wrap(up, "s")
	mustUsers(t, p, "u1")
	mustUsers(t, p, "u1")
	if n := up.userFetches(); n != 1 {
		t.Fatalf("warm-up fetched upstream %d times, want 1", n)
	}

	e.server.Kill()
	before := e.redis.roundTrips()
	for i := range 20 {
		equalNames(t, mustUsers(t, p, "u1"), map[string]string{"u1": "Ana Lee"})
		if i == 0 && e.c.Healthy() {
			t.Fatal("Healthy after a failed Redis call")
		}
	}
	if n := e.redis.roundTrips() - before; n != 1 {
		t.Fatalf("20 requests with Redis dead made %d Redis attempts, want 1 (then the breaker skips it)", n)
	}
	if n := up.userFetches(); n != 21 {
		t.Fatalf("upstream fetched %d times, want 21: every request fails open to it", n)
	}
	if s := e.c.Stats(); s.FailOpen != 20 || s.Errors != 1 {
		t.Fatalf("stats %+v, want 20 fail-opens from 1 Redis error", s)
	}
	if err := e.c.Invalidate(context.Background(), "s", []string{"u1"}, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Invalidate while skipping Redis: %v, want ErrUnavailable", err)
	}

	// After the backoff one request probes; Redis is still dead.
	e.clock.Advance(time.Second)
	before = e.redis.roundTrips()
	mustUsers(t, p, "u1")
	mustUsers(t, p, "u1")
	if n := e.redis.roundTrips() - before; n != 1 {
		t.Fatalf("after the backoff: %d Redis attempts, want exactly 1 probe", n)
	}
	if err := e.c.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded with Redis dead")
	}

	// Redis comes back: the same Cache uses it again.
	e.server.Restart()
	e.clock.Advance(time.Second)
	mustUsers(t, p, "u1") // the probe: a miss (the restart kept nothing), written back
	if !e.c.Healthy() {
		t.Fatal("not Healthy after a successful probe")
	}
	fetched := up.userFetches()
	for range 5 {
		mustUsers(t, p, "u1")
	}
	if n := up.userFetches() - fetched; n != 0 {
		t.Fatalf("after Redis came back, upstream fetched %d more times, want 0: the cache should serve", n)
	}
	if err := e.c.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestPingBringsRedisBack(t *testing.T) {
	e := openRedis(t, Options{})
	up := newUpstream("klink", 0)
	up.addUser("u1", "Ana Lee")
	p := e.c.Wrap(up, "s")
	e.server.Kill()
	mustUsers(t, p, "u1")
	if e.c.Healthy() {
		t.Fatal("Healthy with Redis dead")
	}
	e.server.Restart()
	// No time passes: only Ping (as /readyz calls it) can close the breaker.
	if err := e.c.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after restart: %v", err)
	}
	if !e.c.Healthy() {
		t.Fatal("a successful Ping did not put Redis back into use")
	}
	mustUsers(t, p, "u1")
	mustUsers(t, p, "u1")
	if s := e.c.Stats(); s.Hits != 1 {
		t.Fatalf("stats %+v: want the cache used again (1 hit)", s)
	}
}

func TestRedisSlow(t *testing.T) {
	e := openRedis(t, Options{CallTimeout: 50 * time.Millisecond})
	up := newUpstream("klink", 0)
	up.addUser("u1", "Zoë Park")
	p := e.c.Wrap(up, "s")
	mustUsers(t, p, "u1")

	// CLIENT PAUSE stalls every client's commands: a Redis that answers too
	// late, not one that refuses.
	if err := e.rdb.Do(context.Background(), "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	before := e.redis.roundTrips()
	for range 10 {
		equalNames(t, mustUsers(t, p, "u1"), map[string]string{"u1": "Zoë Park"})
	}
	if n := e.redis.roundTrips() - before; n != 1 {
		t.Fatalf("10 requests against a stalled Redis made %d attempts, want 1", n)
	}
	if s := e.c.Stats(); s.Errors != 1 || s.FailOpen != 10 {
		t.Fatalf("stats %+v, want 1 Redis error and 10 fail-opens", s)
	}

	// Once the pause is over (a PING returns), the next probe works.
	if err := e.rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	mustUsers(t, p, "u1")
	if !e.c.Healthy() {
		t.Fatal("not Healthy after Redis answered a probe")
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := openRedis(t, Options{Registerer: reg})
	up := newUpstream("klink", 0)
	up.addUser("u1", "Ana Lee")
	p := e.c.Wrap(up, "s")
	mustUsers(t, p, "u1", "ghost")
	mustUsers(t, p, "u1", "ghost")

	want := map[string]float64{
		`commentgraph_cache_requests_total{kind="user",result="miss"}`:         2,
		`commentgraph_cache_requests_total{kind="user",result="hit"}`:          1,
		`commentgraph_cache_requests_total{kind="user",result="negative_hit"}`: 1,
		`commentgraph_cache_requests_total{kind="user",result="error"}`:        0,
		`commentgraph_cache_requests_total{kind="room",result="hit"}`:          0,
		`commentgraph_cache_redis_up`:                                          1,
		`commentgraph_cache_redis_errors_total`:                                0,
	}
	checkMetrics(t, reg, want)

	e.server.Kill()
	mustUsers(t, p, "u1")
	want[`commentgraph_cache_requests_total{kind="user",result="error"}`] = 1
	want[`commentgraph_cache_redis_up`] = 0
	want[`commentgraph_cache_redis_errors_total`] = 1
	checkMetrics(t, reg, want)

	if _, err := New(Options{Registerer: reg}); err == nil {
		t.Fatal("a second cache registered the same metrics without error")
	}
}

func checkMetrics(t *testing.T, reg *prometheus.Registry, want map[string]float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]float64)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[metricName(f.GetName(), m)] = metricValue(m)
		}
	}
	for name, v := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("metric %s missing", name)
			continue
		}
		if g != v {
			t.Errorf("%s = %v, want %v", name, g, v)
		}
	}
}

func metricName(family string, m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return family
	}
	var labels []string
	for _, l := range m.GetLabel() {
		labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
	}
	return family + "{" + strings.Join(labels, ",") + "}"
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}
