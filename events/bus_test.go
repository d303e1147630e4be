package events_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
)

// The tests in this file run against both buses; for Redis the publisher and
// the subscriber are two bus instances sharing one server.

func TestFilters(t *testing.T) {
	// 12 comments over two providers and two threads each: comment n goes to
	// provider p[n%2], thread r[(n/2)%2].
	providers, rooms := []string{"klink", "ziik"}, []string{"r1", "r2"}
	where := func(n int) (string, string) { return providers[n%2], rooms[(n/2)%2] }
	tests := []struct {
		name   string
		filter events.Filter
		want   func(provider, room string) bool
	}{
		{"empty filter matches all", events.Filter{}, func(string, string) bool { return true }},
		{"one thread", events.Filter{Threads: []string{threadID("klink", "r2")}},
			func(p, r string) bool { return p == "klink" && r == "r2" }},
		{"two threads of two providers", events.Filter{Threads: []string{threadID("klink", "r1"), threadID("ziik", "r2")}},
			func(p, r string) bool { return p == "klink" && r == "r1" || p == "ziik" && r == "r2" }},
		{"one provider", events.Filter{Providers: []string{"ziik"}},
			func(p, _ string) bool { return p == "ziik" }},
		{"thread and provider must both match", events.Filter{Threads: []string{threadID("klink", "r1"), threadID("ziik", "r1")}, Providers: []string{"ziik"}},
			func(p, r string) bool { return p == "ziik" && r == "r1" }},
		{"thread of an unlisted provider matches nothing", events.Filter{Threads: []string{threadID("klink", "r1")}, Providers: []string{"ziik"}},
			func(string, string) bool { return false }},
	}
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					b := kind.open(t, events.Options{})
					ctx := t.Context()
					sub, err := b.sub.Subscribe(ctx, tt.filter, "")
					if err != nil {
						t.Fatal(err)
					}
					// A catch-all subscriber on the same bus sees the fence.
					all, err := b.sub.Subscribe(ctx, events.Filter{}, "")
					if err != nil {
						t.Fatal(err)
					}
					var want []string
					for n := range 12 {
						p, r := where(n)
						if _, err := b.pub.Publish(ctx, comment(p, r, n)); err != nil {
							t.Fatal(err)
						}
						if tt.want(p, r) {
							want = append(want, comment(p, r, n).Text)
						}
					}
					// Publishes fan out one at a time, so once the catch-all
					// subscriber has the barrier, every subscriber has been
					// offered all 12: what sub holds now is all it will get.
					barrier := comment("barrier", "b", -1)
					if _, err := b.pub.Publish(ctx, barrier); err != nil {
						t.Fatal(err)
					}
					receive(t, all, 13)
					if tt.want(barrier.ProviderID, barrier.ThreadRef) {
						want = append(want, barrier.Text)
					}
					got := texts(receive(t, sub, len(want)))
					if !slices.Equal(got, want) {
						t.Fatalf("got %v, want %v", got, want)
					}
					if extra := len(sub.C); extra != 0 {
						t.Fatalf("%d events beyond the %d matching ones", extra, len(want))
					}
				})
			}
		})
	}
}

