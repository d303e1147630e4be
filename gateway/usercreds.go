package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/credstore"
	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Bounds of what the gateway keeps per end-user credential. An instance is
// an adapter with its own login state (Ziik's token) and HTTP client use;
// past the bound the least recently used is dropped and built again when
// needed, so memory stays bounded however many users connect. An instance
// is also rebuilt userInstanceLife after it was built, so one whose
// credential was revoked upstream does not linger.
const (
	maxUserInstances  = 4096
	userInstanceLife  = 30 * time.Minute
	maxAccessAnswers  = 65536
	maxSecretBytes    = 4096
	credentialTimeout = 2 * time.Second
)

// userProvider is a provider with credentials: user: one adapter instance per
// end-user credential, built on first use. Its Provider methods act with the
// credential of the caller of their ctx: a forwarded
// X-Upstream-Credential-<id> header (an API key with forwardCredentials) or
// the JWT user's credential stored with connectProvider. Without one they
// answer UNAUTHENTICATED with the provider's id, before any upstream call.
type userProvider struct {
	a *App
	// short is the configured id (the header's suffix); pc.ID the instance id.
	short string
	pc    config.Provider
	info  *model.Provider
	// kind is the instance built with the service credential (or none): it
	// tells what the kind can do, and never calls upstream for a caller.
	kind providers.Provider

	pool  *expirable.LRU[string, *userInstance]
	build singleflight.Group
}

// userInstance is one credential's adapter: raw for access checks, which
// must not be answered from the cache for as long as its TTL, and the
// cache-wrapped one for everything else.
type userInstance struct {
	raw, wrapped providers.Provider
	// fingerprint names the credential (with the instance) in cache scopes
	// and access answers.
	fingerprint string
}

var _ providers.PerCaller = (*userProvider)(nil)

func (u *userProvider) Info() *model.Provider { return u.info }

// For is the instance acting for the caller of ctx.
func (u *userProvider) For(ctx context.Context) (providers.Provider, error) {
	in, err := u.instance(ctx)
	if err != nil {
		return nil, err
	}
	return in.wrapped, nil
}

func (u *userProvider) instance(ctx context.Context) (*userInstance, error) {
	secret, err := u.a.userSecret(ctx, u)
	if err != nil {
		return nil, err
	}
	if secret == "" {
		e := model.Errorf(model.CodeUnauthenticated, "this provider acts with your own %s credential, and this request has none: connect it with connectProvider, or (a server-side caller) send %s%s", u.info.Name, forwardedPrefix, u.short)
		e.Provider = u.pc.ID
		return nil, e
	}
	return u.instanceFor(secret)
}

