package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var passthroughOn = flag.Bool("bench.passthrough", false, "BenchmarkComments50OverPassthrough: run it (see `make bench-passthrough`)")

// BenchmarkComments50OverPassthrough splits the gateway's p50 over the
// direct floor in two, on the 50-comment query: what any gateway pays on
// this machine, and what commentgraph's own work adds. Beside this tree's
// gateway it runs bench/passthrough, a separate process that makes the same
// upstream calls at once and answers the page the gateway wrote, doing
// nothing else. The two and the floor run in paired rounds as in
// BenchmarkComments50AgainstBaseline (run it with -benchtime 1x; the same
// -bench.* flags apply), with the pass-through as the base:
//
//	base_p50_ms          the pass-through's p50 (median over the rounds)
//	new_p50_ms           the gateway's
//	direct_p50_ms        the floor's: the same calls from this process
//	base_over_direct_ms  what a gateway that does nothing adds: one more
//	                     process and the client's trip to it
//	diff_p50_ms          what commentgraph adds over that
//	new_over_direct_ms   the two together, the figure the p50 target is on
//
// make bench-passthrough runs it at one worker, 0 and 10 ms; without
// -bench.passthrough it is skipped, so -bench Comments50 and make bench,
// which time by -benchtime, leave it out.
func BenchmarkComments50OverPassthrough(b *testing.B) {
	if !*passthroughOn {
		b.Skip("no -bench.passthrough")
	}
	lats, configs := mustParseFlags(b)
	bin, w := mustSetUp(b, false)
	body := mustBody(b, w, "timeline") // the pass-through makes the timeline's calls
	direct, err := newDirectLoader(w, *concurrency)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	passBin, err := buildPassthrough(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range configs {
		if c.naive {
			continue
		}
		g := mustStartGateway(b, bin, w, c.gatewayConfig(b), false)
		gw := target{g, newLoader(g.URL+"/query", body, *concurrency)}
		// The page the pass-through answers; compareRounds' warm-up checks
		// it is the whole page, on both.
		w.SetLatency(0)
		page, err := gw.l.one(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		pt, err := startPassthrough(ctx, passBin, b.TempDir(), direct, page)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pt.stop)
		pl := target{pt, newLoader(pt.URL+"/query", body, *concurrency)}
		if err := checkPassthroughCalls(ctx, w, pl.l, len(direct.calls)); err != nil {
			b.Fatal(err)
		}
		for _, lat := range lats {
			b.Run(c.name+"/upstream="+fmtMillis(lat), func(b *testing.B) {
				compareRounds(b, w, []pair{{shape: "timeline", base: pl, cand: gw}}, direct, lat)
			})
		}
	}
}

// buildPassthrough builds bench/passthrough into dir.
func buildPassthrough(dir string) (string, error) {
	bin := filepath.Join(dir, "passthrough")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/commentgraph/commentgraph/bench/passthrough").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build passthrough: %w\n%s", err, out)
	}
	return bin, nil
}

// startPassthrough runs bin with the floor's calls, their tokens as of now,
// and page as its answer.
func startPassthrough(ctx context.Context, bin, dir string, d *directLoader, page []byte) (*gateway, error) {
	type call struct {
		URL           string `json:"url"`
		Authorization string `json:"authorization"`
	}
	var calls []call
	for _, c := range d.calls {
		token, err := c.auth(ctx, false)
		if err != nil {
			return nil, err
		}
		calls = append(calls, call{URL: c.url, Authorization: "Bearer " + token})
	}
	raw, err := json.Marshal(calls)
	if err != nil {
		return nil, err
	}
	callsPath, pagePath := filepath.Join(dir, "calls.json"), filepath.Join(dir, "page.json")
	if err := os.WriteFile(callsPath, raw, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(pagePath, page, 0o600); err != nil {
		return nil, err
	}
	return startServer(bin, func(addr string) []string {
		return []string{"-listen", addr, "-calls", callsPath, "-answer", pagePath}
	}, nil)
}

// checkPassthroughCalls fails unless each of the pass-through's queries
// makes want upstream calls, so it is never timed skipping the upstream.
func checkPassthroughCalls(ctx context.Context, w *World, l *loader, want int) error {
	const queries = 10
	before := w.TotalCalls()
	if _, err := l.run(ctx, queries); err != nil {
		return err
	}
	if got := w.TotalCalls() - before; got != queries*want {
		return fmt.Errorf("passthrough: %d upstream calls for %d queries, want %d", got, queries, queries*want)
	}
	return nil
}
