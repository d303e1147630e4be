package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/idempotency"
	"github.com/commentgraph/commentgraph/internal/logtest"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

// secretText is every test comment's text; it must never reach a log.
const secretText = "the comment's private text"

// upstream counts the posts a gateway instance makes.
type upstream struct {
	posts atomic.Int32
}

// create posts a comment named ref.
func (u *upstream) create(ref string) func(context.Context) (*model.Comment, error) {
	return func(context.Context) (*model.Comment, error) {
		u.posts.Add(1)
		return &model.Comment{ProviderID: "p", ThreadKind: model.ThreadKindRoom, ThreadRef: "t", Ref: ref, Text: secretText, Markup: model.MarkupPlain}, nil
	}
}

// createAfter posts a comment named ref once gate is closed, first closing
// started (if set).
func (u *upstream) createAfter(ref string, started, gate chan struct{}) func(context.Context) (*model.Comment, error) {
	post := u.create(ref)
	return func(ctx context.Context) (*model.Comment, error) {
		if started != nil {
			close(started)
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return post(ctx)
	}
}

type logBuffer = logtest.Buffer

// faults stands between an instance and Redis: it can refuse the instance's
// dials as if Redis were down (while Redis stays up for other instances), or
// lose Redis's answer to a claim after Redis applied it.
type faults struct {
	refuse     atomic.Bool
	loseAClaim atomic.Bool // lose the answer to the next SET ... NX
}

func (f *faults) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if f.refuse.Load() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &faultyConn{Conn: c, f: f}, nil
}

type faultyConn struct {
	net.Conn
	f     *faults
	claim bool // the last command written was a SET ... NX
}

func (c *faultyConn) Write(b []byte) (int, error) {
	c.claim = bytes.Contains(bytes.ToLower(b), []byte("\r\nnx\r\n"))
	return c.Conn.Write(b)
}

func (c *faultyConn) Read(b []byte) (int, error) {
	if c.claim && c.f.loseAClaim.CompareAndSwap(true, false) {
		_, _ = c.Conn.Read(b) // Redis has answered, so the claim landed
		_ = c.Conn.Close()
		return 0, io.EOF
	}
	return c.Conn.Read(b)
}

type instanceOptions struct {
	faults *faults    // nil: a client like the gateway's, straight to Redis
	log    *logBuffer // nil: discarded
}

// newInstance is one gateway instance's store on srv, with a client set up as
// the gateway sets up its own (no retries, a short dial timeout).
func newInstance(t *testing.T, srv *redistest.Server, o instanceOptions) *idempotency.Redis {
	t.Helper()
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	opt.DialTimeout = 250 * time.Millisecond
	opt.DialerRetries = 1
	if o.faults != nil {
		opt.Dialer = o.faults.dial
		// A fresh connection per command, so a refused dial takes effect at
		// once; and room for many refused dials before go-redis stops dialing
		// for a second at a time.
		opt.ConnMaxIdleTime = time.Nanosecond
		opt.PoolSize = 1000
	}
	client := redis.NewClient(opt)
	var w io.Writer = io.Discard
	if o.log != nil {
		w = o.log
	}
	s := &idempotency.Redis{
		Client:        client,
		PollInterval:  5 * time.Millisecond,
		ProbeInterval: 20 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(w, nil)),
	}
	t.Cleanup(func() {
		s.Close()
		client.Close()
	})
	return s
}

// direct is a plain client on srv, to look at what Redis holds.
func direct(t *testing.T, srv *redistest.Server) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond until it holds, failing the test if it never does.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

// recorded reports whether Redis holds a done record for key.
func recorded(t *testing.T, c *redis.Client, key string) func() bool {
	return func() bool {
		raw, err := c.Get(context.Background(), "cg:v1:idem:"+key).Result()
		return err == nil && strings.Contains(raw, `"s":"done"`)
	}
}

func mustDo(t *testing.T, s idempotency.Store, key, fp string, create func(context.Context) (*model.Comment, error)) *model.Comment {
	t.Helper()
	c, err := s.Do(context.Background(), key, fp, create)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	return c
}

func wantRetryLater(t *testing.T, err error) {
	t.Helper()
	var e *model.Error
	if !errors.As(err, &e) || e.Code != model.CodeRetryLater || e.RetryAfter <= 0 {
		t.Fatalf("err = %v, want RETRY_LATER with a retryAfter", err)
	}
}

