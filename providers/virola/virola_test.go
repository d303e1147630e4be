package virola

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// env is an emulator with the cast as users and a room with one parent
// message, and an adapter pointed at it.
type env struct {
	s      *virolatest.Server
	p      *Provider
	users  map[string]int64 // display name → userId
	room   int64
	parent int64
	thread *model.Thread
}

func newEnv(t *testing.T, eo virolatest.Options, po Options) *env {
	t.Helper()
	s := virolatest.NewServer(eo)
	t.Cleanup(s.Close)
	e := &env{s: s, users: map[string]int64{}}
	for _, n := range virolatest.Cast {
		e.users[n] = s.AddUser(virolatest.User{DisplayName: n}).ID
	}
	// A user whose name is a prefix of another's, to prove longest match first.
	e.users["Ana"] = s.AddUser(virolatest.User{DisplayName: "Ana"}).ID
	e.room = s.AddRoom(virolatest.Room{Name: "General"}).ID
	var err error
	e.parent, err = s.AddMessage(virolatest.Message{RoomID: e.room, UserID: e.users["Ana Lee"], Text: "Release plan\nsecond line"})
	if err != nil {
		t.Fatal(err)
	}
	po.ID = "vir"
	po.BaseURL = s.URL
	if po.Token == "" {
		po.Token = s.Token()
	}
	setDefault(&po.ReadBackWait, time.Millisecond)
	setDefault(&po.ReconnectMin, 5*time.Millisecond)
	setDefault(&po.ReconnectMax, 20*time.Millisecond)
	e.p, err = New(po)
	if err != nil {
		t.Fatal(err)
	}
	e.thread = &model.Thread{ProviderID: "vir", Kind: model.ThreadKindMessage, Ref: ref(e.parent)}
	return e
}

