package bench

import (
	"context"
	"errors"
	"flag"
	"slices"
	"testing"
	"time"
)

var (
	baselineBin  = flag.String("bench.baseline", "", "BenchmarkComments50AgainstBaseline: a gateway binary built from another commit to compare this tree's with (see `make bench-baseline`); empty skips it")
	abRounds     = flag.Int("bench.rounds", 10, "BenchmarkComments50AgainstBaseline: paired rounds per configuration and latency")
	roundQueries = flag.Int("bench.roundqueries", 150, "BenchmarkComments50AgainstBaseline: queries per gateway per round (at least two per worker)")
)

// BenchmarkComments50AgainstBaseline compares this tree's gateway with
// another binary (-bench.baseline) on the 50-comment page, for a change too
// small to see across runs on a noisy machine: the two run side by side
// against the same emulators, in paired rounds (baseline and this tree, in
// turns of who goes first, then the direct floor, -bench.rounds times), each
// round -bench.roundqueries queries of each of -bench.shapes (the timeline,
// each thread's comments) to each gateway; run it with -benchtime 1x.
// Reported per configuration and latency, each figure prefixed with its
// shape (timeline_, thread_) when there are several:
//
//	base_p50_ms, new_p50_ms  the median over the rounds of each round's p50
//	direct_p50_ms            the same for the emulators asked directly
//	new_over_direct_ms       the median of the rounds' new-minus-direct p50s:
//	                         what this tree's gateway adds, each round's
//	                         gateway and floor taken seconds apart
//	base_over_direct_ms      the same for the baseline
//	diff_p50_ms              the median of the rounds' new-minus-base p50s
//	new_faster_rounds        in how many rounds this tree's p50 was lower
//	req/s_ratio              the median of the rounds' new/base req/s
//	base_gw_cpu_ms/query,    the CPU each gateway process used (user and
//	new_gw_cpu_ms/query      system, /proc/<pid>/stat) over all its rounds'
//	                         queries, per query
//	gw_cpu_new/base          the one over the other
//
// and, with both shapes, thread_over_timeline_base_cpu and
// thread_over_timeline_new_cpu: each gateway's CPU per thread query over
// its CPU per timeline query, the shapes taken in the same rounds.
//
// A change is an improvement when new_faster_rounds is near all the rounds
// in repeated runs, not when one run's medians differ. The CPU figures are
// summed over the rounds because /proc counts in 10 ms ticks: give them
// enough queries (-bench.rounds × -bench.roundqueries) to be many ticks.
func BenchmarkComments50AgainstBaseline(b *testing.B) {
	if *baselineBin == "" {
		b.Skip("no -bench.baseline binary")
	}
	lats, configs := mustParseFlags(b)
	shapes := mustParseShapes(b)
	bin, w := mustSetUp(b, false)
	direct, err := newDirectLoader(w, *concurrency)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range configs {
		if c.naive {
			continue // seconds per round: not what this comparison is for
		}
		base := mustStartGateway(b, *baselineBin, w, c.gatewayConfig(b), false)
		cand := mustStartGateway(b, bin, w, c.gatewayConfig(b), false)
		var pairs []pair
		for _, shape := range shapes {
			body := mustBody(b, w, shape)
			pairs = append(pairs, pair{
				shape: shape,
				base:  target{base, newLoader(base.URL+"/query", body, *concurrency)},
				cand:  target{cand, newLoader(cand.URL+"/query", body, *concurrency)},
			})
		}
		for _, lat := range lats {
			b.Run(c.name+"/upstream="+fmtMillis(lat), func(b *testing.B) {
				compareRounds(b, w, pairs, direct, lat)
			})
		}
	}
}

// target is a server the rounds load: its process, whose CPU they read, and
// a loader sending it the query.
type target struct {
	g *gateway
	l *loader
}

// pair is the two gateways compared, loaded with one shape's query.
type pair struct {
	shape      string
	base, cand target
}

// pairFigures are what the rounds gather for one pair.
type pairFigures struct {
	pBase, pNew, over, baseOver, diffs, ratios []float64
	cpuBase, cpuNew                            time.Duration
	faster                                     int
}