func TestRedisDownKeyIsDecidedInProcess(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, srv *redistest.Server, s *idempotency.Redis, u *upstream, key string)
	}{
		{"same key twice posts once", func(t *testing.T, srv *redistest.Server, s *idempotency.Redis, u *upstream, key string) {
			srv.Kill()
			a := mustDo(t, s, key, "fp", u.create("c1"))
			b := mustDo(t, s, key, "fp", u.create("c2"))
			if a.Ref != "c1" || b.Ref != "c1" {
				t.Errorf("refs %s, %s: want c1 twice", a.Ref, b.Ref)
			}
		}},
		{"concurrent duplicates wait for the first", func(t *testing.T, srv *redistest.Server, s *idempotency.Redis, u *upstream, key string) {
			srv.Kill()
			started, gate := make(chan struct{}), make(chan struct{})
			refs := make([]string, 8)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c, err := s.Do(context.Background(), key, "fp", u.createAfter("first", started, gate)); err == nil {
					refs[0] = c.Ref
				} else {
					t.Error(err)
				}
			}()
			<-started
			for i := 1; i < len(refs); i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if c, err := s.Do(context.Background(), key, "fp", u.create("other")); err == nil {
						refs[i] = c.Ref
					} else {
						t.Error(err)
					}
				}()
			}
			close(gate)
			wg.Wait()
			for _, r := range refs {
				if r != "first" {
					t.Errorf("callers got %v, want the first's comment", refs)
					break
				}
			}
		}},
		{"reused with another request", func(t *testing.T, srv *redistest.Server, s *idempotency.Redis, u *upstream, key string) {
			srv.Kill()
			mustDo(t, s, key, "fp", u.create("c1"))
			if _, err := s.Do(context.Background(), key, "other", u.create("c2")); !model.IsCode(err, model.CodeBadUserInput) {
				t.Errorf("err = %v, want BAD_USER_INPUT", err)
			}
		}},
		{"posted before the outage", func(t *testing.T, srv *redistest.Server, s *idempotency.Redis, u *upstream, key string) {
			mustDo(t, s, key, "fp", u.create("c1"))
			srv.Kill()
			if c := mustDo(t, s, key, "fp", u.create("c2")); c.Ref != "c1" {
				t.Errorf("ref %s, want c1", c.Ref)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.MustStart(t)
			s := newInstance(t, srv, instanceOptions{})
			u := &upstream{}
			tt.run(t, srv, s, u, idempotency.Key("cred", "m-1"))
			if n := u.posts.Load(); n != 1 {
				t.Errorf("%d posts, want 1", n)
			}
		})
	}
}

func TestUndecidableKeyIsRefused(t *testing.T) {
	key := idempotency.Key("cred", "m-1")

	t.Run("pending on another instance when Redis dies", func(t *testing.T) {
		srv := redistest.MustStart(t)
		redisNow := direct(t, srv)
		a, b := newInstance(t, srv, instanceOptions{}), newInstance(t, srv, instanceOptions{})
		var ua, ub upstream

		// b claims the key and is slow to post; a sees the claim pending.
		started, gate := make(chan struct{}), make(chan struct{})
		bDone := make(chan *model.Comment, 1)
		go func() {
			c, err := b.Do(context.Background(), key, "fp", ub.createAfter("b", started, gate))
			if err != nil {
				t.Error(err)
			}
			bDone <- c
		}()
		<-started
		aDone := make(chan error, 1)
		go func() {
			_, err := a.Do(context.Background(), key, "fp", ua.create("a"))
			aDone <- err
		}()
		waitFor(t, "a reads b's claim", func() bool {
			info, err := redisNow.Info(context.Background(), "commandstats").Result()
			return err == nil && strings.Contains(info, "cmdstat_get:calls=")
		})

		srv.Kill()
		wantRetryLater(t, <-aDone)
		_, err := a.Do(context.Background(), key, "fp", ua.create("a"))
		wantRetryLater(t, err)

		// b posts; it keeps the result in process and writes it back.
		close(gate)
		if c := <-bDone; c == nil || c.Ref != "b" {
			t.Fatalf("b got %v", c)
		}
		srv.Restart()
		waitFor(t, "b writes its record back", recorded(t, redisNow, key))
		var c *model.Comment
		waitFor(t, "a decides the key through Redis again", func() bool {
			c, err = a.Do(context.Background(), key, "fp", ua.create("a"))
			return !model.IsCode(err, model.CodeRetryLater)
		})
		if err != nil || c.Ref != "b" {
			t.Errorf("a got %v, %v: want b's comment", c, err)
		}
		if ua.posts.Load() != 0 || ub.posts.Load() != 1 {
			t.Errorf("posts: a %d, b %d; want 0 and 1", ua.posts.Load(), ub.posts.Load())
		}
	})

	t.Run("claim's answer lost", func(t *testing.T) {
		srv := redistest.MustStart(t)
		redisNow := direct(t, srv)
		f := &faults{}
		a := newInstance(t, srv, instanceOptions{faults: f})
		var ua upstream

		f.loseAClaim.Store(true)
		_, err := a.Do(context.Background(), key, "fp", ua.create("a1"))
		wantRetryLater(t, err)
		if n, _ := redisNow.Exists(context.Background(), "cg:v1:idem:"+key).Result(); n != 1 {
			t.Fatal("the claim did not land; the test does not test what it says")
		}
		_, err = a.Do(context.Background(), key, "fp", ua.create("a2"))
		wantRetryLater(t, err)
		if ua.posts.Load() != 0 {
			t.Fatalf("%d posts while the key was undecidable", ua.posts.Load())
		}

		// Once Redis answers, a deletes its claim and the retry posts once.
		var c *model.Comment
		waitFor(t, "a decides the key through Redis again", func() bool {
			c, err = a.Do(context.Background(), key, "fp", ua.create("a3"))
			return !model.IsCode(err, model.CodeRetryLater)
		})
		if err != nil || c.Ref != "a3" {
			t.Fatalf("retry got %v, %v", c, err)
		}
		other := newInstance(t, srv, instanceOptions{})
		var uo upstream
		if c := mustDo(t, other, key, "fp", uo.create("o")); c.Ref != "a3" {
			t.Errorf("another instance got %s, want a3", c.Ref)
		}
		if ua.posts.Load() != 1 || uo.posts.Load() != 0 {
			t.Errorf("posts: a %d, other %d; want 1 and 0", ua.posts.Load(), uo.posts.Load())
		}
	})
}

