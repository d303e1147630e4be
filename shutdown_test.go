package main

import (
	"context"
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
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	k.SetLatency(400 * time.Millisecond)
	done := make(chan gqlResponse, 1)
	go func() {
		done <- g.query(`query($ref: String!) { thread(provider: "klink", kind: ROOM, ref: $ref) { comments(first: 3) { nodes { text } } } }`, map[string]any{"ref": roomA})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for k.Calls(klinktest.EndpointListComments) == 0 { // the request is now in flight upstream
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
	resp := <-done
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
	g.app.registry, g.app.resolver.Providers = reg, reg
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
