package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/cache"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

var (
	concurrency = flag.Int("bench.concurrency", 64, "closed-loop workers, each sending the query again as soon as it is answered (64: enough that every configuration is CPU-bound at 10 ms upstream, so req/s compares capacity, not the worker count)")
	latencies   = flag.String("bench.latencies", "0ms,2ms,10ms", "upstream latencies the emulators add to every request, comma-separated")
	configNames = flag.String("bench.configs", "redis,memory,naive", "configurations to run, comma-separated: redis, memory, naive, redis-nonear (Redis without the in-process copies of users and rooms)")
	rate        = flag.Float64("bench.rate", 0, "queries a second arriving independently (an open loop, Poisson arrivals) instead of the closed loop; -bench.concurrency then caps the queries in flight. 0: the closed loop")
	profileDir  = flag.String("bench.allocprofile", "", "directory: build the gateway with pprof and save each configuration's allocation profile there (<config>-base.pprof at start, <config>.pprof at the end) and a 5 s CPU profile under load at 0 ms upstream (<config>-cpu.pprof)")
)

// benchConfig is one gateway configuration the benchmark compares.
type benchConfig struct {
	name   string
	redis  bool // cache in a private Redis (redistest)
	noNear bool // with redis: cache.nearTTL off, every look-up reads Redis
	naive  bool // loaders.disabled + cache.disabled
}

// gatewayConfig is c's gateway configuration, with a private Redis (started
// now, stopped with b) when c caches in one: each gateway its own, so no two
// share keys.
func (c benchConfig) gatewayConfig(b *testing.B) gatewayConfig {
	gc := gatewayConfig{Naive: c.naive, NoNear: c.noNear}
	if c.redis {
		gc.RedisURL = redistest.MustStart(b).URL
	}
	return gc
}

// allConfigs are the configurations -bench.configs can name; the default runs
// the first three.
var allConfigs = []benchConfig{
	{name: "redis", redis: true},
	{name: "memory"},
	{name: "naive", naive: true},
	{name: "redis-nonear", redis: true, noNear: true},
}

