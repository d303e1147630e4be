package events

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are a bus instance's counters since it started.
type Stats struct {
	// Published counts comments this instance put on the bus (for Redis: once
	// written to the stream).
	Published uint64
	// Delivered counts events handed to subscribers' channels on this instance.
	Delivered uint64
	// SlowConsumers counts subscriptions closed with ErrSlowConsumer.
	SlowConsumers uint64
	// Deduplicated counts PublishOnce calls dropped as already published.
	Deduplicated uint64
	// OutboxDepth is how many comments wait for Redis (always 0 in memory).
	OutboxDepth int
	// Subscribers is how many subscriptions are open on this instance.
	Subscribers int
}

// register exposes stats as Prometheus metrics labelled bus=kind.
func register(r prometheus.Registerer, kind string, stats func() Stats) error {
	if r == nil {
		return nil
	}
	labels := prometheus.Labels{"bus": kind}
	counter := func(name, help string, v func(Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "commentgraph", Subsystem: "events", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(v(stats())) })
	}
	gauge := func(name, help string, v func(Stats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "commentgraph", Subsystem: "events", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(v(stats())) })
	}
	for _, c := range []prometheus.Collector{
		counter("published_total", "Comments this instance put on the event bus.", func(s Stats) uint64 { return s.Published }),
		counter("delivered_total", "Events handed to subscribers on this instance.", func(s Stats) uint64 { return s.Delivered }),
		counter("slow_consumers_total", "Subscriptions closed because their buffer filled up.", func(s Stats) uint64 { return s.SlowConsumers }),
		counter("deduplicated_total", "PublishOnce calls dropped as already published.", func(s Stats) uint64 { return s.Deduplicated }),
		gauge("outbox_depth", "Comments waiting in process for Redis to come back.", func(s Stats) int { return s.OutboxDepth }),
		gauge("subscribers", "Open subscriptions on this instance.", func(s Stats) int { return s.Subscribers }),
	} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("events: register metrics: %w", err)
		}
	}
	return nil
}
