package events_test

import (
	"testing"

	"github.com/commentgraph/commentgraph/events"
)

// BenchmarkFanout10k publishes one event to 10,000 idle subscribers of the
// same thread: the cost of Publish's fan-out loop (readers are drained
// between iterations, outside the timer).
func BenchmarkFanout10k(b *testing.B) {
	bus, err := events.NewMemory(events.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	subs := make([]*events.Subscription, 10_000)
	for i := range subs {
		if subs[i], err = bus.Subscribe(b.Context(), events.Filter{Threads: []string{threadID("klink", "r1")}}, ""); err != nil {
			b.Fatal(err)
		}
	}
	c := comment("klink", "r1", 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bus.Publish(b.Context(), c); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		for _, s := range subs {
			<-s.C
		}
		b.StartTimer()
	}
}