// instanceFor is the adapter acting with secret, built once per credential.
func (u *userProvider) instanceFor(secret string) (*userInstance, error) {
	fp := providers.Fingerprint(u.pc.ID + "\x00" + secret)
	if in, ok := u.pool.Get(fp); ok {
		return in, nil
	}
	v, err, _ := u.build.Do(fp, func() (any, error) {
		if in, ok := u.pool.Get(fp); ok {
			return in, nil
		}
		inst, err := providers.Build(userConfig(u.pc, secret), u.a.deps)
		if err != nil {
			// The factory's reason may quote the config it was given.
			e := model.Errorf(model.CodeBadUserInput, "the %s credential is not usable", u.info.Name)
			e.Provider, e.Err = u.pc.ID, err
			return nil, e
		}
		in := &userInstance{raw: inst.Provider, wrapped: inst.Provider, fingerprint: fp}
		if !u.a.cfg.Cache.Disabled {
			in.wrapped = u.a.cache.Wrap(inst.Provider, u.pc.ID+":"+fp)
		}
		u.pool.Add(fp, in)
		return in, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*userInstance), nil
}

// userConfig is the adapter config acting with an end user's secret: a
// bearer token; for Ziik "email:password" (a Ziik JWT is sent as given); for
// Aelyst a token or "email:token", the email naming the token's user, whom
// Aelyst's API cannot tell (the sender of what they post).
func userConfig(pc config.Provider, secret string) providers.Config {
	c := providers.Config{ID: pc.ID, Kind: pc.Kind, Name: pc.Name, BaseURL: pc.BaseURL, Threads: pc.Threads, Token: secret}
	email, rest, ok := strings.Cut(secret, ":")
	switch {
	case pc.Kind == "ziik" && ok && !looksLikeJWT(secret):
		c.Token, c.Email, c.Password = "", email, rest
	case pc.Kind == "aelyst" && ok && strings.Contains(email, "@"):
		c.Token, c.Email = rest, email
	}
	return c
}

// withCaller runs call on the instance acting for the caller of ctx: every
// Provider method of a userProvider is this, with its own call.
func withCaller[T any](ctx context.Context, u *userProvider, call func(providers.Provider) (T, error)) (T, error) {
	p, err := u.For(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return call(p)
}

func (u *userProvider) Thread(ctx context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	return withCaller(ctx, u, func(p providers.Provider) (*model.Thread, error) { return p.Thread(ctx, kind, ref) })
}

func (u *userProvider) ListThreads(ctx context.Context, page providers.Page) (*providers.ThreadPage, error) {
	return withCaller(ctx, u, func(p providers.Provider) (*providers.ThreadPage, error) { return p.ListThreads(ctx, page) })
}

func (u *userProvider) ListComments(ctx context.Context, t *model.Thread, page providers.Page) (*providers.CommentPage, error) {
	return withCaller(ctx, u, func(p providers.Provider) (*providers.CommentPage, error) { return p.ListComments(ctx, t, page) })
}

func (u *userProvider) GetComment(ctx context.Context, t *model.Thread, ref string) (*model.Comment, error) {
	return withCaller(ctx, u, func(p providers.Provider) (*model.Comment, error) { return p.GetComment(ctx, t, ref) })
}

func (u *userProvider) CreateComment(ctx context.Context, in providers.CommentInput) (*model.Comment, error) {
	return withCaller(ctx, u, func(p providers.Provider) (*model.Comment, error) { return p.CreateComment(ctx, in) })
}

func (u *userProvider) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	return withCaller(ctx, u, func(p providers.Provider) (map[string]*model.User, error) { return p.Users(ctx, refs) })
}

func (u *userProvider) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	return withCaller(ctx, u, func(p providers.Provider) (map[string]*model.Room, error) { return p.Rooms(ctx, refs) })
}

// secretMemo keeps a response's look-ups of stored credentials, so a query
// touching a provider a hundred times reads the store once. A subscription's
// memo lasts ttl, so a credential removed meanwhile stops its deliveries
// within it, while each event does not read the store again.
type secretMemo struct {
	mu      sync.Mutex
	secrets map[string]string
	ttl     time.Duration
	fresh   time.Time // zero with no ttl
}

type secretMemoKey struct{}

func withSecretMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, secretMemoKey{}, &secretMemo{secrets: map[string]string{}})
}

// subscriptionContext gives a subscription's events a memo of its stored
// credentials that is read again after events.accessCheckTTL.
func (a *App) subscriptionContext(ctx context.Context) context.Context {
	if len(a.tenantOf(ctx).users) == 0 {
		return ctx
	}
	ttl := a.cfg.Events.AccessCheckTTL.D()
	return context.WithValue(ctx, secretMemoKey{}, &secretMemo{secrets: map[string]string{}, ttl: ttl, fresh: time.Now().Add(ttl)})
}

// userSecret is the caller's own credential for u: forwarded by an API key
// with forwardCredentials, or stored for a JWT's user. "" when there is none.
func (a *App) userSecret(ctx context.Context, u *userProvider) (string, error) {
	id, _ := identityOf(ctx)
	if id.forward {
		return id.forwarded[strings.ToLower(u.short)], nil
	}
	if id.user == "" || a.credentials == nil {
		return "", nil
	}
	memo, _ := ctx.Value(secretMemoKey{}).(*secretMemo)
	if memo != nil {
		memo.mu.Lock()
		defer memo.mu.Unlock()
		if memo.ttl > 0 && time.Now().After(memo.fresh) {
			clear(memo.secrets)
			memo.fresh = time.Now().Add(memo.ttl)
		}
		if s, ok := memo.secrets[u.pc.ID]; ok {
			return s, nil
		}
	}
	sctx, cancel := context.WithTimeout(ctx, credentialTimeout)
	defer cancel()
	s, ok, err := a.credentials.Get(sctx, ownerOf(id), u.pc.ID)
	switch {
	case errors.Is(err, credstore.ErrUnreadable):
		// Stored under another credentialKey: as good as none.
		a.log.WarnContext(ctx, "stored credential unreadable", "provider", u.pc.ID)
		s, ok = "", false
	case err != nil:
		e := model.Errorf(model.CodeUpstreamUnavailable, "your stored credential cannot be read now; try again")
		e.Provider, e.Err = u.pc.ID, err
		return "", e
	}
	if !ok {
		s = ""
	}
	if memo != nil {
		memo.secrets[u.pc.ID] = s
	}
	return s, nil
}

