package events

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Memory is the bus of a single gateway instance. Publish never blocks on
// subscribers; IDs increase strictly and are time-based ("<unix ms>-<seq>"),
// so IDs issued after a restart sort after the old ones.
type Memory struct {
	opts Options
	hub  *hub

	mu   sync.Mutex
	ring []retained // the retention window, oldest first
	last eventID
	// dropped is the newest event that left the window: a replay behind it
	// has lost events.
	dropped eventID
	once    *seenKeys
	closed  bool
}

type retained struct {
	id eventID
	ev *Event
}

var _ Bus = (*Memory)(nil)

// NewMemory returns an in-memory bus.
func NewMemory(opts Options) (*Memory, error) {
	opts = opts.withDefaults()
	m := &Memory{opts: opts, hub: newHub(opts), once: newSeenKeys(opts.DedupeWindow, 0)}
	if err := register(opts.Registerer, "memory", m.Stats); err != nil {
		return nil, err
	}
	return m, nil
}

// Publish implements Bus. It returns once every current subscriber has been
// offered the event (or closed as too slow); it never waits for one.
func (m *Memory) Publish(ctx context.Context, c *model.Comment) (Event, error) {
	ev, _, err := m.PublishOnce(ctx, "", c)
	return ev, err
}

// PublishOnce implements Bus.
func (m *Memory) PublishOnce(ctx context.Context, key string, c *model.Comment) (Event, bool, error) {
	return m.PublishChange(ctx, model.CommentEventTypeAdded, key, c)
}

// PublishChange implements Bus.
func (m *Memory) PublishChange(_ context.Context, t model.CommentEventType, key string, c *model.Comment) (Event, bool, error) {
	if err := checkComment(t, c); err != nil {
		return Event{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Event{}, false, ErrClosed
	}
	now := m.opts.Now()
	if key != "" && !m.once.add(key, now) {
		m.hub.deduped.Add(1)
		return Event{Type: t, Comment: c, At: now.UTC()}, false, nil
	}
	id := eventID{ms: uint64(max(now.UnixMilli(), 0))}
	if !m.last.less(id) {
		id = m.last.next()
	}
	m.last = id
	ev := &Event{ID: id.String(), Type: t, Comment: c, At: now.UTC()}
	m.trim(now)
	if m.opts.Retention > 0 {
		if len(m.ring) >= m.opts.Retention {
			m.dropped = m.ring[0].id
			m.ring[0] = retained{}
			m.ring = m.ring[1:]
		}
		m.ring = append(m.ring, retained{id: id, ev: ev})
	}
	m.hub.published.Add(1)
	m.hub.publish(ev, id)
	return *ev, true, nil
}

// trim drops events older than RetentionAge.
func (m *Memory) trim(now time.Time) {
	if m.opts.RetentionAge < 0 {
		return
	}
	oldest := now.Add(-m.opts.RetentionAge)
	n := 0
	for n < len(m.ring) && m.ring[n].ev.At.Before(oldest) {
		m.dropped = m.ring[n].id
		m.ring[n] = retained{}
		n++
	}
	m.ring = m.ring[n:]
}

// Subscribe implements Bus. With since, the subscription is registered and
// the first page of its replay read under the publish lock; the rest of the
// replay is read as the subscriber takes it (see Subscription.replay).
func (m *Memory) Subscribe(ctx context.Context, f Filter, since string) (*Subscription, error) {
	var from eventID
	if since != "" {
		var err error
		if from, err = parseID(since); err != nil {
			return nil, fmt.Errorf("events: subscribe: %w", err)
		}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	// Without retention there is nothing to replay: live from now.
	replay := since != "" && m.opts.Retention > 0
	s, err := m.hub.subscribe(ctx, f, replay, eventID{})
	if err != nil || !replay {
		m.mu.Unlock()
		return s, err
	}
	first, end, _ := m.readLocked(from, replayPage, false)
	m.mu.Unlock()
	go s.replay(ctx, m.history, from, first, end)
	return s, nil
}

// history is the ring read as a history, for a paced replay.
func (m *Memory) history(_ context.Context, after eventID, n int, resumed bool) ([]*Event, eventID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readLocked(after, n, resumed)
}

// readLocked reads up to n retained events after after; m.mu is held. An
// after older than the window reads from the oldest retained event, unless
// resumed: then the replay fell out of the window, and the events it had
// yet to read are gone.
func (m *Memory) readLocked(after eventID, n int, resumed bool) ([]*Event, eventID, error) {
	if m.closed {
		return nil, after, ErrClosed
	}
	m.trim(m.opts.Now())
	if resumed && after.less(m.dropped) {
		return nil, after, ErrSlowConsumer
	}
	i := sort.Search(len(m.ring), func(i int) bool { return after.less(m.ring[i].id) })
	page := m.ring[i:min(len(m.ring), i+n)]
	if len(page) == 0 {
		return nil, after, nil
	}
	out := make([]*Event, len(page))
	for j, r := range page {
		out[j] = r.ev
	}
	return out, page[len(page)-1].id, nil
}

// Stats implements Bus.
func (m *Memory) Stats() Stats { return m.hub.stats() }

// Close implements Bus.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.ring = nil
	m.mu.Unlock()
	m.hub.close()
	return nil
}
