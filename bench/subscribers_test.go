package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

const (
	// subIdle is how many idle subscribers the fan-out benchmark holds open.
	subIdle = 10_000
	// subDialConcurrency bounds sockets being opened at once: enough to open
	// 10,000 in seconds, few enough not to look like a connection flood.
	subDialConcurrency = 32
	// subFanoutRounds is how many comments each b.Loop iteration fans out.
	subFanoutRounds = 5
	// subCrossComments is how many comments each b.Loop iteration creates on
	// each instance in the cross-instance benchmark.
	subCrossComments = 200
	// subRoom is the K-LINK room every benchmark comment goes to.
	subRoom = "5b0c7e11-0000-4000-8000-00000000be01"
	// The gateway's /metrics samples the benchmark reads.
	subActive     = "commentgraph_subscriptions_active"
	subRSS        = "process_resident_memory_bytes"
	subHeap       = "go_memstats_heap_inuse_bytes"
	subStack      = "go_memstats_stack_inuse_bytes"
	subGoroutines = "go_goroutines"
	subCPUSeconds = "process_cpu_seconds_total"
	subGCs        = "go_gc_duration_seconds_count"
)

var subMetricNames = []string{subActive, subRSS, subHeap, subStack, subGoroutines, subCPUSeconds, subGCs}

// subQuery is what every benchmark subscriber asks for: the fields a comment
// list shows before it looks up people.
const subQuery = `subscription($t: [ID!]) { commentAdded(threads: $t) { id text createdAt } }`

var subThread = model.ThreadID("klink", model.ThreadKindRoom, subRoom)

// subMustKlink starts the K-LINK emulator the gateways create comments on.
func subMustKlink(b *testing.B) *klinktest.Server {
	b.Helper()
	k := klinktest.NewServer(klinktest.Options{})
	b.Cleanup(k.Close)
	k.AddRoom(subRoom, "Bench Customer")
	return k
}

// subProfileDir, when set, makes the subscription benchmarks build the
// gateway with pprofOverlay and save profiles there: the idle subscribers'
// live heap and a CPU profile of extra fan-outs after the measured ones.
var subProfileDir = flag.String("bench.subprofile", "", "directory: save the gateway's live-heap and goroutine profiles with 10,000 idle subscribers (subscribers-idle-heap.pprof, subscribers-idle-goroutines.pprof) and a CPU profile of fan-outs to them (subscribers-fanout-cpu.pprof)")