func TestSinceResume(t *testing.T) {
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			// 150 past events, a replay of 130 (twice the buffer), then 50
			// live ones published as fast as possible (within the buffer, so
			// the reader is never too slow even on a loaded machine).
			b := kind.open(t, events.Options{Buffer: 64})
			ctx := t.Context()
			var ids []string
			for n := 1; n <= 150; n++ {
				ev, err := b.pub.Publish(ctx, comment("klink", "r1", n))
				if err != nil {
					t.Fatal(err)
				}
				if ev.ID == "" {
					t.Fatalf("publish %d returned no id", n)
				}
				ids = append(ids, ev.ID)
			}
			if !slices.IsSortedFunc(ids, compareIDs) {
				t.Fatalf("ids not increasing: %v", ids)
			}
			// A client that saw up to comment 20 comes back while comments
			// 151..200 are being published: it gets 21..200 in order, none
			// twice, the replay running straight into live delivery.
			var wg sync.WaitGroup
			defer wg.Wait() // even when the test fails, before the bus closes
			wg.Add(1)
			start := make(chan struct{})
			go func() {
				defer wg.Done()
				<-start
				for n := 151; n <= 200; n++ {
					if _, err := b.pub.Publish(ctx, comment("klink", "r1", n)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			sub, err := b.sub.Subscribe(ctx, events.Filter{}, ids[19])
			close(start)
			if err != nil {
				t.Fatal(err)
			}
			got := receive(t, sub, 180)
			wg.Wait()
			if !slices.Equal(texts(got), seq(21, 200)) {
				t.Fatalf("resumed with %v", texts(got))
			}
			if got[0].ID == ids[19] || got[0].ID != ids[20] {
				t.Fatalf("first replayed id %s, want %s (the one after since)", got[0].ID, ids[20])
			}
			for i := 1; i < len(got); i++ {
				if compareIDs(got[i-1].ID, got[i].ID) >= 0 {
					t.Fatalf("ids out of order: %s then %s", got[i-1].ID, got[i].ID)
				}
			}
			fence(t, b.pub, sub, comment("klink", "r1", 201))

			// The latest id replays nothing; a since with a filter replays
			// only what matches.
			latest, err := b.sub.Subscribe(ctx, events.Filter{}, got[len(got)-1].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(receive(t, latest, 1)); got[0] != "201" {
				t.Fatalf("since the last id: got %v, want only 201", got)
			}
			filtered, err := b.sub.Subscribe(ctx, events.Filter{Providers: []string{"ziik"}}, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			fence(t, b.pub, filtered, comment("ziik", "r1", 202))
		})
	}
}

func TestSinceRejectsGarbage(t *testing.T) {
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.open(t, events.Options{})
			for _, since := range []string{"abc", "12", "-", "1-", "-1", "1-2-3", "+1-2", "1_0-2", "１-2", "99999999999999999999999-0", "1-2\x00"} {
				t.Run(since, func(t *testing.T) {
					_, err := b.sub.Subscribe(t.Context(), events.Filter{}, since)
					if !model.IsCode(err, model.CodeBadUserInput) {
						t.Fatalf("since %q: err %v, want BAD_USER_INPUT", since, err)
					}
				})
			}
		})
	}
}

func TestSlowConsumerIsClosedOthersKeepReceiving(t *testing.T) {
	tests := []struct {
		name   string
		maxLag int
		// closedAt is the event that finds the slow subscriber too far behind.
		closedAt int
	}{
		{"full channel closes at once", -1, 5},
		{"lag beyond the channel is allowed up to MaxLag", 8, 13},
	}
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					b := kind.open(t, events.Options{Buffer: 4, MaxLag: tt.maxLag})
					ctx := t.Context()
					slow, err := b.sub.Subscribe(ctx, events.Filter{}, "")
					if err != nil {
						t.Fatal(err)
					}
					fast, err := b.sub.Subscribe(ctx, events.Filter{}, "")
					if err != nil {
						t.Fatal(err)
					}
					// The fast one reads as it goes; the slow one reads
					// nothing. Publishing never waits for either.
					var got []*events.Event
					for n := 1; n <= 20; n++ {
						if _, err := b.pub.Publish(ctx, comment("klink", "r1", n)); err != nil {
							t.Fatal(err)
						}
						got = append(got, receive(t, fast, 1)...)
						if n == tt.closedAt-1 && slow.Err() != nil {
							t.Fatalf("slow subscriber closed before event %d: %v", tt.closedAt, slow.Err())
						}
					}
					if !slices.Equal(texts(got), seq(1, 20)) {
						t.Fatalf("fast subscriber got %v", texts(got))
					}
					// The slow one still gets what its channel held, then
					// the reason it was closed.
					buffered := texts(receive(t, slow, 4))
					if !slices.Equal(buffered, seq(1, 4)) {
						t.Fatalf("slow subscriber's channel held %v", buffered)
					}
					if err := waitEnded(t, slow); !errors.Is(err, events.ErrSlowConsumer) {
						t.Fatalf("slow subscriber ended with %v, want ErrSlowConsumer", err)
					}
					if st := b.sub.Stats(); st.SlowConsumers != 1 || st.Subscribers != 1 {
						t.Fatalf("stats %+v, want 1 slow consumer and 1 subscriber left", st)
					}
					fence(t, b.pub, fast, comment("klink", "r1", 21))
				})
			}
		})
	}
}

