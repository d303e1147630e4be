package resolvers

import (
	"context"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Connections are the callers' own upstream credentials, for providers with
// credentials: user (the gateway's credential store and forwarded headers).
type Connections interface {
	// Connected says whether the caller of ctx has a credential the
	// provider (an instance id) acts with.
	Connected(ctx context.Context, provider string) bool
	// Connect checks the credential upstream and stores it for the caller.
	Connect(ctx context.Context, provider string, in model.ConnectProviderInput) error
	// Disconnect forgets the caller's stored credential; removed says
	// whether there was one.
	Disconnect(ctx context.Context, provider string) (removed bool, err error)
}

func (r *Resolver) connected(ctx context.Context, p *model.Provider) bool {
	if p.Credentials != model.CredentialModeUser || r.Connections == nil {
		return true
	}
	return r.Connections.Connected(ctx, p.ID)
}

func (r *Resolver) connectProvider(ctx context.Context, in model.ConnectProviderInput) (*model.ConnectProviderPayload, error) {
	info, err := r.providerInfo(ctx, in.Provider)
	if err != nil {
		return nil, err
	}
	if info.Credentials != model.CredentialModeUser || r.Connections == nil {
		e := model.Errorf(model.CodeUnsupported, "provider %q acts with its service credential; there is nothing to connect", info.ID)
		e.Provider = info.ID
		return nil, e
	}
	if err := r.Connections.Connect(ctx, info.ID, in); err != nil {
		return nil, err
	}
	return &model.ConnectProviderPayload{Provider: info}, nil
}

func (r *Resolver) disconnectProvider(ctx context.Context, in model.DisconnectProviderInput) (*model.DisconnectProviderPayload, error) {
	info, err := r.providerInfo(ctx, in.Provider)
	if err != nil {
		return nil, err
	}
	if info.Credentials != model.CredentialModeUser || r.Connections == nil {
		return &model.DisconnectProviderPayload{Provider: info}, nil
	}
	removed, err := r.Connections.Disconnect(ctx, info.ID)
	if err != nil {
		return nil, err
	}
	return &model.DisconnectProviderPayload{Provider: info, Removed: removed}, nil
}
