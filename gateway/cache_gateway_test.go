package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func virolaWorld(t *testing.T) (*virolatest.Server, int64, int64) {
	t.Helper()
	v := virolatest.NewServer(virolatest.Options{})
	t.Cleanup(v.Close)
	v.AddUser(virolatest.User{ID: 3, UserName: "zoe", DisplayName: "Zoë Park"})
	room := v.AddRoom(virolatest.Room{Name: "General"})
	parent, err := v.AddMessage(virolatest.Message{RoomID: room.ID, UserID: 3, Text: "Plan"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := v.AddComment(parent, virolatest.Message{UserID: 3, Text: fmt.Sprint("c", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return v, room.ID, parent
}

// ziikWorld is a conversation with comments by three people. Ziik looks users
// up one id at a time and the adapter keeps no copy of them, so every user
// call the emulator counts is one the gateway's cache did not answer.
func ziikWorld(t *testing.T) (*ziiktest.Server, int) {
	t.Helper()
	z := ziiktest.NewServer(ziiktest.Options{})
	t.Cleanup(z.Close)
	var ids []int
	for _, n := range []string{"Ana", "Bo", "Zoë"} {
		ids = append(ids, z.AddUser(ziiktest.User{FirstName: n, LastName: "Test", Title: "Engineer"}))
	}
	conv, err := z.AddConversation(ziiktest.Conversation{Participants: append(ids, z.BotID())})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if _, err := z.AddMessage(ziiktest.Message{ConversationID: conv, AuthorID: id, Text: fmt.Sprint("hello ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return z, conv
}

func ziikProvider(z *ziiktest.Server) config.Provider {
	email, password := z.Credentials()
	return config.Provider{ID: "ziik", Kind: "ziik", BaseURL: z.URL, Email: email, Password: password}
}

const ziikUsersEndpoint = "GET /users/{id}"

// Redis killed under a running gateway: queries keep succeeding from the
// upstream, /readyz says so, and when Redis is back the cache is used again
// without a restart.
func TestRedisDownFailsOpenAndRecovers(t *testing.T) {
	r := redistest.MustStart(t)
	z, conv := ziikWorld(t)
	cfg := newTestConfig(t, ziikProvider(z))
	cfg.Redis.URL = r.URL
	g := MustStartGateway(t, cfg)
	q := `query($id: ID!) { node(id: $id) { ... on Thread { comments(first: 3) { nodes { text sender { name } } } } } }`
	vars := map[string]any{"id": model.ThreadID("ziik", model.ThreadKindConversation, fmt.Sprint(conv))}
	userCalls := func(when string) int {
		t.Helper()
		z.ResetCalls()
		resp := g.query(q, vars)
		resp.mustNoErrors(t)
		if !strings.Contains(string(resp.Data), "Zoë Test") {
			t.Errorf("%s: senders missing: %s", when, resp.Data)
		}
		return z.Calls(ziikUsersEndpoint)
	}
	if n := userCalls("cold"); n != 3 {
		t.Errorf("cold query made %d user calls, want 3 (one per sender)", n)
	}
	if n := userCalls("warm"); n != 0 {
		t.Errorf("warm query made %d user calls, want 0", n)
	}
	if code, _ := get(t, g.url+"/readyz"); code != 200 {
		t.Errorf("/readyz with Redis up = %d", code)
	}

	r.Kill()
	for i := 0; i < 5; i++ {
		if n := userCalls("Redis down"); n != 3 {
			t.Errorf("with Redis down a query made %d user calls, want 3 (served from upstream)", n)
		}
	}
	// Still ready (queries are served), but degraded, in the body and the
	// metric: every instance shares this Redis, so unready would pull them all.
	if code, body := get(t, g.url+"/readyz"); code != http.StatusOK || !strings.Contains(body, `"degraded":true`) || !strings.Contains(body, `"redis":"unavailable"`) {
		t.Errorf("/readyz with Redis down = %d %s", code, body)
	}
	if _, body := get(t, g.url+"/metrics"); !strings.Contains(body, `commentgraph_dependency_up{dependency="redis"} 0`) {
		t.Errorf("/metrics with Redis down lacks commentgraph_dependency_up 0")
	}

	r.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, body := get(t, g.url+"/readyz"); strings.Contains(body, `"degraded":false`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never recovered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Redis came back empty: one query fills the cache, the next is answered
	// from it — with no restart of the gateway.
	userCalls("refill")
	if n := userCalls("after Redis returned"); n != 0 {
		t.Errorf("after Redis returned a warm query made %d user calls, want 0", n)
	}
}

// A room renamed upstream reaches the gateway through Virola's event stream
// and refreshes the cached room before its TTL would have.
func TestPushedRoomChangeRefreshesCache(t *testing.T) {
	v, roomID, _ := virolaWorld(t)
	cfg := newTestConfig(t, config.Provider{ID: "virola", Kind: "virola", BaseURL: v.URL, Token: virolatest.DefaultToken})
	cfg.Cache.TTL = config.Duration(time.Hour)
	g := MustStartGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	q := `query($ref: String!) { room(provider: "virola", ref: $ref) { name } }`
	vars := map[string]any{"ref": fmt.Sprint(roomID)}
	name := func() string {
		resp := g.query(q, vars)
		resp.mustNoErrors(t)
		var out struct{ Room struct{ Name string } }
		resp.decode(t, &out)
		return out.Room.Name
	}
	if n := name(); n != "General" {
		t.Fatalf("name = %q", n)
	}
	if err := v.RenameRoom(roomID, "General 🚀"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); name() != "General 🚀"; {
		if time.Now().After(deadline) {
			t.Fatal("the cached room never changed: the push did not refresh it")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Tokens, API keys and webhook secrets appear in no log line and no metric.
func TestSecretsStayOutOfLogsAndMetrics(t *testing.T) {
	k := klinkWorld(t, 2)
	pc := klinkProvider(k)
	pc.WebhookSecret = "whsec-very-secret-value"
	cfg := newTestConfig(t, pc)
	cfg.Auth.APIKeys = config.Keys(testAPIKey)
	g := MustStartGateway(t, cfg)
	k.FailNext(klinktest.EndpointListComments, klinktest.Fault{Status: 401, Body: `{"message":"token ` + klinktest.DefaultToken + ` revoked"}`})
	g.query(`query($ref: String!) { thread(provider: "klink", kind: ROOM, ref: $ref) { comments(first: 1) { nodes { id } } } }`, map[string]any{"ref": roomA})
	g.key = "wrong-key-wrong-key-wrong"
	g.query(`{ providers { id } }`, nil)
	req, _ := http.NewRequest(http.MethodPost, g.url+"/webhooks/klink", strings.NewReader(`{"event":"contact.create","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
	req.Header.Set("x-signature", "00")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	_, metricsBody := get(t, g.url+"/metrics")
	for _, secret := range []string{klinktest.DefaultToken, testAPIKey, "wrong-key-wrong-key-wrong", "whsec-very-secret-value"} {
		if strings.Contains(g.log.String(), secret) {
			t.Errorf("log holds %q", secret)
		}
		if strings.Contains(metricsBody, secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}
}

// Two gateway instances on one Redis each keep the contact room in their
// own memory. A webhook reaching only instance A says the contact was
// renamed: instance B answers the new name too, long before its copy would
// have expired, because A announces the change and B drops its copy.
func TestWebhookToOneInstanceRefreshesTheOthersCopy(t *testing.T) {
	r := redistest.MustStart(t)
	ae := aelysttest.NewServer(aelysttest.Options{})
	t.Cleanup(ae.Close)
	ae.AddContact(aelysttest.Contact{ID: 2002, FirstName: "Mateo", LastName: "García"})
	cfg := func() *config.Config {
		c := newTestConfig(t, config.Provider{ID: "aelyst", Kind: "aelyst", BaseURL: ae.URL, Token: aelysttest.DefaultToken, WebhookSecret: "whsec-aelyst"})
		c.Redis.URL = r.URL
		c.Cache.TTL = config.Duration(time.Hour)
		c.Cache.NearTTL = config.Duration(time.Hour) // only the announcement can refresh B's copy
		return c
	}
	a := MustStartGateway(t, cfg())
	b := MustStartGateway(t, cfg())
	// Copies are kept only once an instance hears the others' drops; without
	// waiting, B could read Redis every time and pass without its copy.
	for _, g := range []*gateway{a, b} {
		for deadline := time.Now().Add(5 * time.Second); ; {
			if _, m := get(t, g.url+"/metrics"); strings.Contains(m, "\ncommentgraph_cache_near_listening 1\n") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("an instance never started listening for drops")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	q := `query { room(provider: "aelyst", ref: "2002") { name } }`
	name := func(g *gateway) string {
		t.Helper()
		resp := g.query(q, nil)
		resp.mustNoErrors(t)
		var out struct{ Room struct{ Name string } }
		resp.decode(t, &out)
		return out.Room.Name
	}
	for _, g := range []*gateway{a, b, b} {
		if n := name(g); n != "Mateo García" {
			t.Fatalf("name = %q", n)
		}
	}

	renameMateo(t, ae, a.url)
	// A answers from what the webhook said as soon as the delivery is acknowledged.
	if n := name(a); n != "Mateo García Ruiz" {
		t.Fatalf("instance A, after the webhook: %q", n)
	}
	for deadline := time.Now().Add(5 * time.Second); name(b) != "Mateo García Ruiz"; {
		if time.Now().After(deadline) {
			t.Fatal("instance B kept its copy of the contact: the change was not announced to it")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A thread named after its room (a K-LINK room, an Aelyst contact) takes the
// new name as soon as a push renames the room, not when the cached thread
// expires: the push drops the threads that hang off the room with it. The
// TTL is an hour, so only the push can change the answer.
func TestPushedRoomChangeRetitlesItsThreads(t *testing.T) {
	type world struct {
		provider config.Provider
		thread   string // the thread's ref; kind below
		kind     model.ThreadKind
		rename   func(t *testing.T, g *gateway) // pushes a new name, returns once the gateway has taken it
		want     string
	}
	worlds := map[string]func(t *testing.T) world{
		"klink room": func(t *testing.T) world {
			k := klinkWorld(t, 1)
			return world{
				provider: klinkProvider(k), thread: roomA, kind: model.ThreadKindRoom,
				rename: func(t *testing.T, g *gateway) {
					k.SetWebhook(g.url+"/webhooks/klink", "whsec-test")
					// Synchronous: the delivery is answered after the gateway ingested it.
					if err := k.InboundMessage(roomA, "Jane Q. Customer", "hello"); err != nil {
						t.Fatal(err)
					}
				},
				want: "Jane Q. Customer",
			}
		},
		"aelyst contact": func(t *testing.T) world {
			ae := aelysttest.NewServer(aelysttest.Options{})
			t.Cleanup(ae.Close)
			ae.AddContact(aelysttest.Contact{ID: 2002, FirstName: "Mateo", LastName: "García"})
			return world{
				provider: config.Provider{ID: "aelyst", Kind: "aelyst", BaseURL: ae.URL, Token: aelysttest.DefaultToken, WebhookSecret: "whsec-aelyst"},
				thread:   "id:2002", kind: model.ThreadKindContact,
				rename: func(t *testing.T, g *gateway) { renameMateo(t, ae, g.url) },
				want:   "Mateo García Ruiz",
			}
		},
	}
	for name, newWorld := range worlds {
		for _, withRedis := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/redis=%v", name, withRedis), func(t *testing.T) {
				w := newWorld(t)
				cfg := newTestConfig(t, w.provider)
				cfg.Cache.TTL = config.Duration(time.Hour)
				if withRedis {
					cfg.Redis.URL = redistest.MustStart(t).URL
				}
				g := MustStartGateway(t, cfg)
				q := `query($p: ID!, $k: ThreadKind!, $ref: String!) { thread(provider: $p, kind: $k, ref: $ref) { title } }`
				vars := map[string]any{"p": w.provider.ID, "k": w.kind, "ref": w.thread}
				title := func() string {
					t.Helper()
					resp := g.query(q, vars)
					resp.mustNoErrors(t)
					var out struct{ Thread struct{ Title *string } }
					resp.decode(t, &out)
					if out.Thread.Title == nil {
						return "<null>"
					}
					return *out.Thread.Title
				}
				before := title()
				if again := title(); again != before {
					t.Fatalf("title changed with nothing pushed: %q then %q", before, again)
				}
				if before == w.want {
					t.Fatalf("title is %q before the rename", before)
				}
				w.rename(t, g)
				if got := title(); got != w.want {
					t.Errorf("after the push renamed the room, thread title = %q, want %q (was %q)", got, w.want, before)
				}
			})
		}
	}
}

// renameMateo renames Aelyst contact 2002 to Mateo García Ruiz with the
// webhook pointed at the gateway at url, and returns once the delivery is
// acknowledged: Aelyst delivers in the background, and the gateway answers
// only after ingesting it.
func renameMateo(t *testing.T, ae *aelysttest.Server, url string) {
	t.Helper()
	ae.SetWebhook(url+"/webhooks/aelyst", "whsec-aelyst")
	ae.AddContact(aelysttest.Contact{ID: 2002, FirstName: "Mateo", LastName: "García Ruiz"})
	for deadline := time.Now().Add(5 * time.Second); len(ae.Deliveries()) == 0 || ae.Deliveries()[0].Status != http.StatusOK; {
		if time.Now().After(deadline) {
			t.Fatalf("webhook not acknowledged: %+v", ae.Deliveries())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
