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
// another binary (-bench.baseline) on the 50-comment query, for a change
// too small to see across runs on a noisy machine: the two run side by side
// against the same emulators, in paired rounds (baseline and this tree, in
// turns of who goes first, then the direct floor, -bench.rounds times), each
// round -bench.roundqueries queries; run it with -benchtime 1x. Reported per
// configuration and latency:
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
//
// A change is an improvement when new_faster_rounds is near all the rounds
// in repeated runs, not when one run's medians differ.
func BenchmarkComments50AgainstBaseline(b *testing.B) {
	if *baselineBin == "" {
		b.Skip("no -bench.baseline binary")
	}
	lats, configs := mustParseFlags(b)
	bin, w, body := mustSetUp(b, false)
	direct, err := newDirectLoader(w, *concurrency)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range configs {
		if c.naive {
			continue // seconds per round: not what this comparison is for
		}
		start := func(bin string) *loader {
			g := mustStartGateway(b, bin, w, c.gatewayConfig(b), false)
			return newLoader(g.URL+"/query", body, *concurrency)
		}
		base, cand := start(*baselineBin), start(bin)
		for _, lat := range lats {
			b.Run(c.name+"/upstream="+fmtMillis(lat), func(b *testing.B) {
				compareRounds(b, w, base, cand, direct, lat)
			})
		}
	}
}

func compareRounds(b *testing.B, w *World, base, cand *loader, direct *directLoader, lat time.Duration) {
	ctx := context.Background()
	w.SetLatency(lat)
	if b.N != 1 {
		// The testing package calls a benchmark once with b.N = 1 and again
		// with more to fill -benchtime; the rounds set their own size, so a
		// second call would only run them all again.
		b.Fatal("run with -benchtime 1x; -bench.roundqueries sets the queries per round")
	}
	for _, l := range []*loader{base, cand} {
		if err := l.warm(ctx); err != nil {
			b.Fatal(err)
		}
	}
	n := max(*roundQueries, 2*base.conc)
	var pBase, pNew, pDirect, diffs, over, baseOver, ratios []float64
	faster := 0
	b.ResetTimer()
	for round := range *abRounds {
		// Who goes first alternates, so neither is always the one that
		// runs just after the other (or just after the direct floor).
		db, dn, tb, tn, err := pairedRound(ctx, base, cand, n, round%2 == 1)
		if err != nil {
			b.Fatal(err)
		}
		dd, err := direct.load(ctx, n)
		if err != nil {
			b.Fatal(err)
		}
		z := millis(percentile(dd, 50))
		x, y := millis(percentile(db, 50)), millis(percentile(dn, 50))
		pDirect, over, baseOver = append(pDirect, z), append(over, y-z), append(baseOver, x-z)
		pBase, pNew, diffs = append(pBase, x), append(pNew, y), append(diffs, y-x)
		ratios = append(ratios, tb.Seconds()/tn.Seconds())
		if y < x {
			faster++
		}
	}
	b.StopTimer()
	b.ReportMetric(median(pBase), "base_p50_ms")
	b.ReportMetric(median(pNew), "new_p50_ms")
	b.ReportMetric(median(pDirect), "direct_p50_ms")
	b.ReportMetric(median(over), "new_over_direct_ms")
	b.ReportMetric(median(baseOver), "base_over_direct_ms")
	b.ReportMetric(median(diffs), "diff_p50_ms")
	b.ReportMetric(float64(faster), "new_faster_rounds")
	b.ReportMetric(median(ratios), "req/s_ratio")
}

// pairedRound runs n queries on base and then on cand (cand first when
// candFirst) and returns each one's latencies and elapsed time.
func pairedRound(ctx context.Context, base, cand *loader, n int, candFirst bool) (db, dn []time.Duration, tb, tn time.Duration, err error) {
	one := func(l *loader) ([]time.Duration, time.Duration, error) {
		t0 := time.Now()
		d, err := l.load(ctx, n)
		return d, time.Since(t0), err
	}
	var errB, errN error
	if candFirst {
		dn, tn, errN = one(cand)
		db, tb, errB = one(base)
	} else {
		db, tb, errB = one(base)
		dn, tn, errN = one(cand)
	}
	return db, dn, tb, tn, errors.Join(errB, errN)
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
