package events_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/commentgraph/commentgraph/events"
)

// A subscriber resuming 1,000 events back, with a buffer of 8, receives
// every missed event once and in order, then the live events published
// while it caught up, with no gap and nothing twice: the replay is read from
// the store as the subscriber takes it, never queued against its buffer, and
// the live events it overlaps are read with it before the subscription goes
// live.
func TestPacedReplayHandsOverToLive(t *testing.T) {
	const missed, live = 1000, 20
	for _, k := range busKinds() {
		t.Run(k.name, func(t *testing.T) {
			p := k.open(t, events.Options{Buffer: 8, MaxLag: -1})
			ctx := context.Background()
			first, err := p.pub.Publish(ctx, comment("p", "t", 0))
			if err != nil {
				t.Fatal(err)
			}
			for n := 1; n <= missed; n++ {
				if _, err := p.pub.Publish(ctx, comment("p", "t", n)); err != nil {
					t.Fatal(err)
				}
			}
			sub, err := p.sub.Subscribe(ctx, events.Filter{}, first.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			got := receive(t, sub, 1)
			if !sub.FromReplay(got[0]) {
				t.Fatal("the first replayed event is not FromReplay")
			}
			// Far more than Buffer (8) with MaxLag none, published while
			// the replay still has 999 events to go: live events queued
			// against the buffer would close the subscriber as slow.
			for n := missed + 1; n <= missed+live; n++ {
				if _, err := p.pub.Publish(ctx, comment("p", "t", n)); err != nil {
					t.Fatal(err)
				}
			}
			got = append(got, receive(t, sub, missed+live-1)...)
			if want := seq(1, missed+live); !slices.Equal(texts(got), want) {
				t.Fatalf("got %d events %v…, want 1..%d in order", len(got), texts(got)[:10], missed+live)
			}
			fence(t, p.pub, sub, comment("p", "t", missed+live+1))
			if err := sub.Err(); err != nil {
				t.Fatalf("Err = %v", err)
			}
		})
	}
}

// A replay so slow that the store's retention overtakes it ends with
// ErrSlowConsumer rather than skipping what the store dropped.
func TestReplayOvertakenByRetentionIsSlow(t *testing.T) {
	m, err := events.NewMemory(events.Options{Retention: 300, Buffer: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	first, _ := m.Publish(ctx, comment("p", "t", 0))
	for n := 1; n < 300; n++ {
		_, _ = m.Publish(ctx, comment("p", "t", n))
	}
	sub, err := m.Subscribe(ctx, events.Filter{}, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The subscriber has taken nothing: 300 more events push every event it
	// has yet to read out of the window.
	for n := 300; n < 600; n++ {
		_, _ = m.Publish(ctx, comment("p", "t", n))
	}
	if err := waitEnded(t, sub); !errors.Is(err, events.ErrSlowConsumer) {
		t.Fatalf("Err = %v, want ErrSlowConsumer", err)
	}
}