func ownerOf(id identity) credstore.Owner {
	return credstore.Owner{Tenant: id.tenant, Issuer: id.issuer, User: id.user}
}

// userProviderOf is the caller's tenant's user-credential instance id, or
// nil for a provider with a service credential.
func (a *App) userProviderOf(ctx context.Context, id string) *userProvider {
	return a.tenantOf(ctx).users[id]
}

// connections is resolvers.Connections over the credential store.
type connections struct{ a *App }

func (c connections) Connected(ctx context.Context, provider string) bool {
	u := c.a.userProviderOf(ctx, provider)
	if u == nil {
		return true
	}
	s, err := c.a.userSecret(ctx, u)
	return err == nil && s != ""
}

func (c connections) Connect(ctx context.Context, provider string, in model.ConnectProviderInput) error {
	a := c.a
	u := a.userProviderOf(ctx, provider)
	if u == nil {
		return model.Errorf(model.CodeNotFound, "no provider %q takes users' credentials", provider)
	}
	id, _ := identityOf(ctx)
	if id.user == "" {
		e := model.Errorf(model.CodeForbidden, "connectProvider stores a signed-in user's credential and needs a JWT; a server-side caller forwards credentials with %s%s instead", forwardedPrefix, u.short)
		e.Provider = provider
		return e
	}
	secret, err := connectSecret(u.pc.Kind, in)
	if err != nil {
		return err
	}
	inst, err := u.instanceFor(secret)
	if err != nil {
		return err
	}
	if err := verifyCredential(ctx, inst.raw); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, credentialTimeout)
	defer cancel()
	if err := a.credentials.Put(sctx, ownerOf(id), provider, secret); err != nil {
		e := model.Errorf(model.CodeUpstreamUnavailable, "the credential cannot be stored now; try again")
		e.Provider, e.Err = provider, err
		return e
	}
	a.forgetAccess()
	return nil
}

func (c connections) Disconnect(ctx context.Context, provider string) (bool, error) {
	a := c.a
	if a.userProviderOf(ctx, provider) == nil {
		return false, nil
	}
	id, _ := identityOf(ctx)
	if id.user == "" {
		return false, model.Errorf(model.CodeForbidden, "disconnectProvider removes a signed-in user's credential and needs a JWT")
	}
	sctx, cancel := context.WithTimeout(ctx, credentialTimeout)
	defer cancel()
	removed, err := a.credentials.Delete(sctx, ownerOf(id), provider)
	if err != nil {
		e := model.Errorf(model.CodeUpstreamUnavailable, "the credential cannot be removed now; try again")
		e.Provider, e.Err = provider, err
		return false, e
	}
	a.forgetAccess()
	return removed, nil
}

