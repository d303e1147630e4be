package bench

// The live-subscription benchmark's tools: the real gateway as a separate
// process, a fleet of graphql-transport-ws subscribers that timestamp every
// delivery the moment it is read, and the /metrics figures the benchmark
// divides by the number of subscribers. The gateway runs in its own process
// because 10,000 sockets on each side do not fit one process's 20,000 file
// descriptors, and because its RSS must not include the clients'.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"
)

// subRaiseFileLimit lifts this process's soft limit on open files to the hard
// limit: the fleet holds one descriptor per subscriber. The gateway, a Go
// program, raises its own.
func subRaiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("bench: getrlimit: %w", err)
	}
	if l.Cur >= l.Max {
		return nil
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("bench: setrlimit: %w", err)
	}
	return nil
}

// subGatewayConfig is what the benchmark varies in the gateway's config.
type subGatewayConfig struct {
	KlinkURL   string // the K-LINK emulator's base URL
	KlinkToken string
	RedisURL   string // empty: the in-memory bus, one instance
	// PprofAddr, when set, is where a gateway built with pprofOverlay serves
	// net/http/pprof (COMMENTGRAPH_BENCH_PPROF).
	PprofAddr string
}

// yaml renders the config file for a gateway listening on listen. No thread is
// listed, so no poller runs: every event the subscribers see comes from a
// mutation the benchmark sent.
func (c subGatewayConfig) yaml(listen string) ([]byte, error) {
	doc := map[string]any{
		"listen":   listen,
		"graphiql": false,
		"providers": []map[string]any{{
			"id": "klink", "kind": "klink", "baseURL": c.KlinkURL, "token": c.KlinkToken,
		}},
	}
	if c.RedisURL != "" {
		doc["redis"] = map[string]any{"url": c.RedisURL}
	}
	return yaml.Marshal(doc)
}

// subGateway is one running gateway process.
type subGateway struct {
	URL   string // http://127.0.0.1:PORT
	pprof string // http://PprofAddr, when profiling
	cmd   *exec.Cmd
	log   string        // the process's stderr, kept in a file
	done  chan struct{} // closed when the process has exited
	err   error         // its exit status, once done is closed
	http  *http.Client
}

// subStartGateway starts bin with a generated config on a free port of
// 127.0.0.1 in dir, and returns once /healthz answers 200.
func subStartGateway(ctx context.Context, bin, dir string, cfg subGatewayConfig) (*subGateway, error) {
	port, err := subFreePort()
	if err != nil {
		return nil, err
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	raw, err := cfg.yaml(listen)
	if err != nil {
		return nil, fmt.Errorf("bench: gateway config: %w", err)
	}
	name := fmt.Sprintf("gateway-%d", port)
	cfgPath := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		return nil, fmt.Errorf("bench: gateway config: %w", err)
	}
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: gateway log: %w", err)
	}
	// Not CommandContext: the benchmark's context ends before its cleanups
	// run, and the gateway must be stopped by Close, gracefully.
	cmd := exec.Command(bin, "-config", cfgPath, "-listen", listen, "-shutdown-timeout", "5s")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if cfg.PprofAddr != "" {
		cmd.Env = append(os.Environ(), "COMMENTGRAPH_BENCH_PPROF="+cfg.PprofAddr)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("bench: start gateway: %w", err)
	}
	g := &subGateway{
		URL: "http://" + listen, cmd: cmd, log: logPath, done: make(chan struct{}),
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
	}
	if cfg.PprofAddr != "" {
		g.pprof = "http://" + cfg.PprofAddr
	}
	go func() {
		g.err = cmd.Wait()
		logFile.Close()
		close(g.done)
	}()
	if err := g.waitHealthy(ctx, time.Minute); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func subFreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (g *subGateway) waitHealthy(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/healthz", nil)
		if resp, err := g.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-g.done:
			return fmt.Errorf("bench: gateway exited before it was healthy (%v): %s", g.err, g.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("bench: gateway not healthy within %v: %s", within, g.LogTail())
		case <-tick.C:
		}
	}
}

