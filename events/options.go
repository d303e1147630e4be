package events

import (
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a bus. The zero value is usable: every field says its default.
type Options struct {
	// Retention is how many recent events are kept for since-replay.
	// 0: 10_000. -1: none in memory (since replays nothing); a Redis stream
	// keeps at least minStreamLen entries so lagging readers do not miss any.
	Retention int
	// RetentionAge drops events older than this from the replay window.
	// 0: 1 hour. -1: no age limit.
	RetentionAge time.Duration
	// Buffer is the capacity of each subscription's channel: what an idle
	// subscriber costs (8 bytes per slot). 0: 64.
	Buffer int
	// MaxLag is how many more events a subscriber whose channel is full may
	// fall behind (queued in process, in order) before it is closed with
	// ErrSlowConsumer. It absorbs bursts, such as an outbox draining after a
	// Redis outage, without closing every subscriber. 0: 1024. -1: none, a
	// full channel closes the subscription at once.
	MaxLag int
	// DedupeWindow is how long PublishOnce remembers a key. 0: 24 hours.
	DedupeWindow time.Duration
	// Outbox (Redis) is how many comments may wait in process for Redis to come
	// back before Publish returns ErrOutboxFull. 0: 10_000.
	Outbox int
	// Stream (Redis) is the stream key; dedupe guards live beside it with the
	// suffix ":once:". Keep a {hash tag} in it for Redis Cluster, so the stream
	// and its guards share a slot (NewRedis refuses a cluster client and a
	// stream without one). "": "commentgraph:{events}".
	Stream string
	// ReadBlock (Redis) is how long one XREAD waits for new entries; the reader
	// notices Close within it. 0: 1 second.
	ReadBlock time.Duration
	// MinBackoff and MaxBackoff (Redis) bound the wait between attempts while
	// Redis is unreachable. 0: 50 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives reconnects, dropped entries and the like. nil: discard.
	Logger *slog.Logger
	// Now is the clock. nil: time.Now.
	Now func() time.Time
	// Registerer, when set, gets the bus's metrics (see Stats), labelled
	// bus="memory" or bus="redis".
	Registerer prometheus.Registerer
}

// minStreamLen is the least a Redis stream keeps, whatever Retention says.
const minStreamLen = 1000

func (o Options) withDefaults() Options {
	if o.Retention == 0 {
		o.Retention = 10_000
	}
	if o.Retention < 0 {
		o.Retention = 0
	}
	if o.RetentionAge == 0 {
		o.RetentionAge = time.Hour
	}
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	if o.MaxLag == 0 {
		o.MaxLag = 1024
	}
	if o.MaxLag < 0 {
		o.MaxLag = 0
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = 24 * time.Hour
	}
	if o.Outbox <= 0 {
		o.Outbox = 10_000
	}
	if o.Stream == "" {
		o.Stream = "commentgraph:{events}"
	}
	if o.ReadBlock <= 0 {
		o.ReadBlock = time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
