package events

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Subscription is one subscriber's stream of events.
//
// Cost of an idle subscription (64-bit, Buffer 64): this struct (~200 B), its
// channel (96 B header + 64 × 8 B of pointers), its entry in the hub's map and
// the context.AfterFunc registration that ends it with its ctx — about 1 KB
// and no goroutine. A goroutine exists only while the subscriber is behind (a
// since-replay, or a burst that overflowed its channel) and exits when it has
// caught up.
type Subscription struct {
	// C receives the events in order. It is closed when the subscription ends;
	// Err then says why.
	C <-chan *Event

	c         chan *Event
	hub       *hub
	threads   []string
	providers []string
	types     []model.CommentEventType
	// after is the since a subscriber resumed from: live events up to it are
	// not delivered. A since from another instance may be ahead of this
	// instance's reader, and its events then arrive live, not in the replay.
	after eventID

	mu   sync.Mutex
	stop func() bool // unregisters the ctx.AfterFunc; nil until set
	// catching is true while the subscriber is behind (a replay, or a full
	// channel) and a goroutine (replay or catchUp), not the closer, closes
	// c. After a full channel, live events queue in backlog, in order.
	catching bool
	// replaying is true while a since-replay runs: live events are dropped,
	// as the replay reads them from the store. replayEnd is then the ID of
	// the last event it delivered, until FromReplay is given a later one.
	replaying bool
	replayEnd eventID
	backlog   []*Event
	queued    int // live events added to backlog while catching
	lag       int // how many may be queued before the subscriber counts as slow
	wake      chan struct{}
	closed    bool
	err       error
}

// Err says why the subscription ended: ErrSlowConsumer, ErrClosed, the ctx's
// error, or a replay failure. It is nil while the subscription runs.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// FromReplay says whether ev, received from C, is part of what the
// subscriber missed: the replay of its since, or a live event that queued
// behind that replay. Such events are held by the bus, not counted against
// the subscriber's buffer, so a transport may pace them to its client's own
// speed; live events must not wait, or a slow client would hold up the events
// behind it instead of being closed with ErrSlowConsumer.
func (s *Subscription) FromReplay(ev *Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replaying {
		return true
	}
	if s.replayEnd == (eventID{}) || ev == nil {
		return false
	}
	id, err := parseID(ev.ID)
	if err != nil {
		return false
	}
	if !s.replayEnd.less(id) {
		return true
	}
	// C delivers in order, so no event after this one is from the replay:
	// forget its end, and later live events cost no parse.
	s.replayEnd = eventID{}
	return false
}

// Close ends the subscription (Err then returns ErrClosed). It is safe to call
// more than once and concurrently with delivery.
func (s *Subscription) Close() { s.end(ErrClosed) }

func (s *Subscription) matches(t model.CommentEventType, threadID, providerID string) bool {
	return contains(s.types, t) && contains(s.threads, threadID) && contains(s.providers, providerID)
}

// contains is a linear scan: filters are a handful of IDs, and a slice costs
// an idle subscriber far less than a map.
func contains[T comparable](set []T, v T) bool {
	if len(set) == 0 {
		return true
	}
	for _, x := range set {
		if x == v {
			return true
		}
	}
	return false
}

// end closes the subscription with err and removes it from its hub.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	ended := s.closeLocked(err)
	stop := s.stop
	s.mu.Unlock()
	if ended {
		s.unregister(stop)
	}
}

// unregister frees what an ended subscription still holds elsewhere: its
// callback in ctx and its place in the hub.
func (s *Subscription) unregister(stop func() bool) {
	if stop != nil {
		stop()
	}
	s.hub.remove(s)
}

// closeLocked marks the subscription closed; the first reason wins.
func (s *Subscription) closeLocked(err error) bool {
	if s.closed {
		return false
	}
	s.closed, s.err = true, err
	s.backlog = nil
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
	if !s.catching {
		close(s.c)
	}
	return true
}