// LogTail is the end of the gateway's log, for failure messages.
func (g *subGateway) LogTail() string {
	raw, _ := os.ReadFile(g.log)
	if len(raw) > 2000 {
		raw = raw[len(raw)-2000:]
	}
	return string(raw)
}

// Close stops the gateway as an operator would (SIGTERM, then its graceful
// shutdown), killing it only if it does not exit in time.
func (g *subGateway) Close() {
	select {
	case <-g.done:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// SavePprof saves the gateway's pprof endpoint (e.g. "/debug/pprof/heap?gc=1")
// to path. The gateway must run with PprofAddr.
func (g *subGateway) SavePprof(ctx context.Context, endpoint, path string) error {
	if g.pprof == "" {
		return errors.New("bench: the gateway was not started with pprof")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.pprof+endpoint, nil)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("bench: pprof %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: pprof %s: status %d", endpoint, resp.StatusCode)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("bench: pprof %s: %w", endpoint, err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return fmt.Errorf("bench: pprof %s: %w", endpoint, err)
	}
	return nil
}

// Scrape returns the gateway's /metrics exposition.
func (g *subGateway) Scrape(ctx context.Context) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/metrics", nil)
	resp, err := g.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: scrape metrics: status %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape metrics: %w", err)
	}
	return raw, nil
}

// Exited is closed when the gateway process has exited.
func (g *subGateway) Exited() <-chan struct{} { return g.done }

// CreateComment sends the createComment mutation and returns when the request
// was sent (taken just before) and when its answer arrived.
func (g *subGateway) CreateComment(ctx context.Context, thread, text string) (sent, answered time.Time, err error) {
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`,
		"variables": map[string]any{"in": map[string]any{"thread": thread, "text": text}},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sent = time.Now()
	resp, err := g.http.Do(req)
	if err != nil {
		return sent, time.Time{}, fmt.Errorf("bench: createComment: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	answered = time.Now()
	if err != nil {
		return sent, answered, fmt.Errorf("bench: createComment: %w", err)
	}
	var out struct {
		Data struct {
			CreateComment *struct{ Comment struct{ ID string } } `json:"createComment"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 || out.Data.CreateComment == nil || out.Data.CreateComment.Comment.ID == "" {
		return sent, answered, fmt.Errorf("bench: createComment answered %d: %.300s", resp.StatusCode, raw)
	}
	return sent, answered, nil
}

// subArrival is one frame a subscriber read, stamped as soon as it was read.
type subArrival struct {
	sub   int
	at    time.Time
	frame []byte // nil when err is set
	err   error  // the subscription ended
}

// subFleet is n graphql-transport-ws sockets, each with one subscription and
// one reading goroutine that stamps every delivery before anything else.
type subFleet struct {
	conns    []*websocket.Conn
	arrivals chan subArrival
	readers  sync.WaitGroup
	closing  sync.Once
}

