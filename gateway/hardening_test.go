package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// processCPU is the CPU time every thread of this process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fragmentBomb is a document whose fragment Fi spreads F(i+1) twice.
func fragmentBomb(depth int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range depth {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", depth)
	return b.String()
}

// TestFragmentBombsAreRefusedAndLeaveNoWork: a bomb is refused with
// COMPLEXITY_LIMIT_EXCEEDED, and once the answer is in, the process is idle:
// nothing goes on expanding the document after the client has its answer.
func TestFragmentBombsAreRefusedAndLeaveNoWork(t *testing.T) {
	g := MustStartGateway(t, newTestConfig(t))
	for _, depth := range []int{20, 40, 64} {
		t.Run(fmt.Sprintf("depth %d", depth), func(t *testing.T) {
			resp := g.query(fragmentBomb(depth), nil)
			if codes := resp.codes(); len(codes) != 1 || codes[0] != "COMPLEXITY_LIMIT_EXCEEDED" {
				t.Fatalf("codes %v, errors %+v", codes, resp.Errors)
			}
			// Observe the process's CPU over a window after the answer: an
			// expansion still running would use all of one core for it.
			const window = 300 * time.Millisecond
			before := processCPU(t)
			<-time.After(window)
			if used := processCPU(t) - before; used > window/2 {
				t.Errorf("the process used %v of CPU in the %v after answering", used, window)
			}
		})
	}
}

func TestIntrospectionOffIsAClientError(t *testing.T) {
	k := klinkWorld(t, 1)
	cfg := newTestConfig(t, klinkProvider(k))
	off := false
	cfg.GraphiQL, cfg.Introspection = &off, &off
	g := MustStartGateway(t, cfg)

	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Comment") { fields { name } } }`} {
		resp := g.query(q, nil)
		if codes := resp.codes(); len(codes) != 1 || codes[0] != "INTROSPECTION_DISABLED" {
			t.Errorf("%s: codes %v", q, codes)
		}
		if len(resp.Data) > 0 && string(resp.Data) != "null" {
			t.Errorf("%s answered data %s", q, resp.Data)
		}
	}
	t.Run("no suggestions", func(t *testing.T) {
		resp := g.query(`{ providr { id } }`, nil)
		if len(resp.Errors) == 0 {
			t.Fatal("an unknown field was accepted")
		}
		for _, e := range resp.Errors {
			if strings.Contains(e.Message, "Did you mean") {
				t.Errorf("suggestion with introspection off: %q", e.Message)
			}
		}
	})
	if logs := g.log.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("refusing introspection logged an error:\n%s", logs)
	}
	t.Run("suggestions stay with introspection on", func(t *testing.T) {
		g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
		resp := g.query(`{ providr { id } }`, nil)
		if len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, "Did you mean") {
			t.Errorf("errors %+v", resp.Errors)
		}
	})
}

