package upstreamwait_test

import (
	"context"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/internal/upstreamwait"
)

func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
}

func TestTrackerCountsOverlappingCallsOnce(t *testing.T) {
	const ms = time.Millisecond
	// Each step moves the clock, then begins or ends a call by its number.
	type step struct {
		advance    time.Duration
		begin, end int // call number, 0: none
	}
	tests := []struct {
		name  string
		steps []step
		want  time.Duration
	}{
		{"no calls", []step{{advance: 5 * ms}}, 0},
		{"one call", []step{{begin: 1}, {advance: 10 * ms, end: 1}, {advance: 3 * ms}}, 10 * ms},
		{"three at once", []step{
			{begin: 1}, {begin: 2}, {begin: 3},
			{advance: 10 * ms, end: 2}, {advance: 1 * ms, end: 1}, {advance: 1 * ms, end: 3},
		}, 12 * ms},
		{"one after the other, with own time between", []step{
			{begin: 1}, {advance: 10 * ms, end: 1},
			{advance: 4 * ms, begin: 2}, {advance: 6 * ms, end: 2},
		}, 16 * ms},
		{"staggered overlap", []step{
			{begin: 1}, {advance: 5 * ms, begin: 2}, {advance: 5 * ms, end: 1}, {advance: 5 * ms, end: 2},
		}, 15 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			tr := upstreamwait.New(c.Now)
			for _, s := range tt.steps {
				c.Advance(s.advance)
				if s.end != 0 {
					tr.End()
				}
				if s.begin != 0 {
					tr.Begin()
				}
			}
			if got := tr.Waited(); got != tt.want {
				t.Errorf("Waited() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTrackerCountsACallStillInFlight(t *testing.T) {
	c := newClock()
	tr := upstreamwait.New(c.Now)
	tr.Begin()
	c.Advance(7 * time.Millisecond)
	if got := tr.Waited(); got != 7*time.Millisecond {
		t.Fatalf("in flight: Waited() = %v, want 7ms", got)
	}
	c.Advance(3 * time.Millisecond)
	tr.End()
	c.Advance(time.Second)
	if got := tr.Waited(); got != 10*time.Millisecond {
		t.Fatalf("ended: Waited() = %v, want 10ms", got)
	}
}

func TestNoTrackerRecordsNothing(t *testing.T) {
	tr := upstreamwait.FromContext(context.Background())
	if tr != nil {
		t.Fatalf("FromContext of a bare context = %v, want nil", tr)
	}
	tr.Begin() // a call outside a timed request: must not panic
	tr.End()
	if got := tr.Waited(); got != 0 {
		t.Fatalf("nil Tracker Waited() = %v", got)
	}
	want := upstreamwait.New(nil)
	if got := upstreamwait.FromContext(upstreamwait.NewContext(context.Background(), want)); got != want {
		t.Fatalf("FromContext(NewContext(t)) = %p, want %p", got, want)
	}
}