// subOpenFleet dials n sockets to wsURL, concurrency at a time, and on each
// sends connection_init, waits for connection_ack and subscribes with query
// and vars. It returns once every subscribe has been sent; the gateway's
// commentgraph_subscriptions_active says when they are all registered.
func subOpenFleet(ctx context.Context, wsURL string, n, concurrency int, query string, vars map[string]any) (*subFleet, error) {
	subscribe, err := json.Marshal(map[string]any{
		"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars},
	})
	if err != nil {
		return nil, fmt.Errorf("bench: subscribe frame: %w", err)
	}
	f := &subFleet{conns: make([]*websocket.Conn, n), arrivals: make(chan subArrival, 2*n+16)}
	// Small buffers: the clients' memory is not what is measured, and the
	// frames are a few hundred bytes.
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i := range n {
		g.Go(func() error {
			c, err := subDial(gctx, d, wsURL, subscribe)
			if err != nil {
				return fmt.Errorf("bench: subscriber %d: %w", i, err)
			}
			f.conns[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		f.Close()
		return nil, err
	}
	for i, c := range f.conns {
		f.readers.Add(1)
		go f.read(i, c)
	}
	return f, nil
}

func subDial(ctx context.Context, d websocket.Dialer, wsURL string, subscribe []byte) (*websocket.Conn, error) {
	c, resp, err := d.DialContext(ctx, wsURL, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (status %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"connection_init"}`)); err != nil {
		c.Close()
		return nil, fmt.Errorf("connection_init: %w", err)
	}
	var ack struct{ Type string }
	if err := c.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		c.Close()
		return nil, fmt.Errorf("want connection_ack, got %q (%v)", ack.Type, err)
	}
	if err := c.WriteMessage(websocket.TextMessage, subscribe); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// read forwards every frame but pings (answered) and keep-alives to arrivals,
// and a read error or the end of the subscription as an arrival with err.
func (f *subFleet) read(i int, c *websocket.Conn) {
	defer f.readers.Done()
	for {
		_, frame, err := c.ReadMessage()
		at := time.Now()
		if err != nil {
			f.arrivals <- subArrival{sub: i, at: at, err: err}
			return
		}
		switch subFrameType(frame) {
		case "next":
			f.arrivals <- subArrival{sub: i, at: at, frame: frame}
		case "ping":
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
		case "pong", "ka":
		default: // error, complete, or anything the protocol does not send
			f.arrivals <- subArrival{sub: i, at: at, err: fmt.Errorf("subscription ended: %.300s", frame)}
			return
		}
	}
}

// subNextType is how a compact JSON frame says it is a delivery. A comment's
// text cannot forge it: inside a JSON string its quotes are escaped.
var subNextType = []byte(`"type":"next"`)

// subFrameType is a frame's "type"; "" for a frame that is not a JSON object.
// Deliveries are recognised without decoding them: 10,000 readers share the
// cores with the gateway, and whatever they spend delays the gateway's work.
func subFrameType(frame []byte) string {
	if bytes.Contains(frame, subNextType) {
		return "next"
	}
	var m struct{ Type string }
	if json.Unmarshal(frame, &m) != nil {
		return ""
	}
	return m.Type
}

// Await waits until each of the fleet's subscribers has received a frame
// containing marker, and returns when each did. Any other delivery (a second
// copy, or a frame that is not this comment) or a subscription's end is an
// error: each event must reach each subscriber exactly once.
func (f *subFleet) Await(ctx context.Context, marker []byte, within time.Duration) ([]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	at := make([]time.Time, len(f.conns))
	for got := 0; got < len(at); {
		select {
		case a := <-f.arrivals:
			switch {
			case a.err != nil:
				return nil, fmt.Errorf("bench: subscriber %d: %w", a.sub, a.err)
			case !bytes.Contains(a.frame, marker):
				return nil, fmt.Errorf("bench: subscriber %d received an unexpected event: %.300s", a.sub, a.frame)
			case !at[a.sub].IsZero():
				return nil, fmt.Errorf("bench: subscriber %d received %q twice", a.sub, marker)
			}
			at[a.sub] = a.at
			got++
		case <-ctx.Done():
			return nil, fmt.Errorf("bench: %d of %d subscribers received %q within %v", got, len(at), marker, within)
		}
	}
	return at, nil
}

// Close closes every socket and waits for the readers to stop. Calling it
// again does nothing.
func (f *subFleet) Close() { f.closing.Do(f.close) }

func (f *subFleet) close() {
	for _, c := range f.conns {
		if c != nil {
			c.Close()
		}
	}
	// Readers block on a full arrivals channel only if nobody drains it.
	go func() {
		for range f.arrivals {
		}
	}()
	f.readers.Wait()
	close(f.arrivals)
}

// subLatencies returns, sorted, how long after sent each arrival came.
func subLatencies(sent time.Time, arrivals []time.Time) []time.Duration {
	out := make([]time.Duration, len(arrivals))
	for i, a := range arrivals {
		out[i] = a.Sub(sent)
	}
	slices.Sort(out)
	return out
}
