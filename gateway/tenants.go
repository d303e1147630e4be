package gateway

import (
	"context"
	"fmt"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// tenantState is one tenant's provider instances. A tenant's provider "k" is
// the instance "<tenant>.k" (the default tenant's is "k"): global IDs, cache
// scopes, idempotency keys, poll leases, webhooks (/webhooks/<tenant>.k) and
// bus events all carry the instance id, so nothing of one tenant names
// anything in another, while requests may still call it "k".
type tenantState struct {
	id       string
	registry *providers.Registry
	// ids are the instance ids, in config order: the tenant's subscriptions
	// receive only their events.
	ids []string
	// users are the instances acting with end users' own credentials.
	users map[string]*userProvider
}

// instanceID is the id of tenant's provider id. Config ids have no '.', so
// "<tenant>.<id>" never equals a default tenant's id.
func instanceID(tenant, id string) string {
	if tenant == config.DefaultTenant {
		return id
	}
	return tenant + "." + id
}

// buildTenants builds every tenant's providers, the default tenant's first.
func (a *App) buildTenants() error {
	a.tenants = make(map[string]*tenantState, 1+len(a.cfg.Tenants))
	a.noTenant = &tenantState{registry: providers.NewRegistry(), users: map[string]*userProvider{}}
	if err := a.buildTenant(config.DefaultTenant, "providers", a.cfg.Providers); err != nil {
		return err
	}
	for i, t := range a.cfg.Tenants {
		if err := a.buildTenant(t.ID, fmt.Sprintf("tenants[%d].providers", i), t.Providers); err != nil {
			return err
		}
	}
	a.registry = a.tenants[config.DefaultTenant].registry
	return nil
}

func (a *App) buildTenant(id, list string, pcs []config.Provider) error {
	ts := &tenantState{id: id, users: map[string]*userProvider{}}
	ps := make([]providers.Provider, 0, len(pcs))
	for i, pc := range pcs {
		short := pc.ID
		pc.ID = instanceID(id, short)
		p, err := a.buildProvider(pc, short)
		if err != nil {
			return fmt.Errorf("%s[%d] (%s): %w", list, i, short, err)
		}
		ps = append(ps, p)
		ts.ids = append(ts.ids, pc.ID)
		if u, ok := p.(*userProvider); ok {
			ts.users[pc.ID] = u
		}
	}
	ts.registry = providers.NewRegistry(ps...)
	for _, pc := range pcs {
		ts.registry.Alias(pc.ID, instanceID(id, pc.ID))
	}
	a.tenants[id] = ts
	return nil
}

// tenantOf is the tenant the caller of ctx acts for. Without tenants in the
// config every caller is the default tenant's (a JWT's tenant claim then only
// scopes its caches); with them, a caller of an unknown tenant (refused at
// authentication, so unreachable) gets a tenant with no providers.
func (a *App) tenantOf(ctx context.Context) *tenantState {
	if len(a.cfg.Tenants) == 0 {
		return a.tenants[config.DefaultTenant]
	}
	if t, ok := a.tenants[tenant(ctx)]; ok {
		return t
	}
	return a.noTenant
}

// subscriptionFilter narrows a subscription to its caller's tenant: the
// providers asked for become instance ids of that tenant (another tenant's
// are NOT_FOUND), and with none asked, the tenant's own instances when
// several tenants share the bus.
func (a *App) subscriptionFilter(ctx context.Context, f events.Filter) (events.Filter, error) {
	ts := a.tenantOf(ctx)
	if len(f.Providers) > 0 {
		ids := make([]string, 0, len(f.Providers))
		for _, id := range f.Providers {
			p, err := ts.registry.Get(id)
			if err != nil {
				return f, err
			}
			ids = append(ids, p.Info().ID)
		}
		f.Providers = ids
		return f, nil
	}
	if len(a.cfg.Tenants) > 0 {
		f.Providers = ts.ids
		if len(f.Providers) == 0 {
			return f, model.Errorf(model.CodeNotFound, "the tenant has no providers")
		}
	}
	return f, nil
}
