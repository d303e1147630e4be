package virola

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

const epPostAttachments = "POST /api/v1/messages/{messageId}/attachments"

// upload is a test file over an in-memory reader, as the gateway hands them.
func upload(name, ctype string, content []byte) providers.Upload {
	return providers.SeekableUpload(name, ctype, int64(len(content)), bytes.NewReader(content))
}

var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 70_000)...)
	txtBytes = []byte("meeting notes\nsecond line\n")
)

// CreateComment with files posts the comment, reads it back, then sends the
// files in one multipart request (parts named files) and returns the comment
// with Virola's attachments in their mapped states. A refused upload keeps
// the comment, its files FAILED.
func TestCreateCommentAttachments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(s *virolatest.Server)
		want    model.AttachmentState
		stored  bool // the emulator holds the bytes
	}{
		{"ready", func(*virolatest.Server) {}, model.AttachmentStateReady, true},
		{"verifying", func(s *virolatest.Server) { s.SetUploadOutcome(virolatest.StateVerifying) }, model.AttachmentStateProcessing, true},
		{"checksum mismatch", func(s *virolatest.Server) { s.SetUploadOutcome(virolatest.StateVerificationMismatch) }, model.AttachmentStateFailed, true},
		{"upload refused", func(s *virolatest.Server) {
			s.FailNext(epPostAttachments, virolatest.Fault{Status: http.StatusInternalServerError})
		}, model.AttachmentStateFailed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, virolatest.Options{}, Options{})
			tc.prepare(e.s)
			c, err := e.p.CreateComment(ctxT(t), providers.CommentInput{Thread: e.thread, Text: "see attached",
				Attachments: []providers.Upload{upload("shot.png", "image/png", pngBytes), upload("notes.txt", "text/plain", txtBytes)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.s.Calls(epPostAttachments); got != 1 {
				t.Fatalf("%d attach calls, want one for both files", got)
			}
			if len(c.Attachments) != 2 || c.Attachments[0].Name != "shot.png" || c.Attachments[1].Name != "notes.txt" {
				t.Fatalf("attachments %+v", c.Attachments)
			}
			for i, want := range [][]byte{pngBytes, txtBytes} {
				a := c.Attachments[i]
				if a.State != tc.want || a.CommentRef != c.Ref || a.Size == nil || *a.Size != len(want) {
					t.Fatalf("attachment %d: %+v, want state %s", i, a, tc.want)
				}
				if !tc.stored {
					continue
				}
				if tc.want != model.AttachmentStateReady {
					continue // the emulator serves ready files only
				}
				d, err := e.p.Download(ctxT(t), a.Ref, a.Name, "")
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(d.Body)
				d.Body.Close()
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: downloaded %d bytes, not what was uploaded", a.Name, len(got))
				}
			}
			// The comment exists in every case, with the files Virola took.
			held, err := e.p.GetComment(ctxT(t), e.thread, c.Ref)
			if err != nil || held.Text != "see attached" || (len(held.Attachments) == 2) != tc.stored {
				t.Fatalf("upstream holds %+v (%v)", held, err)
			}
		})
	}
}

// While Virola is still receiving a file, a reader sees it UPLOADING; the
// comment CreateComment returns once the upload is over has it READY.
func TestCreateCommentAttachmentUploadingMeanwhile(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	started, resume := e.s.PauseUploads()
	t.Cleanup(resume)
	type result struct {
		c   *model.Comment
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := e.p.CreateComment(ctxT(t), providers.CommentInput{Thread: e.thread, Text: "big file",
			Attachments: []providers.Upload{upload("shot.png", "image/png", pngBytes)}})
		done <- result{c, err}
	}()
	<-started
	pg, err := e.p.ListComments(ctxT(t), e.thread, providers.Page{Last: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Edges) != 1 || len(pg.Edges[0].Comment.Attachments) != 1 || pg.Edges[0].Comment.Attachments[0].State != model.AttachmentStateUploading {
		t.Fatalf("meanwhile: %+v", pg.Edges)
	}
	resume()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.c.Attachments) != 1 || r.c.Attachments[0].State != model.AttachmentStateReady {
		t.Fatalf("after: %+v", r.c.Attachments)
	}
}

// An upload that went through but whose comment cannot be read again gives
// the files as PROCESSING with no ref (their attachment ids are unknown), so
// the gateway hands out no download link for them; Virola has them, as the
// next read shows.
func TestCreateCommentAttachmentsNotReadBack(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	started, resume := e.s.PauseUploads()
	t.Cleanup(resume)
	type result struct {
		c   *model.Comment
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := e.p.CreateComment(ctxT(t), providers.CommentInput{Thread: e.thread, Text: "see attached",
			Attachments: []providers.Upload{upload("shot.png", "image/png", pngBytes), upload("notes.txt", "text/plain", txtBytes)}})
		done <- result{c, err}
	}()
	<-started // the comment is posted and read back; the files are on their way
	e.s.FailNext(epGetComments, virolatest.Fault{Status: http.StatusServiceUnavailable, Times: 10})
	resume()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := e.s.Calls(epPostAttachments); got != 1 {
		t.Fatalf("%d attach calls", got)
	}
	if len(r.c.Attachments) != 2 {
		t.Fatalf("attachments %+v", r.c.Attachments)
	}
	for i, name := range []string{"shot.png", "notes.txt"} {
		a := r.c.Attachments[i]
		if a.Name != name || a.State != model.AttachmentStateProcessing || a.Ref != "pending-upload-"+strconv.Itoa(i) || a.URL != nil || a.CommentRef != r.c.Ref {
			t.Fatalf("attachment %d: %+v, want %s PROCESSING under a stand-in ref, with no URL", i, a, name)
		}
	}
	e.s.ClearFaults()
	held, err := e.p.GetComment(ctxT(t), e.thread, r.c.Ref)
	if err != nil || len(held.Attachments) != 2 || held.Attachments[0].Ref == "" {
		t.Fatalf("upstream holds %+v (%v)", held, err)
	}
}
