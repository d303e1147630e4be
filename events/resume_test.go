package events

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

// A subscriber resuming from an event this instance's reader has not reached
// yet (its ID came from another instance) gets that event's successors
// only: the ones up to it arrive live, and are skipped.
func TestResumeAheadOfTheReaderSkipsWhatItAlreadyHad(t *testing.T) {
	h := newHub(Options{}.withDefaults())
	s, err := h.subscribe(context.Background(), Filter{}, true, eventID{ms: 20})
	if err != nil {
		t.Fatal(err)
	}
	// The stream holds nothing after since: the replay hands over at once.
	empty := func(context.Context, eventID, int, bool) ([]*Event, eventID, error) { return nil, eventID{ms: 20}, nil }
	s.replay(context.Background(), empty, eventID{ms: 20}, nil, eventID{ms: 20})
	for _, ms := range []uint64{10, 20, 30} {
		c := &model.Comment{ProviderID: "p", ThreadKind: model.ThreadKindRoom, ThreadRef: "t", Ref: fmt.Sprint(ms), Markup: model.MarkupPlain}
		h.publish(&Event{ID: eventID{ms: ms}.String(), Comment: c}, eventID{ms: ms})
	}
	select {
	case ev := <-s.C:
		if ev.ID != "30-0" {
			t.Fatalf("first delivery is %s, want 30-0 (10-0 and 20-0 are at or before since)", ev.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
	select {
	case ev := <-s.C:
		t.Fatalf("extra delivery %s", ev.ID)
	default:
	}
}
