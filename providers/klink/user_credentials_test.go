package klink

import (
	"context"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// TestUserCredentials builds one instance per user token, as the gateway does
// for "credentials: user": a comment posted with a user's token comes back
// with that user as sender. K-LINK tokens are tenant-scoped and rooms have no
// members, so both users read both rooms; an unknown token is UNAUTHENTICATED.
func TestUserCredentials(t *testing.T) {
	const (
		ana = "6f1c0000-0000-4000-8000-0000000000a1"
		bo  = "9b2e0000-0000-4000-8000-0000000000c4"
	)
	emu := klinktest.NewServer(klinktest.Options{Now: newClock().Now})
	t.Cleanup(emu.Close)
	emu.AddUser(ana, "Ana Lee")
	emu.AddUser(bo, "Bo Tan")
	emu.AddToken("kpt_ana", ana)
	emu.AddToken("kpt_bo", bo)
	emu.AddRoom("r1", "Acme")
	emu.AddRoom("r2", "Globex")

	for _, tc := range []struct {
		name, token, room, wantSender string
		wantCode                      model.Code
	}{
		{"Ana posts in r1", "kpt_ana", "r1", ana, ""},
		{"Bo posts in r1", "kpt_bo", "r1", bo, ""},
		{"Bo posts in r2", "kpt_bo", "r2", bo, ""},
		{"an unknown token", "kpt_nobody", "r1", "", model.CodeUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := providers.Build(providers.Config{ID: "kl", Kind: "klink", BaseURL: emu.URL, Token: tc.token},
				providers.Deps{Directory: &providers.MemoryDirectory{}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			thread := &model.Thread{ProviderID: "kl", Kind: model.ThreadKindRoom, Ref: tc.room, RoomRef: tc.room}
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
			if c.SenderRef != tc.wantSender {
				t.Errorf("created comment's sender %q, want %q", c.SenderRef, tc.wantSender)
			}
			pg, err := inst.Provider.ListComments(ctx, thread, providers.Page{Last: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Edges) != 1 || pg.Edges[0].Comment.SenderRef != tc.wantSender {
				t.Errorf("listed %+v, want the comment by %s", pg.Edges, tc.wantSender)
			}
		})
	}
}
