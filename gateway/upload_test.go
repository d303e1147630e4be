package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

const (
	uploadKey       = "upload-key-0123456789abcdef"
	uploadOrigin    = "https://app.example"
	uploadMaxBytes  = 200_000
	uploadMaxFiles  = 2
	createWithFiles = `mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id
		attachments { id name state size mimeType url } } } }`
)

// upFile is one file part of a multipart request.
type upFile struct {
	name, ctype string
	content     []byte
}

var (
	pngFile = upFile{"chart.png", "image/png", append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), pattern(150_000)...)}
	txtFile = upFile{"notes.txt", "text/plain", []byte("minutes of the meeting\nall agreed\n")}
)

// pattern is n bytes that differ from one offset to the next, so a range
// served from the wrong place is noticed.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

type uploadWorld struct {
	virola *virolatest.Server
	ziik   *ziiktest.Server
	klink  *klinktest.Server
	g      *gateway
	thread map[string]string // provider id → a thread's global ID
}

// newUploadWorld is a gateway with an API key, a browser origin allowed and
// small upload limits, over Virola, Ziik and K-LINK (which has no
// ATTACHMENTS).
func newUploadWorld(t *testing.T) *uploadWorld {
	t.Helper()
	w := &uploadWorld{thread: map[string]string{}}
	var parent int64
	w.virola, _, parent = virolaWorld(t)
	var conv int
	w.ziik, conv = ziikWorld(t)
	w.klink = klinkWorld(t, 0)
	kp := klinkProvider(w.klink)
	kp.Threads = nil // no poller: every call the emulator counts is the test's
	cfg := newTestConfig(t, config.Provider{ID: "virola", Kind: "virola", BaseURL: w.virola.URL, Token: virolatest.DefaultToken},
		ziikProvider(w.ziik), kp)
	cfg.Auth.APIKeys = config.Keys(uploadKey)
	cfg.Auth.AllowedOrigins = []string{uploadOrigin}
	cfg.Events.PollInterval = -1
	cfg.Attachments.MaxUploadBytes = uploadMaxBytes
	cfg.Attachments.MaxUploadFiles = uploadMaxFiles
	w.g = startGatewayWith(t, cfg, nil)
	w.g.key = uploadKey
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := w.virola.WaitStreams(ctx, 1); err != nil {
		t.Fatalf("the gateway never followed the Virola stream: %v", err)
	}
	w.thread["virola"] = model.ThreadID("virola", model.ThreadKindMessage, strconv.FormatInt(parent, 10))
	w.thread["ziik"] = model.ThreadID("ziik", model.ThreadKindConversation, strconv.Itoa(conv))
	w.thread["klink"] = model.ThreadID("klink", model.ThreadKindRoom, roomA)
	return w
}

// upload sends createComment on thread as a GraphQL multipart request, built
// by hand as the spec lays it out: operations, map, then one part per file.
func (w *uploadWorld) upload(t *testing.T, thread string, files []upFile, header http.Header) gqlResponse {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	slots := make([]any, len(files))
	ops, _ := json.Marshal(map[string]any{"query": createWithFiles,
		"variables": map[string]any{"in": map[string]any{"thread": thread, "text": "files attached", "attachments": slots}}})
	_ = mw.WriteField("operations", string(ops))
	paths := map[string][]string{}
	for i := range files {
		paths[strconv.Itoa(i)] = []string{fmt.Sprintf("variables.in.attachments.%d", i)}
	}
	m, _ := json.Marshal(paths)
	_ = mw.WriteField("map", string(m))
	for i, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%d"; filename="%s"`, i, f.name))
		h.Set("Content-Type", f.ctype)
		part, _ := mw.CreatePart(h)
		_, _ = part.Write(f.content)
	}
	_ = mw.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, w.g.url+"/query", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+uploadKey)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /query: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gqlResponse{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST /query answered %d %q: %v", resp.StatusCode, raw, err)
	}
	return out
}

// mediaType is a Content-Type without its parameters.
func mediaType(ct string) string {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt
}

type uploadedAttachment struct {
	ID, Name, State string
	Size            int
	MimeType        *string
	URL             *string
}

func (r gqlResponse) attachments(t *testing.T) []uploadedAttachment {
	t.Helper()
	var d struct {
		CreateComment *struct {
			Comment struct{ Attachments []uploadedAttachment }
		}
	}
	r.decode(t, &d)
	if d.CreateComment == nil {
		t.Fatalf("no comment: %+v", r.Errors)
	}
	return d.CreateComment.Comment.Attachments
}

