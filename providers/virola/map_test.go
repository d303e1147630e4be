package virola

import (
	"net/http"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

func TestMapping(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	created := time.Date(2025, 7, 22, 18, 8, 12, 547e6, time.FixedZone("CEST", 7200))
	edited := created.Add(90 * time.Second)
	var atts []virolatest.Attachment
	for i, st := range virolatest.AllAttachmentStates {
		atts = append(atts, virolatest.Attachment{ID: int64(100 + i), FileName: "f" + string(rune('a'+i)) + ".bin", State: st})
	}
	atts = append(atts,
		virolatest.Attachment{ID: 200, FileName: "Screen shot #1.png", Content: []byte("png"), Width: 640, Height: 480},
		virolatest.Attachment{ID: 201, FileName: "talk.MP4", Content: []byte("v")},
		virolatest.Attachment{ID: 202, FileName: "memo.mp3", Content: []byte("a")})
	id := e.comment(t, e.parent, virolatest.Message{
		UserID: e.users["Zoë Park"], Created: created, Edited: edited, Markup: "TextHtml", Priority: "Critical", Type: "Issue",
		Text:        "<p>Bug in <b>checkout</b> &amp; cart, cc <i>@Bo Tan</i></p>",
		Attachments: atts,
		ReadBy:      []virolatest.Read{{UserID: e.users["Bo Tan"], At: edited.Add(time.Minute)}},
	})
	c, err := e.p.GetComment(ctxT(t), e.thread, ref(id))
	if err != nil {
		t.Fatal(err)
	}
	if c.Ref != ref(id) || c.ThreadKind != model.ThreadKindMessage || c.ThreadRef != ref(e.parent) || c.ProviderID != "vir" {
		t.Fatalf("identity %+v", c)
	}
	if c.Markup != model.MarkupHTML || c.Body != "<p>Bug in <b>checkout</b> &amp; cart, cc <i>@Bo Tan</i></p>" || c.Text != "Bug in checkout & cart, cc @Bo Tan" {
		t.Fatalf("text %q body %q markup %s", c.Text, c.Body, c.Markup)
	}
	if len(c.Mentions) != 1 || c.Mentions[0].UserRef != ref(e.users["Bo Tan"]) || c.Mentions[0].Offset != 27 || c.Mentions[0].Length != 7 {
		t.Fatalf("mentions %+v", c.Mentions)
	}
	if c.SenderRef != ref(e.users["Zoë Park"]) || *c.Priority != "CRITICAL" || *c.MessageType != "ISSUE" {
		t.Fatalf("sender/priority/type %+v", c)
	}
	if !c.CreatedAt.Equal(created) || c.CreatedAt.Location() != time.UTC || c.EditedAt == nil || !c.EditedAt.Equal(edited) {
		t.Fatalf("times %v %v", c.CreatedAt, c.EditedAt)
	}
	if len(c.ReadBy) != 1 || c.ReadBy[0].UserRef != ref(e.users["Bo Tan"]) || !c.ReadBy[0].ReadAt.Equal(edited.Add(time.Minute)) {
		t.Fatalf("readBy %+v", c.ReadBy)
	}
	states := map[string]model.AttachmentState{}
	byRef := map[string]*model.Attachment{}
	for _, a := range c.Attachments {
		states[a.Name] = a.State
		byRef[a.Ref] = a
		if a.CommentRef != c.Ref || a.ThreadRef != c.ThreadRef {
			t.Fatalf("attachment %s not linked to its comment", a.Ref)
		}
	}
	wantStates := map[string]model.AttachmentState{
		"fa.bin": model.AttachmentStateUploading, "fb.bin": model.AttachmentStateUploading, "fc.bin": model.AttachmentStateFailed,
		"fd.bin": model.AttachmentStateUploading, "fe.bin": model.AttachmentStateFailed, "ff.bin": model.AttachmentStateProcessing,
		"fg.bin": model.AttachmentStateFailed, "fh.bin": model.AttachmentStateFailed, "fi.bin": model.AttachmentStateReady,
	}
	for name, want := range wantStates {
		if states[name] != want {
			t.Errorf("%s: %s, want %s", name, states[name], want)
		}
	}
	img := byRef["200"]
	if img.Kind != "IMAGE" || *img.MimeType != "image/png" || *img.Size != 3 || *img.Width != 640 || *img.Height != 480 ||
		*img.URL != e.s.URL+"/api/v1/attachments/200/Screen%20shot%20%231.png" {
		t.Fatalf("image %+v url %s", img, *img.URL)
	}
	if byRef["201"].Kind != "VIDEO" || byRef["202"].Kind != "AUDIO" || byRef["100"].Kind != "FILE" {
		t.Fatalf("kinds %s %s %s", byRef["201"].Kind, byRef["202"].Kind, byRef["100"].Kind)
	}
	// The URL is the one the server downloads from.
	req, _ := http.NewRequest("GET", *img.URL, nil)
	req.Header.Set("Authorization", "Bearer "+e.s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("download %d", resp.StatusCode)
	}

	_, err = e.p.GetComment(ctxT(t), e.thread, ref(id+50))
	wantCode(t, err, model.CodeNotFound)
	_, err = e.p.GetComment(ctxT(t), e.thread, "x")
	wantCode(t, err, model.CodeBadUserInput)
}

func TestMarkups(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	tests := map[string]model.Markup{
		"TextPlain": model.MarkupPlain, "TextHtml": model.MarkupHTML, "TextMarkdown": model.MarkupMarkdown,
		"TextCode": model.MarkupCode, "TextLatex": model.MarkupLatex, "TextFromTheFuture": model.MarkupPlain,
	}
	for wire, want := range tests {
		t.Run(wire, func(t *testing.T) {
			id := e.comment(t, e.parent, virolatest.Message{Markup: wire, Text: "x"})
			c, err := e.p.GetComment(ctxT(t), e.thread, ref(id))
			if err != nil {
				t.Fatal(err)
			}
			if c.Markup != want {
				t.Fatalf("%s → %s, want %s", wire, c.Markup, want)
			}
		})
	}
}