// offer hands ev to the subscriber without ever blocking. When the subscriber
// has fallen behind, offer closes it and returns its ctx callback's stop
// function (the caller removes it from the hub). Called with the hub lock
// held, so offers arrive in publish order.
func (s *Subscription) offer(ev *Event) (slow bool, stop func() bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, nil
	}
	if s.replaying {
		// The replay reads this event from the store when it gets there
		// (see handOver): nothing is queued for a subscriber catching up.
		return false, nil
	}
	if s.catching {
		if s.queued >= s.lag {
			s.closeLocked(ErrSlowConsumer)
			return true, s.stop
		}
		s.backlog = append(s.backlog, ev)
		s.queued++
		return false, nil
	}
	select {
	case s.c <- ev:
		s.hub.delivered.Add(1)
		return false, nil
	default:
	}
	if s.hub.maxLag == 0 {
		s.closeLocked(ErrSlowConsumer)
		return true, s.stop
	}
	// The channel is full: queue behind it until the subscriber catches up
	// or falls MaxLag behind.
	s.catching, s.lag, s.queued = true, s.hub.maxLag, 1
	s.backlog = append(s.backlog, ev)
	s.wake = make(chan struct{})
	go s.catchUp(s.wake)
	return false, nil
}

// replayPage is how many entries one read of the history takes: a paced
// replay holds at most one page per subscriber.
const replayPage = 256

// history reads, oldest first, up to n stored events with IDs after after,
// and the ID of the last entry it read, matching or not (end), so that a page
// whose events the subscriber does not want still moves the replay on. A
// replay whose position was trimmed from the store meanwhile (resumed is
// true: the position was an event the replay read) gets ErrSlowConsumer.
type history func(ctx context.Context, after eventID, n int, resumed bool) (evs []*Event, end eventID, err error)

// replay delivers what the subscriber missed after from, paced by the
// subscriber: the next page of history is read only when it has taken the
// previous one from C, so a long backlog costs neither a queue nor the live
// buffer. Live events are not queued meanwhile (offer drops them while
// replaying); once the replay has read up to what the hub has fanned out,
// handOver switches the subscription to live from the last ID read, so the
// events after it come live and none is missed or doubled. first is the page
// Subscribe read (so that an unreachable store is the caller's error).
func (s *Subscription) replay(ctx context.Context, read history, from eventID, first []*Event, firstEnd eventID) {
	s.mu.Lock()
	wake, closed := s.wake, s.closed
	s.mu.Unlock()
	if closed {
		s.endReplay(nil)
		return
	}
	pos, evs, end := from, first, firstEnd
	var last *Event // the last event handed to c
	reread := false // evs was read after a hand-over found the hub ahead
	for {
		for _, ev := range evs {
			if !s.matches(ev.Type, ev.Comment.ThreadID(), ev.Comment.ProviderID) {
				continue
			}
			select {
			case s.c <- ev:
				s.hub.delivered.Add(1)
				last = ev
			case <-wake:
				s.endReplay(nil)
				return
			}
		}
		progressed := pos.less(end)
		if progressed {
			pos = end
		}
		// A read after the hub was found ahead that brings nothing new
		// means the store does not hold what the hub fanned out (no
		// retention, a recreated stream): go live rather than spin.
		if s.hub.handOver(s, pos, last, reread && !progressed) {
			return
		}
		var err error
		if evs, end, err = read(ctx, pos, replayPage, pos != from); err != nil {
			s.endReplay(err)
			return
		}
		reread = true
	}
}

// endReplay ends a replay early: the subscription closed (err nil), or its
// history could not be read. The replay owns c until it ends.
func (s *Subscription) endReplay(err error) {
	s.mu.Lock()
	ended := false
	if err != nil {
		ended = s.closeLocked(err)
	}
	s.catching, s.replaying = false, false
	close(s.c)
	stop := s.stop
	s.mu.Unlock()
	if ended {
		s.unregister(stop)
	}
}

// handOver switches s from its replay to live delivery when the replay has
// read up to pos everything this hub has fanned out: every later event then
// reaches s live, and live events up to pos are skipped. It is false when
// the hub has fanned out events past pos meanwhile, unless force: the replay
// reads on.
func (h *hub) handOver(s *Subscription, pos eventID, last *Event, force bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos.less(h.cursor) && !force {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(s.c)
	}
	if last != nil {
		// The events up to last may still wait in c.
		s.replayEnd, _ = parseID(last.ID)
	}
	if s.after.less(pos) {
		s.after = pos
	}
	s.catching, s.replaying, s.wake = false, false, nil
	return true
}

