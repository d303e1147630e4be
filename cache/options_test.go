package cache

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	if o.TTL != 5*time.Minute || o.Jitter != 0.1 || o.NegativeTTL != 30*time.Second ||
		o.LearnedTTL != 30*24*time.Hour || o.CallTimeout != 50*time.Millisecond ||
		o.Backoff != time.Second || o.MaxEntries != 100_000 || o.ThreadNearTTL != 5*time.Second || o.NearTTL != 10*time.Second || o.Now == nil || o.Logger == nil {
		t.Fatalf("defaults not applied: %+v", o)
	}
	if !c.Healthy() || c.Ping(context.Background()) != nil {
		t.Fatal("the in-memory cache should always be healthy")
	}
}

func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"negative TTL", Options{TTL: -time.Second}, "TTL"},
		{"jitter below -1", Options{Jitter: -0.5}, "Jitter"},
		{"negative TTL other than -1", Options{NegativeTTL: -2}, "NegativeTTL"},
		{"thread near TTL other than -1", Options{ThreadNearTTL: -2}, "ThreadNearTTL"},
		{"near TTL other than -1", Options{NearTTL: -2}, "NearTTL"},
		{"negative LearnedTTL", Options{LearnedTTL: -1}, "LearnedTTL"},
		{"negative CallTimeout", Options{CallTimeout: -1}, "CallTimeout"},
		{"negative Backoff", Options{Backoff: -1}, "Backoff"},
		{"negative MaxEntries", Options{MaxEntries: -1}, "MaxEntries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

func TestOptionsSpecialValues(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		check func(o Options) bool
	}{
		{"jitter -1 is off", Options{Jitter: -1}, func(o Options) bool { return o.Jitter == 0 }},
		{"jitter above 1 is capped", Options{Jitter: 3}, func(o Options) bool { return o.Jitter == 1 }},
		{"NegativeTTL -1 stays off", Options{NegativeTTL: -1}, func(o Options) bool { return o.NegativeTTL == -1 }},
		{"ThreadNearTTL -1 stays off", Options{ThreadNearTTL: -1}, func(o Options) bool { return o.ThreadNearTTL == -1 }},
		{"NearTTL -1 stays off", Options{NearTTL: -1}, func(o Options) bool { return o.NearTTL == -1 }},
		{"explicit values kept", Options{TTL: time.Hour, MaxEntries: 7}, func(o Options) bool { return o.TTL == time.Hour && o.MaxEntries == 7 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.opts.withDefaults()
			if err != nil || !tt.check(o) {
				t.Fatalf("withDefaults: %+v, %v", o, err)
			}
		})
	}
}

func TestNewRedisClientKeepsPasswordsOutOfErrors(t *testing.T) {
	for _, u := range []string{
		"redis://:s3cret@localhost:notaport/0",
		"http://user:s3cret@localhost:6379/0",
		"redis://:s3cret@localhost:6379/zero",
		"redis://:s3cret@[::1/0",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := NewRedisClient(u)
			if err == nil {
				t.Fatal("a bad URL was accepted")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q repeats the password", err)
			}
		})
	}
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	e := openMemory(t, Options{MaxEntries: 3})
	up := newUpstream("klink", 0)
	for _, r := range []string{"a", "b", "c", "d"} {
		up.addUser(r, "name "+r)
	}
	p := e.c.Wrap(up, "s")
	mustUsers(t, p, "a")
	mustUsers(t, p, "b")
	mustUsers(t, p, "c")
	mustUsers(t, p, "a") // a is now the most recently used; b the least
	mustUsers(t, p, "d") // evicts b
	if n := e.mem.len(); n != 3 {
		t.Fatalf("memory holds %d entries, want MaxEntries 3", n)
	}
	fetched := up.userFetches()
	mustUsers(t, p, "a", "c", "d")
	if up.userFetches() != fetched {
		t.Fatal("a, c or d was evicted; the least recently used was b")
	}
	mustUsers(t, p, "b")
	if up.userFetches() != fetched+1 {
		t.Fatal("b was not evicted")
	}
}

func TestBreaker(t *testing.T) {
	clk := newClock()
	b := &breaker{now: clk.Now, backoff: time.Second}
	steps := []struct {
		name      string
		advance   time.Duration
		outcome   outcome // reported when the call is allowed
		wantAllow bool
		wantProbe bool
		healthy   bool // after the step
	}{
		{"closed allows", 0, succeeded, true, false, true},
		{"a failure opens", 0, failed, true, false, false},
		{"open skips", 500 * time.Millisecond, succeeded, false, false, false},
		{"after backoff one probe", 500 * time.Millisecond, failed, true, true, false},
		{"a failed probe reopens", 999 * time.Millisecond, succeeded, false, false, false},
		{"an abandoned probe decides nothing", time.Millisecond, abandoned, true, true, false},
		{"the next call probes again", 0, succeeded, true, true, true},
		{"closed again", 0, succeeded, true, false, true},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		ok, probe := b.allow()
		if ok != s.wantAllow || probe != s.wantProbe {
			t.Fatalf("%s: allow() = %v, %v; want %v, %v", s.name, ok, probe, s.wantAllow, s.wantProbe)
		}
		if ok {
			b.done(probe, s.outcome)
		}
		if b.healthy() != s.healthy {
			t.Fatalf("%s: healthy %v, want %v", s.name, b.healthy(), s.healthy)
		}
	}

	// While one probe is out, nobody else gets through.
	b.done(false, failed)
	clk.Advance(time.Second)
	if ok, probe := b.allow(); !ok || !probe {
		t.Fatal("no probe after the backoff")
	}
	if ok, _ := b.allow(); ok {
		t.Fatal("a second call got through while the probe was out")
	}
}
