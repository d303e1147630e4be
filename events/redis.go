package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Redis is a bus shared by every gateway instance that points at the same
// Redis: events travel through one Redis stream, and their IDs are the
// stream's entry IDs.
//
// Per instance it uses one reader goroutine (a blocking XREAD, so one Redis
// connection however many local subscribers there are) that fans out to the
// local subscribers, and one writer goroutine that drains the outbox.
//
// Publishing while Redis is down: Publish puts the comment in a bounded
// in-process outbox, written to the stream in order by the writer, which
// retries with backoff until Redis is back. When Redis is reachable, Publish
// waits for the write and returns the event with its ID. When it is not (or
// ctx ends first), Publish returns at once with a nil error and an empty
// Event.ID: the comment is queued and will be published. Only ErrOutboxFull
// (and ErrClosed) mean the comment was not accepted. Queued comments still in
// the outbox when the process exits are lost; Close tries to flush them for a
// few seconds.
//
// After a Redis restart the stream is empty and new IDs are time-based, so
// they sort after the old ones: the reader resumes from the last ID it
// delivered and receives everything written since. If the new stream's IDs
// sort below that (the clock moved back), the reader starts the new stream
// from its beginning.
type Redis struct {
	client redis.UniversalClient
	opts   Options
	hub    *hub
	// guardPrefix names the SET NX keys that make a write happen once, for
	// PublishOnce keys and for the outbox's own retries.
	guardPrefix string

	closed     atomic.Bool
	closeOnce  sync.Once
	stopReader context.CancelFunc
	readerDone chan struct{}

	// The outbox: comments waiting to be written, oldest first.
	obMu      sync.Mutex
	obQueue   []*outboxItem
	obClosed  bool
	obWake    chan struct{} // capacity 1: "the queue changed"
	closing   chan struct{}
	stopFlush context.CancelFunc
	obDone    chan struct{}
	health    health

	seenMu sync.Mutex
	seen   *seenKeys // PublishOnce keys this instance queued
}

type outboxItem struct {
	guard    string
	guardTTL time.Duration
	typ      model.CommentEventType
	payload  string
	at       time.Time
	comment  *model.Comment
	done     chan outcome // capacity 1, so the writer never waits for a caller
}

type outcome struct {
	id        string
	published bool
	err       error
}

var _ Bus = (*Redis)(nil)

// publishScript writes one event once: the guard key (SET NX) and the XADD
// happen atomically, so a retried write, a replayed webhook delivery or a
// second poller seeing the same comment adds nothing. It trims the stream by
// count (MAXLEN ~) and by age (MINID ~, from the server's clock).
//
// An ADDED event's entry is what it always was (c: comment, at), so instances
// that predate event types read it unchanged. Any other type's entry is
// t: type, m: comment, at: an older instance finds no c in it and skips it
// (logging it) rather than announcing an edit or a deletion as a new comment.
//
// KEYS: stream, guard. ARGV: guard TTL ms, max length, max age ms (0: none),
// payload, publish time ms, type ("" for ADDED). Returns the entry ID, or nil
// for a duplicate.
var publishScript = redis.NewScript(`
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return false
end
local id
if ARGV[6] == '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'c', ARGV[4], 'at', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 't', ARGV[6], 'm', ARGV[4], 'at', ARGV[5])
end
local age = tonumber(ARGV[3])
if age > 0 then
  local t = redis.call('TIME')
  local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age
  if minid > 0 then
    redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', minid))
  end
end
return id
`)

// retryGuardTTL is how long a plain Publish's guard lives: long enough to
// cover a write retried after its reply was lost.
const retryGuardTTL = 10 * time.Minute

// closeFlushTimeout bounds how long Close tries to write the outbox.
const closeFlushTimeout = 5 * time.Second

// startTimeout bounds NewRedis's first look at the stream.
const startTimeout = 5 * time.Second