// get downloads path from the gateway with a plain client and the API key.
func (w *uploadWorld) get(t *testing.T, path, rangeHeader string) (*http.Response, []byte) {
	t.Helper()
	return download(t, w.g.url+path, uploadKey, rangeHeader)
}

// A multipart createComment (sent from an allowed browser origin, with the
// API key) attaches both files on Virola and on Ziik; each comes back READY
// with a gateway link, which serves the very bytes sent, whole and by range,
// with their type, length and disposition.
func TestUploadCreateCommentThenDownload(t *testing.T) {
	w := newUploadWorld(t)
	for _, provider := range []string{"virola", "ziik"} {
		t.Run(provider, func(t *testing.T) {
			resp := w.upload(t, w.thread[provider], []upFile{pngFile, txtFile}, http.Header{"Origin": {uploadOrigin}})
			resp.mustNoErrors(t)
			atts := resp.attachments(t)
			if len(atts) != 2 {
				t.Fatalf("attachments %+v", atts)
			}
			for i, f := range []upFile{pngFile, txtFile} {
				a := atts[i]
				if a.Name != f.name || a.State != "READY" || a.Size != len(f.content) || a.URL == nil || a.MimeType == nil || mediaType(*a.MimeType) != f.ctype {
					t.Fatalf("attachment %d: %+v", i, a)
				}
				hr, body := w.get(t, *a.URL, "")
				if hr.StatusCode != http.StatusOK || !bytes.Equal(body, f.content) {
					t.Fatalf("%s: %d, %d bytes, not the %d sent", f.name, hr.StatusCode, len(body), len(f.content))
				}
				if ct := hr.Header.Get("Content-Type"); mediaType(ct) != f.ctype {
					t.Errorf("%s: Content-Type %q", f.name, ct)
				}
				if hr.Header.Get("Content-Length") != strconv.Itoa(len(f.content)) {
					t.Errorf("%s: Content-Length %q", f.name, hr.Header.Get("Content-Length"))
				}
				if d, p, _ := mime.ParseMediaType(hr.Header.Get("Content-Disposition")); d != "attachment" || p["filename"] != f.name {
					t.Errorf("%s: Content-Disposition %q", f.name, hr.Header.Get("Content-Disposition"))
				}
			}
			hr, part := w.get(t, *atts[0].URL, "bytes=1000-1999")
			if hr.StatusCode != http.StatusPartialContent || !bytes.Equal(part, pngFile.content[1000:2000]) ||
				hr.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000-1999/%d", len(pngFile.content)) {
				t.Fatalf("range: %d %q, %d bytes", hr.StatusCode, hr.Header.Get("Content-Range"), len(part))
			}
		})
	}
}

// Files outside the limits, of a type not allowed, whose first bytes belie
// their declared type, or sent to a provider without ATTACHMENTS are refused
// before any upstream call.
func TestUploadRefusedBeforeAnyUpstreamCall(t *testing.T) {
	w := newUploadWorld(t)
	tooBig := upFile{"big.png", "image/png", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, uploadMaxBytes)...)}
	huge := upFile{"huge.txt", "text/plain", bytes.Repeat([]byte("a"), uploadMaxFiles*uploadMaxBytes+(2<<20))}
	for _, tc := range []struct {
		name, provider string
		files          []upFile
		header         http.Header
		status         int
		code           string
	}{
		{"too big", "virola", []upFile{tooBig}, nil, http.StatusOK, "BAD_USER_INPUT"},
		{"too many", "ziik", []upFile{txtFile, txtFile, txtFile}, nil, http.StatusOK, "BAD_USER_INPUT"},
		{"type not allowed", "virola", []upFile{{"archive.zip", "application/zip", []byte("PK\x03\x04\x14\x00\x00\x00")}}, nil, http.StatusOK, "BAD_USER_INPUT"},
		{"content is not the declared type", "ziik", []upFile{{"cat.png", "image/png", []byte("#!/bin/sh\necho not a picture\n")}}, nil, http.StatusOK, "BAD_USER_INPUT"},
		{"provider without ATTACHMENTS", "klink", []upFile{txtFile}, nil, http.StatusOK, "UNSUPPORTED"},
		{"body over the upload limit", "virola", []upFile{huge}, nil, http.StatusRequestEntityTooLarge, "BAD_REQUEST"},
		{"browser on another origin", "virola", []upFile{txtFile}, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden, "FORBIDDEN"},
		{"no API key", "virola", []upFile{txtFile}, http.Header{"Authorization": {""}}, http.StatusUnauthorized, "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []interface{ ResetCalls() }{w.virola, w.ziik, w.klink} {
				s.ResetCalls()
			}
			resp := w.upload(t, w.thread[tc.provider], tc.files, tc.header)
			if resp.Status != tc.status || len(resp.Errors) != 1 || resp.codes()[0] != tc.code {
				t.Fatalf("%d %+v, want %d and one %s", resp.Status, resp.Errors, tc.status, tc.code)
			}
			if tc.code == "UNSUPPORTED" && resp.Errors[0].Extensions["provider"] != tc.provider {
				t.Fatalf("extensions %v, want provider %s", resp.Errors[0].Extensions, tc.provider)
			}
			if n := w.virola.TotalCalls() + w.ziik.TotalCalls() + w.klink.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls, want none", n)
			}
		})
	}
}

