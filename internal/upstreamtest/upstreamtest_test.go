package upstreamtest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/internal/upstreamtest"
)

const (
	epList   = "GET /rooms/{roomId}/messages"
	epCreate = "POST /rooms/{roomId}/messages"
)

// serve plays one request to endpoint through Enter and, when Enter lets it
// through, answers 200 "ok".
func serve(rec *upstreamtest.Recorder, endpoint string, o upstreamtest.Options) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if upstreamtest.Enter(rec, w, r, endpoint, o) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.WriteString("ok")
	}
	return w
}

func TestZeroRecorder(t *testing.T) {
	var rec upstreamtest.Recorder
	if n := rec.Calls(epList); n != 0 {
		t.Errorf("Calls = %d, want 0", n)
	}
	if n := rec.TotalCalls(); n != 0 {
		t.Errorf("TotalCalls = %d, want 0", n)
	}
	rec.ResetCalls()
	rec.ClearFaults()
	if w := serve(&rec, epList, upstreamtest.Options{}); w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Errorf("zero Recorder answered %d %q, want 200 ok", w.Code, w.Body)
	}
}

func TestCounting(t *testing.T) {
	tests := []struct {
		name             string
		calls            []string
		reset            bool // ResetCalls after the calls
		wantList, wantCr int
		wantTotal        int
	}{
		{name: "none"},
		{name: "one endpoint", calls: []string{epList, epList, epList}, wantList: 3, wantTotal: 3},
		{name: "two endpoints", calls: []string{epList, epCreate, epList}, wantList: 2, wantCr: 1, wantTotal: 3},
		{name: "unknown endpoints count in the total", calls: []string{"GET /nope", epCreate}, wantCr: 1, wantTotal: 2},
		{name: "reset", calls: []string{epList, epCreate}, reset: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec upstreamtest.Recorder
			for _, ep := range tt.calls {
				serve(&rec, ep, upstreamtest.Options{})
			}
			if tt.reset {
				rec.ResetCalls()
			}
			if got := rec.Calls(epList); got != tt.wantList {
				t.Errorf("Calls(list) = %d, want %d", got, tt.wantList)
			}
			if got := rec.Calls(epCreate); got != tt.wantCr {
				t.Errorf("Calls(create) = %d, want %d", got, tt.wantCr)
			}
			if got := rec.TotalCalls(); got != tt.wantTotal {
				t.Errorf("TotalCalls = %d, want %d", got, tt.wantTotal)
			}
		})
	}
}

func TestFaultQueue(t *testing.T) {
	tests := []struct {
		name   string
		faults []upstreamtest.Fault
		want   []int // statuses of successive calls to epList
	}{
		{name: "no fault", want: []int{200, 200}},
		{name: "Times 0 is once", faults: []upstreamtest.Fault{{Status: 503}}, want: []int{503, 200}},
		{name: "negative Times is once", faults: []upstreamtest.Fault{{Status: 503, Times: -4}}, want: []int{503, 200}},
		{name: "Times 3", faults: []upstreamtest.Fault{{Status: 500, Times: 3}}, want: []int{500, 500, 500, 200}},
		{name: "queued in order", faults: []upstreamtest.Fault{{Status: 429, Times: 2}, {Status: 502}}, want: []int{429, 429, 502, 200}},
		{name: "Status 0 answers normally", faults: []upstreamtest.Fault{{}, {Status: 500}}, want: []int{200, 500, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec upstreamtest.Recorder
			for _, f := range tt.faults {
				rec.FailNext(epList, f)
			}
			for i, want := range tt.want {
				if got := serve(&rec, epList, upstreamtest.Options{}).Code; got != want {
					t.Errorf("call %d: status %d, want %d", i+1, got, want)
				}
			}
			if got := serve(&rec, epCreate, upstreamtest.Options{}).Code; got != 200 {
				t.Errorf("other endpoint: status %d, want 200", got)
			}
		})
	}
}

func TestClearFaults(t *testing.T) {
	var rec upstreamtest.Recorder
	rec.FailNext(epList, upstreamtest.Fault{Status: 500, Times: 5})
	rec.FailNext(epCreate, upstreamtest.Fault{Status: 500})
	serve(&rec, epList, upstreamtest.Options{})
	rec.ClearFaults()
	for _, ep := range []string{epList, epCreate} {
		if got := serve(&rec, ep, upstreamtest.Options{}).Code; got != 200 {
			t.Errorf("%s after ClearFaults: %d, want 200", ep, got)
		}
	}
	if got := rec.Calls(epList); got != 2 {
		t.Errorf("ClearFaults touched the counters: Calls = %d, want 2", got)
	}
}

