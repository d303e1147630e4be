package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loader is a closed-loop load generator: a fixed number of workers, each
// sending its next request as soon as its last one is answered, so the load
// adapts to the gateway and never queues without bound.
type loader struct {
	client *http.Client
	url    string
	body   []byte
	conc   int
}

func newLoader(url string, body []byte, concurrency int) *loader {
	return &loader{
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency, DisableCompression: true},
		},
		url:  url,
		body: body,
		conc: concurrency,
	}
}

// errResponse is a query the gateway did not answer in full.
var errResponse = errors.New("bad response")

// run sends n queries and returns each one's latency, in completion order.
// The first failure stops the run.
func (l *loader) run(ctx context.Context, n int) ([]time.Duration, error) {
	return closedLoop(ctx, n, l.conc, func() func(context.Context) error {
		buf := make([]byte, 0, 64<<10) // one per worker, reused for every answer
		return func(ctx context.Context) error {
			var err error
			buf, err = l.one(ctx, buf[:0])
			return err
		}
	})
}

// closedLoop runs n ops with conc workers, each starting its next op as soon
// as its last one ended, and returns each op's latency. newOp makes one
// worker's op. The first failure stops the run.
func closedLoop(ctx context.Context, n, conc int, newOp func() func(context.Context) error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			op := newOp()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				start := time.Now()
				err := op(ctx)
				lat[i] = time.Since(start)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return lat, firstErr
}

// load is run, or with -bench.rate runAt at that rate.
func (l *loader) load(ctx context.Context, n int) ([]time.Duration, error) {
	if *rate <= 0 {
		return l.run(ctx, n)
	}
	return l.runAt(ctx, n, *rate)
}

// runAt sends n queries arriving at rate a second (openLoop) and returns
// each one's latency. At most l.conc are in flight at once: a query that
// arrives when they all are waits for one to end, and its latency counts
// the wait.
func (l *loader) runAt(ctx context.Context, n int, rate float64) ([]time.Duration, error) {
	bufs := make(chan []byte, l.conc)
	for range l.conc {
		bufs <- make([]byte, 0, 64<<10)
	}
	return openLoop(ctx, n, rate, func(ctx context.Context) error {
		buf := <-bufs
		buf, err := l.one(ctx, buf[:0])
		bufs <- buf
		return err
	})
}

// openLoop starts n ops at rate a second on average, each in its own
// goroutine whether or not the last one has ended, and returns each op's
// latency from its arrival. The gaps between arrivals are exponential with
// a fixed seed (a Poisson process, the arrivals of users who act
// independently, the same in every run): unlike closedLoop's workers, which
// fall into step with a fixed upstream latency and so all wait on the same
// moments, arrivals here only meet by chance, which is what "moderate load"
// means for a gateway's latency. An arrival the generator itself is late
// for starts at once and its latency counts from when it started, not from
// its slot. The first failure stops the run.
func openLoop(ctx context.Context, n int, rate float64, op func(context.Context) error) ([]time.Duration, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("open loop: rate %v is not a rate", rate)
	}
	lat := make([]time.Duration, n)
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gaps := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	next := time.Now()
	for i := range n {
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		next = next.Add(time.Duration(gaps.ExpFloat64() / rate * float64(time.Second)))
		wg.Go(func() {
			start := time.Now()
			err := op(ctx)
			lat[i] = time.Since(start)
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		})
	}
	wg.Wait()
	return lat, firstErr
}

// one posts the query and reads the whole answer into buf. An answer other
// than 200 with data and no errors is a failure: a benchmark of error pages
// would measure nothing.
func (l *loader) one(ctx context.Context, buf []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(l.body))
	if err != nil {
		return buf, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return buf, err
	}
	defer resp.Body.Close()
	b := bytes.NewBuffer(buf)
	if _, err := io.Copy(b, resp.Body); err != nil {
		return b.Bytes(), err
	}
	out := b.Bytes()
	if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) || !bytes.HasPrefix(out, []byte(`{"data":`)) {
		return out, fmt.Errorf("%w: %d %.300s", errResponse, resp.StatusCode, out)
	}
	return out, nil
}

// warm checks one answer (checkOnce), then sends two queries per worker, so
// what follows is measured with the cache filled and the connections open.
func (l *loader) warm(ctx context.Context) error {
	if err := l.checkOnce(ctx); err != nil {
		return err
	}
	_, err := l.run(ctx, 2*l.conc)
	return err
}

// checkOnce runs one query and checks the answer is the World's whole page:
// PageSize comments, each with a sender and two mentions, in one timeline
// (data.comments) or across the threads asked for (data.<alias>.comments).
// The benchmark does it before measuring, so it never times a gateway that
// answers something else.
func (l *loader) checkOnce(ctx context.Context) error {
	raw, err := l.one(ctx, nil)
	if err != nil {
		return err
	}
	type edges []struct {
		Node struct {
			Sender *struct {
				Name string `json:"name"`
			} `json:"sender"`
			Mentions []struct {
				User struct {
					Name string `json:"name"`
				} `json:"user"`
			} `json:"mentions"`
		} `json:"node"`
	}
	var page struct {
		Data map[string]struct {
			Edges    edges `json:"edges"`
			Comments struct {
				Edges edges `json:"edges"`
			} `json:"comments"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return fmt.Errorf("decode page: %w", err)
	}
	var all edges
	for _, field := range page.Data {
		all = append(all, field.Edges...)
		all = append(all, field.Comments.Edges...)
	}
	if len(all) != PageSize {
		return fmt.Errorf("page has %d comments, want %d", len(all), PageSize)
	}
	for _, e := range all {
		if e.Node.Sender == nil || e.Node.Sender.Name == "" || len(e.Node.Mentions) != 2 {
			return fmt.Errorf("comment without its sender or mentions: %+v", e.Node)
		}
		for _, m := range e.Node.Mentions {
			if m.User.Name == "" {
				return fmt.Errorf("mention without a user name: %+v", e.Node)
			}
		}
	}
	return nil
}

// percentile returns the p-th percentile (0 < p <= 100) of lat by the
// nearest-rank method.
func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(rank, len(s)-1))]
}