// A burst larger than the channel but within MaxLag reaches a subscriber
// that reads only afterwards, whole and in order.
func TestBurstWithinMaxLag(t *testing.T) {
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.open(t, events.Options{Buffer: 4, MaxLag: 200})
			ctx := t.Context()
			sub, err := b.sub.Subscribe(ctx, events.Filter{}, "")
			if err != nil {
				t.Fatal(err)
			}
			for n := 1; n <= 150; n++ {
				if _, err := b.pub.Publish(ctx, comment("klink", "r1", n)); err != nil {
					t.Fatal(err)
				}
			}
			if got := texts(receive(t, sub, 150)); !slices.Equal(got, seq(1, 150)) {
				t.Fatalf("got %v", got)
			}
			fence(t, b.pub, sub, comment("klink", "r1", 151))
			if st := b.sub.Stats(); st.SlowConsumers != 0 {
				t.Fatalf("stats %+v: nobody was too slow", st)
			}
		})
	}
}

func TestPublishOnce(t *testing.T) {
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.open(t, events.Options{})
			ctx := t.Context()
			sub, err := b.sub.Subscribe(ctx, events.Filter{}, "")
			if err != nil {
				t.Fatal(err)
			}
			// The same delivery arrives 8 times at once, on both instances.
			var wg sync.WaitGroup
			var mu sync.Mutex
			published := 0
			for i := range 8 {
				bus := b.pub
				if i%2 == 1 {
					bus = b.sub
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, ok, err := bus.PublishOnce(ctx, "klink:delivery-1", comment("klink", "r1", 1))
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						published++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if published != 1 {
				t.Fatalf("%d of 8 PublishOnce calls published, want 1", published)
			}
			if got := texts(receive(t, sub, 1)); got[0] != "1" {
				t.Fatalf("got %v", got)
			}
			// Another key publishes; the empty key never dedupes.
			if _, ok, err := b.pub.PublishOnce(ctx, "klink:delivery-2", comment("klink", "r1", 2)); err != nil || !ok {
				t.Fatalf("new key: published %v, err %v", ok, err)
			}
			for range 2 {
				if _, ok, err := b.pub.PublishOnce(ctx, "", comment("klink", "r1", 3)); err != nil || !ok {
					t.Fatalf("empty key: published %v, err %v", ok, err)
				}
			}
			if got := texts(receive(t, sub, 3)); !slices.Equal(got, []string{"2", "3", "3"}) {
				t.Fatalf("got %v", got)
			}
			fence(t, b.pub, sub, comment("klink", "r1", 4))
			st := b.pub.Stats()
			st2 := b.sub.Stats()
			if b.pub != b.sub {
				st.Deduplicated += st2.Deduplicated
			}
			if st.Deduplicated != 7 {
				t.Fatalf("deduplicated %d, want 7", st.Deduplicated)
			}
		})
	}
}

