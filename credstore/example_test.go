package credstore_test

import (
	"context"
	"fmt"

	"github.com/commentgraph/commentgraph/credstore"
)

// The in-memory store (no Redis client) is for a single gateway instance.
func Example() {
	ctx := context.Background()
	store, err := credstore.New("a credentialKey of at least 32 characters", nil, credstore.Options{})
	if err != nil {
		panic(err)
	}
	alice := credstore.Owner{Issuer: "https://id.example.com", User: "alice"}

	_ = store.Put(ctx, alice, "virola", "alice's token")
	secret, ok, err := store.Get(ctx, alice, "virola")
	fmt.Println(secret, ok, err)

	removed, err := store.Delete(ctx, alice, "virola")
	fmt.Println(removed, err)
	_, ok, err = store.Get(ctx, alice, "virola")
	fmt.Println(ok, err)
	// Output:
	// alice's token true <nil>
	// true <nil>
	// false <nil>
}