// NewRedis returns a bus over client. It reads the stream's last ID to start
// from, so Redis must be reachable when it is called.
func NewRedis(client redis.UniversalClient, opts Options) (*Redis, error) {
	opts = opts.withDefaults()
	opts.Retention = max(opts.Retention, minStreamLen)
	if _, cluster := client.(*redis.ClusterClient); cluster && !hasHashTag(opts.Stream) {
		// Every publish would fail with CROSSSLOT: the script touches the
		// stream and a guard beside it.
		return nil, fmt.Errorf("events: stream %q has no {hash tag}: on a Redis Cluster its dedupe guards would hash to other slots", opts.Stream)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	start, err := lastGeneratedID(ctx, client, opts.Stream)
	if err != nil {
		return nil, fmt.Errorf("events: open redis stream %q: %w", opts.Stream, err)
	}
	b := &Redis{
		client:      client,
		opts:        opts,
		hub:         newHub(opts),
		guardPrefix: opts.Stream + ":once:",
		readerDone:  make(chan struct{}),
		obWake:      make(chan struct{}, 1),
		closing:     make(chan struct{}),
		obDone:      make(chan struct{}),
		seen:        newSeenKeys(opts.DedupeWindow, 100_000),
	}
	b.hub.cursor = start
	b.health.set(true)
	if err := register(opts.Registerer, "redis", b.Stats); err != nil {
		return nil, err
	}
	readCtx, stopReader := context.WithCancel(context.Background())
	flushCtx, stopFlush := context.WithCancel(context.Background())
	b.stopReader, b.stopFlush = stopReader, stopFlush
	go b.read(readCtx, start)
	go b.write(flushCtx)
	return b, nil
}

// lastGeneratedID is the ID of the stream's newest entry ever (0-0 when the
// stream does not exist).
func lastGeneratedID(ctx context.Context, client redis.UniversalClient, stream string) (eventID, error) {
	info, err := client.XInfoStream(ctx, stream).Result()
	if err != nil {
		if isNoSuchKey(err) {
			return eventID{}, nil
		}
		return eventID{}, err
	}
	return parseID(info.LastGeneratedID)
}

// hasHashTag reports whether Redis Cluster hashes key by a {tag} in it (the
// text between the first '{' and the next '}', when not empty), so that
// key+suffix shares its slot.
func hasHashTag(key string) bool {
	_, rest, ok := strings.Cut(key, "{")
	end := strings.IndexByte(rest, '}')
	return ok && end > 0
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// Publish implements Bus; see the type's doc for a nil error with an empty ID.
func (b *Redis) Publish(ctx context.Context, c *model.Comment) (Event, error) {
	ev, _, err := b.PublishChange(ctx, model.CommentEventTypeAdded, "", c)
	return ev, err
}

// PublishOnce implements Bus. Keys are deduplicated across every instance
// sharing the stream. While Redis is unreachable, published reflects what this
// instance has seen; the cross-instance check happens when the outbox drains,
// and a duplicate is then dropped.
func (b *Redis) PublishOnce(ctx context.Context, key string, c *model.Comment) (Event, bool, error) {
	return b.PublishChange(ctx, model.CommentEventTypeAdded, key, c)
}

// PublishChange implements Bus, deduplicating as PublishOnce does.
func (b *Redis) PublishChange(ctx context.Context, t model.CommentEventType, key string, c *model.Comment) (Event, bool, error) {
	if err := checkComment(t, c); err != nil {
		return Event{}, false, err
	}
	if key == "" {
		var guard [8]byte
		_, _ = rand.Read(guard[:])
		return b.publish(ctx, "p:"+hex.EncodeToString(guard[:]), retryGuardTTL, t, c)
	}
	now := b.opts.Now()
	b.seenMu.Lock()
	isNew := b.seen.add(key, now)
	b.seenMu.Unlock()
	if !isNew {
		b.hub.deduped.Add(1)
		return Event{Type: t, Comment: c, At: now.UTC()}, false, nil
	}
	h := hashKey(key)
	return b.publish(ctx, "k:"+hex.EncodeToString(h[:]), b.opts.DedupeWindow, t, c)
}

// publish queues a comment PublishChange has checked.
func (b *Redis) publish(ctx context.Context, guard string, ttl time.Duration, t model.CommentEventType, c *model.Comment) (Event, bool, error) {
	if b.closed.Load() {
		return Event{}, false, ErrClosed
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return Event{}, false, fmt.Errorf("events: encode comment: %w", err)
	}
	at := b.opts.Now().UTC()
	it := &outboxItem{
		guard: b.guardPrefix + guard, guardTTL: ttl, typ: t, payload: string(payload),
		at: at, comment: c, done: make(chan outcome, 1),
	}
	if err := b.enqueue(it); err != nil {
		return Event{}, false, err
	}
	queued := Event{Type: t, Comment: c, At: at}
	up, down := b.health.get()
	if !up {
		return queued, true, nil
	}
	select {
	case <-down:
		return queued, true, nil
	case o := <-it.done:
		if o.err != nil {
			return Event{}, false, o.err
		}
		if !o.published {
			return queued, false, nil
		}
		return Event{ID: o.id, Type: t, Comment: c, At: at}, true, nil
	case <-ctx.Done():
		return queued, true, nil
	}
}

func (b *Redis) enqueue(it *outboxItem) error {
	b.obMu.Lock()
	defer b.obMu.Unlock()
	if b.obClosed {
		return ErrClosed
	}
	if len(b.obQueue) >= b.opts.Outbox {
		return fmt.Errorf("events: %w (%d comments waiting)", ErrOutboxFull, len(b.obQueue))
	}
	b.obQueue = append(b.obQueue, it)
	select {
	case b.obWake <- struct{}{}:
	default:
	}
	return nil
}

func (b *Redis) head() *outboxItem {
	b.obMu.Lock()
	defer b.obMu.Unlock()
	if len(b.obQueue) == 0 {
		return nil
	}
	return b.obQueue[0]
}

func (b *Redis) pop() {
	b.obMu.Lock()
	b.obQueue[0] = nil
	b.obQueue = b.obQueue[1:]
	if len(b.obQueue) == 0 {
		b.obQueue = nil
	}
	b.obMu.Unlock()
}

// write drains the outbox in order, one write at a time, retrying the head
// with backoff while Redis is unreachable. After Close it stops at the first
// failure or when ctx (the flush deadline) ends, and fails what is left.
func (b *Redis) write(ctx context.Context) {
	defer close(b.obDone)
	backoff := b.opts.MinBackoff
	closing := false
	for {
		it := b.head()
		if it == nil {
			if closing {
				b.failOutbox()
				return
			}
			select {
			case <-b.obWake:
			case <-b.closing:
				closing = true
			}
			continue
		}
		id, err := publishScript.Run(ctx, b.client,
			[]string{b.opts.Stream, it.guard},
			it.guardTTL.Milliseconds(), b.opts.Retention, max(b.opts.RetentionAge.Milliseconds(), 0),
			it.payload, it.at.UnixMilli(), entryType(it.typ),
		).Text()
		switch {
		case err == nil || errors.Is(err, redis.Nil):
			if b.health.set(true) {
				b.opts.Logger.Info("events: redis reachable again; outbox draining", "depth", b.outboxDepth())
			}
			backoff = b.opts.MinBackoff
			b.pop()
			if err == nil {
				b.hub.published.Add(1)
				it.done <- outcome{id: id, published: true}
			} else {
				b.hub.deduped.Add(1)
				it.done <- outcome{}
			}
		case permanent(err):
			b.pop()
			b.opts.Logger.Error("events: redis refused a comment; dropped", "err", err)
			it.done <- outcome{err: fmt.Errorf("events: publish: %w", err)}
		default:
			if b.health.set(false) {
				b.opts.Logger.Warn("events: redis unreachable; queueing comments", "err", err)
			}
			if closing || ctx.Err() != nil {
				b.failOutbox()
				return
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-b.closing:
				closing = true
				t.Stop()
			}
			backoff = min(backoff*2, b.opts.MaxBackoff)
		}
	}
}

// failOutbox refuses further publishes and fails the comments still queued.
func (b *Redis) failOutbox() {
	b.obMu.Lock()
	b.obClosed = true
	left := b.obQueue
	b.obQueue = nil
	b.obMu.Unlock()
	if len(left) > 0 {
		b.opts.Logger.Error("events: bus closed with comments never written to redis", "lost", len(left))
	}
	for _, it := range left {
		it.done <- outcome{err: fmt.Errorf("%w before redis accepted the comment", ErrClosed)}
	}
}

// permanent reports an error Redis itself answered that retrying cannot fix.
// Connection errors and the transient replies (LOADING, BUSY, …) are retried.
func permanent(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	for _, p := range []string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "MOVED", "ASK", "NOSCRIPT"} {
		if strings.HasPrefix(rerr.Error(), p) {
			return false
		}
	}
	return true
}

func (b *Redis) outboxDepth() int {
	b.obMu.Lock()
	defer b.obMu.Unlock()
	return len(b.obQueue)
}

// read is the instance's one stream reader: it follows the stream from start
// and fans each entry out to the local subscribers, reconnecting with backoff.
func (b *Redis) read(ctx context.Context, start eventID) {
	defer close(b.readerDone)
	last := start
	backoff := b.opts.MinBackoff
	broken := false
	for ctx.Err() == nil {
		if broken {
			if err := b.checkReset(ctx, &last); err != nil {
				b.sleep(ctx, &backoff)
				continue
			}
			broken = false
			backoff = b.opts.MinBackoff
			b.opts.Logger.Info("events: redis reader resumed", "after", last.String())
		}
		res, err := b.client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{b.opts.Stream, last.String()}, Count: 512, Block: b.opts.ReadBlock,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !broken {
				b.opts.Logger.Warn("events: redis reader lost the stream; reconnecting", "err", err)
			}
			broken = true
			b.sleep(ctx, &backoff)
			continue
		}
		for _, st := range res {
			for _, msg := range st.Messages {
				id, err := parseID(msg.ID)
				if err != nil || !last.less(id) {
					continue
				}
				last = id
				ev, err := decodeEntry(msg.ID, msg.Values)
				if err != nil {
					b.opts.Logger.Error("events: undecodable stream entry skipped", "id", msg.ID, "err", err)
					b.hub.resetCursor(id)
					continue
				}
				b.hub.publish(ev, id)
			}
		}
	}
}

