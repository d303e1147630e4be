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

	mu     sync.Mutex
	ring   []retained // the retention window, oldest first
	last   eventID
	once   *seenKeys
	closed bool
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
		m.ring[n] = retained{}
		n++
	}
	m.ring = m.ring[n:]
}

// Subscribe implements Bus. The replay is taken and the subscription
// registered under the publish lock, so no event falls between the two.
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
	s, _, err := m.hub.subscribe(ctx, f, since != "", eventID{})
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	var replay []*Event
	if since != "" {
		m.trim(m.opts.Now())
		i := sort.Search(len(m.ring), func(i int) bool { return from.less(m.ring[i].id) })
		for _, r := range m.ring[i:] {
			if s.matches(r.ev.Type, r.ev.Comment.ThreadID(), r.ev.Comment.ProviderID) {
				replay = append(replay, r.ev)
			}
		}
	}
	m.mu.Unlock()
	if since != "" {
		s.startCatchUp(replay)
	}
	return s, nil
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
