package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// Close (what SIGTERM triggers) lets an in-flight request finish.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	k := klinkWorld(t, 3)
	pc := klinkProvider(k)
	pc.Threads = nil // no pollers: every upstream call the emulator counts is the query's
	g := MustStartGateway(t, newTestConfig(t, pc))
	k.SetLatency(400 * time.Millisecond)
	type result struct {
		resp gqlResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// Not g.query: its t.Fatalf must not run outside the test goroutine.
		body := `{"query":"query($ref: String!) { thread(provider: \"klink\", kind: ROOM, ref: $ref) { comments(first: 3) { nodes { text } } } }","variables":{"ref":"` + roomA + `"}}`
		r, err := http.Post(g.url+"/query", "application/json", strings.NewReader(body))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer r.Body.Close()
		out := gqlResponse{Status: r.StatusCode}
		err = json.NewDecoder(r.Body).Decode(&out)
		done <- result{resp: out, err: err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for k.Calls(klinktest.EndpointListComments) == 0 { // the query is now in flight upstream
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the upstream")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.app.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request never finished")
	}
	if res.err != nil {
		t.Fatalf("in-flight request: %v", res.err)
	}
	resp := res.resp
	if resp.Status != 200 || len(resp.Errors) != 0 {
		t.Fatalf("in-flight request: %d %+v", resp.Status, resp.Errors)
	}
	var out struct {
		Thread struct {
			Comments struct{ Nodes []struct{ Text string } }
		}
	}
	resp.decode(t, &out)
	if len(out.Thread.Comments.Nodes) != 3 {
		t.Errorf("got %d comments", len(out.Thread.Comments.Nodes))
	}
}

// panicky is a provider whose listing panics: no real adapter can be made to
// panic on purpose, and the gateway must survive one that does.
type panicky struct{ providers.Provider }

func (panicky) Info() *model.Provider {
	return &model.Provider{ID: "boom", Kind: model.ProviderKindKlink, Name: "Boom", Capabilities: []model.Capability{model.CapabilityListThreads}}
}

func (panicky) ListThreads(context.Context, providers.Page) (*providers.ThreadPage, error) {
	panic("secret detail: kpt_do_not_show")
}

func TestResolverPanicIsMaskedAsInternal(t *testing.T) {
	cfg := newTestConfig(t)
	g := MustStartGateway(t, cfg)
	reg := providers.NewRegistry(panicky{})
	g.app.useRegistry(reg)
	resp := g.query(`{ providers { id threads(first: 1) { nodes { id } } } }`, nil)
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "INTERNAL" || resp.Errors[0].Message != "internal error" {
		t.Fatalf("errors = %+v", resp.Errors)
	}
	if !strings.Contains(g.log.String(), "kpt_do_not_show") {
		t.Error("the panic's detail should be in the log")
	}
	// The process is alive and serves the next request.
	resp = g.query(`{ providers { id } }`, nil)
	resp.mustNoErrors(t)
}

// Close ends open subscriptions: an SSE stream is an ordinary active request
// that http.Server.Shutdown would otherwise wait on until its deadline.
func TestCloseEndsOpenSSESubscriptions(t *testing.T) {
	k := klinkWorld(t, 0)
	pc := klinkProvider(k)
	pc.Threads = nil
	g := MustStartGateway(t, newTestConfig(t, pc))
	req, _ := http.NewRequest(http.MethodPost, g.url+"/query", strings.NewReader(`{"query":"subscription { commentAdded { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitSubscribers(t, g, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := g.app.Close(ctx); err != nil {
		t.Fatalf("Close with an open SSE subscription: %v (it waited for the stream instead of ending it)", err)
	}
	// The stream ended with the protocol's complete event.
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "event: complete") {
		t.Errorf("stream ended without complete: %q", body)
	}
}