// catchUp delivers the backlog of live events that overflowed c, blocking on
// the subscriber, then switches the subscription back to direct delivery.
func (s *Subscription) catchUp(wake <-chan struct{}) {
	for {
		s.mu.Lock()
		if s.closed {
			close(s.c)
			s.mu.Unlock()
			return
		}
		if len(s.backlog) == 0 {
			s.catching, s.backlog, s.wake, s.queued = false, nil, nil, 0
			s.mu.Unlock()
			return
		}
		ev := s.backlog[0]
		s.backlog[0] = nil
		s.backlog = s.backlog[1:]
		s.mu.Unlock()
		select {
		case s.c <- ev:
			s.hub.delivered.Add(1)
		case <-wake:
		}
	}
}

// hub fans events out to the subscriptions of one bus instance. Publishing is
// a loop of non-blocking channel sends under one lock: no goroutine per
// subscriber, and a slow subscriber is closed instead of waited for.
type hub struct {
	maxLag int
	buffer int

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	// cursor is the ID of the last event fanned out (the Redis bus's replay
	// boundary: events up to it come from XRANGE, events after it live).
	cursor eventID

	published, delivered, slow, deduped atomic.Uint64
}

func newHub(o Options) *hub {
	return &hub{maxLag: o.MaxLag, buffer: o.Buffer, subs: make(map[*Subscription]struct{})}
}

// subscribe registers a new subscription. With replay, live events are not
// delivered until the replay (Subscription.replay) hands over. Live events
// with IDs up to after are skipped.
func (h *hub) subscribe(ctx context.Context, f Filter, replay bool, after eventID) (*Subscription, error) {
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	c := make(chan *Event, h.buffer)
	var wake chan struct{}
	if replay {
		wake = make(chan struct{})
	}
	s := &Subscription{wake: wake,
		C: c, c: c, hub: h, catching: replay, replaying: replay,
		threads: compact(f.Threads), providers: compact(f.Providers), types: compact(f.Types), after: after,
	}
	// If ctx is already done, the callback ends s at once (in its own
	// goroutine) and the check below refuses it.
	stop := context.AfterFunc(ctx, func() { s.end(context.Cause(ctx)) })

	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	s.stop = stop
	closed, err := s.closed, s.err
	s.mu.Unlock()
	if h.closed {
		stop()
		return nil, ErrClosed
	}
	if closed {
		return nil, err
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// compact copies ids without duplicates or empties; nil when none remain, so
// the filter matches everything.
func compact[T ~string](ids []T) []T {
	var out []T
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// publish fans ev out. Callers serialize publishes (one reader goroutine, or
// the memory bus's lock), so every subscriber sees events in ID order.
func (h *hub) publish(ev *Event, id eventID) {
	threadID, providerID := ev.Comment.ThreadID(), ev.Comment.ProviderID
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.cursor = id
	for s := range h.subs {
		if !s.matches(ev.Type, threadID, providerID) || !s.after.less(id) {
			continue
		}
		if slow, stop := s.offer(ev); slow {
			h.slow.Add(1)
			delete(h.subs, s)
			if stop != nil {
				stop()
			}
		}
	}
}

// resetCursor moves the cursor back, for a Redis stream that was recreated.
func (h *hub) resetCursor(id eventID) {
	h.mu.Lock()
	h.cursor = id
	h.mu.Unlock()
}

// close ends every subscription with ErrClosed.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	subs := h.subs
	h.subs = map[*Subscription]struct{}{}
	h.mu.Unlock()
	for s := range subs {
		s.end(ErrClosed)
	}
}

// stats reads the counters under the hub lock, so that a fan-out in progress
// is counted whole or not at all.
func (h *hub) stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{
		Published:     h.published.Load(),
		Delivered:     h.delivered.Load(),
		SlowConsumers: h.slow.Load(),
		Deduplicated:  h.deduped.Load(),
		Subscribers:   len(h.subs),
	}
}
