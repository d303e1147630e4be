package providers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// upstream is a test upstream counting the calls that reach it; by default
// each answer names its call's number and path, so a shared answer shows.
type upstream struct {
	*httptest.Server
	calls atomic.Int64
}

func startUpstream(t *testing.T, handle func(n int64, w http.ResponseWriter, r *http.Request)) *upstream {
	t.Helper()
	u := &upstream{}
	if handle == nil {
		handle = func(n int64, w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"call":%d,"path":%q}`, n, r.URL.RequestURI())
		}
	}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(u.calls.Add(1), w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) caller(provider, token string) *providers.Caller {
	return &providers.Caller{Provider: provider, BaseURL: u.URL, Client: u.Client(),
		Authorize: func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+token)
			return nil
		}}
}

func get(path string) providers.Request {
	return providers.Request{Method: http.MethodGet, Endpoint: "GET /things", Path: path}
}

// TestCallBudget: with a budget of N, of N+k distinct calls exactly N reach
// the upstream, in sequence or all at once, and k are refused without a call.
func TestCallBudget(t *testing.T) {
	for _, tc := range []struct {
		name       string
		scoped     bool
		max, calls int
		method     string
		concurrent bool
		wantMade   int
	}{
		{name: "3 of 5 in sequence", scoped: true, max: 3, calls: 5, wantMade: 3},
		{name: "7 of 40 at once", scoped: true, max: 7, calls: 40, concurrent: true, wantMade: 7},
		{name: "writes spend it too", scoped: true, max: 2, calls: 4, method: http.MethodPost, wantMade: 2},
		{name: "max 0 is no limit", scoped: true, max: 0, calls: 12, concurrent: true, wantMade: 12},
		{name: "negative is no limit", scoped: true, max: -1, calls: 3, wantMade: 3},
		{name: "no scope, no limit", calls: 12, concurrent: true, wantMade: 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := startUpstream(t, nil)
			c := u.caller("p", "tok")
			ctx := context.Background()
			if tc.scoped {
				ctx = providers.WithCallBudget(ctx, tc.max)
			}
			errs := make([]error, tc.calls)
			call := func(i int) {
				r := get("/things/" + strconv.Itoa(i))
				if tc.method != "" {
					r.Method, r.Body = tc.method, map[string]int{"i": i}
				}
				_, errs[i] = c.Do(ctx, r)
			}
			var wg sync.WaitGroup
			for i := range tc.calls {
				if tc.concurrent {
					wg.Go(func() { call(i) })
				} else {
					call(i)
				}
			}
			wg.Wait()
			refused := 0
			for _, err := range errs {
				if err == nil {
					continue
				}
				var me *model.Error
				if !errors.As(err, &me) || me.Code != model.CodeUpstreamBudgetExceeded || me.Provider != "p" || me.Message == "" {
					t.Fatalf("err = %#v, want UPSTREAM_BUDGET_EXCEEDED from p", err)
				}
				refused++
			}
			if got := int(u.calls.Load()); got != tc.wantMade {
				t.Errorf("%d calls reached the upstream, want %d", got, tc.wantMade)
			}
			if refused != tc.calls-tc.wantMade {
				t.Errorf("%d calls refused, want %d", refused, tc.calls-tc.wantMade)
			}
			want := providers.CallBudgetUsage{}
			if tc.scoped {
				want = providers.CallBudgetUsage{Limit: max(tc.max, 0), Made: tc.wantMade, Refused: refused}
			}
			if got := providers.CallBudgetUsed(ctx); got != want {
				t.Errorf("CallBudgetUsed = %+v, want %+v", got, want)
			}
		})
	}
}

// Test90IdenticalGETsMakeOneCall: 90 callers of one request ask for the same
// page at once while the first call is held at the upstream; one call is
// made and every caller gets its answer.
func Test90IdenticalGETsMakeOneCall(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	u := startUpstream(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			close(arrived)
			<-release
		}
		fmt.Fprintf(w, `{"call":%d}`, n)
	})
	c := u.caller("p", "tok")
	ctx := providers.WithCallBudget(context.Background(), 5)
	const n = 90
	bodies, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := c.Do(ctx, get("/rooms/1/comments?page=1"))
			if err == nil {
				bodies[i] = string(resp.Body)
			}
			errs[i] = err
		})
	}
	<-arrived
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || bodies[i] != `{"call":1}` {
			t.Fatalf("caller %d: %q, %v; want the first call's answer", i, bodies[i], errs[i])
		}
	}
	if got := u.calls.Load(); got != 1 {
		t.Errorf("%d calls reached the upstream, want 1", got)
	}
	if got, want := providers.CallBudgetUsed(ctx), (providers.CallBudgetUsage{Limit: 5, Made: 1, Shared: n - 1}); got != want {
		t.Errorf("CallBudgetUsed = %+v, want %+v", got, want)
	}
}

// TestCallScopeSharesOnlyIdenticalGETs: two calls one after the other; the
// second reuses the first's answer only when both are the same GET of the
// same provider with the same credentials, in the same scope.
func TestCallScopeSharesOnlyIdenticalGETs(t *testing.T) {
	type call struct {
		provider, token string
		req             providers.Request
	}
	base := call{"p", "tok-a", get("/things/1?x=1")}
	with := func(edit func(*call)) call {
		c := base
		c.req.Header = nil
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		b    call
		// scope says which contexts the calls run under: "one", "two" or
		// "none".
		scope string
		want  int64
	}{
		{name: "identical GETs in one scope", b: base, scope: "one", want: 1},
		{name: "an empty method is GET", b: with(func(c *call) { c.req.Method = "" }), scope: "one", want: 1},
		{name: "identical GETs in two scopes", b: base, scope: "two", want: 2},
		{name: "identical GETs without a scope", b: base, scope: "none", want: 2},
		{name: "another bearer token", b: with(func(c *call) { c.token = "tok-b" }), scope: "one", want: 2},
		{name: "another API key header", b: with(func(c *call) { c.req.Header = http.Header{"X-Api-Key": {"k2"}} }), scope: "one", want: 2},
		{name: "another provider", b: with(func(c *call) { c.provider = "q" }), scope: "one", want: 2},
		{name: "another query", b: with(func(c *call) { c.req.Path = "/things/1?x=2" }), scope: "one", want: 2},
		{name: "a POST", b: with(func(c *call) { c.req.Method = http.MethodPost }), scope: "one", want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := startUpstream(t, nil)
			scope := providers.WithCallBudget(context.Background(), 0)
			ctxs := map[string][2]context.Context{
				"one":  {scope, scope},
				"two":  {scope, providers.WithCallBudget(context.Background(), 0)},
				"none": {context.Background(), context.Background()},
			}[tc.scope]
			var bodies [2]string
			for i, c := range []call{base, tc.b} {
				resp, err := u.caller(c.provider, c.token).Do(ctxs[i], c.req)
				if err != nil {
					t.Fatal(err)
				}
				bodies[i] = string(resp.Body)
			}
			if got := u.calls.Load(); got != tc.want {
				t.Errorf("%d calls reached the upstream, want %d", got, tc.want)
			}
			if shared := bodies[0] == bodies[1]; shared != (tc.want == 1) {
				t.Errorf("answers %s and %s", bodies[0], bodies[1])
			}
		})
	}
}

// TestCallScopeKeepsWhatHolds: a second identical GET reuses the first's
// answer when asking again cannot change it (a success, a 404, a refused
// input); a rate limit, an outage or an unreadable answer is asked again.
func TestCallScopeKeepsWhatHolds(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   int64
	}{
		{status: 200, want: 1},
		{status: 400, want: 1},
		{status: 401, want: 1},
		{status: 403, want: 1},
		{status: 404, want: 1},
		{status: 410, want: 1},
		{status: 422, want: 1},
		{status: 429, want: 2},
		{status: 449, want: 2},
		{status: 500, want: 2},
		{status: 503, want: 2},
		{status: 200, body: strings.Repeat("x", 2048), want: 2}, // over MaxBody
	} {
		t.Run(fmt.Sprintf("%d %d bytes", tc.status, len(tc.body)), func(t *testing.T) {
			u := startUpstream(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"call":%d}%s`, n, tc.body)
			})
			c := u.caller("p", "tok")
			c.MaxBody = 1024
			ctx := providers.WithCallBudget(context.Background(), 0)
			_, err1 := c.Do(ctx, get("/x"))
			_, err2 := c.Do(ctx, get("/x"))
			if got := u.calls.Load(); got != tc.want {
				t.Errorf("%d calls reached the upstream, want %d", got, tc.want)
			}
			if model.ErrorCode(err1) != model.ErrorCode(err2) {
				t.Errorf("errors %v and %v", err1, err2)
			}
			// A shared error is the caller's own to change.
			var me1, me2 *model.Error
			if errors.As(err1, &me1) && errors.As(err2, &me2) {
				me1.Message = "changed by the first caller"
				if me2.Message == me1.Message {
					t.Error("the callers share one *model.Error")
				}
			}
		})
	}
}

