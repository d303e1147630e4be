package gctuner_test

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/internal/gctuner"
)

func TestPercent(t *testing.T) {
	o := gctuner.Options{HeapTarget: 64 << 20}
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 800},              // nothing live yet: the most garbage allowed
		{4 << 20, 800},        // 64/4 = 16x: capped at MaxPercent
		{16 << 20, 300},       // grows to 64 MiB: 4x = +300%
		{32 << 20, 100},       // 2x = +100%: Go's default
		{48 << 20, 100},       // would be +33%: never below MinPercent
		{1 << 30, 100},        // a live heap past the target: Go's default
		{64<<20 + 1, 100},     // just past the target
		{64 << 20 / 5, 400},   // 5x = +400%
		{64 << 20 / 100, 800}, // a tiny heap still capped
	} {
		t.Run(fmt.Sprint(tc.live), func(t *testing.T) {
			if got := o.Percent(tc.live); got != tc.want {
				t.Errorf("Percent(%d) = %d, want %d", tc.live, got, tc.want)
			}
		})
	}
	if got := (gctuner.Options{HeapTarget: 64 << 20, MinPercent: 50, MaxPercent: 200}).Percent(48 << 20); got != 50 {
		t.Errorf("MinPercent 50: Percent(48 MiB) = %d, want 50", got)
	}
	if got := (gctuner.Options{HeapTarget: 64 << 20, MinPercent: 50, MaxPercent: 200}).Percent(1 << 20); got != 200 {
		t.Errorf("MaxPercent 200: Percent(1 MiB) = %d, want 200", got)
	}
}

// The tuner follows the live heap across collections: a small live heap gets
// a high GOGC, a live heap past the target gets Go's default, and Stop puts
// back what was there before.
func TestTunerFollowsLiveHeap(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	big := make([][]byte, 0, 96)
	for range 96 {
		big = append(big, make([]byte, 1<<20)) // 96 MiB live, past the target
	}
	runtime.GC()
	tu := gctuner.Start(gctuner.Options{HeapTarget: 64 << 20})
	waitPercent(t, tu, func(p int) bool { return p == 100 }, "GOGC 100 with 96 MiB live")
	runtime.KeepAlive(big)

	big = nil
	waitPercent(t, tu, func(p int) bool { return p > 100 }, "a high GOGC once the live heap is small")

	tu.Stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after Stop GOGC = %d, want the 100 set before Start", got)
	}
	// A collection after Stop changes nothing.
	runtime.GC()
	runtime.GC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("a collection after Stop set GOGC to %d", got)
	}
}

// waitPercent runs collections until the tuner's GOGC satisfies ok; each
// runtime.GC returns after the cycle, and the tuner's cleanup runs soon after
// on the cleanup goroutine, so this is a bounded loop, not a sleep.
func waitPercent(t *testing.T, tu *gctuner.Tuner, ok func(int) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(tu.Percent()) {
		if time.Now().After(deadline) {
			t.Fatalf("want %s; GOGC is %d", what, tu.Percent())
		}
		runtime.GC()
		runtime.Gosched()
	}
	if got := debug.SetGCPercent(tu.Percent()); got != tu.Percent() {
		t.Errorf("runtime GOGC = %d, tuner says %d", got, tu.Percent())
	}
}