// checkReset looks at the stream after an outage: when it is gone or its IDs
// now sort below the last one delivered, Redis lost it (a restart without
// persistence) and the reader starts the new stream from its beginning.
func (b *Redis) checkReset(ctx context.Context, last *eventID) error {
	info, err := b.client.XInfoStream(ctx, b.opts.Stream).Result()
	switch {
	case isNoSuchKey(err):
	case err != nil:
		return err
	default:
		lg, err := parseID(info.LastGeneratedID)
		if err == nil && !lg.less(*last) {
			return nil
		}
	}
	if *last != (eventID{}) {
		b.opts.Logger.Warn("events: redis stream was reset; reading the new one from its start", "was", last.String())
		*last = eventID{}
		b.hub.resetCursor(eventID{})
	}
	return nil
}

func (b *Redis) sleep(ctx context.Context, backoff *time.Duration) {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	*backoff = min(*backoff*2, b.opts.MaxBackoff)
}

// Subscribe implements Bus. With since, the subscription is registered
// first, then the stream is read with XRANGE from since, one page at a time
// as the subscriber takes them (see Subscription.replay), until the replay
// has read what this instance's reader has fanned out; the events after that
// come live, so none is missed or doubled. A since ahead of the reader (an
// ID another instance sent) replays what the stream holds after it, and the
// live events up to it are skipped.
func (b *Redis) Subscribe(ctx context.Context, f Filter, since string) (*Subscription, error) {
	var from eventID
	if since != "" {
		var err error
		if from, err = parseID(since); err != nil {
			return nil, fmt.Errorf("events: subscribe: %w", err)
		}
	}
	if b.closed.Load() {
		return nil, ErrClosed
	}
	s, err := b.hub.subscribe(ctx, f, since != "", from)
	if err != nil || since == "" {
		return s, err
	}
	// The first page is read here, so that an unreachable store is the
	// subscribe's error.
	first, end, err := b.history(ctx, from, replayPage, false)
	if err != nil {
		s.endReplay(err)
		return nil, err
	}
	go s.replay(ctx, b.history, from, first, end)
	return s, nil
}

