package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

const (
	acmeKey   = "acme-api-key-0123456789"
	globexKey = "globex-api-key-0123456789"
	acmeTok   = "kpt_acme_token"
	globexTok = "kpt_globex_token"
)

// twoTenants runs a gateway with tenants acme and globex, each with its own
// API key and a provider "klink" on the same K-LINK emulator with its own
// token, sharing one Redis; as callers, the gateway under each key.
func twoTenants(t *testing.T) (k *klinktest.Server, acme, globex *gateway, rdb *redistest.Server) {
	t.Helper()
	k = klinktest.NewServer(klinktest.Options{Tokens: []string{acmeTok, globexTok}})
	t.Cleanup(k.Close)
	k.AddUser(userAna, "Ana Lee")
	k.AddRoom(roomA, "Jane Customer")
	k.AddRoom(roomB, "Bob Customer")
	rdb = redistest.MustStart(t)
	cfg := newTestConfig(t)
	cfg.Redis.URL = rdb.URL
	cfg.Events.PollInterval = -1 // the gateway's own events only: no poll echoes
	prov := func(token string) config.Provider {
		p := klinkProvider(k)
		p.Token = token
		return p
	}
	cfg.Tenants = []config.Tenant{
		{ID: "acme", APIKeys: config.Keys(acmeKey), Providers: []config.Provider{prov(acmeTok)}},
		{ID: "globex", APIKeys: []config.APIKey{{Key: globexKey}}, Providers: []config.Provider{prov(globexTok)}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	acme = MustStartGateway(t, cfg)
	acme.key = acmeKey
	globex = &gateway{t: t, app: acme.app, url: acme.url, key: globexKey, log: acme.log}
	return k, acme, globex, rdb
}

func createIn(t *testing.T, g *gateway, thread, text, mutationID string) commentJSON {
	t.Helper()
	in := map[string]any{"thread": thread, "text": text}
	if mutationID != "" {
		in["clientMutationId"] = mutationID
	}
	resp := g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { `+commentFields+` } } }`, map[string]any{"in": in})
	resp.mustNoErrors(t)
	var out struct {
		CreateComment struct{ Comment commentJSON } `json:"createComment"`
	}
	resp.decode(t, &out)
	return out.CreateComment.Comment
}

// Two tenants on one upstream share nothing a user can observe: each names
// its provider "klink", yet IDs, idempotency keys and events stay apart.
func TestTenantsShareNothing(t *testing.T) {
	k, acme, globex, rdb := twoTenants(t)
	threadOf := func(g *gateway) string {
		t.Helper()
		resp := g.query(`{ thread(provider: "klink", kind: ROOM, ref: "`+roomB+`") { id provider { id credentials connected } } }`, nil)
		resp.mustNoErrors(t)
		var out struct {
			Thread struct {
				ID       string
				Provider struct {
					ID          string
					Credentials string
					Connected   bool
				}
			}
		}
		resp.decode(t, &out)
		if p := out.Thread.Provider; p.Credentials != "SERVICE" || !p.Connected {
			t.Fatalf("provider %+v", p)
		}
		return out.Thread.ID
	}
	acmeThread, globexThread := threadOf(acme), threadOf(globex)
	if acmeThread == globexThread {
		t.Fatal("both tenants got one thread ID")
	}

	t.Run("one tenant's IDs name nothing in the other", func(t *testing.T) {
		c := createIn(t, acme, acmeThread, "acme only", "")
		resp := globex.query(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{c.ID, acmeThread}})
		resp.mustNoErrors(t)
		if string(resp.Data) != `{"nodes":[null,null]}` {
			t.Errorf("globex resolved acme's IDs: %s", resp.Data)
		}
		resp = acme.query(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": c.ID})
		if resp.mustNoErrors(t); !strings.Contains(string(resp.Data), c.ID) {
			t.Errorf("acme cannot resolve its own comment: %s", resp.Data)
		}
		resp = globex.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`,
			map[string]any{"in": map[string]any{"thread": acmeThread, "text": "into acme's thread"}})
		if got := resp.codes(); len(got) != 1 || got[0] != string(model.CodeNotFound) {
			t.Errorf("posting to another tenant's thread: %v", got)
		}
		resp = globex.query(`{ provider(id: "acme.klink") { id } }`, nil)
		if resp.mustNoErrors(t); string(resp.Data) != `{"provider":null}` {
			t.Errorf("globex sees acme's instance: %s", resp.Data)
		}
	})

	t.Run("cache entries are per tenant", func(t *testing.T) {
		client := redis.NewClient(&redis.Options{Addr: rdb.Addr})
		defer client.Close()
		keys, err := client.Keys(context.Background(), "cg:v1:*:thread:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		scopes := map[string]bool{}
		for _, key := range keys {
			scope := strings.TrimPrefix(key, "cg:v1:")
			scope = scope[:strings.Index(scope, ":")]
			scopes[scope] = true
			if scope != "acme.klink" && scope != "globex.klink" {
				t.Errorf("cached thread %s is in no tenant's scope", key)
			}
		}
		if !scopes["acme.klink"] || !scopes["globex.klink"] {
			t.Errorf("one room read by both tenants is cached under %v, want each tenant's own", scopes)
		}
	})

	t.Run("one idempotency key in each tenant posts twice", func(t *testing.T) {
		before := k.CommentCount(roomB)
		a := createIn(t, acme, acmeThread, "same key", "key-1")
		g := createIn(t, globex, globexThread, "same key", "key-1")
		again := createIn(t, globex, globexThread, "same key", "key-1")
		if a.Ref == g.Ref || again.Ref != g.Ref {
			t.Errorf("refs acme %s, globex %s then %s", a.Ref, g.Ref, again.Ref)
		}
		if got := k.CommentCount(roomB) - before; got != 2 {
			t.Errorf("%d comments posted upstream, want 2", got)
		}
	})

	t.Run("a subscription receives only its tenant's events", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		subscribe := func(g *gateway) <-chan sseEvent {
			resp := g.request(ctx, http.MethodGet, "?"+url.Values{"query": {`subscription { commentAdded { id text } }`}}.Encode(), "",
				http.Header{"Accept": {"text/event-stream"}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("subscribe: %d %s", resp.StatusCode, readAll(resp))
			}
			t.Cleanup(func() { resp.Body.Close() })
			return readEvents(resp.Body)
		}
		acmeEvents, globexEvents := subscribe(acme), subscribe(globex)
		waitSubscribers(t, acme, 2)
		fromAcme := createIn(t, acme, acmeThread, "for acme's eyes", "")
		fromGlobex := createIn(t, globex, globexThread, "for globex's eyes", "")
		// Events reach a subscriber in order: globex's first event being its
		// own comment proves acme's, published before, never reached it.
		for _, c := range []struct {
			events <-chan sseEvent
			want   commentJSON
		}{{acmeEvents, fromAcme}, {globexEvents, fromGlobex}} {
			ev := nextEvent(t, c.events)
			var payload struct {
				Data struct{ CommentAdded commentJSON } `json:"data"`
			}
			if err := json.Unmarshal([]byte(ev.Data), &payload); err != nil {
				t.Fatal(err)
			}
			if got := payload.Data.CommentAdded; got.ID != c.want.ID {
				t.Errorf("first event %+v, want %s (%q)", got, c.want.ID, c.want.Text)
			}
		}
	})

	t.Run("a subscription to another tenant's provider is refused", func(t *testing.T) {
		resp := globex.request(context.Background(), http.MethodGet,
			"?"+url.Values{"query": {`subscription { commentAdded(providers: ["acme.klink"]) { id } }`}}.Encode(), "",
			http.Header{"Accept": {"text/event-stream"}})
		body := readAll(resp)
		if !strings.Contains(body, string(model.CodeNotFound)) {
			t.Errorf("got %d %s", resp.StatusCode, body)
		}
	})

	t.Run("webhooks are per tenant instance", func(t *testing.T) {
		for path, want := range map[string]int{"/webhooks/acme.klink": http.StatusUnauthorized, "/webhooks/globex.klink": http.StatusUnauthorized, "/webhooks/klink": http.StatusNotFound} {
			resp, err := http.Post(acme.url+path, "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
			}
		}
	})
}

// useRegistry swaps the default tenant's providers for reg.
func (a *App) useRegistry(reg *providers.Registry) {
	a.registry, a.resolver.Providers = reg, reg
	a.tenants[config.DefaultTenant].registry = reg
}
