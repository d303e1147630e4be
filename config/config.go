// Package config reads and checks commentgraph's YAML config file.
//
// `${VAR}` anywhere in the file is replaced by the environment variable VAR
// before parsing (an unset variable is an error naming it, so a missing secret
// is caught at start, not at the first upstream call).
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"
)

// Config is the whole file. Every field documents its default.
type Config struct {
	// Listen is the address to serve on. Default ":8080". The -listen flag and
	// COMMENTGRAPH_LISTEN override it.
	Listen string `yaml:"listen"`
	// Redis, when its url or addrs is set, backs the cache, the Aelyst
	// journal, the event bus, poll leases and idempotency records so several
	// gateway instances share them. Absent: in-memory, one instance only.
	Redis Redis `yaml:"redis"`
	// Auth guards /query. Absent: no auth (demo).
	Auth Auth `yaml:"auth"`
	// GraphiQL serves the GraphiQL page at /. Default true.
	GraphiQL *bool `yaml:"graphiql"`
	// Introspection allows __schema/__type queries. Default: same as GraphiQL.
	Introspection *bool `yaml:"introspection"`
	// Limits protect the gateway from hostile or careless queries.
	Limits Limits `yaml:"limits"`
	// Events tunes live subscriptions.
	Events Events `yaml:"events"`
	// Loaders tunes batching of upstream look-ups.
	Loaders Loaders `yaml:"loaders"`
	// Cache tunes the users-and-rooms cache.
	Cache Cache `yaml:"cache"`
	// CORS lets web apps on the origins in auth.allowedOrigins call /query
	// from the browser. Default: no cross-origin access.
	CORS CORS `yaml:"cors"`
	// PersistedDocuments serves operations by hash: Automatic Persisted
	// Queries and a manifest of trusted documents.
	PersistedDocuments PersistedDocuments `yaml:"persistedDocuments"`
	// Attachments tunes the signed download links Attachment.url hands out.
	Attachments Attachments `yaml:"attachments"`
	// Providers are the upstream instances of the default tenant, in the
	// order Query.providers lists them.
	Providers []Provider `yaml:"providers"`
	// Tenants are customers that share nothing a user can observe: each has
	// its own API keys and providers. A request's tenant comes from its API
	// key or its JWT's tenant claim. Absent: one default tenant, with
	// auth.apiKeys and the top-level providers.
	Tenants []Tenant `yaml:"tenants"`
}

// Tenant is one customer: its keys and its own provider instances. Its
// provider ids may repeat another tenant's; global IDs, caches, idempotency
// keys, poll leases and events are kept apart all the same.
type Tenant struct {
	// ID names the tenant, as JWTs' tenant claim does. Required, unique,
	// [a-z0-9_-], not "default".
	ID string `yaml:"id"`
	// APIKeys act for this tenant. Default: none (JWT users only).
	APIKeys []APIKey `yaml:"apiKeys"`
	// Providers are the tenant's upstream instances, the same shape as the
	// top-level providers.
	Providers []Provider `yaml:"providers"`
}

// APIKey is a bearer key. In YAML a plain string is a key that forwards no
// credentials; {key, forwardCredentials} sets both.
type APIKey struct {
	// Key is the secret, at least 16 characters. Required.
	Key string `yaml:"key"`
	// ForwardCredentials honours X-Upstream-Credential-<providerId> headers
	// from this key's requests, for providers with credentials: user: a
	// server-side caller passing its end users' own upstream credentials.
	// Default false: the headers are ignored.
	ForwardCredentials bool `yaml:"forwardCredentials"`
}

// UnmarshalYAML reads a plain string as a key without forwarding.
func (k *APIKey) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&k.Key)
	}
	type plain APIKey
	return n.Decode((*plain)(k))
}

// Keys makes API keys without forwarding from plain strings.
func Keys(keys ...string) []APIKey {
	out := make([]APIKey, len(keys))
	for i, k := range keys {
		out[i] = APIKey{Key: k}
	}
	return out
}

// DefaultTenant is the tenant of auth.apiKeys, the top-level providers and
// JWTs without a tenant claim.
const DefaultTenant = ""

