// Package gctuner paces the garbage collector by heap size instead of by
// GOGC's fixed ratio alone.
//
// Go collects when the heap has grown GOGC% (default 100) past the live heap.
// A gateway's live heap is small (a few MiB of caches and connections) while
// each query allocates about a megabyte of short-lived response objects, so
// with GOGC=100 it collects every few queries and spends a fifth of its CPU
// marking. Start raises GOGC while the live heap is small, so collections wait
// until the heap reaches Options.HeapTarget, and lowers it back to Go's
// default as the live heap approaches the target, so a large live heap (ten
// thousand open subscriptions, say) grows no more than with GOGC=100.
// GOMEMLIMIT, when set, still bounds the heap as usual.
package gctuner

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Options tunes the tuner.
type Options struct {
	// HeapTarget is the heap size, in bytes, collections may wait for while
	// the live heap is smaller. Default 64 MiB.
	HeapTarget uint64
	// MinPercent is the lowest GOGC set. Default 100 (Go's default).
	MinPercent int
	// MaxPercent is the highest GOGC set, bounding the garbage a tiny live
	// heap may pile up. Default 800.
	MaxPercent int
}

func (o Options) withDefaults() Options {
	if o.HeapTarget == 0 {
		o.HeapTarget = 64 << 20
	}
	if o.MinPercent <= 0 {
		o.MinPercent = 100
	}
	if o.MaxPercent < o.MinPercent {
		o.MaxPercent = max(800, o.MinPercent)
	}
	return o
}

// Percent is the GOGC that lets a heap with live bytes live grow to the
// target before the next collection, within [MinPercent, MaxPercent].
func (o Options) Percent(live uint64) int {
	o = o.withDefaults()
	if live == 0 {
		return o.MaxPercent
	}
	p := int(min(o.HeapTarget/live, 1<<20))*100 - 100
	return max(o.MinPercent, min(p, o.MaxPercent))
}

// Tuner re-tunes GOGC after every collection until Stop.
type Tuner struct {
	opts Options
	prev int // GOGC before Start, restored by Stop
	// percent is the GOGC last set.
	percent atomic.Int64

	mu      sync.Mutex // guards stopped, sample and setting GOGC
	stopped bool
	sample  []metrics.Sample
}

// Start begins tuning. Only one tuner should run in a process: GOGC is
// process-wide.
func Start(opts Options) *Tuner {
	t := &Tuner{opts: opts.withDefaults(), sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.prev = debug.SetGCPercent(-1)
	debug.SetGCPercent(t.prev)
	t.mu.Lock()
	t.tune()
	t.mu.Unlock()
	return t
}

// Percent is the GOGC the tuner last set.
func (t *Tuner) Percent() int { return int(t.percent.Load()) }

// Stop ends tuning and restores the GOGC in force before Start.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		debug.SetGCPercent(t.prev)
	}
}

// sentinel is garbage on purpose: its cleanup runs after the collection that
// finds it unreachable, which is when the live heap is known.
type sentinel struct{ _ [16]byte }

func (t *Tuner) arm() {
	s := &sentinel{}
	runtime.AddCleanup(s, func(t *Tuner) { t.afterGC() }, t)
}

func (t *Tuner) afterGC() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.tune()
	}
}

// tune sets GOGC for the live heap the last collection found and arms the
// next call. t.mu is held.
func (t *Tuner) tune() {
	metrics.Read(t.sample)
	live := uint64(0)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	p := t.opts.Percent(live)
	debug.SetGCPercent(p)
	t.percent.Store(int64(p))
	t.arm()
}
