package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// Two gateway instances on a Redis Cluster of three masters, one configured
// by addresses and one by URL: a subscriber on A receives, once and in
// order, comments that reach B by mutation, by signed webhook (through the
// Aelyst journal) and by the Virola event stream (which both instances
// follow); a clientMutationId sent to both instances creates one comment.
func TestTwoInstancesOnARedisCluster(t *testing.T) {
	cl := redistest.MustStartCluster(t)
	w := newSharedWorld(t)
	cfgA, cfgB := w.config(t, ""), w.config(t, "")
	cfgA.Redis = config.Redis{Addrs: cl.Addrs, Cluster: true}
	cfgB.Redis = config.Redis{URL: cl.URL, Cluster: true}
	for _, c := range []*config.Config{cfgA, cfgB} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	a, b := MustStartGateway(t, cfgA), MustStartGateway(t, cfgB)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := w.virola.WaitStreams(ctx, 2); err != nil {
		t.Fatalf("both instances should follow Virola's events: %v", err)
	}
	live := subscribeWS(t, a, "")

	createKlinkComment(t, b, "1 by mutation on B")
	w.aelyst.SetWebhook(b.url+"/webhooks/aelyst", "whsec-aelyst")
	w.aelyst.AddComment(aelysttest.Comment{ContactID: 1817, Text: "2 by webhook to B", AuthorID: 42})
	if ev := next(t, live); ev.Text != "1 by mutation on B" {
		t.Fatalf("first delivery %+v", ev)
	}
	if ev := next(t, live); ev.Text != "2 by webhook to B" || ev.Source != "aelyst" {
		t.Fatalf("second delivery %+v", ev)
	}
	if _, err := w.virola.AddComment(w.parent, virolatest.Message{UserID: 3, Text: "3 by the Virola stream"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, live); ev.Text != "3 by the Virola stream" || ev.EventID == "" {
		t.Fatalf("third delivery %+v", ev)
	}

	post := func(g *gateway) string {
		t.Helper()
		resp := g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`,
			map[string]any{"in": map[string]any{"thread": model.ThreadID("klink", model.ThreadKindRoom, roomB), "text": "4 sent twice", "clientMutationId": "m-cluster"}})
		resp.mustNoErrors(t)
		var out struct {
			CreateComment struct{ Comment struct{ ID string } } `json:"createComment"`
		}
		resp.decode(t, &out)
		return out.CreateComment.Comment.ID
	}
	if first, again := post(a), post(b); first == "" || first != again {
		t.Fatalf("clientMutationId on A then B: comments %q and %q, want one", first, again)
	}
	createKlinkComment(t, b, "5 marker")
	for _, want := range []string{"4 sent twice", "5 marker"} {
		if ev := next(t, live); ev.Text != want {
			t.Fatalf("got %+v, want %q", ev, want)
		}
	}
	select {
	case ev := <-live:
		t.Errorf("extra delivery %+v", ev)
	default:
	}
}
