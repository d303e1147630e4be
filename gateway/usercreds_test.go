package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

const (
	forwardingKey = "backend-forwarding-key-0123"
	plainKey      = "backend-plain-key-0123456"
	credKey       = "credential-key-0123456789abcdef0123"
	tokAna        = "virola-token-of-ana"
	tokBo         = "virola-token-of-bo"
)

// userWorld is a Virola emulator where Ana and Bo have their own tokens: a
// room only Ana is a member of, one both are, and a gateway whose provider
// "vir" acts with each caller's own credential (no service token), for JWT
// users (stored credentials) and a backend's forwarding key.
type userWorld struct {
	virola              *virolatest.Server
	ana, bo             int64
	anaThread, boThread string // parents in Ana's room and in the shared room
	sharedThread        string
	sharedRoom          int64
	g                   *gateway
	rdb                 *redistest.Server
	key                 testKey
	anaJWT, boJWT       string
}

func newUserWorld(t *testing.T) *userWorld {
	t.Helper()
	w := &userWorld{virola: virolatest.NewServer(virolatest.Options{})}
	t.Cleanup(w.virola.Close)
	w.ana = w.virola.AddUser(virolatest.User{UserName: "ana", DisplayName: "Ana Lee"}).ID
	w.bo = w.virola.AddUser(virolatest.User{UserName: "bo", DisplayName: "Bo Tan"}).ID
	w.virola.AddToken(tokAna, w.ana)
	w.virola.AddToken(tokBo, w.bo)
	parent := func(room int64) string {
		id, err := w.virola.AddMessage(virolatest.Message{RoomID: room, UserID: w.ana, Text: "parent"})
		if err != nil {
			t.Fatal(err)
		}
		return model.ThreadID("vir", model.ThreadKindMessage, jsonNumber(id))
	}
	w.anaThread = parent(w.virola.AddRoom(virolatest.Room{Name: "ana only", Members: []int64{w.ana}}).ID)
	w.sharedRoom = w.virola.AddRoom(virolatest.Room{Name: "shared", Members: []int64{w.ana, w.bo}}).ID
	w.sharedThread = parent(w.sharedRoom)
	w.boThread = parent(w.virola.AddRoom(virolatest.Room{Name: "bo only", Members: []int64{w.bo}}).ID)

	w.key = newRSAKey(t, "rsa-u")
	jwks := newJWKSServer(t, w.key)
	w.rdb = redistest.MustStart(t)
	cfg := newTestConfig(t)
	cfg.Providers = []config.Provider{{ID: "vir", Kind: "virola", BaseURL: w.virola.URL, Credentials: config.CredentialsUser}}
	cfg.Redis.URL = w.rdb.URL
	cfg.Auth.APIKeys = []config.APIKey{{Key: forwardingKey, ForwardCredentials: true}, {Key: plainKey}}
	cfg.Auth.JWT = jwtConfig(jwks.URL, "")
	cfg.Auth.CredentialKey = credKey
	// Every event is checked again: revoked access stops at the next event.
	cfg.Events.AccessCheckTTL = config.Duration(time.Millisecond)
	w.g = startGatewayWith(t, cfg, nil)
	w.anaJWT = w.key.sign(t, claims(map[string]any{"sub": "ana@idp", "tenant": nil}))
	w.boJWT = w.key.sign(t, claims(map[string]any{"sub": "bo@idp", "tenant": nil}))
	return w
}

// as sends a query with the bearer credential and extra headers.
func (w *userWorld) as(bearer string, header http.Header, q string, vars map[string]any) gqlResponse {
	w.g.key = bearer
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	return w.g.post(body, header)
}

func (w *userWorld) create(t *testing.T, bearer string, header http.Header, thread, text string) gqlResponse {
	t.Helper()
	return w.as(bearer, header, `mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id text sender { name } } } }`,
		map[string]any{"in": map[string]any{"thread": thread, "text": text}})
}

func (w *userWorld) connect(t *testing.T, bearer, token string) gqlResponse {
	t.Helper()
	return w.as(bearer, nil, `mutation($in: ConnectProviderInput!) { connectProvider(input: $in) { provider { id credentials connected } } }`,
		map[string]any{"in": map[string]any{"provider": "vir", "token": token}})
}

