package events_test

import (
	"context"
	"fmt"
	"time"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
)

// A subscriber follows one thread; a client that reconnects gives back the
// last event id it saw and receives what it missed, then live events.
func ExampleNewMemory() {
	bus, err := events.NewMemory(events.Options{})
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	room := model.ThreadID("klink", model.ThreadKindRoom, "launch")
	sub, err := bus.Subscribe(ctx, events.Filter{Threads: []string{room}}, "")
	if err != nil {
		panic(err)
	}
	post := func(ref, text string) events.Event {
		ev, err := bus.Publish(ctx, &model.Comment{
			ProviderID: "klink", ThreadKind: model.ThreadKindRoom, ThreadRef: "launch",
			Ref: ref, Text: text, Body: text, Markup: model.MarkupPlain, CreatedAt: time.Now().UTC(),
		})
		if err != nil {
			panic(err)
		}
		return ev
	}
	first := post("m1", "🚀 shipped — thanks @Zoë Park")
	post("m2", "@Ana Lee the changelog is up")
	for range 2 {
		ev := <-sub.C
		fmt.Println("live:", ev.Comment.Text)
	}
	sub.Close()

	// The client saw only the first comment before it dropped.
	again, err := bus.Subscribe(ctx, events.Filter{Threads: []string{room}}, first.ID)
	if err != nil {
		panic(err)
	}
	post("m3", "Bo Tan joined")
	for range 2 {
		ev := <-again.C
		fmt.Println("resumed:", ev.Comment.Text)
	}
	// Output:
	// live: 🚀 shipped — thanks @Zoë Park
	// live: @Ana Lee the changelog is up
	// resumed: @Ana Lee the changelog is up
	// resumed: Bo Tan joined
}