// BenchmarkComments50 runs the real gateway binary against the emulators and
// drives the 50-comment timeline query (senders and mentions selected; with
// -bench.shapes=timeline,thread also the same comments through each thread's
// Thread.comments, in sub-benchmarks named <config>_thread) with a closed loop of -bench.concurrency workers (or, with -bench.rate, queries
// arriving at that rate), for every configuration and upstream latency, all
// in one run. One op is one query. Reported per sub-benchmark:
//
//	req/s              queries answered per second
//	p50_ms, p99_ms     query latency as the client saw it
//	upstream_calls/op  requests the emulators received per query
//	allocs/query       heap objects the gateway process allocated per query
//	                   (go_memstats_mallocs_total from its /metrics)
//	gw_cpu_ms/op       CPU the gateway process used per query
//	                   (process_cpu_seconds_total from its /metrics)
//	bench_cpu_ms/op    CPU this process (load generator, emulators) used
//	gw_rw_syscalls/query  read and write system calls of the gateway process
//	                   (/proc/<pid>/io syscr + syscw; Linux)
//	redis_cmds/query   commands the cache's Redis processed per query
//	                   (INFO total_commands_processed; Redis configurations)
//	machine_ms         how long a fixed workload took in this process just
//	                   before the sub-benchmark (calibrate): the machine's
//	                   speed at the time, to compare runs far apart by
//
// -benchmem's B/op and allocs/op count this process (load generator and
// emulators), not the gateway.
func BenchmarkComments50(b *testing.B) {
	lats, configs := mustParseFlags(b)
	shapes := mustParseShapes(b)
	profiling := *profileDir != ""
	bin, w := mustSetUp(b, profiling)
	bodies := make([][]byte, len(shapes))
	for i, shape := range shapes {
		bodies[i] = mustBody(b, w, shape)
	}

	// Every configuration's gateway runs for the whole benchmark, and the
	// configurations take turns at each latency, so the figures compared
	// (batched against naive at 10 ms, say) are taken minutes, not a whole
	// run, apart: on a shared machine the background load drifts.
	type running struct {
		benchConfig
		g   *gateway
		ls  []*loader             // one per shape
		rdb redis.UniversalClient // the cache's Redis, to count its commands; nil without
	}
	var gws []running
	for _, c := range configs {
		gc := c.gatewayConfig(b)
		var rdb redis.UniversalClient
		if c.redis {
			var err error
			if rdb, err = cache.NewRedisClient(gc.RedisURL); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = rdb.Close() })
		}
		g := mustStartGateway(b, bin, w, gc, profiling)
		if profiling {
			if err := g.saveProfile(context.Background(), filepath.Join(*profileDir, c.name+"-base.pprof")); err != nil {
				b.Fatal(err)
			}
		}
		var ls []*loader
		for _, body := range bodies {
			ls = append(ls, newLoader(g.URL+"/query", body, *concurrency))
		}
		gws = append(gws, running{c, g, ls, rdb})
	}
	direct, err := newDirectLoader(w, *concurrency)
	if err != nil {
		b.Fatal(err)
	}
	for _, lat := range lats {
		b.Run("upstream="+fmtMillis(lat), func(b *testing.B) {
			for _, r := range gws {
				for i, shape := range shapes {
					b.Run(shapeName(r.name, shape), func(b *testing.B) { measure(b, w, r.g, r.ls[i], r.rdb, lat) })
				}
			}
			b.Run("direct", func(b *testing.B) { measureDirect(b, w, direct, lat) })
		})
	}
	if profiling {
		for _, r := range gws {
			if err := r.g.saveProfile(context.Background(), filepath.Join(*profileDir, r.name+".pprof")); err != nil {
				b.Fatal(err)
			}
			for i, shape := range shapes {
				if err := profileCPU(context.Background(), w, r.g, r.ls[i], filepath.Join(*profileDir, shapeName(r.name, shape)+"-cpu.pprof"), 5*time.Second); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// mustParseFlags returns -bench.latencies and -bench.configs, or fails b.
func mustParseFlags(b *testing.B) ([]time.Duration, []benchConfig) {
	b.Helper()
	lats, err := parseLatencies(*latencies)
	if err != nil {
		b.Fatal(err)
	}
	configs, err := pickConfigs(*configNames)
	if err != nil {
		b.Fatal(err)
	}
	return lats, configs
}

// shapeName names a configuration's sub-benchmark (and profile) for a
// shape: the configuration's name for the timeline, as before there were
// shapes, and with the shape's after it otherwise.
func shapeName(config, shape string) string {
	if shape == "timeline" {
		return config
	}
	return config + "_" + shape
}

// mustSetUp builds this tree's gateway (with pprof when profiling) and starts
// the emulators' World, and returns the binary and the World (closed with b).
func mustSetUp(b *testing.B, profiling bool) (string, *World) {
	b.Helper()
	bin, err := buildGateway(b.TempDir(), profiling)
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewWorld(0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Close)
	return bin, w
}

// measure runs b.N queries at upstream latency lat after a warm-up that fills
// the cache and opens the connections, and reports the figures; with rdb, the
// Redis commands the gateway sent per query too.
func measure(b *testing.B, w *World, g *gateway, l *loader, rdb redis.UniversalClient, lat time.Duration) {
	ctx := context.Background()
	w.SetLatency(lat)
	if err := l.warm(ctx); err != nil {
		b.Fatal(err)
	}
	machine, err := calibrate()
	if err != nil {
		b.Fatal(err)
	}
	// Reading /metrics allocates in the gateway too; two back-to-back reads
	// measure that, and it is taken off the total.
	s0, err := g.stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	s1, err := g.stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	calls0 := w.TotalCalls()
	cmds0, err := redisCommands(ctx, rdb)
	if err != nil {
		b.Fatal(err)
	}
	self0 := selfCPU()

	durations, elapsed := timedLoad(b, l.load)

	self := selfCPU() - self0
	calls := w.TotalCalls() - calls0
	cmds1, err := redisCommands(ctx, rdb)
	if err != nil {
		b.Fatal(err)
	}
	s2, err := g.stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	scrape := s1.Mallocs - s0.Mallocs
	n := float64(b.N)
	reportLoad(b, durations, elapsed, machine)
	b.ReportMetric(float64(calls)/n, "upstream_calls/op")
	if rdb != nil {
		// Each INFO counts itself once, before it is answered.
		b.ReportMetric(float64(cmds1-cmds0-1)/n, "redis_cmds/query")
	}
	b.ReportMetric(max(0, s2.Mallocs-s1.Mallocs-scrape)/n, "allocs/query")
	if s2.Syscalls > 0 {
		b.ReportMetric(max(0, s2.Syscalls-s1.Syscalls-(s1.Syscalls-s0.Syscalls))/n, "gw_rw_syscalls/query")
	}
	// Where the two cores went: the gateway process, and this one (load
	// generator and emulators). Their sum per query bounds req/s on a
	// machine this size whatever the gateway's latency.
	b.ReportMetric((s2.CPUSeconds-s1.CPUSeconds)*1000/n, "gw_cpu_ms/op")
	// The gateway's own share of p50_ms, by its own clock: what is left of
	// p50_ms above it is the upstream wait and the client's hop.
	if own := histogramQuantile(0.5, s1.Own, s2.Own); !math.IsNaN(own) {
		b.ReportMetric(own*1000, "own_p50_ms")
	}
	b.ReportMetric(millis(self)/n, "bench_cpu_ms/op")
}

// directLoader is the floor the gateway's latency is compared with: each op
// is what a gateway adding nothing would wait for, the three comment lists
// the gateway's page asks for (both Virola threads and the Ziik thread,
// with the same query strings) asked of the emulators at once, with no
// gateway between. Like the gateway it logs in to Ziik once and reuses the
// token, logging in again only when Ziik refuses it.
type directLoader struct {
	client *http.Client
	calls  []directCall
	conc   int
	ziik   *ziikLogin
}

// directCall is one list request of the floor's op.
type directCall struct {
	url  string
	auth func(ctx context.Context, renew bool) (string, error) // the bearer token
}

func newDirectLoader(w *World, conc int) (*directLoader, error) {
	d := &directLoader{
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 3 * conc, DisableCompression: true}},
		conc:   conc,
	}
	d.ziik = &ziikLogin{client: d.client, url: w.Ziik.URL + "/authenticate"}
	virolaToken := func(context.Context, bool) (string, error) { return w.Virola.Token(), nil }
	for i, id := range w.Threads {
		gid, err := model.DecodeIDOf(id, model.TypeThread)
		if err != nil {
			return nil, err
		}
		switch gid.Provider {
		case VirolaID:
			// The Virola adapter's list of a message thread's newest 50: one
			// more than the page, to know whether older comments remain.
			d.calls = append(d.calls, directCall{url: w.Virola.URL + "/api/v1/messages/" + gid.Ref[1] + "/comments?direction=backward&limit=51", auth: virolaToken})
		case ZiikID:
			// The Ziik adapter's list of a reply thread: the conversation's
			// newest page (100, Ziik's most), the replies found in it.
			conv, _, _ := strings.Cut(gid.Ref[1], ":")
			d.calls = append(d.calls, directCall{url: w.Ziik.URL + "/conversations/" + conv + "/messages?limit=100", auth: d.ziik.token})
		default:
			return nil, fmt.Errorf("bench: thread %d of an unknown provider %q", i, gid.Provider)
		}
	}
	if _, err := d.ziik.token(context.Background(), false); err != nil {
		return nil, err
	}
	return d, nil
}

// ziikLogin holds the floor's Ziik token.
type ziikLogin struct {
	client *http.Client
	url    string
	mu     sync.Mutex
	jwt    string
}

// token returns the current token, logging in first when there is none or
// renew says the last one was refused.
func (z *ziikLogin) token(ctx context.Context, renew bool) (string, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.jwt != "" && !renew {
		return z.jwt, nil
	}
	body, _ := json.Marshal(map[string]string{"username": ziikEmail, "password": ziikPassword})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := z.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var got []struct {
		JWT string `json:"jwt"`
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench: ziik login: %s", res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || len(got) != 1 || got[0].JWT == "" {
		return "", fmt.Errorf("bench: ziik login: no token in the answer (%v)", err)
	}
	z.jwt = got[0].JWT
	return z.jwt, nil
}

// run makes n ops with d.conc workers and returns each op's latency.
func (d *directLoader) run(ctx context.Context, n int) ([]time.Duration, error) {
	return closedLoop(ctx, n, d.conc, func() func(context.Context) error { return d.op })
}

// load is run, or with -bench.rate the same ops arriving at that rate.
func (d *directLoader) load(ctx context.Context, n int) ([]time.Duration, error) {
	if *rate <= 0 {
		return d.run(ctx, n)
	}
	return openLoop(ctx, n, *rate, d.op)
}

// op asks for the three lists at once.
func (d *directLoader) op(ctx context.Context) error {
	errs := make([]error, len(d.calls))
	var calls sync.WaitGroup
	for i, c := range d.calls {
		calls.Go(func() { errs[i] = d.get(ctx, c) })
	}
	calls.Wait()
	return errors.Join(errs...)
}

// get makes one list request, once more with a fresh token if it was refused.
func (d *directLoader) get(ctx context.Context, c directCall) error {
	for renew := false; ; renew = true {
		token, err := c.auth(ctx, renew)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := d.client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch {
		case err != nil:
			return err
		case res.StatusCode == http.StatusUnauthorized && !renew:
			continue
		case res.StatusCode != http.StatusOK:
			return fmt.Errorf("direct %s: %s", c.url, res.Status)
		}
		return nil
	}
}

// measureDirect reports the floor's req/s and latency at upstream latency
// lat: p50_ms here, subtracted from a configuration's p50_ms at the same
// concurrency, is what the gateway adds.
func measureDirect(b *testing.B, w *World, d *directLoader, lat time.Duration) {
	ctx := context.Background()
	w.SetLatency(lat)
	if _, err := d.run(ctx, 2*d.conc); err != nil {
		b.Fatal(err)
	}
	machine, err := calibrate()
	if err != nil {
		b.Fatal(err)
	}
	durations, elapsed := timedLoad(b, d.load)
	reportLoad(b, durations, elapsed, machine)
}

// timedLoad runs b.N ops of load under the benchmark's timer and returns
// each op's latency and the time they all took; a failure fails b.
func timedLoad(b *testing.B, load func(context.Context, int) ([]time.Duration, error)) ([]time.Duration, time.Duration) {
	b.Helper()
	b.ResetTimer()
	start := time.Now()
	durations, err := load(context.Background(), b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	return durations, elapsed
}

// reportLoad reports the figures every row has: req/s, machine_ms (the
// calibration taken before the load), p50_ms and p99_ms.
func reportLoad(b *testing.B, durations []time.Duration, elapsed, machine time.Duration) {
	b.ReportMetric(float64(len(durations))/elapsed.Seconds(), "req/s")
	b.ReportMetric(millis(machine), "machine_ms")
	b.ReportMetric(millis(percentile(durations, 50)), "p50_ms")
	b.ReportMetric(millis(percentile(durations, 99)), "p99_ms")
}

// profileCPU drives the query at 0 ms upstream latency for d while the
// gateway records a CPU profile into path.
func profileCPU(ctx context.Context, w *World, g *gateway, l *loader, path string, d time.Duration) error {
	w.SetLatency(0)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	load := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := l.run(ctx, 10*l.conc); err != nil && ctx.Err() == nil {
				load <- err
				return
			}
		}
		load <- nil
	}()
	err := g.saveCPUProfile(ctx, path, d)
	cancel()
	if lerr := <-load; err == nil {
		err = lerr
	}
	return err
}

// redisCommands is the commands rdb's server has processed (INFO's
// total_commands_processed, counting this INFO); 0 without rdb. A pipeline
// counts each of its commands.
func redisCommands(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	if rdb == nil {
		return 0, nil
	}
	info, err := rdb.Info(ctx, "stats").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO: %w", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			var n int64
			_, err := fmt.Sscan(v, &n)
			return n, err
		}
	}
	return 0, errors.New("redis INFO: no total_commands_processed")
}

// selfCPU is the CPU time this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMillis(d time.Duration) string { return fmt.Sprintf("%gms", millis(d)) }

func parseLatencies(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-bench.latencies: %q is not a duration like 2ms", f)
		}
		out = append(out, d)
	}
	return out, nil
}

func pickConfigs(s string) ([]benchConfig, error) {
	var out []benchConfig
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(allConfigs, func(c benchConfig) bool { return c.name == name })
		if i < 0 {
			return nil, fmt.Errorf("-bench.configs: %q is not redis, memory, naive or redis-nonear", name)
		}
		out = append(out, allConfigs[i])
	}
	return out, nil
}
