package gateway

import (
	"encoding/json"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// The README's walk-through step 6 (edit, then delete), with its documents
// as printed, against the Ziik emulator's demo data: the commentEvents
// subscriber sees ADDED, UPDATED, then DELETED.
func TestWalkthroughEditAndDelete(t *testing.T) {
	z := ziiktest.NewServer(ziiktest.Options{})
	t.Cleanup(z.Close)
	z.SeedDemo()
	g := MustStartGateway(t, newTestConfig(t, ziikProvider(z)))
	evs := subscribeEvents(t, g, "graphql-transport-ws", nil)

	var first struct {
		Thread struct {
			ID       string
			Comments struct {
				Nodes []struct{ Sender struct{ ID string } }
			}
		}
	}
	resp := g.query(`{ thread(provider: "ziik", kind: CONVERSATION, ref: "57") { id comments(first: 1) { nodes { sender { id } } } } }`, nil)
	resp.mustNoErrors(t)
	resp.decode(t, &first)
	ana := first.Thread.Comments.Nodes[0].Sender.ID
	resp = g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`,
		map[string]any{"in": map[string]any{"thread": first.Thread.ID, "text": "Thanks {0} — merci 🙏", "mentions": []map[string]any{{"index": 0, "user": ana}}}})
	resp.mustNoErrors(t)
	var created struct {
		CreateComment struct{ Comment struct{ ID string } } `json:"createComment"`
	}
	resp.decode(t, &created)
	id := created.CreateComment.Comment.ID
	if ev := next(t, evs); ev.Type != "ADDED" || ev.CommentID != id {
		t.Fatalf("got %+v", ev)
	}

	const doc = `mutation Fix($comment: ID!, $ana: ID!) {
  updateComment(input: {
    comment: $comment
    text: "Thanks {0} — fixed 🙏"
    mentions: [{ index: 0, user: $ana }]
    clientMutationId: "walkthrough-2"
  }) {
    comment { text editedAt mentions { offset length user { name } } }
  }
}

mutation Remove($comment: ID!) {
  deleteComment(input: { comment: $comment }) { deletedCommentId }
}`
	run := func(op string, vars map[string]any) gqlResponse {
		body, _ := json.Marshal(map[string]any{"query": doc, "operationName": op, "variables": vars})
		r := g.post(body, nil)
		r.mustNoErrors(t)
		return r
	}
	var fixed struct {
		UpdateComment struct {
			Comment struct {
				Text     string
				EditedAt *string `json:"editedAt"`
				Mentions []struct {
					Offset, Length int
					User           struct{ Name string }
				}
			}
		} `json:"updateComment"`
	}
	run("Fix", map[string]any{"comment": id, "ana": ana}).decode(t, &fixed)
	c := fixed.UpdateComment.Comment
	if c.EditedAt == nil || len(c.Mentions) != 1 || spanText(c.Text, c.Mentions[0].Offset, c.Mentions[0].Length) != "@"+c.Mentions[0].User.Name {
		t.Fatalf("updateComment answered %+v", c)
	}
	if ev := next(t, evs); ev.Type != "UPDATED" || ev.CommentID != id || ev.Comment.Text != c.Text {
		t.Fatalf("got %+v", ev)
	}
	var removed struct {
		DeleteComment struct {
			DeletedCommentID string `json:"deletedCommentId"`
		} `json:"deleteComment"`
	}
	run("Remove", map[string]any{"comment": id}).decode(t, &removed)
	if removed.DeleteComment.DeletedCommentID != id {
		t.Fatalf("deleteComment answered %+v", removed)
	}
	gid, _ := model.DecodeID(id)
	if ev := next(t, evs); ev.Type != "DELETED" || ev.CommentID != id || ev.Comment != nil || ev.ThreadID != first.Thread.ID || gid.Provider != "ziik" {
		t.Fatalf("got %+v", ev)
	}
}
