package cache

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// result of looking one reference up in the cache.
type result uint8

const (
	resultHit result = iota
	resultMiss
	resultNegativeHit
	// resultError: the cache could not be read (Redis failed, or the breaker
	// skipped it), so the reference was fetched upstream: a fail-open.
	resultError
	numResults
)

var resultNames = [numResults]string{"hit", "miss", "negative_hit", "error"}

// Stats are the cache's counters since New.
type Stats struct {
	// Hits are references answered from the cache.
	Hits uint64
	// NegativeHits are references the cache knew not to exist.
	NegativeHits uint64
	// Misses are references fetched upstream because the cache did not hold
	// them.
	Misses uint64
	// FailOpen are references fetched upstream because the cache could not
	// be read: Redis failed or was being skipped after a failure.
	FailOpen uint64
	// Errors are Redis calls that failed (timeout, connection refused, …).
	Errors uint64
}

// metrics counts in atomics and exposes them through a prometheus.Collector,
// so Stats works whether or not anything is registered.
type metrics struct {
	requests    [3][numResults]atomic.Uint64 // [user=0|room=1|thread=2][result]
	redisErrors atomic.Uint64
	redisUp     func() bool // nil: no Redis configured
	nearOn      func() bool // nil: no near copies of users and rooms
	nearDrops   atomic.Uint64

	requestsDesc *prometheus.Desc
	errorsDesc   *prometheus.Desc
	upDesc       *prometheus.Desc
	nearOnDesc   *prometheus.Desc
	dropsDesc    *prometheus.Desc
}

func newMetrics(redisUp func() bool) *metrics {
	return &metrics{
		redisUp: redisUp,
		requestsDesc: prometheus.NewDesc("commentgraph_cache_requests_total",
			"User, room and thread references looked up in the cache, by kind and result (error: the cache could not be read and the upstream answered).",
			[]string{"kind", "result"}, nil),
		errorsDesc: prometheus.NewDesc("commentgraph_cache_redis_errors_total",
			"Redis calls that failed or timed out.", nil, nil),
		upDesc: prometheus.NewDesc("commentgraph_cache_redis_up",
			"1 while the cache is using Redis, 0 while it skips a failing Redis.", nil, nil),
		nearOnDesc: prometheus.NewDesc("commentgraph_cache_near_listening",
			"1 while this instance hears the others' drops and so serves users and rooms from its own memory; 0 while it reads them from Redis.", nil, nil),
		dropsDesc: prometheus.NewDesc("commentgraph_cache_near_drops_total",
			"Drops announced by other instances (a refreshed or invalidated user or room) applied to this instance's copies.", nil, nil),
	}
}

func (m *metrics) count(k kind, r result, n int) {
	if n == 0 {
		return
	}
	m.requests[metricKind(k)][r].Add(uint64(n))
}

func metricKind(k kind) int {
	switch k {
	case kindRoom, kindLearnedRoom:
		return 1
	case kindThread:
		return 2
	}
	return 0
}

func (m *metrics) stats() Stats {
	sum := func(r result) uint64 {
		return m.requests[0][r].Load() + m.requests[1][r].Load() + m.requests[2][r].Load()
	}
	return Stats{
		Hits:         sum(resultHit),
		NegativeHits: sum(resultNegativeHit),
		Misses:       sum(resultMiss),
		FailOpen:     sum(resultError),
		Errors:       m.redisErrors.Load(),
	}
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.requestsDesc
	ch <- m.errorsDesc
	if m.redisUp != nil {
		ch <- m.upDesc
	}
	if m.nearOn != nil {
		ch <- m.nearOnDesc
		ch <- m.dropsDesc
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for ki, kn := range [3]string{"user", "room", "thread"} {
		for r := range numResults {
			ch <- prometheus.MustNewConstMetric(m.requestsDesc, prometheus.CounterValue,
				float64(m.requests[ki][r].Load()), kn, resultNames[r])
		}
	}
	ch <- prometheus.MustNewConstMetric(m.errorsDesc, prometheus.CounterValue, float64(m.redisErrors.Load()))
	if m.redisUp != nil {
		up := 0.0
		if m.redisUp() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(m.upDesc, prometheus.GaugeValue, up)
	}
	if m.nearOn != nil {
		on := 0.0
		if m.nearOn() {
			on = 1
		}
		ch <- prometheus.MustNewConstMetric(m.nearOnDesc, prometheus.GaugeValue, on)
		ch <- prometheus.MustNewConstMetric(m.dropsDesc, prometheus.CounterValue, float64(m.nearDrops.Load()))
	}
}
