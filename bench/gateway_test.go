package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/commentgraph/commentgraph/internal/logtest"
)

// gateway is the real commentgraph binary running as a child process with a
// generated config, serving on a loopback port.
type gateway struct {
	URL   string
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process has exited
	log   *logtest.Buffer
	pprof string // base URL of the profiling listener, when built with it
}

// gatewayConfig is what one benchmark configuration changes.
type gatewayConfig struct {
	RedisURL string // empty: in-memory cache
	Naive    bool   // loaders.disabled + cache.disabled
	NoNear   bool   // cache.nearTTL: -1s
}

// pprofOverlay is added to package main, at build time only, when the
// benchmark is asked for allocation profiles: the gateway exposes no pprof, and
// the bench may not change the gateway's own files. It serves net/http/pprof on
// its own listener, only when COMMENTGRAPH_BENCH_PPROF names an address.
const pprofOverlay = `package main

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("COMMENTGRAPH_BENCH_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	go func() { _ = http.Serve(ln, nil) }()
}
`

// buildGateway builds the module's main package into dir and returns the
// binary's path. With profiling it adds pprofOverlay to the build.
func buildGateway(dir string, profiling bool) (string, error) {
	bin := filepath.Join(dir, "commentgraph")
	args := []string{"build", "-o", bin}
	if profiling {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		src := filepath.Join(dir, "pprof_overlay.go")
		if err := os.WriteFile(src, []byte(pprofOverlay), 0o600); err != nil {
			return "", err
		}
		overlay := filepath.Join(dir, "overlay.json")
		spec := fmt.Sprintf(`{"Replace":{%q:%q}}`, filepath.Join(root, "zz_bench_pprof.go"), src)
		if err := os.WriteFile(overlay, []byte(spec), 0o600); err != nil {
			return "", err
		}
		args = append(args, "-overlay", overlay)
	}
	args = append(args, "github.com/commentgraph/commentgraph")
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// startGateway writes the config for w and gc into dir and runs bin on a free
// loopback port until /healthz answers 200.
func startGateway(bin, dir string, w *World, gc gatewayConfig, profiling bool) (*gateway, error) {
	cfgPath := filepath.Join(dir, "commentgraph.yaml")
	if err := os.WriteFile(cfgPath, configYAML(w, gc), 0o600); err != nil {
		return nil, err
	}
	args := func(addr string) []string {
		return []string{"-config", cfgPath, "-listen", addr, "-log-level", "warn", "-shutdown-timeout", "2s"}
	}
	var env []string
	var pprofURL string
	if profiling {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		pprofURL = "http://127.0.0.1:" + pp
		env = append(os.Environ(), "COMMENTGRAPH_BENCH_PPROF=127.0.0.1:"+pp)
	}
	g, err := startServer(bin, args, env)
	if err != nil {
		return nil, err
	}
	g.pprof = pprofURL
	return g, nil
}

// startServer runs bin, with the arguments args makes of a free loopback
// address and with env (nil: this process's), until its /healthz answers 200.
func startServer(bin string, args func(addr string) []string, env []string) (*gateway, error) {
	var lastErr error
	// A free port can be taken between asking for it and the server binding
	// it; try a few.
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		g := &gateway{URL: "http://127.0.0.1:" + port, done: make(chan struct{}), log: &logtest.Buffer{}}
		g.cmd = exec.Command(bin, args("127.0.0.1:"+port)...)
		g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
		g.cmd.Env = env
		if err := g.cmd.Start(); err != nil {
			return nil, err
		}
		go func() { _ = g.cmd.Wait(); close(g.done) }()
		if lastErr = g.waitHealthy(20 * time.Second); lastErr == nil {
			return g, nil
		}
		g.stop()
	}
	return nil, lastErr
}

// waitHealthy polls /healthz until it answers 200, the process exits or the
// deadline passes.
func (g *gateway) waitHealthy(within time.Duration) error {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(g.URL + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-g.done:
			return fmt.Errorf("gateway exited before it was healthy:\n%s", g.log.String())
		case <-deadline.C:
			return fmt.Errorf("gateway not healthy after %s:\n%s", within, g.log.String())
		case <-tick.C:
		}
	}
}

// stop asks the gateway to shut down (SIGTERM) and kills it if it has not
// within 5 s.
func (g *gateway) stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// configYAML is the gateway's config file for the World's providers.
func configYAML(w *World, gc gatewayConfig) []byte {
	var providers []map[string]any
	for _, p := range w.Providers() {
		m := map[string]any{"id": p.ID, "kind": p.Kind, "baseURL": p.BaseURL}
		if p.Token != "" {
			m["token"] = p.Token
		}
		if p.Email != "" {
			m["email"], m["password"] = p.Email, p.Password
		}
		providers = append(providers, m)
	}
	cacheCfg := map[string]any{"disabled": gc.Naive}
	if gc.NoNear {
		cacheCfg["nearTTL"] = "-1s"
	}
	cfg := map[string]any{
		"graphiql":  false,
		"limits":    map[string]any{"requestTimeout": "10s", "upstreamTimeout": "8s"},
		"loaders":   map[string]any{"disabled": gc.Naive},
		"cache":     cacheCfg,
		"providers": providers,
	}
	if gc.RedisURL != "" {
		cfg["redis"] = map[string]any{"url": gc.RedisURL}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		panic(err) // maps of strings and bools always marshal
	}
	return out
}

