package cache_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/commentgraph/commentgraph/cache"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// staff is a provider with a user directory. Only Info and Users matter here;
// the embedded interface stands in for the methods the example never calls.
type staff struct {
	providers.Provider
	calls atomic.Int32
}

func (s *staff) Info() *model.Provider {
	return &model.Provider{ID: "virola", Kind: model.ProviderKindVirola, Name: "Virola", MaxBatch: 100}
}

func (s *staff) Users(_ context.Context, refs []string) (map[string]*model.User, error) {
	s.calls.Add(1)
	known := map[string]string{"u1": "Ana Lee", "u2": "Zoë Park"}
	out := make(map[string]*model.User)
	for _, r := range refs {
		if name, ok := known[r]; ok {
			out[r] = &model.User{ProviderID: "virola", Ref: r, Name: name}
		}
	}
	return out, nil
}

func ExampleCache_Wrap() {
	// No Redis given: an in-memory LRU. Pass Options.Redis to share it.
	c, err := cache.New(cache.Options{})
	if err != nil {
		log.Fatal(err)
	}
	upstream := &staff{}
	// Scope by instance and credential, so another token never sees these.
	virola := c.Wrap(upstream, "virola:"+providers.Fingerprint("the-virola-token"))

	for range 3 {
		users, err := virola.Users(context.Background(), []string{"u1", "u2", "nobody"})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(users["u1"].Name, "·", users["u2"].Name, "· found", len(users))
	}
	s := c.Stats()
	fmt.Println("upstream calls:", upstream.calls.Load())
	fmt.Println("hits:", s.Hits, "misses:", s.Misses, "known missing:", s.NegativeHits)
	// Output:
	// Ana Lee · Zoë Park · found 2
	// Ana Lee · Zoë Park · found 2
	// Ana Lee · Zoë Park · found 2
	// upstream calls: 1
	// hits: 4 misses: 3 known missing: 2
}

// K-LINK has no user directory: its adapter remembers the users payloads name
// and looks them up later, in every gateway instance when Redis is shared.
func ExampleCache_RememberUsers() {
	c, err := cache.New(cache.Options{})
	if err != nil {
		log.Fatal(err)
	}
	var dir providers.Directory = c
	ctx := context.Background()
	scope := "klink:" + providers.Fingerprint("the-klink-token")

	// A webhook's message named its sender.
	err = dir.RememberUsers(ctx, scope, []*model.User{{ProviderID: "klink", Ref: "8812", Name: "Chidi Okafor"}})
	if err != nil {
		log.Fatal(err)
	}
	users, _ := dir.LookupUsers(ctx, scope, []string{"8812", "9999"})
	fmt.Println(len(users), users["8812"].Name)

	// Another credential's scope knows nobody.
	other, _ := dir.LookupUsers(ctx, "klink:"+providers.Fingerprint("another-token"), []string{"8812"})
	fmt.Println(len(other))
	// Output:
	// 1 Chidi Okafor
	// 0
}