// history reads up to n entries after after with XRANGE. A resumed read
// starts at after itself, which the replay read before: when it is no longer
// the stream's, MAXLEN trimmed the stream past the replay, and the events it
// had yet to read may be gone (ErrSlowConsumer).
func (b *Redis) history(ctx context.Context, after eventID, n int, resumed bool) ([]*Event, eventID, error) {
	start := after.next()
	if resumed {
		start, n = after, n+1
	}
	msgs, err := b.client.XRangeN(ctx, b.opts.Stream, start.String(), "+", int64(n)).Result()
	if err != nil {
		return nil, after, &model.Error{Code: model.CodeUpstreamUnavailable, Message: "the event store is unreachable; retry the subscription", Err: err}
	}
	if resumed {
		if len(msgs) == 0 || msgs[0].ID != after.String() {
			return nil, after, ErrSlowConsumer
		}
		msgs = msgs[1:]
	}
	end := after
	out := make([]*Event, 0, len(msgs))
	for _, msg := range msgs {
		id, err := parseID(msg.ID)
		if err != nil {
			continue
		}
		end = id
		ev, err := decodeEntry(msg.ID, msg.Values)
		if err != nil {
			continue // logged by the reader when it saw the entry
		}
		out = append(out, ev)
	}
	return out, end, nil
}

