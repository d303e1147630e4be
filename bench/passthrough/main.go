// Command passthrough is the least any gateway can do for the benchmark's
// 50-comment query, as a separate process the way commentgraph runs: on each
// POST /query it makes the same upstream list calls commentgraph makes, all
// at once, reads their bodies, and answers a page commentgraph wrote
// earlier, byte for byte. No GraphQL, no decoding, no cache, no merge.
//
// BenchmarkComments50OverPassthrough runs it beside the real gateway: the
// pass-through's p50 over the direct floor is what the extra process and
// the client's trip to it cost on the machine, whatever the gateway does;
// the gateway's p50 over the pass-through's is what commentgraph's own work
// adds to that.
//
// Usage:
//
//	passthrough -listen 127.0.0.1:8081 -calls calls.json -answer page.json
//
// calls.json is a JSON array of {"url": ..., "authorization": ...}, one per
// upstream call of a query; page.json is the answer, sent with the same
// headers as commentgraph's (Content-Type and Content-Length).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// call is one upstream request of a query.
type call struct {
	URL           string `json:"url"`
	Authorization string `json:"authorization"`
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), os.Args[1:]); err != nil {
		log.Error("passthrough", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("passthrough", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	callsPath := fs.String("calls", "", "JSON file: the upstream calls of one query")
	answerPath := fs.String("answer", "", "file: the page to answer every query with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	calls, answer, err := load(*callsPath, *answerPath)
	if err != nil {
		return err
	}
	h := &handler{
		// The gateway's upstream client settings (app.go): a pool as large as
		// its default limits.upstreamIdleConns, and a whole-call timeout.
		client: &http.Client{Timeout: 8 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
		calls:  calls,
		answer: answer,
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h.routes(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

func load(callsPath, answerPath string) ([]call, []byte, error) {
	raw, err := os.ReadFile(callsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("-calls: %w", err)
	}
	var calls []call
	if err := json.Unmarshal(raw, &calls); err != nil {
		return nil, nil, fmt.Errorf("-calls %s: %w", callsPath, err)
	}
	if len(calls) == 0 {
		return nil, nil, fmt.Errorf("-calls %s: no calls", callsPath)
	}
	answer, err := os.ReadFile(answerPath)
	if err != nil {
		return nil, nil, fmt.Errorf("-answer: %w", err)
	}
	return calls, answer, nil
}

type handler struct {
	client *http.Client
	calls  []call
	answer []byte
}

func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("POST /query", h.query)
	return mux
}

// query reads the request as the gateway does (all of it), makes the calls
// at once and answers the page; a failed call answers 502, so the benchmark
// never times a pass-through that skipped its upstream wait.
func (h *handler) query(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20)); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	errs := make([]error, len(h.calls))
	var wg sync.WaitGroup
	for i, c := range h.calls {
		wg.Go(func() { errs[i] = h.get(r.Context(), c) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/graphql-response+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(h.answer)))
	_, _ = w.Write(h.answer)
}

func (h *handler) get(ctx context.Context, c call) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.Authorization)
	res, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return fmt.Errorf("%s: %w", c.URL, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", c.URL, res.Status)
	}
	return nil
}
