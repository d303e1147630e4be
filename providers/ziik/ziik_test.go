package ziik_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/internal/logtest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

const (
	providerID = "ziik-test"
	password   = "s3cret-Pa55word"
	epAuth     = "POST /authenticate"
	epRenew    = "POST /renew"
	epList     = "GET /conversations/{conversation}/messages"
	epCreate   = "POST /conversations/{conversation}/messages"
	epConv     = "GET /conversations/{conversation}"
	epConvs    = "GET /conversations"
	epUser     = "GET /users/{id}"
)

// recorder remembers every Authorization header sent, so tests can check no
// token leaks into logs or errors.
type recorder struct {
	mu     sync.Mutex
	tokens []string
	next   http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.Header.Get("Authorization"); h != "" {
		r.mu.Lock()
		r.tokens = append(r.tokens, strings.TrimPrefix(h, "Bearer "))
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...)
}

type env struct {
	srv   *ziiktest.Server
	p     *ziik.Provider
	clock *clocktest.Clock
	logs  *syncBuffer
	rec   *recorder
}

type syncBuffer = logtest.Buffer

func newEnv(t *testing.T, tweak func(*ziik.Options)) *env {
	t.Helper()
	return newEnvServer(t, ziiktest.Options{}, tweak)
}

// newEnvServer is newEnv with an emulator configured by srvOpts (its
// credentials, clock and token TTL are the env's).
func newEnvServer(t *testing.T, srvOpts ziiktest.Options, tweak func(*ziik.Options)) *env {
	t.Helper()
	c := clocktest.New(time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC))
	srvOpts.Email, srvOpts.Password, srvOpts.Now, srvOpts.TokenTTL = "bot@acme.test", password, c.Now, time.Hour
	srv := ziiktest.NewServer(srvOpts)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, clock: c, logs: &syncBuffer{}, rec: &recorder{next: http.DefaultTransport}}
	opts := ziik.Options{
		ID: providerID, BaseURL: srv.URL, Email: "bot@acme.test", Password: password,
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: e.rec},
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        c.Now,
	}
	if tweak != nil {
		tweak(&opts)
	}
	p, err := ziik.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	t.Cleanup(func() { e.assertNoSecrets(t) })
	return e
}

// newEnvSameServer is a second adapter on e's emulator.
func newEnvSameServer(t *testing.T, e *env) *ziik.Provider {
	t.Helper()
	p, err := ziik.New(ziik.Options{ID: providerID, BaseURL: e.srv.URL, Email: "bot@acme.test", Password: password, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// assertNoSecrets checks that neither the password nor any token sent ever
// reached the log.
func (e *env) assertNoSecrets(t *testing.T) {
	t.Helper()
	logs := e.logs.String()
	if strings.Contains(logs, password) {
		t.Errorf("the password appears in the log")
	}
	for _, tok := range e.rec.seen() {
		if strings.Contains(logs, tok) {
			t.Errorf("a JWT appears in the log")
		}
	}
}

func (e *env) user(t *testing.T, first, last string) int {
	t.Helper()
	return e.srv.AddUser(ziiktest.User{FirstName: first, LastName: last, Title: "Engineer", Department: "R&D", Unit: "HQ"})
}

func (e *env) conv(t *testing.T, title string, members ...int) int {
	t.Helper()
	id, err := e.srv.AddConversation(ziiktest.Conversation{Title: title, Participants: append([]int{e.srv.BotID()}, members...)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) msg(t *testing.T, m ziiktest.Message) int {
	t.Helper()
	if m.Date.IsZero() {
		m.Date = e.clock.Now()
	}
	id, err := e.srv.AddMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func convThread(id int) *model.Thread {
	return &model.Thread{ProviderID: providerID, Kind: model.ThreadKindConversation, Ref: strconv.Itoa(id)}
}

func msgThread(conv, msg int) *model.Thread {
	return &model.Thread{ProviderID: providerID, Kind: model.ThreadKindMessage, Ref: fmt.Sprintf("%d:%d", conv, msg)}
}

func refs(p *providers.CommentPage) []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Comment.Ref
	}
	return out
}

func itoa(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(id)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestNewChecksOptions(t *testing.T) {
	ok := ziik.Options{ID: "z", BaseURL: "https://acme.ziik.io/api", Email: "a@b.c", Password: "p"}
	tests := []struct {
		name  string
		tweak func(*ziik.Options)
	}{
		{"no id", func(o *ziik.Options) { o.ID = "" }},
		{"no base URL", func(o *ziik.Options) { o.BaseURL = "" }},
		{"base URL not http", func(o *ziik.Options) { o.BaseURL = "ftp://x" }},
		{"no email", func(o *ziik.Options) { o.Email = "" }},
		{"no password", func(o *ziik.Options) { o.Password = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.tweak(&o)
			if _, err := ziik.New(o); err == nil {
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), "p\"") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	p, err := ziik.New(ok)
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info()
	if info.ID != "z" || info.Name != "Ziik" || info.Kind != model.ProviderKindZiik || len(info.Capabilities) != 10 || info.Has(model.CapabilityPushEvents) {
		t.Errorf("info %+v", info)
	}
	// The lifecycle capabilities say exactly which optional interfaces the
	// gateway will find; Ziik documents no read marking.
	_, edits := providers.Lifecycle[providers.Editor](p)
	_, deletes := providers.Lifecycle[providers.Deleter](p)
	_, marks := providers.Lifecycle[providers.ReadMarker](p)
	for _, c := range []struct {
		capability model.Capability
		implements bool
	}{
		{model.CapabilityEditComments, edits},
		{model.CapabilityDeleteComments, deletes},
		{model.CapabilityMarkRead, marks},
	} {
		if info.Has(c.capability) != c.implements {
			t.Errorf("capability %s listed %v, interface implemented %v", c.capability, info.Has(c.capability), c.implements)
		}
	}
	if !edits || !deletes || marks {
		t.Errorf("implements Editor %v Deleter %v ReadMarker %v", edits, deletes, marks)
	}
}