func (w *userWorld) connected(t *testing.T, bearer string) bool {
	t.Helper()
	resp := w.as(bearer, nil, `{ provider(id: "vir") { credentials connected } }`, nil)
	resp.mustNoErrors(t)
	var out struct {
		Provider struct {
			Credentials string
			Connected   bool
		}
	}
	resp.decode(t, &out)
	if out.Provider.Credentials != "USER" {
		t.Errorf("credentials %q, want USER", out.Provider.Credentials)
	}
	return out.Provider.Connected
}

func senderOf(t *testing.T, resp gqlResponse) string {
	t.Helper()
	resp.mustNoErrors(t)
	var out struct {
		CreateComment struct {
			Comment struct{ Sender *struct{ Name string } }
		} `json:"createComment"`
	}
	resp.decode(t, &out)
	if out.CreateComment.Comment.Sender == nil {
		return ""
	}
	return out.CreateComment.Comment.Sender.Name
}

func wantCode(t *testing.T, resp gqlResponse, code model.Code, provider string) {
	t.Helper()
	if len(resp.Errors) == 0 || resp.Errors[0].Extensions["code"] != string(code) {
		t.Fatalf("errors %+v, want %s", resp.Errors, code)
	}
	if provider != "" && resp.Errors[0].Extensions["provider"] != provider {
		t.Errorf("extensions.provider %v, want %s", resp.Errors[0].Extensions["provider"], provider)
	}
}

// A provider with credentials: user acts as each caller: no credential is
// UNAUTHENTICATED with no upstream call; a JWT user's stored credential and a
// backend's forwarded one post as that user; a thread a user's credential
// cannot read is refused to them however recently another user read it.
func TestUserCredentials(t *testing.T) {
	w := newUserWorld(t)
	readThread := `query($id: ID!) { node(id: $id) { ... on Thread { comments(last: 5) { nodes { text } } } } }`

	t.Run("no credential: UNAUTHENTICATED, nothing called", func(t *testing.T) {
		w.virola.ResetCalls()
		wantCode(t, w.create(t, w.anaJWT, nil, w.anaThread, "hi"), model.CodeUnauthenticated, "vir")
		wantCode(t, w.as(w.anaJWT, nil, readThread, map[string]any{"id": w.anaThread}), model.CodeUnauthenticated, "vir")
		if w.connected(t, w.anaJWT) {
			t.Error("connected without a credential")
		}
		if n := w.virola.TotalCalls(); n != 0 {
			t.Errorf("%d upstream calls", n)
		}
	})
	t.Run("connectProvider refuses an API key and a bad token", func(t *testing.T) {
		wantCode(t, w.connect(t, plainKey, tokAna), model.CodeForbidden, "vir")
		wantCode(t, w.connect(t, w.anaJWT, "not-a-virola-token"), model.CodeUnauthenticated, "vir")
		if w.connected(t, w.anaJWT) {
			t.Error("a refused credential was stored")
		}
	})
	t.Run("stored credentials post as their users", func(t *testing.T) {
		w.connect(t, w.anaJWT, tokAna).mustNoErrors(t)
		w.connect(t, w.boJWT, tokBo).mustNoErrors(t)
		if !w.connected(t, w.anaJWT) || !w.connected(t, w.boJWT) {
			t.Fatal("not connected after connectProvider")
		}
		if got := senderOf(t, w.create(t, w.anaJWT, nil, w.anaThread, "Ana's own")); got != "Ana Lee" {
			t.Errorf("sender %q, want Ana Lee", got)
		}
		if got := senderOf(t, w.create(t, w.boJWT, nil, w.sharedThread, "Bo's own")); got != "Bo Tan" {
			t.Errorf("sender %q, want Bo Tan", got)
		}
	})
	t.Run("a thread is read with the reader's own credential", func(t *testing.T) {
		w.as(w.anaJWT, nil, readThread, map[string]any{"id": w.anaThread}).mustNoErrors(t)
		resp := w.as(w.boJWT, nil, readThread, map[string]any{"id": w.anaThread})
		if len(resp.Errors) == 0 || (resp.Errors[0].Extensions["code"] != string(model.CodeForbidden) && resp.Errors[0].Extensions["code"] != string(model.CodeNotFound)) {
			t.Errorf("Bo read Ana's room: %s %+v", resp.Data, resp.Errors)
		}
		if strings.Contains(string(resp.Data), "Ana's own") {
			t.Error("Bo was served Ana's comments")
		}
	})
	t.Run("a backend forwards its users' credentials", func(t *testing.T) {
		fwd := http.Header{"X-Upstream-Credential-Vir": {tokBo}}
		if got := senderOf(t, w.create(t, forwardingKey, fwd, w.sharedThread, "forwarded")); got != "Bo Tan" {
			t.Errorf("sender %q, want Bo Tan", got)
		}
		wantCode(t, w.create(t, forwardingKey, http.Header{"X-Upstream-Credential-Vir": {tokBo}}, w.anaThread, "not Bo's room"), model.CodeForbidden, "vir")
		wantCode(t, w.create(t, plainKey, fwd, w.sharedThread, "ignored header"), model.CodeUnauthenticated, "vir")
	})
	t.Run("credentials stay secret", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: w.rdb.Addr})
		defer rdb.Close()
		keys, err := rdb.Keys(context.Background(), "*cred*").Result()
		if err != nil || len(keys) != 2 {
			t.Fatalf("stored credentials %v (%v), want 2", keys, err)
		}
		for _, k := range keys {
			v, _ := rdb.Get(context.Background(), k).Result()
			if strings.Contains(v, tokAna) || strings.Contains(v, tokBo) || strings.Contains(k, "ana") {
				t.Errorf("%s holds a credential or user in clear", k)
			}
		}
		logs := w.g.log.String()
		for _, secret := range []string{tokAna, tokBo, w.anaJWT, "not-a-virola-token"} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds %q", secret[:8])
			}
		}
	})
	t.Run("disconnectProvider forgets the credential", func(t *testing.T) {
		resp := w.as(w.boJWT, nil, `mutation { disconnectProvider(input: {provider: "vir"}) { removed provider { connected } } }`, nil)
		resp.mustNoErrors(t)
		if string(resp.Data) != `{"disconnectProvider":{"removed":true,"provider":{"connected":false}}}` {
			t.Errorf("got %s", resp.Data)
		}
		wantCode(t, w.create(t, w.boJWT, nil, w.sharedThread, "gone"), model.CodeUnauthenticated, "vir")
		w.connect(t, w.boJWT, tokBo).mustNoErrors(t)
	})
}

