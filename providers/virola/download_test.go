package virola

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

func TestDownloadStreamsWithRanges(t *testing.T) {
	s := virolatest.NewServer(virolatest.Options{})
	t.Cleanup(s.Close)
	room := s.AddRoom(virolatest.Room{Name: "r"})
	content := bytes.Repeat([]byte("0123456789"), 5000)
	if _, err := s.AddMessage(virolatest.Message{RoomID: room.ID, UserID: s.BotID(), Text: "f", Attachments: []virolatest.Attachment{
		{ID: 61, FileName: "a b.png", Content: content},
		{ID: 62, FileName: "c.pdf", Content: []byte("x"), State: "UploadFromClientToServerInProgress"},
	}}); err != nil {
		t.Fatal(err)
	}
	// A timeout shorter than the test: it bounds the headers, not the body.
	p, err := New(Options{ID: "v", BaseURL: s.URL, Token: virolatest.DefaultToken, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	read := func(d *providers.Download) []byte {
		t.Helper()
		defer d.Body.Close()
		b, err := io.ReadAll(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	d, err := p.Download(t.Context(), "61", "a b.png", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := read(d); d.Status != 200 || !bytes.Equal(got, content) || d.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("full: status %d, %d bytes, header %v", d.Status, len(got), d.Header)
	}
	d, err = p.Download(t.Context(), "61", "a b.png", "bytes=10-14")
	if err != nil {
		t.Fatal(err)
	}
	if got := read(d); d.Status != 206 || string(got) != "01234" || d.Header.Get("Content-Range") != "bytes 10-14/50000" {
		t.Fatalf("range: status %d, %q, header %v", d.Status, got, d.Header)
	}
	if _, err := p.Download(t.Context(), "62", "c.pdf", ""); providers.UpstreamStatus(err) != http.StatusNotFound {
		t.Fatalf("not ready: %v", err)
	}
	s.ResetCalls()
	if _, err := p.Download(t.Context(), "x", "a b.png", ""); model.ErrorCode(err) != model.CodeBadUserInput {
		t.Fatalf("bad ref: %v", err)
	}
	if n := s.TotalCalls(); n != 0 {
		t.Fatalf("%d calls for a bad ref", n)
	}
}
