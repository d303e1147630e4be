package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const good = `
listen: ":9090"
redis:
  url: "redis://127.0.0.1:6379/0"
auth:
  apiKeys: ["${API_KEY}"]
graphiql: false
limits:
  maxPageSize: ${PAGE}
  requestTimeout: 3s
  upstreamTimeout: 2s
providers:
  - id: klink
    kind: klink
    baseURL: "https://apigw.klinkcx.com"
    token: "${KLINK_TOKEN}"
    webhookSecret: ${KLINK_SECRET}
    threads: ["room-1"]
  - id: ziik-eu
    kind: ziik
    baseURL: "https://acme.ziik.io/api"
    email: "bot@acme.test"
    password: "${ZIIK_PASSWORD}"
`

func TestParseGood(t *testing.T) {
	// Secrets with YAML-significant characters must come through verbatim.
	secrets := map[string]string{
		"API_KEY":       "k3y-with-\"quotes\"-and-#hash",
		"PAGE":          "50",
		"KLINK_TOKEN":   "kpt_abc: def # not a comment",
		"KLINK_SECRET":  "  spaced  ",
		"ZIIK_PASSWORD": "p'a\"ss\\word\n2",
	}
	c, err := config.Parse([]byte(good), env(secrets))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Listen != ":9090" || c.Redis.URL == "" || *c.GraphiQL || *c.Introspection {
		t.Errorf("top level: %+v", c)
	}
	if got := c.Auth.APIKeys[0].Key; got != secrets["API_KEY"] {
		t.Errorf("apiKey = %q", got)
	}
	if c.Limits.MaxPageSize != 50 || c.Limits.RequestTimeout.D() != 3*time.Second || c.Limits.MaxBodyBytes != 1<<20 {
		t.Errorf("limits: %+v", c.Limits)
	}
	if p := c.Providers[0]; p.Token != secrets["KLINK_TOKEN"] || p.WebhookSecret != secrets["KLINK_SECRET"] || p.Threads[0] != "room-1" {
		t.Errorf("klink: %+v", p)
	}
	if p := c.Providers[1]; p.Password != secrets["ZIIK_PASSWORD"] || p.Kind != "ziik" {
		t.Errorf("ziik: %+v", p)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := config.Parse(nil, env(nil))
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	if c.Listen != ":8080" || !*c.GraphiQL || !*c.Introspection || c.Limits.MaxComplexity != 5000 || c.Limits.UpstreamIdleConns != 64 || c.Events.PollInterval.D() != 5*time.Second {
		t.Errorf("defaults: %+v", c)
	}
}

func TestParseRefusals(t *testing.T) {
	provider := func(body string) string { return "providers:\n  - " + strings.ReplaceAll(body, "\n", "\n    ") + "\n" }
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown kind", provider("id: x\nkind: slack\nbaseURL: https://a.test\ntoken: t"), `providers[0].kind: "slack" is not one of`},
		{"missing baseURL", provider("id: x\nkind: klink\ntoken: t"), "providers[0].baseURL: is required"},
		{"missing token", provider("id: x\nkind: virola\nbaseURL: https://a.test"), "providers[0].token: is required for kind virola"},
		{"ziik without password", provider("id: z\nkind: ziik\nbaseURL: https://a.test\nemail: a@b.c"), "providers[0].password: is required"},
		{"bad URL", provider("id: x\nkind: klink\nbaseURL: ftp://a.test\ntoken: t"), "providers[0].baseURL: must be an http(s) URL"},
		{"URL without host", provider("id: x\nkind: klink\nbaseURL: 'https://'\ntoken: t"), "providers[0].baseURL"},
		{"duplicate id", provider("id: x\nkind: klink\nbaseURL: https://a.test\ntoken: t") + "  - id: x\n    kind: aelyst\n    baseURL: https://b.test\n    token: t\n", `providers[1].id: "x" is already used by providers[0]`},
		{"bad id", provider("id: X Y\nkind: klink\nbaseURL: https://a.test\ntoken: t"), "providers[0].id:"},
		{"missing id", provider("kind: klink\nbaseURL: https://a.test\ntoken: t"), "providers[0].id: is required"},
		{"unknown key", "listen: ':1'\nlisteen: ':2'\n", "field listeen not found"},
		{"unset env", "auth:\n  apiKeys: ['${NOPE_NOT_SET}']\n", "environment variable NOPE_NOT_SET is not set"},
		{"short api key", "auth:\n  apiKeys: ['short']\n", "auth.apiKeys[0]: is shorter than 16"},
		{"bad redis url", "redis:\n  url: 'http://x'\n", "redis.url"},
		{"redis url and addrs", "redis:\n  url: 'redis://a:6379'\n  addrs: ['b:6379']\n", "redis.addrs: set redis.url or redis.addrs, not both"},
		{"redis addrs without cluster", "redis:\n  addrs: ['a:6379', 'b:6379']\n", "redis.addrs: lists 2 addresses but redis.cluster is false"},
		{"redis addr without port", "redis:\n  addrs: ['a:6379', 'b']\n  cluster: true\n", `redis.addrs[1]: "b" must be host:port`},
		{"redis addr with bad port", "redis:\n  addrs: ['a:0']\n", `redis.addrs[0]: "a:0" must be host:port`},
		{"redis cluster without nodes", "redis:\n  cluster: true\n", "redis.cluster: is set but redis.url and redis.addrs are not"},
		{"redis password without server", "redis:\n  password: pw\n", "redis.password: is set but"},
		{"redis cluster url with a database", "redis:\n  url: 'redis://a:6379/2'\n  cluster: true\n", "redis.url: a Redis Cluster has database 0 only"},
		{"redis cluster url with a bad addr", "redis:\n  url: 'redis://a:6379?addr=b'\n  cluster: true\n", `redis.url: addr "b" must be host:port`},
		{"redis addr parameter without cluster", "redis:\n  url: 'redis://a:6379?addr=b:6379'\n", "redis.url: addr parameters name cluster nodes: set redis.cluster: true"},
		{"redis url with an unknown option", "redis:\n  url: 'redis://a:6379?colour=red'\n", "redis.url: unexpected option: colour"},
		{"redis cluster url with an unknown option", "redis:\n  url: 'redis://a:6379?colour=red'\n  cluster: true\n", "redis.url: unexpected option: colour"},
		{"redis tls with redis://", "redis:\n  url: 'redis://a:6379'\n  tls: true\n", "redis.tls: with redis.url, use a rediss:// URL"},
		{"redis password twice", "redis:\n  url: 'redis://:pw@a:6379'\n  password: pw2\n", "redis.password: redis.url has a password already"},
		{"redis user twice", "redis:\n  url: 'redis://u:pw@a:6379'\n  username: v\n", "redis.username: redis.url has a user already"},
		{"bad duration", "limits:\n  requestTimeout: soon\n", `"soon" is not a duration`},
		{"upstream over request", "limits:\n  requestTimeout: 1s\n  upstreamTimeout: 2s\n", "limits.upstreamTimeout"},
		{"negative idle conns", "limits:\n  upstreamIdleConns: -1\n", "limits.upstreamIdleConns"},
		{"not yaml", "providers: [\n", "config:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), env(nil))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
		})
	}
}