func compareRounds(b *testing.B, w *World, pairs []pair, direct *directLoader, lat time.Duration) {
	ctx := context.Background()
	w.SetLatency(lat)
	if b.N != 1 {
		// The testing package calls a benchmark once with b.N = 1 and again
		// with more to fill -benchtime; the rounds set their own size, so a
		// second call would only run them all again.
		b.Fatal("run with -benchtime 1x; -bench.roundqueries sets the queries per round")
	}
	for _, p := range pairs {
		for _, t := range []target{p.base, p.cand} {
			if err := t.l.warm(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := max(*roundQueries, 2*(*concurrency))
	figs := make([]pairFigures, len(pairs))
	var pDirect []float64
	b.ResetTimer()
	for round := range *abRounds {
		// Who goes first alternates, so neither is always the one that
		// runs just after the other (or just after the direct floor); the
		// shapes take turns going first too.
		for k := range pairs {
			i := (k + round) % len(pairs)
			p, f := pairs[i], &figs[i]
			rb, rn, err := pairedRound(ctx, p.base, p.cand, n, round%2 == 1)
			if err != nil {
				b.Fatal(err)
			}
			x, y := millis(percentile(rb.lat, 50)), millis(percentile(rn.lat, 50))
			f.pBase, f.pNew, f.diffs = append(f.pBase, x), append(f.pNew, y), append(f.diffs, y-x)
			f.ratios = append(f.ratios, rb.elapsed.Seconds()/rn.elapsed.Seconds())
			f.cpuBase, f.cpuNew = f.cpuBase+rb.cpu, f.cpuNew+rn.cpu
			if y < x {
				f.faster++
			}
		}
		dd, err := direct.load(ctx, n)
		if err != nil {
			b.Fatal(err)
		}
		z := millis(percentile(dd, 50))
		pDirect = append(pDirect, z)
		for i := range figs {
			f := &figs[i]
			f.over = append(f.over, f.pNew[round]-z)
			f.baseOver = append(f.baseOver, f.pBase[round]-z)
		}
	}
	b.StopTimer()
	queries := float64(*abRounds * n)
	b.ReportMetric(median(pDirect), "direct_p50_ms")
	cpu := map[string][2]float64{}
	for i, p := range pairs {
		f := &figs[i]
		prefix := ""
		if len(pairs) > 1 {
			prefix = p.shape + "_"
		}
		b.ReportMetric(median(f.pBase), prefix+"base_p50_ms")
		b.ReportMetric(median(f.pNew), prefix+"new_p50_ms")
		b.ReportMetric(median(f.over), prefix+"new_over_direct_ms")
		b.ReportMetric(median(f.baseOver), prefix+"base_over_direct_ms")
		b.ReportMetric(median(f.diffs), prefix+"diff_p50_ms")
		b.ReportMetric(float64(f.faster), prefix+"new_faster_rounds")
		b.ReportMetric(median(f.ratios), prefix+"req/s_ratio")
		base, cand := millis(f.cpuBase)/queries, millis(f.cpuNew)/queries
		b.ReportMetric(base, prefix+"base_gw_cpu_ms/query")
		b.ReportMetric(cand, prefix+"new_gw_cpu_ms/query")
		if base > 0 {
			b.ReportMetric(cand/base, prefix+"gw_cpu_new/base")
		}
		cpu[p.shape] = [2]float64{base, cand}
	}
	if tl, th := cpu["timeline"], cpu["thread"]; tl[0] > 0 && tl[1] > 0 && th[1] > 0 {
		b.ReportMetric(th[0]/tl[0], "thread_over_timeline_base_cpu")
		b.ReportMetric(th[1]/tl[1], "thread_over_timeline_new_cpu")
	}
}

// roundResult is one target's share of a round: each query's latency, the
// time they all took and the CPU its process used meanwhile.
type roundResult struct {
	lat     []time.Duration
	elapsed time.Duration
	cpu     time.Duration
}

// pairedRound runs n queries on base and then on cand (cand first when
// candFirst).
func pairedRound(ctx context.Context, base, cand target, n int, candFirst bool) (rb, rn roundResult, err error) {
	one := func(t target) (roundResult, error) {
		cpu0, err := t.g.cpu()
		if err != nil {
			return roundResult{}, err
		}
		t0 := time.Now()
		d, err := t.l.load(ctx, n)
		elapsed := time.Since(t0)
		if err != nil {
			return roundResult{}, err
		}
		cpu1, err := t.g.cpu()
		return roundResult{lat: d, elapsed: elapsed, cpu: cpu1 - cpu0}, err
	}
	var errB, errN error
	if candFirst {
		rn, errN = one(cand)
		rb, errB = one(base)
	} else {
		rb, errB = one(base)
		rn, errN = one(cand)
	}
	return rb, rn, errors.Join(errB, errN)
}

// median of v (not changed).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
