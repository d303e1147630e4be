package cache

import (
	"context"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
)

// A thread's metadata and existence are cached like users and rooms; a thread
// that does not exist is remembered briefly; a malformed ref is not cached.
func TestThreadLookupsAreCached(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := b.open(t, Options{})
			up := newUpstream("p", 0)
			p := e.c.Wrap(up, "scope")
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				th, err := p.Thread(ctx, model.ThreadKindRoom, "r1")
				if err != nil || th.Title == nil || *th.Title != "Title of r1" || th.Kind != model.ThreadKindRoom {
					t.Fatalf("Thread: %+v %v", th, err)
				}
			}
			// Same ref, another kind: another thread.
			if _, err := p.Thread(ctx, model.ThreadKindMessage, "r1"); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if _, err := p.Thread(ctx, model.ThreadKindRoom, "missing-1"); !model.IsCode(err, model.CodeNotFound) {
					t.Fatalf("missing thread: %v", err)
				}
				if _, err := p.Thread(ctx, model.ThreadKindRoom, "bad-1"); !model.IsCode(err, model.CodeBadUserInput) {
					t.Fatalf("bad ref: %v", err)
				}
			}
			// r1 once, r1 as MESSAGE once, missing once (then negative), bad twice.
			if got := up.threadCalls; got != 5 {
				t.Errorf("%d upstream Thread calls, want 5", got)
			}
		})
	}
}