// Live events reach a subscriber only on threads its own credential reads:
// Ana and Bo subscribe to everything; Ana's comment in her own room never
// reaches Bo, and once Bo leaves the shared room its comments stop too.
func TestUserCredentialLiveEvents(t *testing.T) {
	w := newUserWorld(t)
	w.connect(t, w.anaJWT, tokAna).mustNoErrors(t)
	w.connect(t, w.boJWT, tokBo).mustNoErrors(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribe := func(bearer string) <-chan sseEvent {
		w.g.key = bearer
		resp := w.g.request(ctx, http.MethodGet, "?"+url.Values{"query": {`subscription { commentAdded { text } }`}}.Encode(), "",
			http.Header{"Accept": {"text/event-stream"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("subscribe: %d %s", resp.StatusCode, readAll(resp))
		}
		t.Cleanup(func() { resp.Body.Close() })
		return readEvents(resp.Body)
	}
	text := func(ev sseEvent) string {
		var p struct {
			Data struct{ CommentAdded struct{ Text string } } `json:"data"`
		}
		_ = json.Unmarshal([]byte(ev.Data), &p)
		return p.Data.CommentAdded.Text
	}
	anaEvents, boEvents := subscribe(w.anaJWT), subscribe(w.boJWT)
	waitSubscribers(t, w.g, 2)

	w.create(t, w.anaJWT, nil, w.anaThread, "in Ana's room").mustNoErrors(t)
	w.create(t, w.anaJWT, nil, w.sharedThread, "in the shared room").mustNoErrors(t)
	for _, want := range []string{"in Ana's room", "in the shared room"} {
		if got := text(nextEvent(t, anaEvents)); got != want {
			t.Errorf("Ana got %q, want %q", got, want)
		}
	}
	// Events arrive in order: Bo's first being the shared one proves the
	// one in Ana's room never reached him.
	if got := text(nextEvent(t, boEvents)); got != "in the shared room" {
		t.Errorf("Bo's first event %q, want the shared room's", got)
	}

	if err := w.virola.SetRoomMembers(w.sharedRoom, []int64{w.ana}); err != nil {
		t.Fatal(err)
	}
	w.create(t, w.anaJWT, nil, w.sharedThread, "after Bo left").mustNoErrors(t)
	w.create(t, w.boJWT, nil, w.boThread, "in Bo's room").mustNoErrors(t)
	if got := text(nextEvent(t, boEvents)); got != "in Bo's room" {
		t.Errorf("Bo's next event %q, want his own room's (access was revoked)", got)
	}
}

// A socket accepted with a JWT closes with 4401 at the token's exp, so a
// lapsed credential receives nothing more; the client reconnects with a new one.
func TestJWTSocketClosesAtExpiry(t *testing.T) {
	w := newUserWorld(t)
	for _, protocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(protocol, func(t *testing.T) {
			token := w.key.sign(t, claims(map[string]any{"sub": "ana@idp", "tenant": nil, "exp": time.Now().Add(1500 * time.Millisecond).Unix()}))
			c := wsDial(t, w.g, protocol, http.Header{"Authorization": {"Bearer " + token}})
			_ = c.WriteJSON(wsMsg{Type: "connection_init"})
			if m := wsRead(t, c); m.Type != "connection_ack" {
				t.Fatalf("got %+v", m)
			}
			opened := time.Now()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				var m wsMsg
				err := c.ReadJSON(&m)
				if err == nil {
					continue // keep-alives
				}
				ce, ok := err.(*websocket.CloseError)
				if !ok || ce.Code != 4401 {
					t.Fatalf("socket ended with %v, want close 4401", err)
				}
				if time.Since(opened) > 5*time.Second {
					t.Errorf("closed %v after the token's exp", time.Since(opened))
				}
				return
			}
		})
	}
}

// An event stream opened with a JWT completes at the token's exp.
func TestJWTEventStreamEndsAtExpiry(t *testing.T) {
	w := newUserWorld(t)
	w.g.key = w.key.sign(t, claims(map[string]any{"sub": "ana@idp", "tenant": nil, "exp": time.Now().Add(1500 * time.Millisecond).Unix()}))
	resp := w.g.request(context.Background(), http.MethodGet, "?"+url.Values{"query": {`subscription { commentAdded { text } }`}}.Encode(), "",
		http.Header{"Accept": {"text/event-stream"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, readAll(resp))
	}
	defer resp.Body.Close()
	events := readEvents(resp.Body)
	if ev := nextEvent(t, events); ev.Event != "complete" {
		t.Errorf("got %+v, want complete at the token's exp", ev)
	}
}

// A deleted thread reads as NOT_FOUND, yet the deletions of its comments
// still reach a subscriber whose credential read it; nothing else of it does.
func TestDeletionsOfAGoneThreadReachItsReaders(t *testing.T) {
	w := newUserWorld(t)
	w.connect(t, w.anaJWT, tokAna).mustNoErrors(t)
	w.connect(t, w.boJWT, tokBo).mustNoErrors(t)
	gid, err := model.DecodeIDOf(w.sharedThread, model.TypeThread)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(typ model.CommentEventType) *events.Event {
		return &events.Event{Type: typ, Comment: model.Tombstone("vir", model.ThreadKindMessage, gid.Ref[1], "12345")}
	}
	as := func(user string) context.Context {
		return withIdentity(t.Context(), identity{fingerprint: "jwt-" + user, user: user, issuer: testIssuer})
	}
	if !w.g.app.mayRead(as("ana@idp"), ev(model.CommentEventTypeAdded)) {
		t.Fatal("Ana may not read the shared room")
	}
	parent, _ := strconv.ParseInt(gid.Ref[1], 10, 64)
	if err := w.virola.DeleteMessage(parent); err != nil {
		t.Fatal(err)
	}
	w.g.app.access.Purge() // the kept answers have expired: ask again
	for _, tc := range []struct {
		name, user string
		typ        model.CommentEventType
		want       bool
	}{
		{"Ana, who read it, gets a deletion", "ana@idp", model.CommentEventTypeDeleted, true},
		{"Ana gets nothing else of it", "ana@idp", model.CommentEventTypeUpdated, false},
		{"Bo, who never read it, gets no deletion", "bo@idp", model.CommentEventTypeDeleted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := w.g.app.mayRead(as(tc.user), ev(tc.typ)); got != tc.want {
				t.Errorf("mayRead = %v, want %v", got, tc.want)
			}
		})
	}
}