// Attachments configures GET /attachments/…: Attachment.url is a gateway
// link, signed (HMAC-SHA256) over the attachment, the caller's tenant and
// credential and an expiry, that streams the upstream file with the
// provider's credential.
type Attachments struct {
	// SigningKey is the HMAC key of the links, at least 32 characters
	// (${VAR} to keep it out of the file). Default: a random key made at
	// start, per instance: a link then works only on the instance that made
	// it, and not after a restart. Set the same key on every instance behind
	// one load balancer.
	SigningKey string `yaml:"signingKey"`
	// URLExpiry is how long a link stays valid. Default 15m.
	URLExpiry Duration `yaml:"urlExpiry"`
	// MaxUploadBytes bounds each file of createComment's attachments; a
	// larger one is BAD_USER_INPUT before any upstream call. Default 10 MiB.
	MaxUploadBytes int64 `yaml:"maxUploadBytes"`
	// MaxUploadFiles bounds the files of one comment. Default 10.
	MaxUploadFiles int `yaml:"maxUploadFiles"`
	// AllowedContentTypes are the media types an upload may have (its part's
	// Content-Type, checked against its first bytes); "image/*" allows a
	// family. Default: image/png, image/jpeg, image/gif, image/webp,
	// application/pdf, text/plain.
	AllowedContentTypes []string `yaml:"allowedContentTypes"`
}

// Redis configures the shared Redis: one server, or a Redis Cluster. Set url
// or addrs, not both; neither: no Redis.
type Redis struct {
	// URL is a redis:// or rediss:// (TLS) URL. With Cluster it names one node
	// and may name more as addr parameters, as go-redis's ParseClusterURL
	// reads it: redis://h1:6379?addr=h2:6379&addr=h3:6379. Default: none.
	URL string `yaml:"url"`
	// Addrs are host:port addresses, instead of URL: exactly one server's, or
	// with Cluster any of the cluster's nodes (the client finds the others).
	// Default: none.
	Addrs []string `yaml:"addrs"`
	// Cluster says the server is a Redis Cluster: keys are spread over its
	// masters by hash slot, and the client follows them. Default false.
	Cluster bool `yaml:"cluster"`
	// Username (an ACL user) and Password authenticate. With URL they may be
	// in the URL instead, not in both. Default: none (Redis's default user).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TLS connects with TLS, checking each server's certificate against the
	// system's roots for the host it was reached at. With URL, use rediss://
	// instead. Default false.
	TLS bool `yaml:"tls"`
}

// Enabled reports whether a Redis is configured.
func (r Redis) Enabled() bool { return r.URL != "" || len(r.Addrs) > 0 }

// Auth configures who may call /query: API keys, JWTs, or both. With
// neither, /query is open (demo).
type Auth struct {
	// APIKeys, when not empty, are the bearer keys /query accepts: each acts
	// for the default tenant. A plain string, or {key, forwardCredentials}
	// (see APIKey). Default: none.
	APIKeys []APIKey `yaml:"apiKeys"`
	// CredentialKey encrypts (AES-256-GCM, with a key derived from it) the
	// end-user credentials connectProvider stores, at rest in Redis or in
	// memory. At least 32 characters; required when any provider has
	// credentials: user. Changing it makes stored credentials unreadable
	// (users connect again).
	CredentialKey string `yaml:"credentialKey"`
	// JWT, when set, also accepts `Authorization: Bearer <JWT>` from an
	// identity provider (browser and mobile clients). Absent: no JWTs.
	JWT *JWT `yaml:"jwt"`
	// AllowedOrigins are the origins a WebSocket upgrade may come from besides
	// the gateway's own: scheme://host[:port], the host may be a pattern like
	// https://*.example.com; an entry without a scheme is https only. Empty:
	// same-origin browsers and non-browser clients only.
	AllowedOrigins []string `yaml:"allowedOrigins"`
}

