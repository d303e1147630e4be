package gateway

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/bench"
)

// sample is the value of the exposition line that starts with series and a
// space, or fails t.
func sample(t *testing.T, exposition, series string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return 0
}

// TestOwnTimeLeavesOutTheUpstreamWait: every upstream call of these queries
// takes at least the emulators' added latency, so the gateway's own time of
// each is at most its latency less that. Without the upstream calls' timing
// (or with calls counted apart from their query) the own time would be the
// whole latency and the check fails; it does not depend on this machine's
// speed.
func TestOwnTimeLeavesOutTheUpstreamWait(t *testing.T) {
	const latency = 20 * time.Millisecond
	w := mustWorld(t)
	g := MustStartGateway(t, newTestConfig(t, w.Providers()...))
	vars := map[string]any{"threads": w.Threads}
	checkPage(t, w, g.query(bench.Query, vars)) // fills the cache: the next ones only list

	w.SetLatency(latency)
	_, before := get(t, g.url+"/metrics")
	const queries = 3
	for range queries {
		checkPage(t, w, g.query(bench.Query, vars))
	}
	_, after := get(t, g.url+"/metrics")
	g.query(`{ __typename }`, nil).mustNoErrors(t) // no upstream call: timed all the same
	_, last := get(t, g.url+"/metrics")

	delta := func(series string) float64 { return sample(t, after, series) - sample(t, before, series) }
	count := delta("commentgraph_query_own_duration_seconds_count")
	own := delta("commentgraph_query_own_duration_seconds_sum")
	total := delta(`commentgraph_http_request_duration_seconds_sum{route="query"}`)
	if count != queries {
		t.Fatalf("own time observed %v times for %d queries", count, queries)
	}
	if own <= 0 {
		t.Errorf("own time %v s over %d queries: a query is never free", own, queries)
	}
	if limit := total - queries*latency.Seconds(); own > limit {
		t.Errorf("own time %.4f s over %d queries, latency %.4f s: more than the latency less %v per query (%.4f s)", own, queries, total, latency, limit)
	}
	if got := sample(t, last, "commentgraph_query_own_duration_seconds_count") - sample(t, after, "commentgraph_query_own_duration_seconds_count"); got != 1 {
		t.Errorf("a query without upstream calls observed %v times, want 1", got)
	}
}