// A browser on an allowed origin may send the multipart request: the
// preflight for its Authorization and multipart Content-Type is answered.
func TestUploadPreflight(t *testing.T) {
	w := newUploadWorld(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, w.g.url+"/query", nil)
	req.Header.Set("Origin", uploadOrigin)
	req.Header.Set("Access-Control-Request-Method", http.MethodPost)
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != uploadOrigin {
		t.Fatalf("preflight %d %v", resp.StatusCode, resp.Header)
	}
}

// When Virola refuses the files after the comment exists, the comment is
// returned with them FAILED (and no download link) and the failure is
// reported beside it, not hidden.
func TestUploadFailureKeepsTheComment(t *testing.T) {
	w := newUploadWorld(t)
	w.virola.FailNext("POST /api/v1/messages/{messageId}/attachments", virolatest.Fault{Status: http.StatusServiceUnavailable})
	resp := w.upload(t, w.thread["virola"], []upFile{txtFile}, nil)
	atts := resp.attachments(t)
	if len(atts) != 1 || atts[0].State != "FAILED" || atts[0].URL != nil || atts[0].Name != txtFile.name {
		t.Fatalf("attachments %+v", atts)
	}
	if len(resp.Errors) != 1 || resp.codes()[0] != "UPSTREAM_UNAVAILABLE" || resp.Errors[0].Extensions["provider"] != "virola" {
		t.Fatalf("errors %+v, want the failed file reported", resp.Errors)
	}
}

// Only a file that can be fetched now is given a download link: one still
// uploading or processing would answer an error, so it has none until a
// later read finds it ready.
func TestOnlyReadyAttachmentsGetLinks(t *testing.T) {
	z, conv := ziikWorld(t)
	id, err := z.AddMessage(ziiktest.Message{ConversationID: conv, AuthorID: z.BotID(), Text: "three files", Date: time.Now(),
		Files: []ziiktest.File{
			{ID: 901, Name: "ready.png", Mime: "image/png", Size: 10},
			{ID: 902, Name: "processing.png", Mime: "image/png", Size: 10, Processing: true},
			{ID: 903, Name: "uploading.png", Mime: "image/png", Size: 10, Uploading: true},
		}})
	if err != nil {
		t.Fatal(err)
	}
	pc := ziikProvider(z)
	pc.Threads = nil
	g := MustStartGateway(t, newTestConfig(t, pc))
	resp := g.query(`query($id: ID!) { node(id: $id) { ... on Comment { attachments { name state url } } } }`,
		map[string]any{"id": model.CommentID("ziik", model.ThreadKindConversation, strconv.Itoa(conv), strconv.Itoa(id))})
	resp.mustNoErrors(t)
	var out struct {
		Node struct {
			Attachments []struct {
				Name, State string
				URL         *string
			}
		}
	}
	resp.decode(t, &out)
	want := map[string]string{"ready.png": "READY", "processing.png": "PROCESSING", "uploading.png": "UPLOADING"}
	if len(out.Node.Attachments) != len(want) {
		t.Fatalf("attachments %+v", out.Node.Attachments)
	}
	for _, a := range out.Node.Attachments {
		switch {
		case a.State != want[a.Name]:
			t.Errorf("%s: state %s, want %s", a.Name, a.State, want[a.Name])
		case a.State == "READY" && (a.URL == nil || !strings.Contains(*a.URL, "/attachments/ziik/")):
			t.Errorf("%s: url %v, want a signed gateway link", a.Name, a.URL)
		case a.State != "READY" && a.URL != nil && strings.Contains(*a.URL, "/attachments/"):
			t.Errorf("%s (%s) was given a gateway link %s", a.Name, a.State, *a.URL)
		}
	}
}