// subMustGateways builds the gateway (buildGateway, shared with the query
// benchmark) and starts n processes of it with cfg.
func subMustGateways(b *testing.B, n int, cfg subGatewayConfig) []*subGateway {
	b.Helper()
	dir := b.TempDir()
	profiling := *subProfileDir != ""
	bin, err := buildGateway(dir, profiling)
	if err != nil {
		b.Fatal(err)
	}
	var gs []*subGateway
	for range n {
		if profiling {
			port, err := subFreePort()
			if err != nil {
				b.Fatal(err)
			}
			cfg.PprofAddr = fmt.Sprintf("127.0.0.1:%d", port)
		}
		g, err := subStartGateway(b.Context(), bin, dir, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(g.Close)
		gs = append(gs, g)
	}
	return gs
}

// subMetrics reads subMetricNames from g's /metrics (metricValues, shared
// with the query benchmark: a sample missing is an error, not a zero).
func subMetrics(ctx context.Context, g *subGateway) (map[string]float64, error) {
	raw, err := g.Scrape(ctx)
	if err != nil {
		return nil, err
	}
	vals, err := metricValues(bytes.NewReader(raw), subMetricNames...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(vals))
	for i, v := range vals {
		out[subMetricNames[i]] = v
	}
	return out, nil
}

// subWaitActive polls g's /metrics until it counts want open subscriptions.
func subWaitActive(ctx context.Context, g *subGateway, want float64, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastErr := -1.0, error(nil)
	for {
		m, err := subMetrics(ctx, g)
		if lastErr = err; err == nil {
			if last = m[subActive]; last == want {
				return nil
			}
		}
		select {
		case <-g.Exited():
			return fmt.Errorf("bench: gateway exited: %s", g.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("bench: %s stayed at %v, want %v (last scrape error: %v)", subActive, last, want, lastErr)
		case <-tick.C:
		}
	}
}

// subMustFleet opens n subscribers to subThread on g and waits until g counts
// them all.
func subMustFleet(b *testing.B, g *subGateway, n int) *subFleet {
	b.Helper()
	ctx := b.Context()
	before, err := subMetrics(ctx, g)
	if err != nil {
		b.Fatal(err)
	}
	f, err := subOpenFleet(ctx, "ws"+strings.TrimPrefix(g.URL, "http")+"/query", n, subDialConcurrency, subQuery, map[string]any{"t": []string{subThread}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Close)
	if err := subWaitActive(ctx, g, before[subActive]+float64(n), 3*time.Minute); err != nil {
		b.Fatal(err)
	}
	return f
}

// subMustDeliver creates one comment on via and returns how long after the
// request was sent each of f's subscribers received it, and how long the
// mutation's answer took.
func subMustDeliver(b *testing.B, via *subGateway, f *subFleet, marker string) (lat []time.Duration, mutation time.Duration) {
	b.Helper()
	sent, answered, err := via.CreateComment(b.Context(), subThread, "bench comment "+marker+" 🚀")
	if err != nil {
		b.Fatal(err)
	}
	at, err := f.Await(b.Context(), []byte(marker), time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	return subLatencies(sent, at), answered.Sub(sent)
}

// BenchmarkSubscribersIdleFanout holds 10,000 idle graphql-transport-ws
// subscribers on one gateway process and reports what each costs the
// gateway (RSS, Go heap, goroutine stacks, goroutines), then fans comments
// created by mutation out to all of them: the latency from just before the
// mutation is sent to each subscriber's read of the event, p50/p99/max over
// every subscriber of every comment.
//
// Clients and gateway share the machine's cores, so the latencies include
// the clients' own scheduling: they are an upper bound on the gateway's.
func BenchmarkSubscribersIdleFanout(b *testing.B) {
	if err := subRaiseFileLimit(); err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	k := subMustKlink(b)
	g := subMustGateways(b, 1, subGatewayConfig{KlinkURL: k.URL, KlinkToken: klinktest.DefaultToken})[0]

	// Warm up every path once (upstream connection, query cache, first
	// subscription, first delivery) so the baseline holds what any running
	// gateway holds, and so a broken set-up fails before 10,000 dials.
	warm := subMustFleet(b, g, 1)
	subMustDeliver(b, g, warm, "[warm-up]")
	warm.Close()
	if err := subWaitActive(ctx, g, 0, time.Minute); err != nil {
		b.Fatal(err)
	}
	before, err := subMetrics(ctx, g)
	if err != nil {
		b.Fatal(err)
	}

	opened := time.Now()
	fleet := subMustFleet(b, g, subIdle)
	b.Logf("%d subscribers open and registered in %v", subIdle, time.Since(opened).Round(time.Millisecond))
	idle, err := subMetrics(ctx, g)
	if err != nil {
		b.Fatal(err)
	}
	per := func(name string) float64 { return (idle[name] - before[name]) / subIdle }
	mib := func(m map[string]float64, name string) float64 { return m[name] / (1 << 20) }
	b.Logf("gateway before → with %d idle subscribers: RSS %.1f → %.1f MiB, heap in use %.1f → %.1f MiB, goroutine stacks %.1f → %.1f MiB, goroutines %.0f → %.0f",
		subIdle, mib(before, subRSS), mib(idle, subRSS), mib(before, subHeap), mib(idle, subHeap),
		mib(before, subStack), mib(idle, subStack), before[subGoroutines], idle[subGoroutines])
	if *subProfileDir != "" {
		// ?gc=1 collects first: the profile is the live heap, what the
		// subscribers hold, without the garbage heap-in-use still counts.
		if err := g.SavePprof(ctx, "/debug/pprof/heap?gc=1", filepath.Join(*subProfileDir, "subscribers-idle-heap.pprof")); err != nil {
			b.Fatal(err)
		}
		// Which goroutines each subscriber keeps: with their stacks, half
		// of what an idle subscriber costs.
		if err := g.SavePprof(ctx, "/debug/pprof/goroutine", filepath.Join(*subProfileDir, "subscribers-idle-goroutines.pprof")); err != nil {
			b.Fatal(err)
		}
	}
	// b.Loop resets the timer, which drops metrics reported before it: these
	// are reported after it.
	memory := map[string]float64{
		"rss-KB/sub":     per(subRSS) / 1024,
		"heap-KB/sub":    per(subHeap) / 1024,
		"stack-KB/sub":   per(subStack) / 1024,
		"goroutines/sub": per(subGoroutines),
	}

	var all []time.Duration
	var mutations time.Duration
	round := 0
	// CPU spent by each side during the fan-outs, per delivery: with both on
	// the same cores, this says whose work the latency is made of.
	gwBefore, err := subMetrics(ctx, g)
	if err != nil {
		b.Fatal(err)
	}
	clientBefore := selfCPU()
	for b.Loop() {
		for range subFanoutRounds {
			round++
			lat, mut := subMustDeliver(b, g, fleet, fmt.Sprintf("[fanout-%d]", round))
			b.Logf("comment %d: mutation answered in %v; delivered to %d subscribers: first %v, p50 %v, p99 %v, last %v",
				round, mut.Round(time.Microsecond), len(lat), lat[0].Round(time.Microsecond), percentile(lat, 50).Round(time.Microsecond),
				percentile(lat, 99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
			all = append(all, lat...)
			mutations += mut
		}
	}
	b.StopTimer()
	clientCPU := selfCPU() - clientBefore
	gwAfter, err := subMetrics(ctx, g)
	if err != nil {
		b.Fatal(err)
	}
	deliveries := float64(round * subIdle)
	gwCPU := gwAfter[subCPUSeconds] - gwBefore[subCPUSeconds]
	b.Logf("during %d fan-outs: gateway CPU %.2fs (%.1f µs per delivery), clients' CPU %.2fs (%.1f µs per delivery), GC cycles %.0f → %.0f; after: RSS %.1f MiB, heap in use %.1f MiB, goroutines %.0f",
		round, gwCPU, gwCPU*1e6/deliveries, clientCPU.Seconds(), clientCPU.Seconds()*1e6/deliveries,
		gwBefore[subGCs], gwAfter[subGCs],
		mib(gwAfter, subRSS), mib(gwAfter, subHeap), gwAfter[subGoroutines])

	if *subProfileDir != "" {
		subProfileFanout(b, g, fleet, filepath.Join(*subProfileDir, "subscribers-fanout-cpu.pprof"))
	}

	for unit, v := range memory {
		b.ReportMetric(v, unit)
	}
	slices.Sort(all)
	b.ReportMetric(millis(percentile(all, 50)), "fanout-p50-ms")
	b.ReportMetric(millis(percentile(all, 99)), "fanout-p99-ms")
	b.ReportMetric(millis(all[len(all)-1]), "fanout-max-ms")
	b.ReportMetric(millis(mutations/time.Duration(round)), "mutation-ms")
	b.ReportMetric(gwCPU*1e6/deliveries, "gateway-cpu-µs/delivery")
}

// subProfileFanout records a CPU profile of the gateway while it fans out
// more comments (not measured) to fleet.
func subProfileFanout(b *testing.B, g *subGateway, fleet *subFleet, path string) {
	b.Helper()
	const seconds = 5
	saved := make(chan error, 1)
	go func() {
		saved <- g.SavePprof(b.Context(), fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds), path)
	}()
	for i := 0; ; i++ {
		select {
		case err := <-saved:
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("gateway CPU profile of %d fan-outs saved to %s", i, path)
			return
		default:
		}
		subMustDeliver(b, g, fleet, fmt.Sprintf("[profile-%d]", i))
	}
}

// BenchmarkSubscriptionCrossInstance runs two gateway processes sharing a
// private Redis, one subscriber on A, and creates comments alternately on A
// (same instance) and on B (cross instance, through Redis): p50 and p99 of
// each, and how much later a cross-instance comment arrives at p50.
func BenchmarkSubscriptionCrossInstance(b *testing.B) {
	r := redistest.MustStart(b)
	k := subMustKlink(b)
	gs := subMustGateways(b, 2, subGatewayConfig{KlinkURL: k.URL, KlinkToken: klinktest.DefaultToken, RedisURL: r.URL})
	a, other := gs[0], gs[1]
	fleet := subMustFleet(b, a, 1)
	for i := range 5 { // warm both instances' paths before measuring
		subMustDeliver(b, a, fleet, fmt.Sprintf("[warm-a-%d]", i))
		subMustDeliver(b, other, fleet, fmt.Sprintf("[warm-b-%d]", i))
	}

	var same, cross []time.Duration
	n := 0
	for b.Loop() {
		for range subCrossComments {
			n++
			// Alternate which goes first, so neither always follows the other.
			order := []*subGateway{a, other}
			if n%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, via := range order {
				lat, _ := subMustDeliver(b, via, fleet, fmt.Sprintf("[cross-%d-%p]", n, via))
				if via == a {
					same = append(same, lat[0])
				} else {
					cross = append(cross, lat[0])
				}
			}
		}
	}
	slices.Sort(same)
	slices.Sort(cross)
	sameP50, crossP50 := percentile(same, 50), percentile(cross, 50)
	b.ReportMetric(millis(sameP50), "same-p50-ms")
	b.ReportMetric(millis(percentile(same, 99)), "same-p99-ms")
	b.ReportMetric(millis(crossP50), "cross-p50-ms")
	b.ReportMetric(millis(percentile(cross, 99)), "cross-p99-ms")
	b.ReportMetric(millis(crossP50-sameP50), "cross-extra-p50-ms")
	b.Logf("%d comments on each instance: same-instance p50 %v p99 %v; cross-instance p50 %v p99 %v",
		len(same), sameP50, percentile(same, 99), crossP50, percentile(cross, 99))
}

// The generated file is one the gateway accepts, and says what was asked.
func TestSubGatewayConfigIsWhatTheGatewayReads(t *testing.T) {
	tests := []struct {
		name string
		cfg  subGatewayConfig
	}{
		{"one instance, in-memory bus", subGatewayConfig{KlinkURL: "http://127.0.0.1:1234", KlinkToken: klinktest.DefaultToken}},
		{"shared Redis", subGatewayConfig{KlinkURL: "http://127.0.0.1:1234", KlinkToken: "kpt_${not a var}: #x", RedisURL: "redis://127.0.0.1:6390/0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.cfg.yaml("127.0.0.1:4321")
			if err != nil {
				t.Fatal(err)
			}
			got, err := config.Parse(raw, func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatalf("the gateway refuses the config: %v\n%s", err, raw)
			}
			if got.Listen != "127.0.0.1:4321" || got.Redis.URL != tt.cfg.RedisURL || *got.GraphiQL {
				t.Errorf("listen %q, redis %q, graphiql %v", got.Listen, got.Redis.URL, *got.GraphiQL)
			}
			if len(got.Providers) != 1 {
				t.Fatalf("providers = %+v", got.Providers)
			}
			p := got.Providers[0]
			if p.ID != "klink" || p.Kind != "klink" || p.BaseURL != tt.cfg.KlinkURL || p.Token != tt.cfg.KlinkToken || len(p.Threads) != 0 {
				t.Errorf("provider = %+v (no thread may be listed: a poller would add events)", p)
			}
		})
	}
}

// subFakeServer is a graphql-transport-ws server that acks, then sends every
// subscriber frames: the fleet's bookkeeping is tested against answers a
// real gateway must never give.
func subFakeServer(t *testing.T, frames []string) string {
	t.Helper()
	up := websocket.Upgrader{Subprotocols: []string{"graphql-transport-ws"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var init, sub struct{ Type string }
		if c.ReadJSON(&init) != nil || init.Type != "connection_init" {
			return
		}
		_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"connection_ack"}`))
		if c.ReadJSON(&sub) != nil || sub.Type != "subscribe" {
			return
		}
		for _, f := range frames {
			if c.WriteMessage(websocket.TextMessage, []byte(f)) != nil {
				return
			}
		}
		// Hold the socket until the client closes it.
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// The fleet holds the benchmark to "each event reaches each subscriber once":
// Await for one comment, then Await for the next, must notice a copy, a
// stray event, an ended subscription or a missing delivery.
func TestSubFleetAwait(t *testing.T) {
	next := func(text string) string {
		return `{"id":"1","type":"next","payload":{"data":{"commentAdded":{"text":"` + text + `"}}}}`
	}
	tests := []struct {
		name   string
		frames []string
		// wantErr: substrings one of which the first failing Await's error
		// holds; none: both Awaits succeed.
		wantErr []string
	}{
		{"each subscriber once", []string{`{"type":"ping"}`, next("[m]"), `{"type":"pong"}`}, nil},
		// The copy comes either before every first copy is in ("twice") or
		// during the next comment's Await ("unexpected event").
		{"a second copy", []string{next("[m]"), next("[m]"), next("[n]")}, []string{"twice", "unexpected event"}},
		{"another event first", []string{next("[other]"), next("[m]")}, []string{"unexpected event"}},
		{"subscription ended", []string{`{"id":"1","type":"complete"}`}, []string{"subscription ended"}},
		{"an error frame", []string{`{"id":"1","type":"error","payload":[{"message":"no"}]}`}, []string{"subscription ended"}},
		{"never delivered", nil, []string{"0 of 3 subscribers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := subFakeServer(t, tt.frames)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			f, err := subOpenFleet(ctx, url, 3, 2, subQuery, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Short enough for "never delivered", whose deadline is the point;
			// ample for frames already written to a local socket.
			within := 2 * time.Second
			if tt.wantErr == nil {
				at, err := f.Await(ctx, []byte("[m]"), within)
				if err != nil {
					t.Fatal(err)
				}
				for i, a := range at {
					if a.IsZero() {
						t.Errorf("subscriber %d not stamped", i)
					}
				}
				// Nothing more was sent, so nothing more may be counted.
				if _, err := f.Await(ctx, []byte("[n]"), 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "0 of 3") {
					t.Errorf("Await after the only event = %v, want none received", err)
				}
				return
			}
			_, err = f.Await(ctx, []byte("[m]"), within)
			if err == nil {
				_, err = f.Await(ctx, []byte("[n]"), within)
			}
			if err == nil || !slices.ContainsFunc(tt.wantErr, func(s string) bool { return strings.Contains(err.Error(), s) }) {
				t.Errorf("Await = %v, want an error with one of %q", err, tt.wantErr)
			}
		})
	}
}
