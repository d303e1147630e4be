package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkLoopbackRoundTrip measures what no gateway can take off a page's
// latency on this machine: one HTTP request over loopback to a route that
// does no work, the gateway's GET /healthz in its own process, beside the
// Virola emulator's GET /api/v1/status in this one. Requests go one at a
// time, back to back (gap=0) or after an idle gap like a query's wait on a
// 10 ms upstream (gap=10ms), when both ends have parked their threads.
//
//	p50_ms, p99_ms  one request's latency
//
// A query through the gateway pays one such trip more than the latency floor
// (BenchmarkComments50's direct), whose client and emulators share this
// process.
func BenchmarkLoopbackRoundTrip(b *testing.B) {
	bin, w := mustSetUp(b, false)
	g := mustStartGateway(b, bin, w, gatewayConfig{}, false)
	targets := []struct{ name, url, token string }{
		{"gateway-healthz", g.URL + "/healthz", ""},
		{"emulator-status", w.Virola.URL + "/api/v1/status", w.Virola.Token()},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, gap := range []time.Duration{0, 10 * time.Millisecond} {
		b.Run("gap="+fmtMillis(gap), func(b *testing.B) {
			for _, tg := range targets {
				b.Run(tg.name, func(b *testing.B) {
					get := func() (time.Duration, error) {
						req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, tg.url, nil)
						if err != nil {
							return 0, err
						}
						if tg.token != "" {
							req.Header.Set("Authorization", "Bearer "+tg.token)
						}
						start := time.Now()
						res, err := client.Do(req)
						if err != nil {
							return 0, err
						}
						_, err = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if err == nil && res.StatusCode != http.StatusOK {
							err = fmt.Errorf("%s: %s", tg.url, res.Status)
						}
						return time.Since(start), err
					}
					for range 20 { // open the connection, warm both ends
						if _, err := get(); err != nil {
							b.Fatal(err)
						}
					}
					lat := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for range b.N {
						time.Sleep(gap) // the idle time before the request: in ns/op, not in p50_ms
						d, err := get()
						if err != nil {
							b.Fatal(err)
						}
						lat = append(lat, d)
					}
					b.StopTimer()
					b.ReportMetric(millis(percentile(lat, 50)), "p50_ms")
					b.ReportMetric(millis(percentile(lat, 99)), "p99_ms")
				})
			}
		})
	}
}
