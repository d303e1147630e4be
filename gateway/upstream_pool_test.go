package gateway

import (
	"fmt"
	"sync"
	"testing"

	"github.com/commentgraph/commentgraph/bench"
)

// TestUpstreamConnectionsAreReused runs rounds of concurrent timeline pages
// and counts the TCP connections the emulators accept: with the upstream pool
// keeping its connections idle between rounds, the later rounds dial none
// beyond what the busiest moment needed, at most one per concurrent call.
// With Go's default pool (2 idle per host) every round after the first dials
// again for all but two of its calls.
func TestUpstreamConnectionsAreReused(t *testing.T) {
	w := mustWorld(t)
	g := MustStartGateway(t, newTestConfig(t, w.Providers()...))
	vars := map[string]any{"threads": w.Threads}
	checkPage(t, w, g.query(bench.Query, vars)) // warm: the directory is cached from here on

	const concurrent, rounds = 8, 4
	w.Virola.ResetCalls()
	w.Ziik.ResetCalls()
	before := w.Virola.Connections() + w.Ziik.Connections()
	for range rounds {
		var wg sync.WaitGroup
		errs := make(chan string, concurrent)
		for range concurrent {
			wg.Go(func() {
				resp := g.query(bench.Query, vars)
				if len(resp.Errors) > 0 {
					errs <- fmt.Sprint(resp.Errors)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	calls := w.Virola.TotalCalls() + w.Ziik.TotalCalls()
	perRound := calls / rounds
	dialed := w.Virola.Connections() + w.Ziik.Connections() - before
	t.Logf("%d rounds of %d pages: %d upstream calls, %d new connections", rounds, concurrent, calls, dialed)
	if perRound == 0 {
		t.Fatal("the pages made no upstream calls: nothing was measured")
	}
	// A round's calls can all be in flight at once, so one round may need
	// perRound connections; the rest of the rounds must find them idle.
	if dialed > perRound {
		t.Errorf("dialed %d connections for %d calls in %d rounds; want at most %d (one round's worth)", dialed, calls, rounds, perRound)
	}
}