func TestRefusalNeverEchoesSecrets(t *testing.T) {
	y := "providers:\n  - id: x\n    kind: klink\n    baseURL: 'ftp://h'\n    token: '${T}'\n"
	_, err := config.Parse([]byte(y), env(map[string]string{"T": "kpt_SUPERSECRET"}))
	if err == nil || strings.Contains(err.Error(), "SUPERSECRET") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRedis(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       config.Redis
	}{
		{"none", "", config.Redis{}},
		{"one server by URL", "redis:\n  url: 'rediss://cache.internal:6380/1'\n", config.Redis{URL: "rediss://cache.internal:6380/1"}},
		{"one server by address", "redis:\n  addrs: ['cache.internal:6379']\n  password: '${PW}'\n", config.Redis{Addrs: []string{"cache.internal:6379"}, Password: "s3cret"}},
		{"cluster by addresses", "redis:\n  addrs: ['10.0.0.1:6379', '10.0.0.2:6379', '[::1]:7000']\n  cluster: true\n  username: gw\n  password: '${PW}'\n  tls: true\n",
			config.Redis{Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379", "[::1]:7000"}, Cluster: true, Username: "gw", Password: "s3cret", TLS: true}},
		{"cluster by URL", "redis:\n  url: 'redis://n1:6379?addr=n2:6379&addr=n3:6379'\n  cluster: true\n", config.Redis{URL: "redis://n1:6379?addr=n2:6379&addr=n3:6379", Cluster: true}},
		{"cluster by URL with TLS", "redis:\n  url: 'rediss://n1:6379/0'\n  cluster: true\n  tls: true\n", config.Redis{URL: "rediss://n1:6379/0", Cluster: true, TLS: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tt.yaml), env(map[string]string{"PW": "s3cret"}))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(c.Redis, tt.want) {
				t.Errorf("redis = %+v, want %+v", c.Redis, tt.want)
			}
			if c.Redis.Enabled() != (tt.yaml != "") {
				t.Errorf("Enabled() = %v", c.Redis.Enabled())
			}
		})
	}
}

