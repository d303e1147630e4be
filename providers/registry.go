package providers

import (
	"context"
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

// Alias makes Get(alias) return the instance with id: a tenant's providers
// are instances "<tenant>.<id>", and its requests may name them by id alone.
func (r *Registry) Alias(alias, id string) {
	if p, ok := r.byID[id]; ok {
		r.byID[alias] = p
	}
}

// Has reports whether the instance id (not an alias) is in the registry.
func (r *Registry) Has(id string) bool {
	p, ok := r.byID[id]
	return ok && p.Info().ID == id
}

// PerCaller is a Provider whose upstream credential is the caller's own: For
// gives the instance that acts for the caller of ctx, or UNAUTHENTICATED
// (with the provider's id) when the caller has no credential for it.
// Callers that need an optional interface (Lifecycle) or a credential-scoped
// answer call For first; the PerCaller's own Provider methods do it per call.
type PerCaller interface {
	Provider
	For(ctx context.Context) (Provider, error)
}

// ForCaller is p itself, or for a PerCaller the instance acting for the
// caller of ctx.
func ForCaller(ctx context.Context, p Provider) (Provider, error) {
	if pc, ok := p.(PerCaller); ok {
		return pc.For(ctx)
	}
	return p, nil
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