func (e *env) comment(t *testing.T, parent int64, m virolatest.Message) int64 {
	t.Helper()
	id, err := e.s.AddComment(parent, m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code model.Code) {
	t.Helper()
	var me *model.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *model.Error with %s", err, err, code)
	}
	if me.Code != code || me.Provider != "vir" {
		t.Fatalf("error %v: code %s provider %q, want %s vir", err, me.Code, me.Provider, code)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no id", Options{BaseURL: "http://x", Token: "t"}},
		{"no token", Options{ID: "v", BaseURL: "http://x"}},
		{"bad url", Options{ID: "v", BaseURL: "ftp://x", Token: "t"}},
		{"relative url", Options{ID: "v", BaseURL: "/api", Token: "t"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	p, err := New(Options{ID: "v", BaseURL: "https://virola.example.com/", Token: "secret-token"})
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info()
	if info.Kind != model.ProviderKindVirola || info.Name != "Virola" || info.MaxBatch != 0 {
		t.Fatalf("info %+v", info)
	}
	for _, c := range []model.Capability{model.CapabilityListComments, model.CapabilityCreateComment, model.CapabilityMentions,
		model.CapabilityAttachments, model.CapabilityReadReceipts, model.CapabilityUserDirectory, model.CapabilityListThreads, model.CapabilityPushEvents} {
		if !info.Has(c) {
			t.Errorf("lacks %s", c)
		}
	}
	if info.Has(model.CapabilityReplies) || info.Has(model.CapabilityReactions) {
		t.Error("claims replies or reactions")
	}
}

func TestThread(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	tests := []struct {
		name string
		kind model.ThreadKind
		ref  string
		code model.Code
	}{
		{"room kind", model.ThreadKindRoom, ref(e.parent), model.CodeUnsupported},
		{"letters", model.ThreadKindMessage, "abc", model.CodeBadUserInput},
		{"negative", model.ThreadKindMessage, "-4", model.CodeBadUserInput},
		{"zero", model.ThreadKindMessage, "0", model.CodeBadUserInput},
		{"empty", model.ThreadKindMessage, "", model.CodeBadUserInput},
		{"huge", model.ThreadKindMessage, "99999999999999999999", model.CodeBadUserInput},
		{"unknown", model.ThreadKindMessage, "777", model.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.s.ResetCalls()
			_, err := e.p.Thread(ctxT(t), tc.kind, tc.ref)
			wantCode(t, err, tc.code)
			if tc.code != model.CodeNotFound && e.s.TotalCalls() != 0 {
				t.Fatalf("a refused ref cost %d calls", e.s.TotalCalls())
			}
		})
	}
	th, err := e.p.Thread(ctxT(t), model.ThreadKindMessage, ref(e.parent))
	if err != nil {
		t.Fatal(err)
	}
	if th.RoomRef != ref(e.room) || th.ProviderID != "vir" || th.ID() != e.thread.ID() {
		t.Fatalf("thread %+v", th)
	}
}

func TestListCommentsPagesBothWays(t *testing.T) {
	for _, inclusive := range []bool{false, true} {
		t.Run(map[bool]string{false: "exclusive cursor", true: "inclusive cursor"}[inclusive], func(t *testing.T) {
			e := newEnv(t, virolatest.Options{InclusiveCursor: inclusive}, Options{})
			var ids []string
			for i := range 7 {
				ids = append(ids, ref(e.comment(t, e.parent, virolatest.Message{UserID: e.users["Bo Tan"], Text: "comment " + string(rune('A'+i))})))
			}
			// Noise in another thread must not leak in.
			other, _ := e.s.AddMessage(virolatest.Message{RoomID: e.room, Text: "other"})
			e.comment(t, other, virolatest.Message{Text: "elsewhere"})

			type step struct {
				ids              []string
				hasNext, hasPrev bool
			}
			walk := func(page func(cursor string) providers.Page, cursorOf func(*providers.CommentPage) string) []step {
				var steps []step
				cursor := ""
				for range 10 {
					pg, err := e.p.ListComments(ctxT(t), e.thread, page(cursor))
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, edge := range pg.Edges {
						if edge.Cursor != edge.Comment.Ref || edge.Comment.ThreadRef != ref(e.parent) {
							t.Fatalf("edge %+v", edge)
						}
						got = append(got, edge.Comment.Ref)
					}
					steps = append(steps, step{got, pg.HasNextPage, pg.HasPreviousPage})
					if cursor = cursorOf(pg); cursor == "" {
						break
					}
				}
				return steps
			}
			forward := walk(func(c string) providers.Page { return providers.Page{First: 3, After: c} },
				func(pg *providers.CommentPage) string {
					if !pg.HasNextPage {
						return ""
					}
					return pg.Edges[len(pg.Edges)-1].Cursor
				})
			wantFwd := []step{{ids[0:3], true, false}, {ids[3:6], true, true}, {ids[6:7], false, true}}
			if !reflect.DeepEqual(forward, wantFwd) {
				t.Fatalf("forward %v, want %v", forward, wantFwd)
			}
			backward := walk(func(c string) providers.Page { return providers.Page{Last: 3, Before: c} },
				func(pg *providers.CommentPage) string {
					if !pg.HasPreviousPage {
						return ""
					}
					return pg.Edges[0].Cursor
				})
			wantBack := []step{{ids[4:7], false, true}, {ids[1:4], true, true}, {ids[0:1], true, false}}
			if !reflect.DeepEqual(backward, wantBack) {
				t.Fatalf("backward %v, want %v", backward, wantBack)
			}
		})
	}
}

func TestListCommentsRefusesGarbageCursors(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	for _, c := range []string{"garbage", "-5", "1e3", "0", "99999999999999999999", "12 ", "💥"} {
		t.Run(c, func(t *testing.T) {
			_, err := e.p.ListComments(ctxT(t), e.thread, providers.Page{First: 2, After: c})
			wantCode(t, err, model.CodeBadUserInput)
			_, err = e.p.ListComments(ctxT(t), e.thread, providers.Page{Last: 2, Before: c})
			wantCode(t, err, model.CodeBadUserInput)
		})
	}
	_, err := e.p.ListComments(ctxT(t), e.thread, providers.Page{})
	wantCode(t, err, model.CodeBadUserInput)
}

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
		"fa.bin": model.AttachmentStateProcessing, "fb.bin": model.AttachmentStateProcessing, "fc.bin": model.AttachmentStateFailed,
		"fd.bin": model.AttachmentStateProcessing, "fe.bin": model.AttachmentStateFailed, "ff.bin": model.AttachmentStateProcessing,
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