// processStats is what the benchmark reads of the gateway process: from its
// /metrics, cumulative heap objects allocated and CPU seconds used; from
// /proc/<pid>/io, the read and write system calls it has made.
type processStats struct {
	Mallocs    float64  // go_memstats_mallocs_total
	CPUSeconds float64  // process_cpu_seconds_total
	Syscalls   float64  // syscr + syscw; 0 where /proc/<pid>/io cannot be read
	Own        []bucket // ownTimeMetric's buckets
}

// ioSyscalls is the read and write system calls process pid has made
// (syscr + syscw of /proc/<pid>/io), or 0 when that cannot be read.
func ioSyscalls(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	var n float64
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		if k == "syscr" || k == "syscw" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0
			}
			n += f
		}
	}
	return n
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: Linux
// reports them in it whatever its internal tick rate, and it is 100 on
// every architecture the benchmark runs on.
const clockTicks = 100

// cpu is the CPU time the gateway process has used so far, user and
// system, read from /proc/<pid>/stat (Linux), to the clock tick. Unlike
// /metrics' process_cpu_seconds_total it costs the gateway nothing to read.
func (g *gateway) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return statCPU(string(b))
}

// statCPU is utime + stime (fields 14 and 15) of a /proc/<pid>/stat line.
// The command name (field 2) is in parentheses and may itself hold spaces
// and parentheses, so fields are counted from the last ')'.
func statCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no command name in %.80q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name", len(f))
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

func (g *gateway) stats(ctx context.Context) (processStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/metrics", nil)
	if err != nil {
		return processStats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return processStats{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return processStats{}, err
	}
	vals, err := metricValues(bytes.NewReader(raw), "go_memstats_mallocs_total", "process_cpu_seconds_total")
	if err != nil {
		return processStats{}, err
	}
	own, err := histogramBuckets(bytes.NewReader(raw), ownTimeMetric)
	if err != nil {
		return processStats{}, err
	}
	return processStats{Mallocs: vals[0], CPUSeconds: vals[1], Syscalls: ioSyscalls(g.cmd.Process.Pid), Own: own}, nil
}

// ownTimeMetric is the gateway's histogram of each query's own time: its
// latency less the time it had an upstream call in flight.
const ownTimeMetric = "commentgraph_query_own_duration_seconds"

// bucket is one bucket of a Prometheus histogram: the count of observations
// at most le (cumulative, as exposed).
type bucket struct {
	le    float64
	count float64
}

// histogramBuckets reads the unlabelled histogram name's buckets from a text
// exposition, in the order exposed (ascending le, +Inf last).
func histogramBuckets(r io.Reader, name string) ([]bucket, error) {
	var out []bucket
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	prefix := name + `_bucket{le="`
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("metric %s: bucket line %q", name, sc.Text())
		}
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if err != nil {
			return nil, fmt.Errorf("metric %s: le %q: %w", name, le, err)
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: count %q: %w", name, value, err)
		}
		out = append(out, bucket{le: bound, count: n})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("metric %s not exposed", name)
	}
	return out, nil
}

// histogramQuantile is the q-quantile (0 < q ≤ 1) of the observations made
// between two reads of one histogram, interpolated linearly inside the
// bucket it falls in, as Prometheus's histogram_quantile does; NaN without
// observations. A quantile in the +Inf bucket is the highest finite bound.
func histogramQuantile(q float64, before, after []bucket) float64 {
	if len(before) != len(after) || len(after) == 0 {
		return math.NaN()
	}
	delta := func(i int) float64 { return after[i].count - before[i].count }
	total := delta(len(after) - 1)
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range after {
		n := delta(i)
		if n >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			return lower + (b.le-lower)*(rank-below)/(n-below)
		}
		lower, below = b.le, n
	}
	return lower
}

// metricValues finds unlabelled samples in a Prometheus text exposition, in
// the order of names.
func metricValues(r io.Reader, names ...string) ([]float64, error) {
	out := make([]float64, len(names))
	found := make([]bool, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for i, name := range names {
			rest, ok := strings.CutPrefix(line, name+" ")
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return nil, fmt.Errorf("metric %s: %w", name, err)
			}
			out[i], found[i] = v, true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("metric %s not exposed", names[i])
		}
	}
	return out, nil
}

// saveCPUProfile records the gateway's CPU profile for d into path; the
// caller keeps it busy meanwhile.
func (g *gateway) saveCPUProfile(ctx context.Context, path string, d time.Duration) error {
	return g.savePprof(ctx, path, fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())))
}

// saveProfile writes the gateway's cumulative allocation profile to path.
func (g *gateway) saveProfile(ctx context.Context, path string) error {
	return g.savePprof(ctx, path, "/debug/pprof/allocs")
}

func (g *gateway) savePprof(ctx context.Context, path, endpoint string) error {
	if g.pprof == "" {
		return errors.New("gateway was not built with profiling")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.pprof+endpoint, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", endpoint, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// mustStartGateway is startGateway for a benchmark, stopped when it ends.
func mustStartGateway(b *testing.B, bin string, w *World, gc gatewayConfig, profiling bool) *gateway {
	b.Helper()
	g, err := startGateway(bin, b.TempDir(), w, gc, profiling)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.stop)
	return g
}
