package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

const (
	attachKeyA = "attachments-key-a-0123456789"
	attachKeyB = "attachments-key-b-0123456789"
)

type attachmentWorld struct {
	virola  *virolatest.Server
	g       *gateway
	parent  int64
	comment int64
	attID   int64
	name    string
	content []byte
}

// newAttachmentWorld is a Virola thread whose comment carries a ready file of
// 100 000 distinct-ish bytes, behind a gateway with two API keys.
func newAttachmentWorld(t *testing.T) *attachmentWorld {
	t.Helper()
	w := &attachmentWorld{name: "Q3 plan é.pdf"}
	w.content = make([]byte, 100_000)
	for i := range w.content {
		w.content[i] = byte(i*7 + i/251)
	}
	w.virola, _, w.parent = virolaWorld(t)
	w.attID = 777
	var err error
	w.comment, err = w.virola.AddComment(w.parent, virolatest.Message{UserID: 3, Text: "see file",
		Attachments: []virolatest.Attachment{{ID: w.attID, FileName: w.name, Content: w.content}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := newTestConfig(t, config.Provider{ID: "virola", Kind: "virola", BaseURL: w.virola.URL, Token: virolatest.DefaultToken})
	cfg.Auth.APIKeys = config.Keys(attachKeyA, attachKeyB)
	cfg.Events.PollInterval = -1
	w.g = startGatewayWith(t, cfg, nil)
	// The gateway follows the Virola event stream from the start; once it
	// does, the emulator counts only the calls the test makes.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := w.virola.WaitStreams(ctx, 1); err != nil {
		t.Fatalf("the gateway never followed the Virola stream: %v", err)
	}
	return w
}

// link is the signed link the gateway gives the holder of key.
func (w *attachmentWorld) link(key string) string {
	return w.g.app.attachments.url("virola", strconv.FormatInt(w.attID, 10), w.name, "", providers.Fingerprint(key))
}

func (w *attachmentWorld) get(t *testing.T, path, key, rangeHeader string) (*http.Response, []byte) {
	t.Helper()
	return download(t, w.g.url+path, key, rangeHeader)
}

// download GETs target with key (when set) and Range (when set), and reads the
// whole answer.
func download(t *testing.T, target, key, rangeHeader string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestAttachmentDownloadStreamsTheUpstreamBytes(t *testing.T) {
	w := newAttachmentWorld(t)
	resp, body := w.get(t, w.link(attachKeyA), attachKeyA, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if !bytes.Equal(body, w.content) {
		t.Fatalf("got %d bytes, not the %d uploaded", len(body), len(w.content))
	}
	if got := resp.Header.Get("Content-Type"); got != "application/pdf" {
		t.Errorf("Content-Type %q", got)
	}
	if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(w.content)) {
		t.Errorf("Content-Length %q", got)
	}
	if got, want := resp.Header.Get("Content-Disposition"), `attachment; filename="Q3 plan _.pdf"; filename*=UTF-8''Q3%20plan%20%C3%A9.pdf`; got != want {
		t.Errorf("Content-Disposition %q, want %q", got, want)
	}
	if got := w.virola.Calls("GET /api/v1/attachments/{attachmentId}/{fileName}"); got != 1 {
		t.Errorf("%d upstream downloads, want 1", got)
	}
}

func TestAttachmentDownloadRange(t *testing.T) {
	w := newAttachmentWorld(t)
	resp, body := w.get(t, w.link(attachKeyA), attachKeyA, "bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if !bytes.Equal(body, w.content[1000:2000]) {
		t.Fatalf("got %d bytes, not the slice 1000-1999", len(body))
	}
	if got, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes 1000-1999/%d", len(w.content)); got != want {
		t.Errorf("Content-Range %q, want %q", got, want)
	}
	if got := resp.Header.Get("Content-Length"); got != "1000" {
		t.Errorf("Content-Length %q", got)
	}
	if got := resp.Header.Get("Accept-Ranges"); got != "bytes" {
		t.Errorf("Accept-Ranges %q", got)
	}
}

// A link someone changed, one past its expiry, and one presented with
// another API key than the one it was made for are refused before any
// upstream call.
func TestAttachmentLinkRefusedWithNoUpstreamCall(t *testing.T) {
	w := newAttachmentWorld(t)
	good := w.link(attachKeyA)
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sig := q.Get("sig")

	tampered := *u
	tq := u.Query()
	flip := "A"
	if strings.HasPrefix(sig, "A") {
		flip = "B"
	}
	tq.Set("sig", flip+sig[1:])
	tampered.RawQuery = tq.Encode()

	otherFile := strings.Replace(good, "/"+strconv.FormatInt(w.attID, 10)+"/", "/778/", 1)

	later := *u
	lq := u.Query()
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	lq.Set("exp", strconv.FormatInt(exp+3600, 10))
	later.RawQuery = lq.Encode()

	// A link made for a moment already past, with a valid signature.
	s := *w.g.app.attachments
	s.ttl = -time.Second
	expired := s.url("virola", strconv.FormatInt(w.attID, 10), w.name, "", providers.Fingerprint(attachKeyA))

	// The same credential's link, signed for another tenant.
	otherTenant := w.g.app.attachments.url("virola", strconv.FormatInt(w.attID, 10), w.name, "acme", providers.Fingerprint(attachKeyA))

	w.virola.ResetCalls()
	for _, c := range []struct{ name, path, key string }{
		{"tampered signature", tampered.String(), attachKeyA},
		{"other tenant", otherTenant, attachKeyA},
		{"other attachment", otherFile, attachKeyA},
		{"extended expiry", later.String(), attachKeyA},
		{"expired", expired, attachKeyA},
		{"other API key", good, attachKeyB},
		{"no signature", u.Path, attachKeyA},
	} {
		resp, body := w.get(t, c.path, c.key, "")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403: %s", c.name, resp.StatusCode, body)
		}
	}
	if n := w.virola.TotalCalls(); n != 0 {
		t.Fatalf("%d upstream calls for refused links", n)
	}
	// Without any credential, authentication refuses first.
	if resp, _ := w.get(t, good, "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no credential: status %d, want 401", resp.StatusCode)
	}
	if n := w.virola.TotalCalls(); n != 0 {
		t.Fatalf("%d upstream calls for refused links", n)
	}
	// The good link still works.
	if resp, body := w.get(t, good, attachKeyA, ""); resp.StatusCode != http.StatusOK || !bytes.Equal(body, w.content) {
		t.Fatalf("good link: status %d, %d bytes", resp.StatusCode, len(body))
	}
}

