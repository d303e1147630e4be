package providers

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Config is one configured provider instance (config.Provider's fields the
// adapters read).
type Config struct {
	ID, Kind, Name string
	BaseURL        string
	// Token is the API token (klink, virola, aelyst); Email and Password log
	// in to Ziik.
	Token, Email, Password string
	WebhookSecret          string
	// Threads are native thread refs to poll (and, for K-LINK, the rooms it
	// lists).
	Threads []string
}

// Deps are what the gateway lends every adapter.
type Deps struct {
	// HTTPClient is the shared upstream client (one pool of connections).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// OnCall is told about every upstream exchange (metrics). Nil: nobody.
	OnCall func(CallInfo)
	// Directory is the users-and-rooms cache, for providers that learn users
	// and rooms only from payloads (K-LINK).
	Directory Directory
	// Redis, when configured, keeps what an adapter must share across
	// instances (Aelyst's journal). Nil: in memory.
	Redis redis.UniversalClient
	// CatchUp bounds what an adapter with an event stream (Virola) reads
	// after a reconnect to find what was missed. Zero fields: its defaults.
	CatchUp CatchUpBounds
	// OnCatchUpDropped is told, with the instance id, what one catch-up left
	// out (metrics). Nil: nobody. It must not block.
	OnCatchUpDropped func(provider string, d CatchUpDropped)
}

// CatchUpBounds bound one catch-up after an event stream reconnects
// (config.CatchUp). 0: the adapter's default; a negative Rooms reads no room,
// only the threads already seen or watched.
type CatchUpBounds struct {
	Rooms, Messages, Threads, Comments int
}

// CatchUpDropped is what one catch-up left out: rooms not read, rooms read
// only to the Messages bound (older threads there unread), threads whose
// comments were not read, comments read but not emitted, and reads that
// failed.
type CatchUpDropped struct {
	Rooms, Messages, Threads, Comments, Failed int
}

// PollThread is a thread the gateway polls for new comments, for providers
// that push none.
type PollThread struct {
	Kind model.ThreadKind
	Ref  string
}

// Instance is a built provider and what the gateway runs for it.
type Instance struct {
	Provider Provider
	// Webhook reads the provider's deliveries to /webhooks/{id}. Nil: none.
	Webhook WebhookFunc
	// Stream is the provider's push channel, run in the background. Nil: none.
	Stream StreamFunc
	// Poll are the threads to poll.
	Poll []PollThread
}

// Factory builds one instance of a kind.
type Factory func(Config, Deps) (*Instance, error)

var (
	factoriesMu sync.RWMutex
	factories   = map[string]Factory{}
)

// Register makes a kind buildable; each adapter registers itself in an init
// function, so adding a provider is one package and one registration.
// Registering a kind twice panics.
func Register(kind string, f Factory) {
	factoriesMu.Lock()
	defer factoriesMu.Unlock()
	if _, dup := factories[kind]; dup {
		panic("providers: kind " + kind + " registered twice")
	}
	factories[kind] = f
}

// Build makes the instance cfg describes with its kind's factory.
func Build(cfg Config, deps Deps) (*Instance, error) {
	factoriesMu.RLock()
	f, ok := factories[cfg.Kind]
	factoriesMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("kind %q is not registered (known: %v)", cfg.Kind, RegisteredKinds())
	}
	return f(cfg, deps)
}

// RegisteredKinds lists the kinds that can be built, sorted.
func RegisteredKinds() []string {
	factoriesMu.RLock()
	defer factoriesMu.RUnlock()
	kinds := make([]string, 0, len(factories))
	for k := range factories {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}