// TestBadBodiesAreNotEchoed: whatever a client sends, the error names the
// problem and its place, small, never the body itself.
func TestBadBodiesAreNotEchoed(t *testing.T) {
	g := MustStartGateway(t, newTestConfig(t))
	marker := "SECRET-MARKER-" + strings.Repeat("x", 500<<10)
	for _, tc := range []struct {
		name, body string
	}{
		{"malformed JSON of 500 KB", `{"query": "{ __typename }", "variables": {"a": "` + marker + `" ` + "}"},
		{"a batch array", `[{"query": "{ __typename }", "variables": {"a": "` + marker + `"}}]`},
		{"variables that are not an object", `{"query": "{ __typename }", "variables": ["` + marker + `"]}`},
		{"a huge number where an object goes", `{"query": "{ __typename }", "variables": 1` + strings.Repeat("1", 300<<10) + `}`},
		{"a variable of the wrong type", `{"query": "query($n: Int) { __typename }", "variables": {"n": "` + marker + `"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := g.post([]byte(tc.body), nil)
			if len(resp.Errors) == 0 {
				t.Fatalf("accepted: %d", resp.Status)
			}
			for _, e := range resp.Errors {
				if strings.Contains(e.Message, "SECRET-MARKER") || strings.Contains(e.Message, "11111111") || len(e.Message) > 200 {
					t.Errorf("the error echoes the body (%d bytes): %.120q", len(e.Message), e.Message)
				}
				if e.Extensions["code"] == nil {
					t.Errorf("no code: %+v", e)
				}
			}
			if resp.Status == http.StatusOK && tc.name != "a variable of the wrong type" {
				t.Errorf("status %d for an unreadable body", resp.Status)
			}
		})
	}
}

// TestReadinessFailsOnceDraining: from the moment shutdown begins, /readyz
// says 503 while queries are still answered.
func TestReadinessFailsOnceDraining(t *testing.T) {
	g := MustStartGateway(t, newTestConfig(t))
	status := func() int {
		resp, err := http.Get(g.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusOK {
		t.Fatalf("/readyz = %d before draining", got)
	}
	g.app.Drain()
	if got := status(); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while draining", got)
	}
	g.query(`{ __typename }`, nil).mustNoErrors(t)
}

// TestUpstreamCallBudget: a request makes at most limits.maxUpstreamCalls
// calls, answers the rest with UPSTREAM_BUDGET_EXCEEDED, and makes identical
// list calls once (counted on the emulator).
func TestUpstreamCallBudget(t *testing.T) {
	k := klinktest.NewServer(klinktest.Options{})
	t.Cleanup(k.Close)
	k.AddUser(userAna, "Ana Lee")
	var rooms []string
	for i := range 8 {
		room := fmt.Sprintf("9b2e0000-0000-4000-8000-1000000000%02d", i)
		k.AddRoom(room, fmt.Sprintf("Customer %d", i))
		if _, err := k.AddComment(room, userAna, fmt.Sprintf("hello %d", i)); err != nil {
			t.Fatal(err)
		}
		rooms = append(rooms, room)
	}
	p := klinkProvider(k)
	p.Threads = nil // no pollers: every call the emulator counts is the query's
	cfg := newTestConfig(t, p)
	cfg.Limits.MaxUpstreamCalls = 5
	cfg.Cache.Disabled = true // every thread check and user look-up is a call too
	g := MustStartGateway(t, cfg)

	var threads []string
	for _, room := range rooms {
		var got struct {
			Thread struct{ ID string } `json:"thread"`
		}
		resp := g.query(`query($r: String!) { thread(provider: "klink", kind: ROOM, ref: $r) { id } }`, map[string]any{"r": room})
		resp.mustNoErrors(t)
		resp.decode(t, &got)
		threads = append(threads, got.Thread.ID)
	}

	t.Run("past the budget, calls are refused, not made", func(t *testing.T) {
		k.ResetCalls()
		resp := g.query(`query($t: [ID!]!) { comments(threads: $t, first: 10) { edges { node { text } } } }`, map[string]any{"t": threads})
		made := k.Calls(klinktest.EndpointListComments)
		if made > cfg.Limits.MaxUpstreamCalls {
			t.Errorf("%d list calls with a budget of %d", made, cfg.Limits.MaxUpstreamCalls)
		}
		refused := 0
		for _, e := range resp.Errors {
			if e.Extensions["code"] == "UPSTREAM_BUDGET_EXCEEDED" {
				refused++
				if e.Extensions["provider"] != "klink" {
					t.Errorf("no provider on %+v", e)
				}
			}
		}
		if refused == 0 {
			t.Errorf("no UPSTREAM_BUDGET_EXCEEDED: %+v", resp.Errors)
		}
	})
	t.Run("aliases of one page make its calls once", func(t *testing.T) {
		listCalls := func(aliases int) int {
			k.ResetCalls()
			var q strings.Builder
			q.WriteString(`query($t: [ID!]!) {`)
			for i := range aliases {
				fmt.Fprintf(&q, " a%d: comments(threads: $t, first: 5) { edges { node { text } } }", i)
			}
			q.WriteString(" }")
			g.query(q.String(), map[string]any{"t": threads[:1]}).mustNoErrors(t)
			return k.Calls(klinktest.EndpointListComments)
		}
		one, ten := listCalls(1), listCalls(10)
		if one == 0 || ten != one {
			t.Errorf("%d list calls for one page, %d for 10 aliases of it", one, ten)
		}
	})
}