// JWT verifies bearer JWTs: their signature with the identity provider's
// keys, their iss, aud, exp and nbf. A bearer value that is an API key is
// still one; any other value shaped as a JWT (three base64url parts) is
// verified as one.
type JWT struct {
	// Issuer is the exact iss every token must carry. Required.
	Issuer string `yaml:"issuer"`
	// Audience must be one of every token's aud. Required.
	Audience string `yaml:"audience"`
	// JWKSURL is the identity provider's JSON Web Key Set (http or https).
	// It is fetched at start (the gateway does not start without it) and
	// again in the background every RefreshInterval, never per request.
	// Set JWKSURL or PublicKeyFile, not both.
	JWKSURL string `yaml:"jwksURL"`
	// PublicKeyFile is a PEM file with the one key tokens are signed with,
	// read at start: a public key ("PUBLIC KEY" or "RSA PUBLIC KEY") or a
	// certificate, RSA, EC (P-256, P-384, P-521) or Ed25519. Set JWKSURL or
	// PublicKeyFile, not both.
	PublicKeyFile string `yaml:"publicKeyFile"`
	// TenantClaim names the string claim holding the caller's tenant; a token
	// without it acts for the default tenant. Default "tenant".
	TenantClaim string `yaml:"tenantClaim"`
	// UserClaim names the claim identifying the end user, a non-empty string
	// every token must carry. Default "sub".
	UserClaim string `yaml:"userClaim"`
	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Default 30s; a negative duration (-1s) allows none; at most 5m.
	Leeway Duration `yaml:"leeway"`
	// RefreshInterval is how often the key set at JWKSURL is fetched again in
	// the background. Default 1h.
	RefreshInterval Duration `yaml:"refreshInterval"`
	// UnknownKIDRefreshInterval: a token naming a key (kid) the set does not
	// hold fetches the set again at once, for keys rotated since the last
	// fetch, but at most once per this interval; meanwhile such tokens are
	// refused without a fetch (under an interval shorter than 10s, one of
	// them may wait for the next). Default 5m.
	UnknownKIDRefreshInterval Duration `yaml:"unknownKIDRefreshInterval"`
}

// Limits bound what one request may cost.
type Limits struct {
	// MaxBodyBytes bounds a request body; larger gets 413. Default 1 MiB.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// MaxTokens bounds the tokens of a query document. Default 5000.
	MaxTokens int `yaml:"maxTokens"`
	// MaxComplexity bounds a query's cost, checked before validation: 1 per
	// field plus its children, list fields counting their children once per
	// page element (first/last), each thread of Query.comments and each id of
	// Query.nodes counting as an upstream call (10). Default 5000.
	MaxComplexity int `yaml:"maxComplexity"`
	// MaxPageSize bounds first/last. Default 100.
	MaxPageSize int `yaml:"maxPageSize"`
	// MaxRepeatedFields bounds how often one response name may be selected in
	// one selection set (validation compares such fields pairwise). Default 20.
	MaxRepeatedFields int `yaml:"maxRepeatedFields"`
	// MaxFragmentSpreads bounds the fragment spreads of one selection set.
	// Default 50.
	MaxFragmentSpreads int `yaml:"maxFragmentSpreads"`
	// RequestTimeout is the budget of one query or mutation. Default 10s.
	RequestTimeout Duration `yaml:"requestTimeout"`
	// UpstreamTimeout bounds each upstream call, under RequestTimeout. Default 8s.
	UpstreamTimeout Duration `yaml:"upstreamTimeout"`
	// MaxUpstreamCalls is the budget of upstream calls one query, mutation or
	// subscription event may make; past it, the calls are not made and the
	// fields that needed them get UPSTREAM_BUDGET_EXCEEDED. Identical list
	// calls within one request are made once and count once. Default 100.
	MaxUpstreamCalls int `yaml:"maxUpstreamCalls"`
	// UpstreamIdleConns is how many idle keep-alive connections the gateway
	// keeps open to each upstream host. Under load every query calls upstream
	// in parallel, so a small pool (Go's default is 2) makes most calls dial a
	// new connection. Default 64.
	UpstreamIdleConns int `yaml:"upstreamIdleConns"`
}

// Events tunes subscriptions and their sources.
type Events struct {
	// PollInterval is how often threads of providers with no push are polled.
	// Default 5s; a negative duration (-1s) polls nothing (no live comments
	// from those providers).
	PollInterval Duration `yaml:"pollInterval"`
	// MaxSubscriptionsPerConnection caps subscriptions on one socket. Default 20.
	MaxSubscriptionsPerConnection int `yaml:"maxSubscriptionsPerConnection"`
	// InitTimeout is how long a socket may wait before connection_init. Default 10s.
	InitTimeout Duration `yaml:"initTimeout"`
	// KeepAlive is the ping interval on sockets. Default 15s.
	KeepAlive Duration `yaml:"keepAlive"`
	// AccessCheckTTL: a subscriber acting with its own credential (a
	// provider with credentials: user) receives a thread's events only after
	// that credential was checked upstream to read the thread; the answer is
	// kept this long, so revoked access stops delivery within it. Default 30s.
	AccessCheckTTL Duration `yaml:"accessCheckTTL"`
	// CatchUp bounds what a provider with an event stream (Virola) reads to
	// find the comments created while its stream was down.
	CatchUp CatchUp `yaml:"catchUp"`
}

