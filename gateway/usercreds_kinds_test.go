package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// Each kind takes a user's credential in its own form, forwarded by a
// backend: K-LINK a token, Ziik email:password (logged in per user) or a
// Ziik JWT, Aelyst email:token (Aelyst cannot tell whose a token is). What
// they post names that user as its sender; Ziik also refuses a conversation
// the user is not in.
func TestForwardedCredentialsOfEveryKind(t *testing.T) {
	const key = "backend-forwarding-key-0123"
	type post struct {
		name, credential, thread string
		wantSender               string
		wantCode                 model.Code
	}
	type world struct {
		provider config.Provider
		posts    []post
	}
	worlds := map[string]func(t *testing.T) world{
		"klink": func(t *testing.T) world {
			k := klinkWorld(t, 0)
			k.AddToken("kpt_ana", userAna)
			thread := model.ThreadID("k", model.ThreadKindRoom, roomB)
			return world{
				provider: config.Provider{ID: "k", Kind: "klink", BaseURL: k.URL, Credentials: config.CredentialsUser},
				posts: []post{
					{"Ana's token", "kpt_ana", thread, "Ana Lee", ""},
					{"an unknown token", "kpt_nobody", thread, "", model.CodeUnauthenticated},
				},
			}
		},
		"ziik": func(t *testing.T) world {
			z := ziiktest.NewServer(ziiktest.Options{Email: "bot@acme.test", Password: "bot-password-1", TokenTTL: time.Hour})
			t.Cleanup(z.Close)
			ana := z.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee", Email: "ana@acme.test", Password: "ana-password-1"})
			bo := z.AddUser(ziiktest.User{FirstName: "Bo", LastName: "Tan", Email: "bo@acme.test", Password: "bo-password-1"})
			conv := func(people ...int) string {
				id, err := z.AddConversation(ziiktest.Conversation{Title: "c", Participants: people})
				if err != nil {
					t.Fatal(err)
				}
				return model.ThreadID("z", model.ThreadKindConversation, jsonNumber(int64(id)))
			}
			shared, anaOnly := conv(ana, bo), conv(ana)
			boJWT, err := z.IssueToken(bo)
			if err != nil {
				t.Fatal(err)
			}
			return world{
				provider: config.Provider{ID: "z", Kind: "ziik", BaseURL: z.URL, Credentials: config.CredentialsUser},
				posts: []post{
					{"Ana's email and password", "ana@acme.test:ana-password-1", shared, "Ana Lee", ""},
					{"Bo's Ziik JWT", boJWT, shared, "Bo Tan", ""},
					{"Bo in Ana's conversation", boJWT, anaOnly, "", model.CodeForbidden},
					{"a wrong password", "ana@acme.test:nope", shared, "", model.CodeUnauthenticated},
				},
			}
		},
		"aelyst": func(t *testing.T) world {
			a := aelysttest.NewServer(aelysttest.Options{})
			t.Cleanup(a.Close)
			ana := a.AddUser(aelysttest.User{ID: 101, FirstName: "Ana", LastName: "Lee", Email: "ana@example.com", Role: "agent"})
			a.AddContact(aelysttest.Contact{ID: 2001, FirstName: "Jane", LastName: "Doe", Email: "jane@acme.com"})
			a.AddToken("aelyst-token-ana", ana.ID)
			thread := model.ThreadID("a", model.ThreadKindContact, "id:2001")
			return world{
				provider: config.Provider{ID: "a", Kind: "aelyst", BaseURL: a.URL, Credentials: config.CredentialsUser},
				posts: []post{
					{"Ana's email and token", "ana@example.com:aelyst-token-ana", thread, "Ana Lee", ""},
				},
			}
		},
	}
	for kind, build := range worlds {
		t.Run(kind, func(t *testing.T) {
			w := build(t)
			cfg := newTestConfig(t)
			cfg.Providers = []config.Provider{w.provider}
			cfg.Events.PollInterval = -1
			cfg.Auth.APIKeys = []config.APIKey{{Key: key, ForwardCredentials: true}}
			cfg.Auth.CredentialKey = credKey
			g := MustStartGateway(t, cfg)
			for _, p := range w.posts {
				t.Run(p.name, func(t *testing.T) {
					body := `mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { sender { name } } } }`
					resp := g.post(mustJSON(t, map[string]any{"query": body, "variables": map[string]any{"in": map[string]any{"thread": p.thread, "text": "hi from " + p.name}}}),
						http.Header{"X-Upstream-Credential-" + w.provider.ID: {p.credential}})
					if p.wantCode != "" {
						wantCode(t, resp, p.wantCode, w.provider.ID)
						return
					}
					if got := senderOf(t, resp); got != p.wantSender {
						t.Errorf("sender %q, want %q", got, p.wantSender)
					}
				})
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// connectProvider stores only a credential the upstream accepts, even where
// listing threads makes no call (K-LINK lists its configured rooms).
func TestConnectProviderChecksTheCredential(t *testing.T) {
	k := klinkWorld(t, 1)
	k.AddToken("kpt_ana", userAna)
	key := newRSAKey(t, "rsa-c")
	jwks := newJWKSServer(t, key)
	cfg := newTestConfig(t)
	p := klinkProvider(k)
	p.Token, p.Credentials = "", config.CredentialsUser
	cfg.Providers = []config.Provider{p}
	cfg.Auth.JWT = jwtConfig(jwks.URL, "")
	cfg.Auth.CredentialKey = credKey
	g := startGatewayWith(t, cfg, nil)
	g.key = key.sign(t, claims(map[string]any{"tenant": nil}))
	connect := func(token string) gqlResponse {
		return g.query(`mutation($t: String) { connectProvider(input: {provider: "klink", token: $t}) { provider { connected } } }`, map[string]any{"t": token})
	}
	k.ResetCalls()
	wantCode(t, connect("kpt_not_a_token"), model.CodeUnauthenticated, "klink")
	if k.TotalCalls() == 0 {
		t.Error("the credential was not checked upstream")
	}
	resp := connect("kpt_ana")
	resp.mustNoErrors(t)
	if string(resp.Data) != `{"connectProvider":{"provider":{"connected":true}}}` {
		t.Errorf("got %s", resp.Data)
	}
	for _, bad := range []map[string]any{{"provider": "klink"}, {"provider": "klink", "email": "a@b.c", "password": "x"}, {"provider": "klink", "token": strings.Repeat("x", 5000)}} {
		resp := g.query(`mutation($in: ConnectProviderInput!) { connectProvider(input: $in) { provider { id } } }`, map[string]any{"in": bad})
		wantCode(t, resp, model.CodeBadUserInput, "")
	}
}