func TestSubscriptionEnds(t *testing.T) {
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.open(t, events.Options{})
			ctx, cancel := context.WithCancel(t.Context())
			byCtx, err := b.sub.Subscribe(ctx, events.Filter{}, "")
			if err != nil {
				t.Fatal(err)
			}
			byClose, err := b.sub.Subscribe(t.Context(), events.Filter{}, "")
			if err != nil {
				t.Fatal(err)
			}
			byBus, err := b.sub.Subscribe(t.Context(), events.Filter{}, "")
			if err != nil {
				t.Fatal(err)
			}
			if n := b.sub.Stats().Subscribers; n != 3 {
				t.Fatalf("%d subscribers, want 3", n)
			}
			cancel()
			if err := waitEnded(t, byCtx); !errors.Is(err, context.Canceled) {
				t.Fatalf("ctx-ended subscription: %v", err)
			}
			byClose.Close()
			byClose.Close()
			if err := waitEnded(t, byClose); !errors.Is(err, events.ErrClosed) {
				t.Fatalf("closed subscription: %v", err)
			}
			if n := b.sub.Stats().Subscribers; n != 1 {
				t.Fatalf("%d subscribers after two ended, want 1", n)
			}
			if _, err := b.sub.Subscribe(ctx, events.Filter{}, ""); !errors.Is(err, context.Canceled) {
				t.Fatalf("subscribe with a done ctx: %v", err)
			}
			if err := b.sub.Close(); err != nil {
				t.Fatal(err)
			}
			if err := waitEnded(t, byBus); !errors.Is(err, events.ErrClosed) {
				t.Fatalf("subscription of a closed bus: %v", err)
			}
			if _, err := b.sub.Subscribe(t.Context(), events.Filter{}, ""); !errors.Is(err, events.ErrClosed) {
				t.Fatalf("subscribe on a closed bus: %v", err)
			}
			if _, err := b.sub.Publish(t.Context(), comment("klink", "r1", 1)); !errors.Is(err, events.ErrClosed) {
				t.Fatalf("publish on a closed bus: %v", err)
			}
		})
	}
}

// compareIDs orders "<ms>-<seq>" ids numerically.
func compareIDs(a, b string) int {
	parse := func(id string) (uint64, uint64) {
		ms, seq, _ := strings.Cut(id, "-")
		m, err1 := strconv.ParseUint(ms, 10, 64)
		s, err2 := strconv.ParseUint(seq, 10, 64)
		if err1 != nil || err2 != nil {
			panic("bad event id " + id)
		}
		return m, s
	}
	am, as := parse(a)
	bm, bs := parse(b)
	if c := cmp.Compare(am, bm); c != 0 {
		return c
	}
	return cmp.Compare(as, bs)
}

// Comments that could not cross Redis are refused at the source, by both
// buses alike, rather than lost on the way.
func TestPublishRefusesUnusableComments(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(c *model.Comment) *model.Comment
	}{
		{"nil", func(*model.Comment) *model.Comment { return nil }},
		{"no provider", func(c *model.Comment) *model.Comment { c.ProviderID = ""; return c }},
		{"no thread kind", func(c *model.Comment) *model.Comment { c.ThreadKind = ""; return c }},
		{"no markup", func(c *model.Comment) *model.Comment { c.Markup = ""; return c }},
		{"attachment without state", func(c *model.Comment) *model.Comment {
			c.Attachments = []*model.Attachment{{ProviderID: c.ProviderID, Ref: "a1", Name: "x.png"}}
			return c
		}},
	}
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.open(t, events.Options{})
			sub, err := b.sub.Subscribe(t.Context(), events.Filter{}, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := tt.spoil(comment("klink", "r1", 1))
					if _, err := b.pub.Publish(t.Context(), c); err == nil {
						t.Fatal("Publish accepted it")
					}
					if _, _, err := b.pub.PublishOnce(t.Context(), "k-"+tt.name, c); err == nil {
						t.Fatal("PublishOnce accepted it")
					}
				})
			}
			fence(t, b.pub, sub, comment("klink", "r1", 2))
		})
	}
}
