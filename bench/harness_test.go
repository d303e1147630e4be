package bench

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola"
	"github.com/commentgraph/commentgraph/providers/ziik"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose: 100, 99, …, 1
	}
	for _, tc := range []struct {
		name string
		lat  []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(5, 1, 3), 50, 3 * time.Millisecond},
		{"median of even is the lower", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.lat, tc.p); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestMetricValues(t *testing.T) {
	const exposition = `# HELP go_memstats_mallocs_total Total number of heap objects allocated.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 1.234567e+06
go_memstats_mallocs_total_extra 9
process_cpu_seconds_total{note="labelled"} 99
process_cpu_seconds_total 3.25
`
	for _, tc := range []struct {
		name    string
		names   []string
		want    []float64
		wantErr string
	}{
		{name: "both", names: []string{"go_memstats_mallocs_total", "process_cpu_seconds_total"}, want: []float64{1234567, 3.25}},
		{name: "missing", names: []string{"go_gc_duration_seconds"}, wantErr: "not exposed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := metricValues(strings.NewReader(exposition), tc.names...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Errorf("%s = %v, want %v", tc.names[i], got[i], tc.want[i])
				}
			}
		})
	}
}

// The generated config must be one the gateway accepts and must say what each
// benchmark configuration means.
func TestConfigYAMLIsWhatTheGatewayReads(t *testing.T) {
	w, err := NewWorld(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	for _, tc := range []struct {
		name string
		gc   gatewayConfig
	}{
		{"memory", gatewayConfig{}},
		{"redis", gatewayConfig{RedisURL: "redis://127.0.0.1:6390/0"}},
		{"naive", gatewayConfig{Naive: true}},
		{"redis-nonear", gatewayConfig{RedisURL: "redis://127.0.0.1:6390/0", NoNear: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse(configYAML(w, tc.gc), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Redis.URL != tc.gc.RedisURL || cfg.Loaders.Disabled != tc.gc.Naive || cfg.Cache.Disabled != tc.gc.Naive {
				t.Errorf("redis %q loaders.disabled %v cache.disabled %v, want %+v", cfg.Redis.URL, cfg.Loaders.Disabled, cfg.Cache.Disabled, tc.gc)
			}
			if off := cfg.Cache.NearTTL < 0; off != tc.gc.NoNear {
				t.Errorf("cache.nearTTL %v, want off: %v", cfg.Cache.NearTTL.D(), tc.gc.NoNear)
			}
			if len(cfg.Providers) != 2 {
				t.Fatalf("providers = %+v", cfg.Providers)
			}
			for i, want := range w.Providers() {
				if got := cfg.Providers[i]; got.ID != want.ID || got.Kind != want.Kind || got.BaseURL != want.BaseURL ||
					got.Token != want.Token || got.Email != want.Email || got.Password != want.Password || len(got.Threads) != 0 {
					t.Errorf("providers[%d] = %+v, want %+v (no polled threads)", i, got, want)
				}
			}
		})
	}
}

// The load generator sends exactly n queries, at most conc at once, and stops
// at a response that is not a full answer.
func TestLoaderRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failAt  int64 // 1-based request that answers with errors; 0: none
		n, conc int
	}{
		{name: "all good", n: 40, conc: 4},
		{name: "fewer than workers", n: 2, conc: 8},
		{name: "error response stops the run", failAt: 5, n: 40, conc: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen atomic.Int64
			var flight inFlight
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer flight.enter()()
				if seen.Add(1) == tc.failAt {
					_, _ = io.WriteString(w, `{"data":null,"errors":[{"message":"boom"}]}`)
					return
				}
				_, _ = io.WriteString(w, `{"data":{"ok":true}}`)
			}))
			t.Cleanup(srv.Close)
			l := newLoader(srv.URL, []byte(`{}`), tc.conc)
			lat, err := l.run(context.Background(), tc.n)
			if tc.failAt > 0 {
				if !errors.Is(err, errResponse) {
					t.Fatalf("err = %v, want errResponse", err)
				}
				if got := seen.Load(); got >= int64(tc.n) {
					t.Errorf("run went on to %d requests after the failure", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(lat) != tc.n || seen.Load() != int64(tc.n) {
				t.Errorf("%d latencies, %d requests, want %d", len(lat), seen.Load(), tc.n)
			}
			if p := flight.peak.Load(); p > int64(tc.conc) {
				t.Errorf("%d requests in flight at once, want at most %d", p, tc.conc)
			}
			for i, d := range lat {
				if d <= 0 {
					t.Fatalf("latency %d not recorded", i)
				}
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := slices.Clone(tc.in)
		if got := median(tc.in); got != tc.want || !slices.Equal(in, tc.in) {
			t.Errorf("median(%v) = %v, want %v, input left as it was", in, got, tc.want)
		}
	}
}

// The open loop starts every op on its own schedule, not after the last one
// ends: three ops that each wait for all three to have started finish.
func TestOpenLoopOverlapsOps(t *testing.T) {
	var started atomic.Int64
	all := make(chan struct{})
	lat, err := openLoop(context.Background(), 3, 1000, func(ctx context.Context) error {
		if started.Add(1) == 3 {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-time.After(10 * time.Second): // a deadline for the failure, not a wait for the event
			return errors.New("the three ops never ran at once")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) != 3 || started.Load() != 3 {
		t.Fatalf("%d latencies, %d ops, want 3", len(lat), started.Load())
	}
	for i, d := range lat {
		if d <= 0 {
			t.Errorf("latency %d not recorded", i)
		}
	}
}

// A failure stops the open loop from starting more ops, and a rate that is
// not positive is refused.
func TestOpenLoopStopsAtAFailure(t *testing.T) {
	var started atomic.Int64
	boom := errors.New("boom")
	const n = 2000 // two seconds at 1,000 a second
	_, err := openLoop(context.Background(), n, 1000, func(ctx context.Context) error {
		if started.Add(1) == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the op's failure", err)
	}
	if got := started.Load(); got >= n {
		t.Errorf("%d ops started after the failure, want fewer than %d", got, n)
	}
	for _, r := range []float64{0, -1} {
		if _, err := openLoop(context.Background(), 1, r, func(context.Context) error { return nil }); err == nil {
			t.Errorf("rate %v accepted", r)
		}
	}
}

// runAt sends exactly n queries and never more than the loader's
// concurrency at once, however fast they arrive.
func TestLoaderRunAtCapsInFlight(t *testing.T) {
	var seen atomic.Int64
	var flight inFlight
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer flight.enter()()
		seen.Add(1)
		_, _ = io.WriteString(w, `{"data":{"ok":true}}`)
	}))
	t.Cleanup(srv.Close)
	const n, conc = 60, 2
	lat, err := newLoader(srv.URL, []byte(`{}`), conc).runAt(context.Background(), n, 20000)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) != n || seen.Load() != n {
		t.Errorf("%d latencies, %d requests, want %d", len(lat), seen.Load(), n)
	}
	if p := flight.peak.Load(); p > conc {
		t.Errorf("%d requests in flight at once, want at most %d", p, conc)
	}
}

// inFlight counts a test server's requests in progress and the most there
// were at once: defer f.enter()() in the handler.
type inFlight struct {
	now, peak atomic.Int64
}

func (f *inFlight) enter() (leave func()) {
	n := f.now.Add(1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { f.now.Add(-1) }
}

// The latency floor asks each upstream for what the gateway's page asks:
// one list per thread (two Virola, one Ziik), three calls an op, on a Ziik
// token it got once, and it logs in again when Ziik refuses the token.
func TestDirectLoaderAsksForTheGatewaysLists(t *testing.T) {
	w, d := mustWorldAndFloor(t, 2)
	const virolaList, ziikList, ziikLogin = "GET /api/v1/messages/{messageId}/comments", "GET /conversations/{conversation}/messages", "POST /authenticate"
	check := func(t *testing.T, ops, logins int) {
		t.Helper()
		if got := w.Virola.Calls(virolaList); got != 2*ops {
			t.Errorf("Virola lists = %d, want %d", got, 2*ops)
		}
		if got := w.Ziik.Calls(ziikList); got != ops {
			t.Errorf("Ziik lists = %d, want %d", got, ops)
		}
		if got := w.Ziik.Calls(ziikLogin); got != logins {
			t.Errorf("Ziik logins = %d, want %d", got, logins)
		}
		if got, want := w.TotalCalls(), 3*ops+logins; got != want {
			t.Errorf("calls = %d, want %d (only the lists and the logins)", got, want)
		}
	}
	t.Run("one login for many ops", func(t *testing.T) {
		w.ResetCalls()
		if _, err := d.run(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
		check(t, 10, 0) // the login was made by newDirectLoader
	})
	t.Run("a refused token is renewed", func(t *testing.T) {
		w.ResetCalls()
		w.Ziik.ExpireTokens()
		if err := d.op(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The Ziik list is asked twice: refused, then answered.
		if got := w.Ziik.Calls(ziikList); got != 2 {
			t.Errorf("Ziik lists = %d, want 2", got)
		}
		if got := w.Ziik.Calls(ziikLogin); got != 1 {
			t.Errorf("Ziik logins = %d, want 1", got)
		}
	})
}

// The floor's requests are the ones the adapters make for the gateway's
// page: each thread's newest 50, listed by the real Virola and Ziik adapters
// through a client that notes every URL, asks for exactly the floor's list
// URLs (besides Ziik's login and participant look-up).
func TestDirectLoaderURLsAreTheAdaptersLists(t *testing.T) {
	w, d := mustWorldAndFloor(t, 1)
	var mu sync.Mutex
	var asked []string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet {
			mu.Lock()
			asked = append(asked, r.URL.String())
			mu.Unlock()
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	cfg := w.Providers()
	vp, err := virola.New(virola.Options{ID: cfg[0].ID, BaseURL: cfg[0].BaseURL, Token: cfg[0].Token, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	zp, err := ziik.New(ziik.Options{ID: cfg[1].ID, BaseURL: cfg[1].BaseURL, Email: cfg[1].Email, Password: cfg[1].Password, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	adapters := map[string]providers.Provider{VirolaID: vp, ZiikID: zp}
	for _, id := range w.Threads {
		gid, err := model.DecodeIDOf(id, model.TypeThread)
		if err != nil {
			t.Fatal(err)
		}
		th := &model.Thread{ProviderID: gid.Provider, Kind: model.ThreadKind(gid.Ref[0]), Ref: gid.Ref[1]}
		if _, err := adapters[gid.Provider].ListComments(context.Background(), th, providers.Page{Last: PageSize}); err != nil {
			t.Fatal(err)
		}
	}
	var lists []string
	for _, u := range asked {
		if path, _, _ := strings.Cut(u, "?"); strings.HasSuffix(path, "/comments") || strings.HasSuffix(path, "/messages") {
			lists = append(lists, u)
		}
	}
	var floor []string
	for _, c := range d.calls {
		floor = append(floor, c.url)
	}
	slices.Sort(lists)
	slices.Sort(floor)
	if !slices.Equal(lists, floor) {
		t.Errorf("the adapters listed\n%s\nthe floor asks for\n%s", strings.Join(lists, "\n"), strings.Join(floor, "\n"))
	}
}

// mustWorldAndFloor is a World at 0 ms latency, closed with t, and its
// latency floor with conc workers.
func mustWorldAndFloor(t *testing.T, conc int) (*World, *directLoader) {
	t.Helper()
	w, err := NewWorld(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	d, err := newDirectLoader(w, conc)
	if err != nil {
		t.Fatal(err)
	}
	return w, d
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHistogramQuantile(t *testing.T) {
	const exposition = `# TYPE h histogram
h_bucket{le="0.001"} 10
h_bucket{le="0.002"} 30
h_bucket{le="0.004"} 40
h_bucket{le="+Inf"} 42
h_sum 0.1
h_count 42
other_bucket{le="0.001"} 1000
`
	after, err := histogramBuckets(strings.NewReader(exposition), "h")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 4 || !math.IsInf(after[3].le, 1) || after[1] != (bucket{le: 0.002, count: 30}) {
		t.Fatalf("buckets = %v", after)
	}
	zero := []bucket{{0.001, 0}, {0.002, 0}, {0.004, 0}, {math.Inf(1), 0}}
	// Observations before the first read are not counted: 10 of them, all
	// at most 1 ms.
	earlier := []bucket{{0.001, 10}, {0.002, 10}, {0.004, 10}, {math.Inf(1), 10}}
	for _, tc := range []struct {
		name          string
		q             float64
		before, after []bucket
		want          float64
	}{
		{"median, inside the second bucket", 0.5, zero, after, 0.001 + 0.001*(21-10)/20},
		{"in the first bucket, from 0", 0.1, zero, after, 0.001 * 4.2 / 10},
		{"in +Inf: the highest finite bound", 0.99, zero, after, 0.004},
		{"only what came after the first read", 0.5, earlier, after, 0.001 + 0.001*16/20},
		{"no observations", 0.5, after, after, math.NaN()},
		{"different histograms", 0.5, zero[:2], after, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := histogramQuantile(tc.q, tc.before, tc.after)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12) {
				t.Errorf("histogramQuantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	if _, err := histogramBuckets(strings.NewReader(exposition), "missing"); err == nil {
		t.Error("a histogram not exposed read without error")
	}
}

// statCPU adds utime and stime, counting fields from the command name's
// closing parenthesis whatever the name holds, and reads this process's own.
func TestStatCPU(t *testing.T) {
	const line = "4242 (comment graph) (x)) S 1 4242 4242 0 -1 4194560 1234 0 5 0 250 17 0 0 20 0 9 0 100 0 0"
	got, err := statCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2670 * time.Millisecond; got != want {
		t.Errorf("statCPU = %v, want %v (250 + 17 ticks)", got, want)
	}
	for _, bad := range []string{"", "12 (x) S 1 2", "12 (x) S 1 2 3 4 5 6 7 8 9 10 ten 12"} {
		if _, err := statCPU(bad); err == nil {
			t.Errorf("statCPU(%q) read without error", bad)
		}
	}
	self := &gateway{cmd: &exec.Cmd{Process: &os.Process{Pid: os.Getpid()}}}
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	if d, err := self.cpu(); err != nil || d <= 0 {
		t.Errorf("this process's CPU = %v, %v", d, err)
	}
}
