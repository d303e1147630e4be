package events_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/commentgraph/commentgraph/events"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	b, err := events.NewMemory(events.Options{Registerer: reg, Buffer: 1, MaxLag: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()
	reader, err := b.Subscribe(ctx, events.Filter{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(ctx, events.Filter{}, ""); err != nil { // never reads
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		if _, err := b.Publish(ctx, comment("klink", "r1", n)); err != nil {
			t.Fatal(err)
		}
		receive(t, reader, 1)
	}
	if _, ok, err := b.PublishOnce(ctx, "k", comment("klink", "r1", 4)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	receive(t, reader, 1)
	if _, ok, err := b.PublishOnce(ctx, "k", comment("klink", "r1", 4)); err != nil || ok {
		t.Fatal(ok, err)
	}
	want := map[string]float64{
		"commentgraph_events_published_total":      4,
		"commentgraph_events_delivered_total":      5, // 4 to the reader, 1 to the other before it filled
		"commentgraph_events_slow_consumers_total": 1,
		"commentgraph_events_deduplicated_total":   1,
		"commentgraph_events_outbox_depth":         0,
		"commentgraph_events_subscribers":          1,
	}
	for name, v := range want {
		t.Run(name, func(t *testing.T) {
			got, err := testutil.GatherAndCount(reg, name)
			if err != nil || got != 1 {
				t.Fatalf("%s: %d series, err %v", name, got, err)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if mf.GetName() != name {
					continue
				}
				m := mf.GetMetric()[0]
				val := m.GetCounter().GetValue() + m.GetGauge().GetValue()
				if val != v || m.GetLabel()[0].GetValue() != "memory" {
					t.Fatalf("%s = %v %v, want %v{bus=memory}", name, val, m.GetLabel(), v)
				}
			}
		})
	}
	// A second bus in the same registry is refused, not silently unmetered.
	if _, err := events.NewMemory(events.Options{Registerer: reg}); err == nil {
		t.Fatal("a second bus registered the same metrics")
	}
}