// CatchUp bounds one catch-up after an event stream reconnects; what lies
// past a bound is logged and counted
// (commentgraph_catchup_dropped_total), never silently lost.
type CatchUp struct {
	// Rooms read, the most recently active first. Default 100; negative:
	// only threads the gateway has read or watches.
	Rooms int `yaml:"rooms"`
	// Messages read per room to find threads changed since the outage.
	// Default 200.
	Messages int `yaml:"messages"`
	// Threads whose comments are read. Default 500.
	Threads int `yaml:"threads"`
	// Comments emitted by one catch-up; past it the newest are kept.
	// Default 5000.
	Comments int `yaml:"comments"`
}

// Loaders tunes the per-request dataloaders.
type Loaders struct {
	// Wait is how long a loader gathers keys before calling upstream.
	// Default 1ms.
	Wait Duration `yaml:"wait"`
	// Disabled makes every look-up its own upstream call: the naive baseline
	// the benchmarks compare against. Default false.
	Disabled bool `yaml:"disabled"`
}

// Cache tunes the users-and-rooms cache.
type Cache struct {
	// TTL of a cached user or room. Default 5m.
	TTL Duration `yaml:"ttl"`
	// NearTTL is how long, with Redis, each instance also keeps a user or room
	// in its own memory; a webhook or event changing one drops it on every
	// instance. Default 10s; a negative duration (-1s) turns it off.
	NearTTL Duration `yaml:"nearTTL"`
	// Disabled sends every look-up upstream (benchmark baseline). Default false.
	Disabled bool `yaml:"disabled"`
}

// CORS tunes cross-origin requests to /query. The origins allowed are
// auth.allowedOrigins (the same list the WebSocket origin check uses, scheme
// included); with none, no cross-origin request is allowed.
type CORS struct {
	// AllowCredentials lets browsers send cookies and HTTP auth with
	// cross-origin requests (Access-Control-Allow-Credentials). Default false.
	AllowCredentials bool `yaml:"allowCredentials"`
	// MaxAge is how long a browser may cache a preflight's answer. Default 10m.
	MaxAge Duration `yaml:"maxAge"`
}

// PersistedDocuments configures operations sent by hash
// (extensions.persistedQuery.sha256Hash).
type PersistedDocuments struct {
	// APQ turns on Automatic Persisted Queries: a client sends a hash, and the
	// document once when the gateway does not know it yet; known documents
	// are kept in Redis when configured (shared by every instance), in memory
	// otherwise. Default true, unless Only is set.
	APQ *bool `yaml:"apq"`
	// Manifest is a JSON file of trusted documents: {"<sha256>": "<document>"}
	// (GraphQL Codegen's client preset) or Apollo's persisted query manifest
	// ({"operations": [{"id", "body"}]}). Empty: none.
	Manifest string `yaml:"manifest"`
	// Only refuses every operation that is not in Manifest, by hash or by
	// text (APQ is then off). Default false.
	Only bool `yaml:"only"`
}

// Provider is one upstream instance.
type Provider struct {
	// ID is the instance id used in global IDs and /webhooks/{id}. Required,
	// unique, [a-z0-9_-].
	ID string `yaml:"id"`
	// Kind is klink, virola, aelyst or ziik. Required.
	Kind string `yaml:"kind"`
	// Name is shown to people. Default: the kind's product name.
	Name string `yaml:"name"`
	// BaseURL is the upstream's origin (http or https). Required.
	BaseURL string `yaml:"baseURL"`
	// Token is the API token (klink, virola, aelyst).
	Token string `yaml:"token"`
	// Email and Password log in to Ziik. For Aelyst, Email names the token's
	// own user, so the comments the gateway posts carry it as their sender.
	Email    string `yaml:"email"`
	Password string `yaml:"password"`
	// WebhookSecret verifies webhook signatures (klink, aelyst). Empty: the
	// webhook endpoint refuses every delivery.
	WebhookSecret string `yaml:"webhookSecret"`
	// Threads are native thread refs to poll for new comments (and, for K-LINK,
	// the rooms Provider.threads lists, since K-LINK has no room directory).
	Threads []string `yaml:"threads"`
	// Credentials says whose upstream credential the instance acts with:
	// "service" (default), the token or email/password above for every
	// caller; or "user", each request's end user's own (a forwarded
	// X-Upstream-Credential-<id> header or one stored with connectProvider).
	// With "user" the service credential is optional and, when set, is used
	// only for the background event channel (stream or polling), whose
	// events reach a subscriber only for threads its own credential may read.
	Credentials string `yaml:"credentials"`
}

