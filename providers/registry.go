package providers

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Registry holds the configured provider instances in config order.
type Registry struct {
	order []Provider
	byID  map[string]Provider
}

// NewRegistry builds a registry; ids are unique (config validation sees to it).
func NewRegistry(ps ...Provider) *Registry {
	r := &Registry{byID: make(map[string]Provider, len(ps))}
	for _, p := range ps {
		r.order = append(r.order, p)
		r.byID[p.Info().ID] = p
	}
	return r
}

// Get returns the instance with id, or NOT_FOUND.
func (r *Registry) Get(id string) (Provider, error) {
	if p, ok := r.byID[id]; ok {
		return p, nil
	}
	return nil, model.Errorf(model.CodeNotFound, "no provider %q is configured", truncate(id, 64))
}

// All lists the instances in config order.
func (r *Registry) All() []Provider { return r.order }

// Fingerprint names a credential without revealing it: the first 16 hex digits
// of its SHA-256. Cache keys use it so one credential's data never serves
// another, and it is safe in logs.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte("commentgraph credential\x00" + secret))
	return hex.EncodeToString(sum[:8])
}