func TestContentDispositionEncoding(t *testing.T) {
	for name, want := range map[string]string{
		"report.pdf":      `attachment; filename=report.pdf`,
		"a b.png":         `attachment; filename="a b.png"`,
		`say "hi".txt`:    `attachment; filename="say \"hi\".txt"`,
		"naïve (1).txt":   `attachment; filename="na_ve (1).txt"; filename*=UTF-8''na%C3%AFve%20%281%29.txt`,
		"日本.doc":          `attachment; filename="__.doc"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.doc`,
		"line\nbreak.txt": `attachment; filename="line_break.txt"; filename*=UTF-8''line%0Abreak.txt`,
	} {
		if got := contentDisposition(name); got != want {
			t.Errorf("%q: %s, want %s", name, got, want)
		}
	}
}

// The url of an attachment in a GraphQL answer is the gateway link signed for
// the caller, on the fast path (a comment page) and the generated executor
// (node), and it downloads the file.
func TestAttachmentURLInGraphQLIsSigned(t *testing.T) {
	w := newAttachmentWorld(t)
	w.g.key = attachKeyA
	thread := model.ThreadID("virola", model.ThreadKindMessage, strconv.FormatInt(w.parent, 10))
	resp := w.g.query(`query($threads: [ID!]!) { comments(threads: $threads, first: 10) { nodes { id attachments { id name url } } } }`,
		map[string]any{"threads": []string{thread}})
	resp.mustNoErrors(t)
	if _, metrics := get(t, w.g.url+"/metrics"); !strings.Contains(string(metrics), `commentgraph_graphql_operations_total{executor="fast"} 1`) {
		t.Errorf("the page did not run on the fast path")
	}
	var page struct {
		Comments struct {
			Nodes []struct {
				ID          string
				Attachments []struct{ ID, Name, URL string }
			}
		}
	}
	resp.decode(t, &page)
	var link, attID string
	for _, c := range page.Comments.Nodes {
		for _, a := range c.Attachments {
			link, attID = a.URL, a.ID
		}
	}
	if !strings.HasPrefix(link, "/attachments/virola/777/") || !strings.Contains(link, "sig=") || !strings.Contains(link, "exp=") {
		t.Fatalf("url %q is not a signed gateway link: %s", link, resp.Data)
	}
	r, body := w.get(t, link, attachKeyA, "")
	if r.StatusCode != http.StatusOK || !bytes.Equal(body, w.content) {
		t.Fatalf("downloading %s: status %d, %d bytes", link, r.StatusCode, len(body))
	}
	if r, _ := w.get(t, link, attachKeyB, ""); r.StatusCode != http.StatusForbidden {
		t.Fatalf("another key's request: status %d", r.StatusCode)
	}

	// The same through node(id:) on the attachment: the generated executor.
	resp = w.g.query(`query($id: ID!) { node(id: $id) { ... on Attachment { url } } }`, map[string]any{"id": attID})
	resp.mustNoErrors(t)
	var one struct{ Node struct{ URL string } }
	resp.decode(t, &one)
	if r, body := w.get(t, one.Node.URL, attachKeyA, ""); r.StatusCode != http.StatusOK || !bytes.Equal(body, w.content) {
		t.Fatalf("node url %q: status %d, %d bytes", one.Node.URL, r.StatusCode, len(body))
	}
}