// TestWriteEndsSharingForItsProvider: after a write, a provider's GETs are
// made again (the request may be reading back what it wrote); another
// provider's are still shared.
func TestWriteEndsSharingForItsProvider(t *testing.T) {
	u := startUpstream(t, nil)
	p, q := u.caller("p", "tok"), u.caller("q", "tok")
	ctx := providers.WithCallBudget(context.Background(), 0)
	do := func(c *providers.Caller, r providers.Request) string {
		t.Helper()
		resp, err := c.Do(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return string(resp.Body)
	}
	p1, q1 := do(p, get("/a")), do(q, get("/a"))
	do(p, providers.Request{Method: http.MethodPost, Path: "/a", Body: map[string]string{"text": "hi"}})
	p2, q2, p3 := do(p, get("/a")), do(q, get("/a")), do(p, get("/a"))
	if p1 == p2 || p2 == p3 {
		t.Errorf("p's reads after its write were shared: %s %s %s", p1, p2, p3)
	}
	if q1 != q2 {
		t.Errorf("q's read was made again after p's write: %s %s", q1, q2)
	}
	if got := u.calls.Load(); got != 5 {
		t.Errorf("%d calls, want 5 (p, q, the write, p twice)", got)
	}
}

// TestCallMemoIsBounded: answers past CallMemoMaxBytes, and calls past
// CallMemoMaxEntries, are made again rather than kept.
func TestCallMemoIsBounded(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		big := strings.Repeat("x", providers.CallMemoMaxBytes/2+1)
		u := startUpstream(t, func(n int64, w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"call":%d,"pad":"%s"}`, n, big)
		})
		c := u.caller("p", "tok")
		c.MaxBody = 2 * providers.CallMemoMaxBytes
		ctx := providers.WithCallBudget(context.Background(), 0)
		for _, path := range []string{"/a", "/b", "/a", "/b"} {
			if _, err := c.Do(ctx, get(path)); err != nil {
				t.Fatal(err)
			}
		}
		if got := u.calls.Load(); got != 3 {
			t.Errorf("%d calls, want 3: /a kept, /b over the bytes bound", got)
		}
	})
	t.Run("entries", func(t *testing.T) {
		u := startUpstream(t, nil)
		c := u.caller("p", "tok")
		ctx := providers.WithCallBudget(context.Background(), 0)
		n := providers.CallMemoMaxEntries
		for i := range n + 1 {
			if _, err := c.Do(ctx, get("/t/"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		for _, i := range []int{n, 0} { // the one past the bound, the first kept
			if _, err := c.Do(ctx, get("/t/"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := u.calls.Load(), int64(n+2); got != want {
			t.Errorf("%d calls, want %d", got, want)
		}
	})
}

// TestWithoutCallBudget: work for many requests leaves the request's budget
// and memo alone.
func TestWithoutCallBudget(t *testing.T) {
	u := startUpstream(t, nil)
	c := u.caller("p", "tok")
	ctx := providers.WithCallBudget(context.Background(), 1)
	if _, err := c.Do(ctx, get("/a")); err != nil {
		t.Fatal(err)
	}
	free := providers.WithoutCallBudget(ctx)
	for range 2 {
		if _, err := c.Do(free, get("/a")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Do(ctx, get("/b")); !model.IsCode(err, model.CodeUpstreamBudgetExceeded) {
		t.Errorf("err = %v, want the request's budget spent", err)
	}
	if got, want := providers.CallBudgetUsed(free), (providers.CallBudgetUsage{}); got != want {
		t.Errorf("CallBudgetUsed without a scope = %+v", got)
	}
	if got := u.calls.Load(); got != 3 {
		t.Errorf("%d calls, want 3", got)
	}
}