func TestWriteBack(t *testing.T) {
	key := idempotency.Key("cred", "m-1")

	t.Run("another instance answers after Redis returns", func(t *testing.T) {
		srv := redistest.MustStart(t)
		logs := &logBuffer{}
		a := newInstance(t, srv, instanceOptions{log: logs})
		var ua upstream
		srv.Kill()
		mustDo(t, a, key, "fp", ua.create("c1"))
		srv.Restart()
		waitFor(t, "the record is written back", recorded(t, direct(t, srv), key))

		b := newInstance(t, srv, instanceOptions{})
		var ub upstream
		if c := mustDo(t, b, key, "fp", ub.create("c2")); c.Ref != "c1" {
			t.Errorf("another instance got %s, want c1", c.Ref)
		}
		if _, err := b.Do(context.Background(), key, "other", ub.create("c3")); !model.IsCode(err, model.CodeBadUserInput) {
			t.Errorf("reuse on another instance: %v, want BAD_USER_INPUT", err)
		}
		if c := mustDo(t, a, key, "fp", ua.create("c4")); c.Ref != "c1" {
			t.Errorf("the same instance got %s, want c1", c.Ref)
		}
		if ua.posts.Load() != 1 || ub.posts.Load() != 0 {
			t.Errorf("posts: a %d, b %d; want 1 and 0", ua.posts.Load(), ub.posts.Load())
		}
		if strings.Contains(logs.String(), secretText) {
			t.Errorf("a comment's text was logged:\n%s", logs)
		}
	})

	t.Run("another record there is kept", func(t *testing.T) {
		srv := redistest.MustStart(t)
		f := &faults{}
		logs := &logBuffer{}
		a := newInstance(t, srv, instanceOptions{faults: f, log: logs})
		b := newInstance(t, srv, instanceOptions{})
		var ua, ub upstream

		// a cannot reach Redis and posts; the client's retry reaches b, which can.
		f.refuse.Store(true)
		mustDo(t, a, key, "fp", ua.create("a"))
		mustDo(t, b, key, "fp", ub.create("b"))
		f.refuse.Store(false)
		waitFor(t, "a reports the conflict", func() bool { return strings.Contains(logs.String(), "another record in Redis") })
		waitFor(t, "a answers with Redis's record", func() bool {
			return mustDo(t, a, key, "fp", ua.create("a2")).Ref == "b"
		})
		c := newInstance(t, srv, instanceOptions{})
		var uc upstream
		if got := mustDo(t, c, key, "fp", uc.create("c")); got.Ref != "b" {
			t.Errorf("a third instance got %s, want b", got.Ref)
		}
		if ua.posts.Load() != 1 || ub.posts.Load() != 1 || uc.posts.Load() != 0 {
			t.Errorf("posts: %d %d %d, want 1 1 0", ua.posts.Load(), ub.posts.Load(), uc.posts.Load())
		}
		if strings.Contains(logs.String(), secretText) {
			t.Errorf("a comment's text was logged:\n%s", logs)
		}
	})
}

func TestClose(t *testing.T) {
	key := idempotency.Key("cred", "m-1")

	t.Run("stops the loop while Redis is down", func(t *testing.T) {
		srv := redistest.MustStart(t)
		a := newInstance(t, srv, instanceOptions{})
		var ua upstream
		srv.Kill()
		mustDo(t, a, key, "fp", ua.create("c1"))
		if !idempotency.LoopRunning(a) {
			t.Fatal("no write-back loop during the outage")
		}
		a.Close()
		if idempotency.LoopRunning(a) {
			t.Error("the loop still runs after Close")
		}
		a.Close()
		if c := mustDo(t, a, key, "fp", ua.create("c2")); c.Ref != "c1" || ua.posts.Load() != 1 {
			t.Errorf("after Close: %s, %d posts", c.Ref, ua.posts.Load())
		}
	})

	t.Run("writes back what it can", func(t *testing.T) {
		srv := redistest.MustStart(t)
		f := &faults{}
		a := newInstance(t, srv, instanceOptions{faults: f})
		var ua upstream
		f.refuse.Store(true)
		mustDo(t, a, key, "fp", ua.create("c1"))
		f.refuse.Store(false)
		a.Close()
		if !recorded(t, direct(t, srv), key)() {
			t.Error("the record kept in process was not written back by Close")
		}
	})
}
