package gateway

import (
	"net/http"
)

// upstreamClient is the HTTP client every adapter uses: each call bounded by
// the upstream timeout, under the request budget, over one shared pool of
// keep-alive connections (see newUpstreamTransport). The transport is the
// *http.Transport itself, not a wrapper: with Timeout set, net/http runs a
// goroutine and a timer per call for any other RoundTripper. Only with
// tracing on is it wrapped, to make each call a client span and send its
// traceparent upstream (telemetry.Tracing.Transport); that path pays for the
// goroutine and timer too.
func (a *App) upstreamClient() *http.Client {
	var rt http.RoundTripper = a.upstream
	if t := a.tracing(); t != nil {
		rt = t.Transport(a.upstream)
	}
	return &http.Client{Timeout: a.cfg.Limits.UpstreamTimeout.D(), Transport: rt}
}

// upstreamReadBuffer is each upstream connection's read buffer. A page of
// comments is 10-30 KB; through Go's default 4 KiB buffer it costs a read(2)
// per 4 KiB.
const upstreamReadBuffer = 32 << 10

// newUpstreamTransport is Go's default transport (proxy from the environment,
// dial and TLS timeouts, HTTP/2) keeping idlePerHost idle connections per
// upstream host instead of 2, each reading through upstreamReadBuffer. A page
// of comments calls each of its threads' upstreams at once, so with 2 idle
// connections concurrent queries dial and close a TCP (and TLS) connection
// for most calls.
func newUpstreamTransport(idlePerHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = idlePerHost
	t.MaxIdleConns = 0 // no bound across hosts: the per-host bound is what matters
	t.ReadBufferSize = upstreamReadBuffer
	// The transport sets up HTTP/2 on first use, writing TLSClientConfig;
	// adapters read that config to dial their event sockets (Virola's
	// dialer), so do it now, before the transport is shared.
	t.CloseIdleConnections()
	return t
}
