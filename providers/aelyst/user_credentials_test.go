package aelyst

import (
	"context"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
)

// TestUserCredentials builds one instance per user token, as the gateway does
// for "credentials: user". Aelyst has no call that tells whom a token belongs
// to, so the sender comes from the email given beside the token (Config.Email,
// looked up among the space users). Tokens are workspace-wide: each user
// comments on every contact; an unknown token is UNAUTHENTICATED.
func TestUserCredentials(t *testing.T) {
	srv := aelysttest.NewServer(aelysttest.Options{})
	t.Cleanup(srv.Close)
	for _, u := range []aelysttest.User{userAna, userZoe, userBot} {
		srv.AddUser(u)
	}
	for _, c := range []aelysttest.Contact{contactJane, contactMateo} {
		srv.AddContact(c)
	}
	srv.AddToken("tok-ana", userAna.ID)
	srv.AddToken("tok-zoe", userZoe.ID)

	for _, tc := range []struct {
		name, token, email string
		contact            int64
		wantSender         string
		wantCode           model.Code
	}{
		{"Ana on Jane", "tok-ana", userAna.Email, contactJane.ID, "101", ""},
		{"Zoë on Jane", "tok-zoe", userZoe.Email, contactJane.ID, "107", ""},
		{"Zoë on Mateo", "tok-zoe", userZoe.Email, contactMateo.ID, "107", ""},
		{"no email: no sender", "tok-ana", "", contactMateo.ID, "", ""},
		{"an unknown token", "tok-nobody", userAna.Email, contactJane.ID, "", model.CodeUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := providers.Build(providers.Config{ID: "aelyst1", Kind: "aelyst", BaseURL: srv.URL, Token: tc.token, Email: tc.email}, providers.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			thread := contactThread(contactIdentifier(tc.contact))
			text := "note from " + tc.name
			c, err := inst.Provider.CreateComment(ctx, providers.CommentInput{Thread: thread, Text: text})
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.SenderRef != tc.wantSender {
				t.Errorf("created comment's sender %q, want %q", c.SenderRef, tc.wantSender)
			}
			stored := srv.Comments(tc.contact)
			if last := stored[len(stored)-1]; last.Text != text || last.AuthorID != map[string]int64{"tok-ana": userAna.ID, "tok-zoe": userZoe.ID}[tc.token] {
				t.Errorf("upstream stored %+v, want %q by the token's user", last, text)
			}
			pg, err := inst.Provider.ListComments(ctx, thread, providers.Page{Last: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Edges) != 1 || pg.Edges[0].Comment.SenderRef != tc.wantSender {
				t.Errorf("listed %+v, want the comment by %q", pg.Edges, tc.wantSender)
			}
		})
	}
}
