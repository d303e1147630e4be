package virola

import (
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// TestUserCredentials builds one instance per user's Web API token, as the
// gateway does for "credentials: user": a comment posted with a user's token
// is read back as that user's (GET /status names the token's user), and a
// room the user is not a member of is FORBIDDEN for them, to read and to post.
func TestUserCredentials(t *testing.T) {
	s := virolatest.NewServer(virolatest.Options{})
	t.Cleanup(s.Close)
	ana := s.AddUser(virolatest.User{UserName: "ana", DisplayName: "Ana Lee"}).ID
	bo := s.AddUser(virolatest.User{UserName: "bo", DisplayName: "Bo Tan"}).ID
	s.AddToken("tok-ana", ana)
	s.AddToken("tok-bo", bo)
	anaOnly := s.AddRoom(virolatest.Room{Name: "ana only", Members: []int64{ana}}).ID
	shared := s.AddRoom(virolatest.Room{Name: "shared", Members: []int64{ana, bo}}).ID
	parents := map[int64]int64{}
	for _, room := range []int64{anaOnly, shared} {
		id, err := s.AddMessage(virolatest.Message{RoomID: room, UserID: ana, Text: "parent"})
		if err != nil {
			t.Fatal(err)
		}
		parents[room] = id
	}

	for _, tc := range []struct {
		name, token string
		user, room  int64
		wantCode    model.Code
	}{
		{"Ana in her room", "tok-ana", ana, anaOnly, ""},
		{"Ana in the shared room", "tok-ana", ana, shared, ""},
		{"Bo in the shared room", "tok-bo", bo, shared, ""},
		{"Bo in Ana's room", "tok-bo", bo, anaOnly, model.CodeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := providers.Build(providers.Config{ID: "vir", Kind: "virola", BaseURL: s.URL, Token: tc.token}, providers.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			thread := &model.Thread{ProviderID: "vir", Kind: model.ThreadKindMessage, Ref: ref(parents[tc.room])}
			c, err := inst.Provider.CreateComment(ctx, providers.CommentInput{Thread: thread, Text: "hi from " + tc.name})
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode)
				_, err = inst.Provider.ListComments(ctx, thread, providers.Page{Last: 1})
				wantCode(t, err, tc.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.SenderRef != ref(tc.user) {
				t.Errorf("created comment's sender %q, want %q", c.SenderRef, ref(tc.user))
			}
			pg, err := inst.Provider.ListComments(ctx, thread, providers.Page{Last: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Edges) != 1 || pg.Edges[0].Comment.SenderRef != ref(tc.user) {
				t.Errorf("listed %+v, want the comment by %d", pg.Edges, tc.user)
			}
		})
	}
}