// A bad redis.url is refused without repeating it: it may hold a password.
func TestRedisRefusalNeverEchoesThePassword(t *testing.T) {
	for _, u := range []string{"redis://:SUPERSECRET@host:6379/x", "redis://:SUPERSECRET@host:6379?colour=red", "redis://:SUPERSECRET@host:bad", "redis://:SUPERSECRET@h%zz:6379"} {
		for _, cluster := range []string{"false", "true"} {
			y := "redis:\n  url: '" + u + "'\n  cluster: " + cluster + "\n"
			_, err := config.Parse([]byte(y), env(nil))
			if err == nil || strings.Contains(err.Error(), "SUPERSECRET") || !strings.Contains(err.Error(), "redis.url") {
				t.Errorf("url %s, cluster %s: err = %v", u, cluster, err)
			}
		}
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("listen: '127.0.0.1:0'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil || c.Listen != "127.0.0.1:0" {
		t.Fatalf("Load: %v %+v", err, c)
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestParseJWT(t *testing.T) {
	y := `
auth:
  jwt:
    issuer: "https://idp.example.com/"
    audience: commentgraph
    jwksURL: "https://idp.example.com/.well-known/jwks.json"
`
	c, err := config.Parse([]byte(y), env(nil))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := config.JWT{
		Issuer: "https://idp.example.com/", Audience: "commentgraph", JWKSURL: "https://idp.example.com/.well-known/jwks.json",
		TenantClaim: "tenant", UserClaim: "sub", Leeway: config.Duration(30 * time.Second),
		RefreshInterval: config.Duration(time.Hour), UnknownKIDRefreshInterval: config.Duration(5 * time.Minute),
	}
	if c.Auth.JWT == nil || !reflect.DeepEqual(*c.Auth.JWT, want) {
		t.Errorf("defaults: %+v, want %+v", c.Auth.JWT, want)
	}

	y = `
auth:
  apiKeys: ["0123456789abcdef"]
  jwt:
    issuer: "${ISS}"
    audience: api
    publicKeyFile: jwt.pem
    tenantClaim: org
    userClaim: email
    leeway: 5s
    refreshInterval: 10m
    unknownKIDRefreshInterval: 1m
`
	c, err = config.Parse([]byte(y), env(map[string]string{"ISS": "https://login.test"}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want = config.JWT{
		Issuer: "https://login.test", Audience: "api", PublicKeyFile: "jwt.pem", TenantClaim: "org", UserClaim: "email",
		Leeway: config.Duration(5 * time.Second), RefreshInterval: config.Duration(10 * time.Minute), UnknownKIDRefreshInterval: config.Duration(time.Minute),
	}
	if c.Auth.JWT == nil || !reflect.DeepEqual(*c.Auth.JWT, want) || len(c.Auth.APIKeys) != 1 {
		t.Errorf("set: %+v, want %+v", c.Auth.JWT, want)
	}

	if c, err := config.Parse([]byte("auth:\n  apiKeys: ['0123456789abcdef']\n"), env(nil)); err != nil || c.Auth.JWT != nil {
		t.Errorf("without jwt: %v %+v", err, c.Auth.JWT)
	}
}

func TestParseJWTRefusals(t *testing.T) {
	jwt := func(lines ...string) string {
		return "auth:\n  jwt:\n    " + strings.Join(lines, "\n    ") + "\n"
	}
	const iss, aud, jwks = "issuer: https://idp.test/", "audience: cg", "jwksURL: https://idp.test/jwks.json"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "auth:\n  jwt: {}\n", "auth.jwt.issuer: is required"},
		{"no issuer", jwt(aud, jwks), "auth.jwt.issuer: is required"},
		{"blank issuer", jwt("issuer: ' '", aud, jwks), "auth.jwt.issuer: is required"},
		{"no audience", jwt(iss, jwks), "auth.jwt.audience: is required"},
		{"no key source", jwt(iss, aud), "auth.jwt.jwksURL: is required, or auth.jwt.publicKeyFile"},
		{"both key sources", jwt(iss, aud, jwks, "publicKeyFile: k.pem"), "auth.jwt.publicKeyFile: set auth.jwt.jwksURL or auth.jwt.publicKeyFile, not both"},
		{"jwks not http", jwt(iss, aud, "jwksURL: file:///etc/jwks.json"), "auth.jwt.jwksURL: must be an http(s) URL"},
		{"jwks without host", jwt(iss, aud, "jwksURL: 'https://'"), "auth.jwt.jwksURL: must be an http(s) URL"},
		{"blank tenant claim", jwt(iss, aud, jwks, "tenantClaim: ' '"), "auth.jwt.tenantClaim: is empty"},
		{"blank user claim", jwt(iss, aud, jwks, "userClaim: ' '"), "auth.jwt.userClaim: is empty"},
		{"leeway too long", jwt(iss, aud, jwks, "leeway: 10m"), "auth.jwt.leeway: must be at most 5m"},
		{"negative refresh", jwt(iss, aud, jwks, "refreshInterval: -1s"), "auth.jwt.refreshInterval: must be positive"},
		{"negative unknown kid refresh", jwt(iss, aud, jwks, "unknownKIDRefreshInterval: -1s"), "auth.jwt.unknownKIDRefreshInterval: must be positive"},
		{"bad duration", jwt(iss, aud, jwks, "leeway: a bit"), `"a bit" is not a duration`},
		{"unknown key", jwt(iss, aud, jwks, "audiences: [x]"), "field audiences not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), env(nil))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q does not contain %q on one line", msg, tt.want)
			}
		})
	}
}
