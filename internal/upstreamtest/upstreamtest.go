// Package upstreamtest is the plumbing the upstream emulators (klinktest,
// virolatest, aelysttest, ziiktest) share: per-endpoint call counters, latency
// added to every request, and faults injected in place of the real answers.
//
// An emulator embeds a Recorder in its Server, so that Calls, TotalCalls,
// ResetCalls, SetLatency, FailNext and ClearFaults are the Server's own
// methods, and starts every handler with Enter (or Begin and then Call.Play,
// when it has work to do in between), giving it the endpoint its router
// resolved, "METHOD /route/template" as the provider's docs name it. What
// comes after (auth, rate limits, the handler) stays the emulator's.
//
// Nothing here depends on package testing: demo mode runs on the emulators.
package upstreamtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is an answer injected in place of the real one (see Recorder.FailNext).
// The zero Fault answers the next call normally, once.
type Fault struct {
	// Status is the HTTP status answered after Delay. 0: after Delay, the
	// request is served normally.
	Status int
	// Body is written as is (it may be garbage). Empty: what the emulator's
	// Options.WriteFault makes of it; WriteFault writes no body.
	Body string
	// Header is added to the answer. Nil: nothing is added.
	Header http.Header
	// Delay holds the answer back, to simulate a slow or hung upstream; it
	// ends early, with no answer, when the client gives up. 0: no delay.
	Delay time.Duration
	// Times is how many calls the fault answers. 0 (or negative): once.
	Times int
}

// Recorder counts calls per endpoint, holds the latency added to every call
// and queues the faults to inject. Endpoints are opaque names to it; the
// emulators use "METHOD /route/template".
//
// The zero value is ready to use: no calls counted, no latency, no faults. A
// Recorder is safe for concurrent use; it must not be copied after first use.
type Recorder struct {
	mu      sync.Mutex
	latency time.Duration
	calls   map[string]int // nil until the first call
	total   int
	faults  map[string][]*Fault // nil until the first FailNext
	conns   int                 // TCP connections accepted, counted by ConnState
}

// ConnState is an http.Server ConnState hook that counts the connections the
// server accepts: an emulator sets it so tests can tell whether a client
// reuses its keep-alive connections or dials one per call.
func (rec *Recorder) ConnState(_ net.Conn, state http.ConnState) {
	if state != http.StateNew {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.conns++
}

// Connections is how many TCP connections the server has accepted since it
// started (ResetCalls leaves it).
func (rec *Recorder) Connections() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.conns
}

// Calls is how many requests endpoint has received since the start or the
// last ResetCalls. An endpoint never called: 0.
func (rec *Recorder) Calls(endpoint string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.calls[endpoint]
}

// TotalCalls is how many requests all endpoints together have received since
// the start or the last ResetCalls.
func (rec *Recorder) TotalCalls() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.total
}

// ResetCalls sets every call counter to zero. Faults and latency stay.
func (rec *Recorder) ResetCalls() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.calls = nil
	rec.total = 0
}

// SetLatency changes the delay added to every request from now on. 0 (or
// negative): none.
func (rec *Recorder) SetLatency(d time.Duration) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.latency = d
}

// FailNext makes the next calls to endpoint answer f instead (f.Times of them;
// 0 means one). Faults for one endpoint queue up in the order given: the
// second starts once the first is used up.
func (rec *Recorder) FailNext(endpoint string, f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.faults == nil {
		rec.faults = make(map[string][]*Fault)
	}
	rec.faults[endpoint] = append(rec.faults[endpoint], &f)
}

// ClearFaults drops every fault not yet used up, on every endpoint.
func (rec *Recorder) ClearFaults() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.faults = nil
}

// Call is what Begin took for one request: the latency in force and the fault
// due, if any. The zero Call plays nothing and lets the request through.
type Call struct {
	// Latency is waited before anything else. 0: none.
	Latency time.Duration
	// Fault is the fault this call plays, a copy. Nil: none was due.
	Fault *Fault
}

// Begin counts a request to endpoint on rec and takes the fault due for it (a
// queued fault with Times left loses one; used up, it leaves the queue), in
// one step. Play the returned Call to wait and answer.
func Begin(rec *Recorder, endpoint string) Call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.calls == nil {
		rec.calls = make(map[string]int)
	}
	rec.calls[endpoint]++
	rec.total++
	c := Call{Latency: rec.latency}
	if q := rec.faults[endpoint]; len(q) > 0 {
		f := *q[0]
		c.Fault = &f
		if q[0].Times--; q[0].Times <= 0 {
			rec.faults[endpoint] = q[1:]
		}
	}
	return c
}

// Options adapts Play and Enter to one emulator. The zero value is the plain
// behaviour: faults written by WriteFault, waits ended only by the request's
// context.
type Options struct {
	// WriteFault writes the answer of a fault whose Status is not 0, for
	// emulators with an error body or headers of their own. Nil: WriteFault.
	WriteFault func(w http.ResponseWriter, f Fault)
	// Done, once closed, ends every wait as if the client had gone, so that a
	// server shutting down abandons delayed answers. Nil: never.
	Done <-chan struct{}
}

// Play waits c.Latency, then the fault's Delay, then, if the fault has a
// Status, writes its answer with o.WriteFault. It reports whether the caller
// should go on and serve the request normally: false when the fault answered
// or a wait ended early (the client gave up or o.Done closed; nothing is
// written then).
func (c Call) Play(w http.ResponseWriter, r *http.Request, o Options) bool {
	if !Wait(r.Context(), c.Latency, o.Done) {
		return false
	}
	if c.Fault == nil {
		return true
	}
	if !Wait(r.Context(), c.Fault.Delay, o.Done) {
		return false
	}
	if c.Fault.Status == 0 {
		return true
	}
	write := o.WriteFault
	if write == nil {
		write = WriteFault
	}
	write(w, *c.Fault)
	return false
}

// Enter is Begin then Play: the first step of an emulator's handler for
// endpoint. It reports whether the handler should go on.
func Enter(rec *Recorder, w http.ResponseWriter, r *http.Request, endpoint string, o Options) bool {
	return Begin(rec, endpoint).Play(w, r, o)
}

// WriteFault writes f as is: f.Header added to w's, f.Status, then f.Body.
// It sets no Content-Type of its own (net/http sniffs one from a non-empty
// Body when f.Header has none).
func WriteFault(w http.ResponseWriter, f Fault) {
	for k, vs := range f.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
}

// Wait sleeps for d unless ctx ends or done closes first, and reports whether
// it slept the whole d. d <= 0 returns true at once; a nil done never closes.
func Wait(ctx context.Context, d time.Duration, done <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-done:
		return false
	}
}

// WriteJSON answers status with v as JSON (encoding/json, a newline after,
// HTML characters escaped only when escapeHTML) under contentType, in one
// write with a Content-Length: a page of comments is larger than net/http's
// 4 KiB response buffer, and streaming it chunked costs a write per 4 KiB on
// both ends, which the benchmark's load generator and gateway share cores with.
// A value that cannot be encoded answers 500.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any, escapeHTML bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "emulator: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
