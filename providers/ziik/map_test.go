package ziik_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

func TestCommentMapping(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee", Title: "Product Manager", Department: "Product", Unit: "HQ", AvatarURL: "https://img.test/ana.png"})
	bo := e.user(t, "Bo", "Tan")
	c := e.conv(t, "Team", ana, bo)
	// Half an hour before the clock (09:00 UTC): big.zip is still within
	// the upload window (TestUploadWindow).
	created := time.Date(2025, 1, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	edited := created.Add(5 * time.Minute)
	parent := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: bo, Text: "parent"})
	rich := e.msg(t, ziiktest.Message{
		ConversationID: c, AuthorID: ana, ParentID: parent, Text: "files for @Bo Tan", Date: created, EditedAt: edited,
		Files: []ziiktest.File{
			{Name: "plan.pdf", Mime: "application/pdf", Size: 102400},
			{Name: "shot.png", Mime: "image/png", Size: 2048, Width: 640, Height: 480},
			{Name: "demo.mp4", Mime: "video/mp4", Size: 9000, Processing: true},
			{Name: "big.zip", Mime: "application/zip", Size: 1 << 20, Uploading: true},
		},
		Voice:     &ziiktest.Voice{Duration: 12.5},
		Reactions: []ziiktest.Reaction{{Emoji: "👍", UserIDs: []int{ana, bo}}},
	})
	gone := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: bo, Text: "oops", Deleted: true,
		Files: []ziiktest.File{{Name: "x.txt", Mime: "text/plain", Size: 1}}})

	pg, err := e.p.ListComments(context.Background(), convThread(c), providers.Page{Last: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := refs(pg); strings.Join(got, ",") != strings.Join(itoa([]int{parent, rich, gone}), ",") {
		t.Fatalf("got %v", got)
	}
	m := pg.Edges[1].Comment
	if m.ProviderID != providerID || m.ParentRef != strconv.Itoa(parent) || m.Markup != model.MarkupPlain || m.Deleted {
		t.Errorf("comment %+v", m)
	}
	if !m.CreatedAt.Equal(created) || m.CreatedAt.Location() != time.UTC || m.EditedAt == nil || !m.EditedAt.Equal(edited) {
		t.Errorf("times %v %v", m.CreatedAt, m.EditedAt)
	}
	h := m.SenderHint
	if m.SenderRef != strconv.Itoa(ana) || h == nil || h.Name != "Ana Lee" || deref(h.Title) != "Product Manager" ||
		deref(h.Department) != "Product" || deref(h.Unit) != "HQ" || deref(h.AvatarURL) != "https://img.test/ana.png" || h.ProviderID != providerID {
		t.Errorf("sender %q %+v", m.SenderRef, h)
	}
	if fmt.Sprint(spans(m)) != fmt.Sprint([]span{{strconv.Itoa(bo), 10, 7}}) {
		t.Errorf("mentions %v", spans(m))
	}
	type att struct {
		kind, name, mime string
		state            model.AttachmentState
		size, w, h       int
		dur              float64
	}
	var got []att
	for _, a := range m.Attachments {
		if a.URL == nil || !strings.HasPrefix(*a.URL, "http") || a.ProviderID != providerID {
			t.Errorf("attachment %s url %v", a.Name, a.URL)
		}
		x := att{kind: a.Kind, name: a.Name, mime: deref(a.MimeType), state: a.State}
		if a.Size != nil {
			x.size = *a.Size
		}
		if a.Width != nil && a.Height != nil {
			x.w, x.h = *a.Width, *a.Height
		}
		if a.Duration != nil {
			x.dur = *a.Duration
		}
		got = append(got, x)
	}
	want := []att{
		{"FILE", "plan.pdf", "application/pdf", model.AttachmentStateReady, 102400, 0, 0, 0},
		{"IMAGE", "shot.png", "image/png", model.AttachmentStateReady, 2048, 640, 480, 0},
		{"VIDEO", "demo.mp4", "video/mp4", model.AttachmentStateProcessing, 9000, 0, 0, 0},
		{"FILE", "big.zip", "application/zip", model.AttachmentStateUploading, 1 << 20, 0, 0, 0},
		{"VOICE", "voice-note.mp3", "audio/mpeg", model.AttachmentStateReady, 0, 0, 0, 12.5},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attachments\n got %v\nwant %v", got, want)
	}
	if len(m.Reactions) != 1 || m.Reactions[0].Emoji != "👍" || m.Reactions[0].Count != 2 ||
		strings.Join(m.Reactions[0].UserRefs, ",") != strings.Join(itoa([]int{ana, bo}), ",") {
		t.Errorf("reactions %+v", m.Reactions)
	}
	d := pg.Edges[2].Comment
	if !d.Deleted || d.Text != "" || len(d.Attachments) != 0 || len(d.Mentions) != 0 {
		t.Errorf("deleted comment %+v", d)
	}
}

// TestUploadWindow: a file Ziik lists as not uploaded is UPLOADING until
// the upload window has passed since it was made, then FAILED (Ziik names no
// failed state); uploaded and processing files keep their states at any age.
func TestUploadWindow(t *testing.T) {
	e := newEnv(t, nil)
	c := e.conv(t, "Uploads", e.user(t, "Ana", "Lee"))
	now := e.clock.Now()
	for _, tc := range []struct {
		name string
		age  time.Duration
		file ziiktest.File
		want model.AttachmentState
	}{
		{"fresh placeholder", 5 * time.Minute, ziiktest.File{Uploading: true}, model.AttachmentStateUploading},
		{"placeholder at the window's end", time.Hour, ziiktest.File{Uploading: true}, model.AttachmentStateUploading},
		{"old placeholder", time.Hour + time.Minute, ziiktest.File{Uploading: true}, model.AttachmentStateFailed},
		{"old uploaded file", 48 * time.Hour, ziiktest.File{}, model.AttachmentStateReady},
		{"old processing file", 48 * time.Hour, ziiktest.File{Processing: true}, model.AttachmentStateProcessing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.file.Name, tc.file.Mime, tc.file.Size = "a.pdf", "application/pdf", 10
			id := e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: e.srv.BotID(), Text: tc.name,
				Date: now.Add(-tc.age), Files: []ziiktest.File{tc.file}})
			got, err := e.p.GetComment(context.Background(), convThread(c), strconv.Itoa(id))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Attachments) != 1 || got.Attachments[0].State != tc.want {
				t.Fatalf("attachments %+v, want one %s", got.Attachments, tc.want)
			}
		})
	}
}

func TestDataWrappedAnswers(t *testing.T) {
	c := clocktest.New(time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC))
	srv := ziiktest.NewServer(ziiktest.Options{WrapData: true, Now: c.Now})
	t.Cleanup(srv.Close)
	email, pass := srv.Credentials()
	p, err := ziik.New(ziik.Options{ID: providerID, BaseURL: srv.URL, Email: email, Password: pass, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	ana := srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee"})
	conv, err := srv.AddConversation(ziiktest.Conversation{Title: "Wrapped", Participants: []int{srv.BotID(), ana}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	th, err := p.Thread(ctx, model.ThreadKindConversation, strconv.Itoa(conv))
	if err != nil || deref(th.Title) != "Wrapped" {
		t.Fatalf("thread %+v %v", th, err)
	}
	created, err := p.CreateComment(ctx, providers.CommentInput{Thread: th, Text: "hi {0}", Mentions: []providers.MentionRef{{Index: 0, UserRef: strconv.Itoa(ana)}}})
	if err != nil || created.Text != "hi @Ana Lee" || len(created.Mentions) != 1 {
		t.Fatalf("created %+v %v", created, err)
	}
}