// With attachments.signingKey shared, a link made on one instance works on
// another; with the random per-instance key (no signingKey) it does not, and
// that refusal makes no upstream call.
func TestAttachmentLinkAcrossInstances(t *testing.T) {
	w := newAttachmentWorld(t)
	instance := func(key string) *gateway {
		cfg := newTestConfig(t, config.Provider{ID: "virola", Kind: "virola", BaseURL: w.virola.URL, Token: virolatest.DefaultToken})
		cfg.Auth.APIKeys = config.Keys(attachKeyA, attachKeyB)
		cfg.Events.PollInterval = -1
		cfg.Attachments.SigningKey = key
		return startGatewayWith(t, cfg, nil)
	}
	const shared = "a-signing-key-of-at-least-32-characters"
	one, two := instance(shared), instance(shared)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := w.virola.WaitStreams(ctx, 3); err != nil {
		t.Fatal(err)
	}
	ref := strconv.FormatInt(w.attID, 10)
	link := one.app.attachments.url("virola", ref, w.name, "", providers.Fingerprint(attachKeyA))
	other := &attachmentWorld{g: two}
	if r, body := other.get(t, link, attachKeyA, ""); r.StatusCode != http.StatusOK || !bytes.Equal(body, w.content) {
		t.Fatalf("on the other instance with the shared key: status %d, %d bytes", r.StatusCode, len(body))
	}
	w.virola.ResetCalls()
	// w.g has a random key of its own.
	if r, _ := w.get(t, link, attachKeyA, ""); r.StatusCode != http.StatusForbidden {
		t.Fatalf("on an instance with its own random key: status %d, want 403", r.StatusCode)
	}
	if n := w.virola.TotalCalls(); n != 0 {
		t.Fatalf("%d upstream calls for a refused link", n)
	}
}