// CredentialsUser is Provider.Credentials for end users' own credentials.
const (
	CredentialsService = "service"
	CredentialsUser    = "user"
)

// Kinds is every supported provider kind.
var Kinds = []string{"klink", "virola", "aelyst", "ziik"}

// Load reads, expands and checks the file at path.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(raw, os.LookupEnv)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Parse decodes strictly (unknown keys are errors), expands ${VAR} in every
// value with lookup, and validates. Its errors are one line naming the key and
// the reason. Expansion happens on parsed values, not on the raw text, so a
// secret holding quotes, '#' or ': ' cannot change the file's structure.
func Parse(raw []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("config: %s", oneLine(err.Error()))
	}
	var missing []string
	expand(&root, func(name string) string {
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("config: environment variable %s is not set", strings.Join(missing, ", "))
	}
	var c Config
	if len(root.Content) > 0 {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&root); err != nil {
			return nil, fmt.Errorf("config: %s", oneLine(err.Error()))
		}
		dec := yaml.NewDecoder(&buf)
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config: %s", oneLine(err.Error()))
		}
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func expand(n *yaml.Node, get func(string) string) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			return get(envRef.FindStringSubmatch(m)[1])
		})
		// Let the re-encode quote it as its content needs and the decode type it
		// by the field it lands in (a port number stays a number).
		n.Tag, n.Style = "", 0
	}
	for _, c := range n.Content {
		expand(c, get)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (c *Config) applyDefaults() {
	c.Listen = cmp.Or(c.Listen, ":8080")
	if c.GraphiQL == nil {
		t := true
		c.GraphiQL = &t
	}
	if c.Introspection == nil {
		v := *c.GraphiQL
		c.Introspection = &v
	}
	l := &c.Limits
	l.MaxBodyBytes = cmp.Or(l.MaxBodyBytes, 1<<20)
	l.MaxTokens = cmp.Or(l.MaxTokens, 5000)
	l.MaxComplexity = cmp.Or(l.MaxComplexity, 5000)
	l.MaxPageSize = cmp.Or(l.MaxPageSize, 100)
	l.MaxRepeatedFields = cmp.Or(l.MaxRepeatedFields, 20)
	l.MaxFragmentSpreads = cmp.Or(l.MaxFragmentSpreads, 50)
	l.MaxUpstreamCalls = cmp.Or(l.MaxUpstreamCalls, 100)
	l.RequestTimeout = cmp.Or(l.RequestTimeout, Duration(10*time.Second))
	l.UpstreamTimeout = cmp.Or(l.UpstreamTimeout, Duration(8*time.Second))
	l.UpstreamIdleConns = cmp.Or(l.UpstreamIdleConns, 64)
	c.Loaders.Wait = cmp.Or(c.Loaders.Wait, Duration(time.Millisecond))
	c.CORS.MaxAge = cmp.Or(c.CORS.MaxAge, Duration(10*time.Minute))
	if c.PersistedDocuments.APQ == nil {
		apq := !c.PersistedDocuments.Only
		c.PersistedDocuments.APQ = &apq
	}
	c.Cache.TTL = cmp.Or(c.Cache.TTL, Duration(5*time.Minute))
	c.Attachments.URLExpiry = cmp.Or(c.Attachments.URLExpiry, Duration(15*time.Minute))
	c.Attachments.MaxUploadBytes = cmp.Or(c.Attachments.MaxUploadBytes, 10<<20)
	c.Attachments.MaxUploadFiles = cmp.Or(c.Attachments.MaxUploadFiles, 10)
	if c.Attachments.AllowedContentTypes == nil {
		c.Attachments.AllowedContentTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
	}
	for i := range c.Providers {
		c.Providers[i].applyDefaults()
	}
	for i := range c.Tenants {
		for j := range c.Tenants[i].Providers {
			c.Tenants[i].Providers[j].applyDefaults()
		}
	}
	if j := c.Auth.JWT; j != nil {
		j.TenantClaim = cmp.Or(j.TenantClaim, "tenant")
		j.UserClaim = cmp.Or(j.UserClaim, "sub")
		j.Leeway = cmp.Or(j.Leeway, Duration(30*time.Second))
		j.RefreshInterval = cmp.Or(j.RefreshInterval, Duration(time.Hour))
		j.UnknownKIDRefreshInterval = cmp.Or(j.UnknownKIDRefreshInterval, Duration(5*time.Minute))
	}
	e := &c.Events
	e.PollInterval = cmp.Or(e.PollInterval, Duration(5*time.Second))
	e.MaxSubscriptionsPerConnection = cmp.Or(e.MaxSubscriptionsPerConnection, 20)
	e.InitTimeout = cmp.Or(e.InitTimeout, Duration(10*time.Second))
	e.KeepAlive = cmp.Or(e.KeepAlive, Duration(15*time.Second))
	e.AccessCheckTTL = cmp.Or(e.AccessCheckTTL, Duration(30*time.Second))
	cu := &e.CatchUp
	cu.Rooms = cmp.Or(cu.Rooms, 100)
	cu.Messages = cmp.Or(cu.Messages, 200)
	cu.Threads = cmp.Or(cu.Threads, 500)
	cu.Comments = cmp.Or(cu.Comments, 5000)
}

func (p *Provider) applyDefaults() {
	p.Credentials = cmp.Or(p.Credentials, CredentialsService)
}

// UserCredentials reports whether the instance acts with end users' own
// credentials.
func (p Provider) UserCredentials() bool { return p.Credentials == CredentialsUser }

// HasServiceCredential reports whether a service credential is configured.
func (p Provider) HasServiceCredential() bool {
	if p.Kind == "ziik" {
		return p.Email != "" && p.Password != ""
	}
	return p.Token != ""
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate checks the config; the error names the first bad key and why.
func (c *Config) Validate() error {
	if err := c.Redis.validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if k := c.Attachments.SigningKey; k != "" && len(k) < 32 {
		return fmt.Errorf("config: attachments.signingKey: is shorter than 32 characters")
	}
	if c.Attachments.URLExpiry < 0 {
		return fmt.Errorf("config: attachments.urlExpiry: must be positive")
	}
	if c.Attachments.MaxUploadBytes < 0 {
		return fmt.Errorf("config: attachments.maxUploadBytes: must be positive")
	}
	if c.Attachments.MaxUploadFiles < 0 {
		return fmt.Errorf("config: attachments.maxUploadFiles: must be positive")
	}
	for i, t := range c.Attachments.AllowedContentTypes {
		if !mediaPattern.MatchString(t) {
			return fmt.Errorf("config: attachments.allowedContentTypes[%d]: %q is not a media type (type/subtype or type/*)", i, t)
		}
	}
	if c.Events.AccessCheckTTL < 0 {
		return fmt.Errorf("config: events.accessCheckTTL: must be positive")
	}
	keys := make(map[string]string)
	if err := checkKeys("auth.apiKeys", c.Auth.APIKeys, keys); err != nil {
		return err
	}
	if k := c.Auth.CredentialKey; k != "" && len(k) < 32 {
		return fmt.Errorf("config: auth.credentialKey: is shorter than 32 characters")
	}
	if j := c.Auth.JWT; j != nil {
		if err := j.validate(); err != nil {
			return fmt.Errorf("config: auth.jwt.%w", err)
		}
	}
	l := c.Limits
	switch {
	case l.MaxBodyBytes < 0:
		return fmt.Errorf("config: limits.maxBodyBytes: must be positive")
	case l.MaxTokens < 0:
		return fmt.Errorf("config: limits.maxTokens: must be positive")
	case l.MaxComplexity < 0:
		return fmt.Errorf("config: limits.maxComplexity: must be positive")
	case l.MaxRepeatedFields < 0:
		return fmt.Errorf("config: limits.maxRepeatedFields: must be positive")
	case l.MaxFragmentSpreads < 0:
		return fmt.Errorf("config: limits.maxFragmentSpreads: must be positive")
	case l.MaxUpstreamCalls < 0:
		return fmt.Errorf("config: limits.maxUpstreamCalls: must be positive")
	case l.MaxPageSize < 0 || l.MaxPageSize > 1000:
		return fmt.Errorf("config: limits.maxPageSize: must be between 1 and 1000")
	case l.RequestTimeout < 0 || l.UpstreamTimeout < 0:
		return fmt.Errorf("config: limits: timeouts must be positive")
	case l.UpstreamTimeout > l.RequestTimeout:
		return fmt.Errorf("config: limits.upstreamTimeout: must not exceed limits.requestTimeout")
	case l.UpstreamIdleConns < 0:
		return fmt.Errorf("config: limits.upstreamIdleConns: must be positive")
	}
	if pd := c.PersistedDocuments; pd.Only && pd.Manifest == "" {
		return fmt.Errorf("config: persistedDocuments.only: needs persistedDocuments.manifest")
	}
	if pd := c.PersistedDocuments; pd.Only && *pd.APQ {
		return fmt.Errorf("config: persistedDocuments.apq: cannot be on with persistedDocuments.only (APQ would register any document)")
	}
	if c.CORS.MaxAge < 0 {
		return fmt.Errorf("config: cors.maxAge: must be positive")
	}
	if err := checkProviders("providers", c.Providers); err != nil {
		return err
	}
	tenants := make(map[string]int)
	for i, t := range c.Tenants {
		key := fmt.Sprintf("tenants[%d]", i)
		switch {
		case !idPattern.MatchString(t.ID):
			return fmt.Errorf("config: %s.id: %q must be lower-case letters, digits, '-' or '_'", key, t.ID)
		case t.ID == "default":
			return fmt.Errorf("config: %s.id: \"default\" names the top-level tenant", key)
		}
		if j, dup := tenants[t.ID]; dup {
			return fmt.Errorf("config: %s.id: %q is already used by tenants[%d]", key, t.ID, j)
		}
		tenants[t.ID] = i
		if err := checkKeys(key+".apiKeys", t.APIKeys, keys); err != nil {
			return err
		}
		if err := checkProviders(key+".providers", t.Providers); err != nil {
			return err
		}
	}
	if c.Auth.CredentialKey == "" {
		for _, p := range c.allProviders() {
			if p.UserCredentials() {
				return fmt.Errorf("config: auth.credentialKey: is required: provider %q has credentials: user", p.ID)
			}
		}
	}
	return nil
}

// allProviders lists every tenant's providers, the default tenant's first.
func (c *Config) allProviders() []Provider {
	all := append([]Provider(nil), c.Providers...)
	for _, t := range c.Tenants {
		all = append(all, t.Providers...)
	}
	return all
}

var mediaPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$`)

// checkKeys checks API keys under key; seen holds every key's place so far,
// since a key names exactly one tenant.
func checkKeys(key string, ks []APIKey, seen map[string]string) error {
	for i, k := range ks {
		at := fmt.Sprintf("%s[%d]", key, i)
		if strings.TrimSpace(k.Key) == "" {
			return fmt.Errorf("config: %s: is empty", at)
		}
		if len(k.Key) < 16 {
			return fmt.Errorf("config: %s: is shorter than 16 characters", at)
		}
		if other, dup := seen[k.Key]; dup {
			return fmt.Errorf("config: %s: is the same key as %s (a key acts for one tenant)", at, other)
		}
		seen[k.Key] = at
	}
	return nil
}

// checkProviders checks one tenant's providers, listed under list.
func checkProviders(list string, ps []Provider) error {
	seen := make(map[string]int)
	for i, p := range ps {
		key := fmt.Sprintf("%s[%d]", list, i)
		if p.ID == "" {
			return fmt.Errorf("config: %s.id: is required", key)
		}
		if !idPattern.MatchString(p.ID) {
			return fmt.Errorf("config: %s.id: %q must be lower-case letters, digits, '-' or '_'", key, p.ID)
		}
		if j, dup := seen[p.ID]; dup {
			return fmt.Errorf("config: %s.id: %q is already used by %s[%d]", key, p.ID, list, j)
		}
		seen[p.ID] = i
		if !validKind(p.Kind) {
			return fmt.Errorf("config: %s.kind: %q is not one of %s", key, p.Kind, strings.Join(Kinds, ", "))
		}
		if p.BaseURL == "" {
			return fmt.Errorf("config: %s.baseURL: is required", key)
		}
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("config: %s.baseURL: must be an http(s) URL with a host and no query", key)
		}
		switch p.Credentials {
		case "", CredentialsService:
		case CredentialsUser:
			// The service credential is optional: it only feeds the
			// background event channel.
			if p.Kind == "ziik" && (p.Email == "") != (p.Password == "") {
				return fmt.Errorf("config: %s.password: set email and password together, or neither", key)
			}
			continue
		default:
			return fmt.Errorf("config: %s.credentials: %q is not service or user", key, p.Credentials)
		}
		switch p.Kind {
		case "ziik":
			if p.Email == "" {
				return fmt.Errorf("config: %s.email: is required for kind ziik", key)
			}
			if p.Password == "" {
				return fmt.Errorf("config: %s.password: is required for kind ziik", key)
			}
		default:
			if p.Token == "" {
				return fmt.Errorf("config: %s.token: is required for kind %s", key, p.Kind)
			}
		}
	}
	return nil
}

// validate checks auth.jwt; its errors start with the key under auth.jwt.
func (j JWT) validate() error {
	switch {
	case strings.TrimSpace(j.Issuer) == "":
		return errors.New("issuer: is required (the exact iss of the tokens)")
	case strings.TrimSpace(j.Audience) == "":
		return errors.New("audience: is required (an aud every token carries)")
	case j.JWKSURL != "" && j.PublicKeyFile != "":
		return errors.New("publicKeyFile: set auth.jwt.jwksURL or auth.jwt.publicKeyFile, not both")
	case j.JWKSURL == "" && j.PublicKeyFile == "":
		return errors.New("jwksURL: is required, or auth.jwt.publicKeyFile")
	case strings.TrimSpace(j.TenantClaim) == "":
		return errors.New("tenantClaim: is empty")
	case strings.TrimSpace(j.UserClaim) == "":
		return errors.New("userClaim: is empty")
	case j.Leeway > Duration(5*time.Minute):
		return errors.New("leeway: must be at most 5m")
	case j.RefreshInterval < 0:
		return errors.New("refreshInterval: must be positive")
	case j.UnknownKIDRefreshInterval < 0:
		return errors.New("unknownKIDRefreshInterval: must be positive")
	}
	if j.JWKSURL != "" {
		u, err := url.Parse(j.JWKSURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return errors.New("jwksURL: must be an http(s) URL with a host")
		}
	}
	return nil
}

func (r Redis) validate() error {
	switch {
	case r.URL != "" && len(r.Addrs) > 0:
		return errors.New("redis.addrs: set redis.url or redis.addrs, not both")
	case !r.Enabled():
		// Likely a url left out: refuse rather than run without Redis.
		for _, o := range []struct {
			key string
			set bool
		}{{"cluster", r.Cluster}, {"username", r.Username != ""}, {"password", r.Password != ""}, {"tls", r.TLS}} {
			if o.set {
				return fmt.Errorf("redis.%s: is set but redis.url and redis.addrs are not", o.key)
			}
		}
		return nil
	case r.URL != "":
		return r.validateURL()
	}
	if !r.Cluster && len(r.Addrs) > 1 {
		return fmt.Errorf("redis.addrs: lists %d addresses but redis.cluster is false: one server has one address", len(r.Addrs))
	}
	for i, a := range r.Addrs {
		if !hostPort(a) {
			return fmt.Errorf("redis.addrs[%d]: %q must be host:port", i, a)
		}
	}
	return nil
}

// validateURL checks redis.url as go-redis will read it, so a bad option is
// refused at start. Its errors never repeat the URL: it may hold a password.
func (r Redis) validateURL() error {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return errors.New("redis.url: must be a redis:// or rediss:// URL with a host")
	}
	if r.TLS && u.Scheme == "redis" {
		return errors.New("redis.tls: with redis.url, use a rediss:// URL for TLS")
	}
	if r.Username != "" && u.User.Username() != "" {
		return errors.New("redis.username: redis.url has a user already")
	}
	if _, has := u.User.Password(); has && r.Password != "" {
		return errors.New("redis.password: redis.url has a password already")
	}
	if !r.Cluster {
		if u.Query().Has("addr") {
			return errors.New("redis.url: addr parameters name cluster nodes: set redis.cluster: true")
		}
		_, err = redis.ParseURL(r.URL)
	} else {
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return errors.New("redis.url: a Redis Cluster has database 0 only")
		}
		for _, a := range u.Query()["addr"] {
			if !hostPort(a) {
				return fmt.Errorf("redis.url: addr %q must be host:port", a)
			}
		}
		_, err = redis.ParseClusterURL(r.URL)
	}
	if err != nil {
		// url.Error quotes the whole URL: keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("redis.url: %s", oneLine(strings.TrimPrefix(err.Error(), "redis: ")))
	}
	return nil
}

func hostPort(a string) bool {
	h, p, err := net.SplitHostPort(a)
	if err != nil || h == "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 1<<16
}

func validKind(k string) bool {
	for _, have := range Kinds {
		if k == have {
			return true
		}
	}
	return false
}

// Duration is a time.Duration written as "5s", "250ms" in YAML.
type Duration time.Duration

// UnmarshalYAML reads "5s"-style durations.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 5s or 250ms", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
