package gateway

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/commentgraph/commentgraph/providers"
)

// metrics is the gateway's own Prometheus registry (no global state, so two
// gateways in one test process do not collide). Labels never carry secrets,
// IDs or paths with IDs: endpoints are route templates.
type metrics struct {
	reg          *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	gqlErrors    *prometheus.CounterVec
	upstream     *prometheus.CounterVec
	upstreamDur  *prometheus.HistogramVec
	queryOwn     prometheus.Histogram
	subscribers  prometheus.Gauge
	webhooks     *prometheus.CounterVec
	healthy      *prometheus.GaugeVec
	catchUpDrop  *prometheus.CounterVec

	mu     sync.RWMutex
	health map[string]bool

	// telemetry is the rest of what the gateway tells about itself: traces
	// and the access log (telemetry.go).
	telemetry telemetryState
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentgraph_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "commentgraph_http_request_duration_seconds", Help: "HTTP request latency by route (not subscriptions).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		gqlErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentgraph_graphql_errors_total", Help: "GraphQL errors by extensions.code.",
		}, []string{"code"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentgraph_upstream_requests_total", Help: "Upstream calls by provider instance, endpoint template and status (0: no answer).",
		}, []string{"provider", "method", "endpoint", "status"}),
		upstreamDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "commentgraph_upstream_request_duration_seconds", Help: "Upstream call latency by provider instance.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"provider"}),
		queryOwn: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "commentgraph_query_own_duration_seconds",
			Help: "Time a /query request (not a subscription) spent with no upstream call in flight: the gateway's own share of its latency (parsing, cache and Redis, merging, encoding).",
			// Fine below 2 ms, where a warm page's own time is, so a
			// quantile read from them moves with a 0.1 ms change.
			Buckets: []float64{.0001, .0002, .0003, .0004, .0005, .0006, .0007, .0008, .0009, .001, .0011, .0012, .0013, .0014, .0015, .0016, .0018, .002, .0025, .003, .004, .005, .0075, .01, .025, .05, .1, .25, 1},
		}),
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "commentgraph_subscriptions_active", Help: "Open subscriptions (commentAdded, commentEvents) on this instance.",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentgraph_webhooks_total", Help: "Webhook deliveries by provider instance and result.",
		}, []string{"provider", "result"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "commentgraph_provider_healthy", Help: "1 while the provider's last call succeeded (not 5xx, not unreachable).",
		}, []string{"provider"}),
		catchUpDrop: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentgraph_catchup_dropped_total",
			Help: "What catch-ups after an event stream reconnect left out (events.catchUp), by provider instance and what: rooms not read, rooms read only to the messages bound (messages), threads whose comments were not read, comments not emitted, reads that failed.",
		}, []string{"provider", "what"}),
		health: map[string]bool{},
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.gqlErrors, m.upstream, m.upstreamDur, m.queryOwn, m.subscribers, m.webhooks, m.healthy, m.catchUpDrop,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// onCall records an upstream call and the provider's health: a provider is
// unhealthy while its last answer was a 5xx or no answer at all (a 4xx is the
// request's fault, not the provider's).
func (m *metrics) onCall(c providers.CallInfo) {
	status := strconv.Itoa(c.Status)
	m.upstream.WithLabelValues(c.Provider, c.Method, c.Endpoint, status).Inc()
	m.upstreamDur.WithLabelValues(c.Provider).Observe(c.Duration.Seconds())
	ok := c.Status != 0 && c.Status < 500
	m.mu.Lock()
	m.health[c.Provider] = ok
	m.mu.Unlock()
	v := 0.0
	if ok {
		v = 1
	}
	m.healthy.WithLabelValues(c.Provider).Set(v)
}

// onCatchUpDropped counts what one catch-up left out; the adapter has logged
// it (WARN, with the counts).
func (m *metrics) onCatchUpDropped(provider string, d providers.CatchUpDropped) {
	for _, c := range []struct {
		what string
		n    int
	}{{"rooms", d.Rooms}, {"messages", d.Messages}, {"threads", d.Threads}, {"comments", d.Comments}, {"failed", d.Failed}} {
		if c.n > 0 {
			m.catchUpDrop.WithLabelValues(provider, c.what).Add(float64(c.n))
		}
	}
}

// isHealthy reports a provider's health; one never called yet is healthy.
func (m *metrics) isHealthy(provider string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ok, seen := m.health[provider]
	return !seen || ok
}

func (m *metrics) observeHTTP(route string, code int, d time.Duration, streaming bool) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	if !streaming {
		m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
	}
}