// connectSecret is the stored form of connectProvider's input: a token, or
// for Ziik email and password as "email:password".
func connectSecret(kind string, in model.ConnectProviderInput) (string, error) {
	token, email, password := deref(in.Token), deref(in.Email), deref(in.Password)
	var secret string
	switch {
	case token != "" && password != "":
		return "", model.Errorf(model.CodeBadUserInput, "give a token, or email and password, not both")
	case token != "" && email != "":
		if kind != "aelyst" {
			return "", model.Errorf(model.CodeBadUserInput, "give a token, or email and password, not both")
		}
		if strings.Contains(email, ":") || !strings.Contains(email, "@") {
			return "", model.Errorf(model.CodeBadUserInput, "email must be an address without ':'")
		}
		secret = email + ":" + token
	case token != "":
		secret = token
	case email != "" && password != "":
		if kind != "ziik" {
			return "", model.Errorf(model.CodeBadUserInput, "this provider takes a token, not email and password")
		}
		if strings.Contains(email, ":") {
			return "", model.Errorf(model.CodeBadUserInput, "email must not contain ':'")
		}
		secret = email + ":" + password
	default:
		return "", model.Errorf(model.CodeBadUserInput, "give a token, or (Ziik) email and password")
	}
	if len(secret) > maxSecretBytes {
		return "", model.Errorf(model.CodeBadUserInput, "the credential is longer than %d bytes", maxSecretBytes)
	}
	return secret, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

// verifyCredential asks the upstream whether a credential works before it
// is stored: it lists the first thread where the provider lists threads,
// and reads that thread's newest comment (K-LINK lists its configured rooms
// without a call, so the list alone proves nothing). A provider that lists
// no threads cannot be asked without one; its credential is stored
// unchecked and refused at first use.
func verifyCredential(ctx context.Context, p providers.Provider) error {
	info := p.Info()
	if !info.Has(model.CapabilityListThreads) {
		return nil
	}
	pg, err := p.ListThreads(ctx, providers.Page{First: 1})
	if err == nil && len(pg.Edges) > 0 && info.Has(model.CapabilityListComments) {
		_, err = p.ListComments(ctx, pg.Edges[0].Thread, providers.Page{Last: 1})
	}
	switch model.ErrorCode(err) {
	case "", model.CodeUnsupported:
		return nil
	case model.CodeUnauthenticated, model.CodeForbidden:
		e := model.Errorf(model.CodeUnauthenticated, "%s refused the credential; it was not stored", info.Name)
		e.Provider, e.Err = info.ID, err
		return e
	}
	return err
}

// mayRead says whether the subscriber of ctx may receive ev: always for a
// provider with a service credential (the tenant filter already applied);
// for one with users' credentials, only when the subscriber's own credential
// reads the thread upstream. Answers are kept events.accessCheckTTL, so a
// revoked access stops delivery within it; an upstream failure delivers
// nothing and is asked again at the next event.
func (a *App) mayRead(ctx context.Context, ev *events.Event) bool {
	c := ev.Comment
	if c == nil {
		return false
	}
	u := a.userProviderOf(ctx, c.ProviderID)
	if u == nil {
		return true
	}
	in, err := u.instance(ctx)
	if err != nil {
		return false
	}
	key := in.fingerprint + "\x00" + c.ThreadID()
	if ok, seen := a.access.Get(key); seen {
		return ok || a.deletionOfRead(ev, key)
	}
	cctx, cancel := context.WithTimeout(ctx, a.cfg.Limits.UpstreamTimeout.D())
	defer cancel()
	_, err = in.raw.Thread(cctx, c.ThreadKind, c.ThreadRef)
	switch model.ErrorCode(err) {
	case "":
		a.access.Add(key, true)
		a.readers.Add(key, struct{}{})
		return true
	case model.CodeNotFound, model.CodeForbidden, model.CodeUnauthenticated:
		a.access.Add(key, false)
		return a.deletionOfRead(ev, key)
	}
	return false
}

// deletionOfRead says whether ev deletes a comment of a thread the
// credential of key has read within readerMemory: a deleted thread reads as
// NOT_FOUND, and its comments' deletions must still reach those who saw
// them. They carry ids only.
func (a *App) deletionOfRead(ev *events.Event, key string) bool {
	return ev.Type == model.CommentEventTypeDeleted && a.readers.Contains(key)
}

// forgetAccess drops every kept access answer, after a credential changed.
func (a *App) forgetAccess() {
	a.access.Purge()
	a.readers.Purge()
}

func newAccessCache(ttl time.Duration) *expirable.LRU[string, bool] {
	return expirable.NewLRU[string, bool](maxAccessAnswers, nil, ttl)
}

// readerMemory is how long a credential that read a thread still receives
// the deletions of its comments after the thread itself is gone.
const readerMemory = 24 * time.Hour

func newReaderMemory() *expirable.LRU[string, struct{}] {
	return expirable.NewLRU[string, struct{}](maxAccessAnswers, nil, readerMemory)
}

func newUserPool() *expirable.LRU[string, *userInstance] {
	return expirable.NewLRU[string, *userInstance](maxUserInstances, nil, userInstanceLife)
}
