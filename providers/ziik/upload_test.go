package ziik_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

const (
	epFiles    = "POST /messages/{message}/files"
	epDownload = "GET /files/{id}/{name}"
)

func upload(name, ctype string, content []byte) providers.Upload {
	return providers.SeekableUpload(name, ctype, int64(len(content)), bytes.NewReader(content))
}

var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 70_000)...)
	txtBytes = []byte("meeting notes\nsecond line\n")
	mp4Bytes = append([]byte("\x00\x00\x00\x18ftypmp42"), bytes.Repeat([]byte{1}, 500)...)
)

// CreateComment with files announces them with fileCount, uploads each with
// POST /messages/{id}/files and returns the comment with Ziik's files in
// their mapped states, in upload order. A refused file stays on the comment,
// FAILED; a 401 during an upload gets a fresh token and the whole file again.
func TestCreateCommentUploadsFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []providers.Upload
		content [][]byte
		fault   *ziiktest.Fault
		want    []model.AttachmentState
		uploads int // upload calls the emulator sees
	}{
		{name: "ready", files: []providers.Upload{upload("shot.png", "image/png", pngBytes), upload("notes.txt", "text/plain", txtBytes)},
			content: [][]byte{pngBytes, txtBytes}, want: []model.AttachmentState{model.AttachmentStateReady, model.AttachmentStateReady}, uploads: 2},
		{name: "video is processed", files: []providers.Upload{upload("clip.mp4", "video/mp4", mp4Bytes)},
			content: [][]byte{mp4Bytes}, want: []model.AttachmentState{model.AttachmentStateProcessing}, uploads: 1},
		{name: "first refused, second sent", files: []providers.Upload{upload("shot.png", "image/png", pngBytes), upload("notes.txt", "text/plain", txtBytes)},
			content: [][]byte{nil, txtBytes}, fault: &ziiktest.Fault{Status: http.StatusInternalServerError},
			want: []model.AttachmentState{model.AttachmentStateFailed, model.AttachmentStateReady}, uploads: 2},
		{name: "token refused mid-upload, file sent again", files: []providers.Upload{upload("shot.png", "image/png", pngBytes)},
			content: [][]byte{pngBytes}, fault: &ziiktest.Fault{Status: http.StatusUnauthorized, Body: `{"error":{"code":"token_expired","message":"The token has expired.","is_ziik_error":true}}`},
			want: []model.AttachmentState{model.AttachmentStateReady}, uploads: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.conv(t, "Files", e.user(t, "Zoë", "Park"))
			if tc.fault != nil {
				e.srv.FailNext(epFiles, *tc.fault)
			}
			ctx := context.Background()
			got, err := e.p.CreateComment(ctx, providers.CommentInput{Thread: convThread(c), Text: "see attached", Attachments: tc.files})
			if err != nil {
				t.Fatal(err)
			}
			if n := e.srv.Calls(epCreate); n != 1 {
				t.Fatalf("%d creates", n)
			}
			if n := e.srv.Calls(epFiles); n != tc.uploads {
				t.Fatalf("%d uploads, want %d", n, tc.uploads)
			}
			if len(got.Attachments) != len(tc.files) {
				t.Fatalf("attachments %+v", got.Attachments)
			}
			for i, a := range got.Attachments {
				f := tc.files[i]
				if a.Name != f.Name || a.State != tc.want[i] || a.CommentRef != got.Ref || !strings.HasPrefix(a.Ref, "file:") ||
					a.MimeType == nil || *a.MimeType != f.ContentType || a.Size == nil || int64(*a.Size) != f.Size {
					t.Fatalf("attachment %d: %+v, want %s named %s", i, a, tc.want[i], f.Name)
				}
				if tc.content[i] == nil {
					continue
				}
				d, err := e.p.Download(ctx, a.Ref, a.Name, "")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(d.Body)
				d.Body.Close()
				if !bytes.Equal(b, tc.content[i]) || d.Header.Get("Content-Type") != f.ContentType {
					t.Fatalf("%s: downloaded %d bytes as %s", a.Name, len(b), d.Header.Get("Content-Type"))
				}
			}
		})
	}
}

// Download streams a Ziik file or voice note with the JWT: Content-Type,
// Content-Length, Content-Disposition and ranges pass through; a ref the
// adapter did not make costs no call.
func TestDownload(t *testing.T) {
	e := newEnv(t, nil)
	c := e.conv(t, "Files", e.user(t, "Zoë", "Park"))
	id := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: e.srv.BotID(), Text: "files",
		Files: []ziiktest.File{{Name: "plan v2.pdf", Mime: "application/pdf", Size: 5000}}, Voice: &ziiktest.Voice{Duration: 2}})
	m, _ := e.srv.Message(id)
	ctx := context.Background()
	var file, voice *model.Attachment
	got, err := e.p.GetComment(ctx, convThread(c), itoa([]int{id})[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range got.Attachments {
		switch a.Kind {
		case "VOICE":
			voice = a
		default:
			file = a
		}
	}
	if file == nil || voice == nil || file.Ref != "file:"+itoa([]int{m.Files[0].ID})[0] {
		t.Fatalf("attachments %+v", got.Attachments)
	}
	for _, tc := range []struct {
		name, ref, attName, rng string
		status                  int
		length                  string
	}{
		{"whole file", file.Ref, file.Name, "", http.StatusOK, "5000"},
		{"a range", file.Ref, file.Name, "bytes=10-19", http.StatusPartialContent, "10"},
		{"voice note", voice.Ref, voice.Name, "", http.StatusOK, "4000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.p.Download(ctx, tc.ref, tc.attName, tc.rng)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Body.Close()
			b, _ := io.ReadAll(d.Body)
			if d.Status != tc.status || d.Header.Get("Content-Length") != tc.length || itoa([]int{len(b)})[0] != tc.length ||
				!strings.HasPrefix(d.Header.Get("Content-Disposition"), "attachment") || d.Header.Get("Content-Type") == "" {
				t.Fatalf("%d %v (%d bytes)", d.Status, d.Header, len(b))
			}
			if tc.rng != "" && d.Header.Get("Content-Range") != "bytes 10-19/5000" {
				t.Fatalf("Content-Range %q", d.Header.Get("Content-Range"))
			}
		})
	}
	t.Run("refs it did not make", func(t *testing.T) {
		before := e.srv.TotalCalls()
		for _, ref := range []string{"42", "file:abc", "reaction:1", "file:1"} {
			name := "x.pdf"
			if ref == "file:1" {
				name = "../etc/passwd"
			}
			if _, err := e.p.Download(ctx, ref, name, ""); !model.IsCode(err, model.CodeBadUserInput) {
				t.Fatalf("%s: %v", ref, err)
			}
		}
		if e.srv.TotalCalls() != before {
			t.Fatal("a bad ref cost an upstream call")
		}
	})
	t.Run("not there", func(t *testing.T) {
		if _, err := e.p.Download(ctx, "file:999999", "nope.pdf", ""); !model.IsCode(err, model.CodeNotFound) {
			t.Fatalf("%v", err)
		}
	})
}