// maxPayload bounds one entry's comment JSON: a comment is a few KB at most,
// and an entry this large is not one of ours.
const maxPayload = 4 << 20

// entryType is the t field of an event's stream entry: none for ADDED, which
// keeps the entry readable by instances that predate types.
func entryType(t model.CommentEventType) string {
	if t == model.CommentEventTypeAdded {
		return ""
	}
	return string(t)
}

// decodeEntry turns a stream entry into an event: an ADDED one is c: comment
// JSON, at: unix ms (what every instance has always written); any other type
// is t: type, m: comment JSON, at. An entry without t is ADDED. The stream is
// shared, so anything may be in it: a bad entry is an error, never a panic.
func decodeEntry(id string, values map[string]any) (*Event, error) {
	t, field := model.CommentEventTypeAdded, "c"
	if v, ok := values["t"]; ok {
		s, _ := v.(string)
		if t = model.CommentEventType(s); !t.IsValid() {
			return nil, fmt.Errorf("events: entry has event type %q", clip(s, 32))
		}
		field = "m"
	}
	raw, ok := values[field].(string)
	if !ok {
		return nil, errors.New("events: entry has no comment field")
	}
	if len(raw) > maxPayload {
		return nil, fmt.Errorf("events: entry comment is %d bytes", len(raw))
	}
	var c model.Comment
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, fmt.Errorf("events: entry comment: %w", err)
	}
	if err := checkComment(t, &c); err != nil {
		return nil, fmt.Errorf("events: entry: %w", err)
	}
	eid, err := parseID(id)
	if err != nil {
		return nil, err
	}
	at := time.UnixMilli(int64(min(eid.ms, 1<<62))).UTC()
	if s, ok := values["at"].(string); ok {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 && ms < 1<<50 {
			at = time.UnixMilli(ms).UTC()
		}
	}
	return &Event{ID: id, Type: t, Comment: &c, At: at}, nil
}

// Stats implements Bus.
func (b *Redis) Stats() Stats {
	s := b.hub.stats()
	s.OutboxDepth = b.outboxDepth()
	return s
}

// Close implements Bus: it ends the subscriptions, stops the reader (which
// exits within ReadBlock), and gives the outbox up to a few seconds to reach
// Redis before failing what is left.
func (b *Redis) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.stopReader()
		b.hub.close()
		close(b.closing)
		t := time.AfterFunc(closeFlushTimeout, b.stopFlush)
		<-b.obDone
		t.Stop()
		b.stopFlush()
	})
	return nil
}

// health is whether the writer's last attempt reached Redis. A publisher
// waiting for its write also waits on down, closed when Redis becomes
// unreachable, so that it returns (queued) instead of waiting out the outage.
type health struct {
	mu   sync.Mutex
	up   bool
	down chan struct{}
}

// set records the state and reports whether it changed.
func (h *health) set(up bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down == nil {
		h.down = make(chan struct{})
	}
	if h.up == up {
		return false
	}
	h.up = up
	if up {
		h.down = make(chan struct{})
	} else {
		close(h.down)
	}
	return true
}

func (h *health) get() (up bool, down <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up, h.down
}
