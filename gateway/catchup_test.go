package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// A catch-up after Virola's event stream reconnects keeps to
// events.catchUp; what it leaves out is counted in
// commentgraph_catchup_dropped_total and logged (WARN, with the counts).
func TestCatchUpDroppedIsCountedAndLogged(t *testing.T) {
	v := virolatest.NewServer(virolatest.Options{})
	t.Cleanup(v.Close)
	room := v.AddRoom(virolatest.Room{Name: "General"})
	parent, err := v.AddMessage(virolatest.Message{RoomID: room.ID, Text: "Plan"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := newTestConfig(t, config.Provider{ID: "vir", Kind: "virola", BaseURL: v.URL, Token: virolatest.DefaultToken})
	cfg.Events.CatchUp.Comments = 1
	g := MustStartGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := v.WaitStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}

	// Cut the stream and keep it out while three comments are posted.
	v.FailNext("GET /api/v1/events", virolatest.Fault{Status: 503, Times: 1 << 30})
	v.DropStreams()
	if err := v.WaitStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := v.AddComment(parent, virolatest.Message{Text: fmt.Sprint("missed ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	v.ClearFaults()

	const series = `commentgraph_catchup_dropped_total{provider="vir",what="comments"} 2`
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		_, body := get(t, g.url+"/metrics")
		if strings.Contains(body, series) {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("/metrics never showed %s:\n%s", series, grepLines(body, "catchup"))
		}
	}
	logs := g.log.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "commentsDropped=2") || !strings.Contains(logs, "provider=vir") {
		t.Fatalf("no WARN with the provider and counts:\n%s", logs)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