func TestWriteFault(t *testing.T) {
	custom := func(w http.ResponseWriter, f upstreamtest.Fault) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = fmt.Fprintf(w, `{"status":%d}`, f.Status)
	}
	tests := []struct {
		name      string
		fault     upstreamtest.Fault
		write     func(http.ResponseWriter, upstreamtest.Fault)
		wantBody  string
		wantHdr   string // Retry-After
		wantCType string
	}{
		{name: "as is", fault: upstreamtest.Fault{Status: 429, Body: "{garbage", Header: http.Header{"Retry-After": {"7"}}}, wantBody: "{garbage", wantHdr: "7"},
		{name: "empty body", fault: upstreamtest.Fault{Status: 500}},
		{name: "custom writer", fault: upstreamtest.Fault{Status: 418, Body: "ignored"}, write: custom, wantBody: `{"status":418}`, wantCType: "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec upstreamtest.Recorder
			rec.FailNext(epList, tt.fault)
			w := serve(&rec, epList, upstreamtest.Options{WriteFault: tt.write})
			if w.Code != tt.fault.Status || w.Body.String() != tt.wantBody {
				t.Errorf("answer %d %q, want %d %q", w.Code, w.Body, tt.fault.Status, tt.wantBody)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantHdr {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantHdr)
			}
			if got := w.Header().Get("Content-Type"); got != tt.wantCType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantCType)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	const long = time.Minute
	tests := []struct {
		name    string
		fault   *upstreamtest.Fault
		latency time.Duration
		cancel  bool // the client gives up after 20 ms
		done    bool // Options.Done closes after 20 ms
		want    bool // Enter lets the request through
		wantMin time.Duration
	}{
		{name: "Delay then normal answer", fault: &upstreamtest.Fault{Delay: 30 * time.Millisecond}, want: true, wantMin: 30 * time.Millisecond},
		{name: "latency then normal answer", latency: 30 * time.Millisecond, want: true, wantMin: 30 * time.Millisecond},
		{name: "latency and Delay add up", latency: 20 * time.Millisecond, fault: &upstreamtest.Fault{Delay: 20 * time.Millisecond, Status: 503}, wantMin: 40 * time.Millisecond},
		{name: "client gives up during Delay", fault: &upstreamtest.Fault{Delay: long, Status: 200}, cancel: true},
		{name: "client gives up during latency", latency: long, cancel: true},
		{name: "Done ends Delay", fault: &upstreamtest.Fault{Delay: long}, done: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec upstreamtest.Recorder
			rec.SetLatency(tt.latency)
			if tt.fault != nil {
				rec.FailNext(epList, *tt.fault)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			if tt.cancel {
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			if tt.done {
				time.AfterFunc(20*time.Millisecond, func() { close(done) })
			}
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
			start := time.Now()
			got := upstreamtest.Enter(&rec, w, r, epList, upstreamtest.Options{Done: done})
			took := time.Since(start)
			if got != tt.want {
				t.Errorf("Enter = %v, want %v", got, tt.want)
			}
			if took < tt.wantMin || took > 10*time.Second {
				t.Errorf("took %v, want at least %v and well under %v", took, tt.wantMin, long)
			}
			if (tt.cancel || tt.done) && (w.Code != 200 || w.Body.Len() != 0 || w.Flushed) {
				t.Errorf("an abandoned request was answered: %d %q", w.Code, w.Body)
			}
		})
	}
}

func TestWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if !upstreamtest.Wait(ctx, 0, nil) {
		t.Error("Wait(0) on a done context = false, want true")
	}
	if upstreamtest.Wait(ctx, time.Minute, nil) {
		t.Error("Wait on a done context = true, want false")
	}
	if !upstreamtest.Wait(context.Background(), time.Millisecond, nil) {
		t.Error("Wait(1ms) = false, want true")
	}
}

// TestConcurrent runs under -race: every call is counted and a fault answers
// exactly its Times, however the calls interleave.
func TestConcurrent(t *testing.T) {
	const workers, each, faults = 8, 50, 30
	var rec upstreamtest.Recorder
	rec.FailNext(epList, upstreamtest.Fault{Status: 500, Times: faults})
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	stop := make(chan struct{})
	side := make(chan struct{})
	go func() { // readers and writers of the other settings meanwhile
		defer close(side)
		for {
			select {
			case <-stop:
				return
			default:
			}
			rec.SetLatency(0)
			rec.FailNext(epCreate, upstreamtest.Fault{Status: 503})
			_ = rec.Calls(epList) + rec.TotalCalls()
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if serve(&rec, epList, upstreamtest.Options{}).Code == 500 {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-side
	if got := rec.Calls(epList); got != workers*each {
		t.Errorf("Calls = %d, want %d", got, workers*each)
	}
	if got := rec.TotalCalls(); got != workers*each {
		t.Errorf("TotalCalls = %d, want %d", got, workers*each)
	}
	if failed != faults {
		t.Errorf("%d calls failed, want %d", failed, faults)
	}
}

// TestConcurrentMixed runs every method at once, for -race to check.
func TestConcurrentMixed(t *testing.T) {
	var rec upstreamtest.Recorder
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				switch i {
				case 0:
					rec.ResetCalls()
				case 1:
					rec.ClearFaults()
				case 2:
					rec.FailNext(epList, upstreamtest.Fault{Status: 500, Times: 2})
				case 3:
					rec.SetLatency(time.Microsecond)
				case 4:
					_ = rec.Calls(epList) + rec.TotalCalls()
				default:
					serve(&rec, epList, upstreamtest.Options{})
				}
			}
		}()
	}
	wg.Wait()
}

// WriteJSON answers in one piece with its length, as encoding/json's Encoder
// would write the value, HTML escaped only when asked.
func TestWriteJSON(t *testing.T) {
	big := strings.Repeat("é<x>", 4<<10) // larger than net/http's response buffer
	for _, tt := range []struct {
		escape bool
		want   string
	}{
		{false, `{"text":"` + big + `"}` + "\n"},
		{true, `{"text":"` + strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(big) + `"}` + "\n"},
	} {
		t.Run(fmt.Sprint("escapeHTML=", tt.escape), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				upstreamtest.WriteJSON(w, http.StatusCreated, "application/json; charset=utf-8", map[string]string{"text": big}, tt.escape)
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
				t.Errorf("Content-Length %d, Transfer-Encoding %v for a %d-byte body: want it in one piece", resp.ContentLength, resp.TransferEncoding, len(body))
			}
			if string(body) != tt.want {
				t.Errorf("body %.80q…, want %.80q…", body, tt.want)
			}
		})
	}
}
