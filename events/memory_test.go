package events_test

import (
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/events"
)

func TestMemoryRetention(t *testing.T) {
	tests := []struct {
		name string
		opts events.Options
		// publish 30 comments, one per minute, then resume after since.
		since int // index of the comment whose id is given back; -1: a made-up old id
		want  []string
	}{
		{"within the window", events.Options{}, 9, seq(11, 30)},
		{"count window: since expired replays from the oldest kept", events.Options{Retention: 10}, 4, seq(21, 30)},
		{"age window: since expired replays from the oldest kept", events.Options{RetentionAge: 5 * time.Minute}, 4, seq(25, 30)}, // 25 is exactly 5 minutes old: kept
		{"id from before a restart replays all kept", events.Options{Retention: 10}, -1, seq(21, 30)},
		{"no retention replays nothing", events.Options{Retention: -1}, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tt.opts.Now = clock.Now
			b, err := events.NewMemory(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			ctx := t.Context()
			var ids []string
			for n := 1; n <= 30; n++ {
				clock.Advance(time.Minute)
				ev, err := b.Publish(ctx, comment("klink", "r1", n))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, ev.ID)
			}
			since := "1-0"
			if tt.since >= 0 {
				since = ids[tt.since]
			}
			sub, err := b.Subscribe(ctx, events.Filter{}, since)
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(receive(t, sub, len(tt.want))); !slices.Equal(got, tt.want) {
				t.Fatalf("replayed %v, want %v", got, tt.want)
			}
			fence(t, b, sub, comment("klink", "r1", 31))
		})
	}
}

// IDs increase strictly even when the clock stands still or steps back, and
// stay time-based so that a restarted process's IDs sort after the old ones.
func TestMemoryIDsIncrease(t *testing.T) {
	clock := newFakeClock()
	b, err := events.NewMemory(events.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	steps := []time.Duration{0, 0, time.Millisecond, -time.Hour, 0, 2 * time.Hour, 0}
	var ids []string
	for i, d := range steps {
		clock.Advance(d)
		ev, err := b.Publish(t.Context(), comment("klink", "r1", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	for i := 1; i < len(ids); i++ {
		if compareIDs(ids[i-1], ids[i]) >= 0 {
			t.Fatalf("ids %v: %s does not follow %s", ids, ids[i], ids[i-1])
		}
	}
	// The last two came in the same ms, past all earlier ones: the clock's
	// ms, seq 0 then 1.
	want := itoa(clock.Now().UnixMilli())
	if got := ids[len(ids)-2:]; got[0] != want+"-0" || got[1] != want+"-1" {
		t.Fatalf("last ids %v, want %s-0 and %s-1", got, want, want)
	}
}

func TestMemoryPublishOnceWindow(t *testing.T) {
	clock := newFakeClock()
	b, err := events.NewMemory(events.Options{Now: clock.Now, DedupeWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true},
		{30 * time.Second, "a", false},
		{0, "b", true},
		{29 * time.Second, "a", false},
		{time.Second, "a", true}, // a's window (from its first publish) ended
		{0, "b", false},
		{time.Minute, "b", true},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		_, ok, err := b.PublishOnce(t.Context(), st.key, comment("klink", "r1", i))
		if err != nil || ok != st.want {
			t.Fatalf("step %d (%q): published %v, err %v; want %v", i, st.key, ok, err, st.want)
		}
	}
}

// The memory per idle subscription stays around a kilobyte (the bench/
// target is 30 KB per subscriber for the whole process). This measures heap
// bytes, not time.
func TestIdleSubscriberMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 10,000 subscriptions")
	}
	b, err := events.NewMemory(events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 10_000
	subs := make([]*events.Subscription, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		sub, err := b.Subscribe(t.Context(), events.Filter{Threads: []string{threadID("klink", itoa(int64(i)))}}, "")
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	goroutines := runtime.NumGoroutine()
	t.Logf("%d idle subscriptions: %d bytes of heap each, %d goroutines in the process", n, per, goroutines)
	if per > 2048 {
		t.Fatalf("%d bytes of heap per idle subscription, want at most 2 KB", per)
	}
	if goroutines > 100 {
		t.Fatalf("%d goroutines for %d idle subscriptions: the bus must not run one per subscriber", goroutines, n)
	}
	// They all still work: one event reaches exactly its thread's subscriber.
	if _, err := b.Publish(t.Context(), comment("klink", "4242", 1)); err != nil {
		t.Fatal(err)
	}
	receive(t, subs[4242], 1)
	for i, s := range subs {
		if i != 4242 && len(s.C) != 0 {
			t.Fatalf("subscriber %d got another thread's event", i)
		}
	}
	runtime.KeepAlive(subs)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
