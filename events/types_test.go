package events_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

const (
	added   = model.CommentEventTypeAdded
	updated = model.CommentEventTypeUpdated
	deleted = model.CommentEventTypeDeleted
)

// typesOf lists the events' types and comment refs, as "TYPE ref".
func typesOf(evs []*events.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = string(ev.Type) + " " + ev.Comment.Ref
	}
	return out
}

// A comment's life (added, edited, deleted) reaches each subscriber as the
// types it asked for, in order, live and replayed alike.
func TestEventTypes(t *testing.T) {
	tests := []struct {
		name  string
		types []model.CommentEventType
		want  []string
	}{
		{"no types: all", nil, []string{"ADDED c1", "UPDATED c1", "DELETED c1", "ADDED c2"}},
		{"ADDED only (commentAdded)", []model.CommentEventType{added}, []string{"ADDED c1", "ADDED c2"}},
		{"UPDATED and DELETED", []model.CommentEventType{updated, deleted}, []string{"UPDATED c1", "DELETED c1"}},
		{"DELETED only", []model.CommentEventType{deleted}, []string{"DELETED c1"}},
	}
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.open(t, events.Options{})
			ctx := t.Context()
			subs := make([]*events.Subscription, len(tests))
			for i, tt := range tests {
				sub, err := b.sub.Subscribe(ctx, events.Filter{Types: tt.types}, "")
				if err != nil {
					t.Fatal(err)
				}
				subs[i] = sub
			}
			c1 := comment("virola", "r1", 1)
			edited := comment("virola", "r1", 1)
			edited.Text = "1 (edited)"
			first, _, err := b.pub.PublishOnce(ctx, "virola:c1", c1)
			if err != nil {
				t.Fatal(err)
			}
			publish := []struct {
				t   model.CommentEventType
				key string
				c   *model.Comment
			}{
				{updated, "virola:c1:updated:1", edited},
				{updated, "virola:c1:updated:1", edited}, // the same edit seen twice
				{deleted, "virola:c1:deleted", model.Tombstone("virola", model.ThreadKindRoom, "r1", "c1")},
				{deleted, "virola:c1:deleted", model.Tombstone("virola", model.ThreadKindRoom, "r1", "c1")},
				{added, "virola:c2", comment("virola", "r1", 2)},
			}
			for i, p := range publish {
				ev, published, err := b.pub.PublishChange(ctx, p.t, p.key, p.c)
				if err != nil {
					t.Fatal(err)
				}
				if published != (i%2 == 0 || i == 4) || ev.Type != p.t {
					t.Fatalf("publish %d (%s %s): published %v, type %s", i, p.t, p.key, published, ev.Type)
				}
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got := receive(t, subs[i], len(tt.want))
					if g := typesOf(got); !slices.Equal(g, tt.want) {
						t.Fatalf("live: got %v, want %v", g, tt.want)
					}
					if tt.types == nil && (got[1].Comment.Text != "1 (edited)" || !got[2].Comment.Deleted) {
						t.Fatalf("UPDATED carries %q, DELETED deleted=%v", got[1].Comment.Text, got[2].Comment.Deleted)
					}
					// Resuming from before the comment replays the same, filtered the same.
					re, err := b.sub.Subscribe(ctx, events.Filter{Types: tt.types}, "1-0")
					if err != nil {
						t.Fatal(err)
					}
					replayed := receive(t, re, len(tt.want))
					if g := typesOf(replayed); !slices.Equal(g, tt.want) {
						t.Fatalf("replay: got %v, want %v", g, tt.want)
					}
					if replayed[0].ID < first.ID && tt.types == nil {
						t.Fatalf("replay starts at %s, before the first event %s", replayed[0].ID, first.ID)
					}
				})
			}
		})
	}
}

// An ADDED event's stream entry is what instances before event types wrote
// (c, at), and such an entry reads as ADDED; the other types live under other
// fields, so an older instance skips them instead of announcing an edit or a
// deletion as a new comment.
func TestRedisEntryFormat(t *testing.T) {
	s := redistest.MustStart(t)
	client := redisClient(t, s)
	stream := "commentgraph:{events}"
	b := newRedisBus(t, s, events.Options{Stream: stream})
	ctx := t.Context()
	sub, err := b.Subscribe(ctx, events.Filter{}, "")
	if err != nil {
		t.Fatal(err)
	}
	c1 := comment("virola", "r1", 1)
	raw := `{"provider":"virola","threadKind":"ROOM","threadRef":"r1","ref":"old","text":"from an older instance","body":"","markup":"PLAIN","mentions":null,"attachments":null,"reactions":null,"readBy":null,"createdAt":"2025-01-02T03:04:05Z","deleted":false}`
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"c", raw, "at", "1735787045000"}}).Err(); err != nil {
		t.Fatal(err)
	}
	got := receive(t, sub, 1)
	if got[0].Type != model.CommentEventTypeAdded || got[0].Comment.Text != "from an older instance" {
		t.Fatalf("an entry without a type read as %s %q", got[0].Type, got[0].Comment.Text)
	}

	if _, _, err := b.PublishOnce(ctx, "k1", c1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.PublishChange(ctx, model.CommentEventTypeUpdated, "k2", c1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.PublishChange(ctx, model.CommentEventTypeDeleted, "k3", model.Tombstone("virola", model.ThreadKindRoom, "r1", "c1")); err != nil {
		t.Fatal(err)
	}
	if g := typesOf(receive(t, sub, 3)); !slices.Equal(g, []string{"ADDED c1", "UPDATED c1", "DELETED c1"}) {
		t.Fatalf("got %v", g)
	}
	entries, err := client.XRange(ctx, stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, e := range entries[1:] {
		var keys []string
		for k := range e.Values {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fields = append(fields, fmt.Sprintf("%v %v", keys, e.Values["t"]))
	}
	want := []string{"[at c] <nil>", "[at m t] UPDATED", "[at m t] DELETED"}
	if !slices.Equal(fields, want) {
		t.Fatalf("entries' fields: %v, want %v", fields, want)
	}
}

// PublishChange refuses a type the schema does not know, on both buses.
func TestPublishChangeRefusesUnknownType(t *testing.T) {
	for _, kind := range busKinds() {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.open(t, events.Options{})
			if _, _, err := b.pub.PublishChange(context.Background(), "EDITED", "k", comment("virola", "r1", 1)); err == nil {
				t.Fatal("an unknown event type was accepted")
			}
		})
	}
}
