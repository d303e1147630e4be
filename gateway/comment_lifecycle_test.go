package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// commentEvent is one commentEvents delivery as a client sees it.
type commentEvent struct {
	EventID   string
	Type      string
	CommentID string
	ThreadID  string
	// Comment is nil for DELETED.
	Comment *commentJSON
}

func (e commentEvent) String() string {
	text := "<null>"
	if e.Comment != nil {
		text = fmt.Sprintf("%q", e.Comment.Text)
	}
	return e.Type + " " + text
}

const commentEventsQuery = `subscription($threads: [ID!], $providers: [ID!], $since: String) {
  commentEvents(threads: $threads, providers: $providers, since: $since) {
    type commentId thread { id } comment { ` + commentFields + ` }
  }
}`

func decodeCommentEvent(t *testing.T, payload []byte) commentEvent {
	t.Helper()
	var p struct {
		Data *struct {
			CommentEvents struct {
				Type      string
				CommentID string `json:"commentId"`
				Thread    struct{ ID string }
				Comment   *commentJSON
			} `json:"commentEvents"`
		} `json:"data"`
		Errors     []gqlError `json:"errors"`
		Extensions struct {
			EventID string `json:"eventId"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.Data == nil || len(p.Errors) > 0 {
		t.Errorf("commentEvents delivered %s (%v)", payload, err)
		return commentEvent{}
	}
	ce := p.Data.CommentEvents
	return commentEvent{EventID: p.Extensions.EventID, Type: ce.Type, CommentID: ce.CommentID, ThreadID: ce.Thread.ID, Comment: ce.Comment}
}

// subscribeEvents opens commentEvents with vars over transport
// ("graphql-transport-ws", legacy "graphql-ws" or "sse") and returns its
// deliveries.
func subscribeEvents(t *testing.T, g *gateway, transport string, vars map[string]any) <-chan commentEvent {
	t.Helper()
	return openEvents(t, g, transport, vars, "")
}

// openEvents is subscribeEvents; over SSE, lastEventID (when set) is sent as
// Last-Event-ID.
func openEvents(t *testing.T, g *gateway, transport string, vars map[string]any, lastEventID string) <-chan commentEvent {
	t.Helper()
	before := subscriberCount(g)
	out := make(chan commentEvent, 100)
	body, _ := json.Marshal(map[string]any{"query": commentEventsQuery, "variables": vars})
	switch transport {
	case "graphql-transport-ws", "graphql-ws":
		c, nextType := wsSubscribe(t, g, transport, "e", body)
		go func() {
			defer close(out)
			for {
				var m wsMsg
				if err := c.ReadJSON(&m); err != nil {
					return
				}
				switch m.Type {
				case nextType:
					out <- decodeCommentEvent(t, m.Payload)
				case "error":
					t.Errorf("subscription refused: %s", m.Payload)
					return
				}
			}
		}()
	case "sse":
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		h := http.Header{"Accept": {"text/event-stream"}}
		if lastEventID != "" {
			h.Set("Last-Event-ID", lastEventID)
		}
		resp := g.request(ctx, http.MethodPost, "", string(body), h)
		t.Cleanup(func() { resp.Body.Close() })
		evs := readEvents(resp.Body)
		go func() {
			defer close(out)
			for ev := range evs {
				if ev.Event != "next" {
					continue
				}
				ce := decodeCommentEvent(t, []byte(ev.Data))
				if ce.EventID != ev.ID {
					t.Errorf("SSE id %q, extensions.eventId %q", ev.ID, ce.EventID)
				}
				out <- ce
			}
		}()
	default:
		t.Fatalf("no transport %q", transport)
	}
	waitSubscribers(t, g, before+1)
	return out
}

// A provider without an operation's interface answers UNSUPPORTED, naming
// itself, and its upstream is not called at all (K-LINK and Aelyst implement
// none of edit, delete and mark read).
func TestLifecycleUnsupportedMakesNoUpstreamCall(t *testing.T) {
	k := klinkWorld(t, 0)
	ae := aelysttest.NewServer(aelysttest.Options{})
	t.Cleanup(ae.Close)
	kp := klinkProvider(k)
	kp.Threads = nil // no poller: every call the emulator counts is the mutation's
	g := MustStartGateway(t, newTestConfig(t, kp,
		config.Provider{ID: "aelyst", Kind: "aelyst", BaseURL: ae.URL, Token: aelysttest.DefaultToken, WebhookSecret: "whsec-aelyst"}))
	type upstream interface {
		ResetCalls()
		TotalCalls() int
	}
	comments := map[string]struct {
		id   string
		stub upstream
	}{
		"klink":  {model.CommentID("klink", model.ThreadKindRoom, roomA, "m1"), k},
		"aelyst": {model.CommentID("aelyst", model.ThreadKindContact, "id:1817", "7"), ae},
	}
	ops := []struct {
		name, query string
		vars        func(id string) map[string]any
	}{
		{"updateComment", `mutation($in: UpdateCommentInput!) { updateComment(input: $in) { comment { id } } }`,
			func(id string) map[string]any {
				return map[string]any{"in": map[string]any{"comment": id, "text": "fixed", "clientMutationId": "u1"}}
			}},
		{"deleteComment", `mutation($in: DeleteCommentInput!) { deleteComment(input: $in) { deletedCommentId } }`,
			func(id string) map[string]any { return map[string]any{"in": map[string]any{"comment": id}} }},
		{"markRead", `mutation($in: MarkReadInput!) { markRead(input: $in) { comments { id } } }`,
			func(id string) map[string]any { return map[string]any{"in": map[string]any{"comments": []string{id}}} }},
	}
	for provider, c := range comments {
		for _, op := range ops {
			t.Run(provider+"/"+op.name, func(t *testing.T) {
				c.stub.ResetCalls()
				resp := g.query(op.query, op.vars(c.id))
				if len(resp.Errors) != 1 || resp.codes()[0] != "UNSUPPORTED" || resp.Errors[0].Extensions["provider"] != provider {
					t.Fatalf("got %+v, want one UNSUPPORTED naming %s", resp.Errors, provider)
				}
				if n := c.stub.TotalCalls(); n != 0 {
					t.Fatalf("%d upstream calls, want none", n)
				}
			})
		}
	}
	// markRead checks every provider before calling any: a K-LINK comment
	// among Virola-like ones would refuse the lot. Here both refuse.
	k.ResetCalls()
	resp := g.query(`mutation($in: MarkReadInput!) { markRead(input: $in) { comments { id } } }`,
		map[string]any{"in": map[string]any{"comments": []string{comments["klink"].id, comments["aelyst"].id}}})
	if resp.codes()[0] != "UNSUPPORTED" || k.TotalCalls()+ae.TotalCalls() != 0 {
		t.Fatalf("mixed markRead: %+v, %d calls", resp.Errors, k.TotalCalls()+ae.TotalCalls())
	}
}

func TestQueryProviderByID(t *testing.T) {
	k := klinkWorld(t, 0)
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	tests := []struct{ id, want string }{
		{"klink", `{"provider":{"id":"klink","kind":"KLINK","capabilities":["LIST_COMMENTS"`},
		{"nope", `{"provider":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			resp := g.query(`query($id: ID!) { provider(id: $id) { id kind capabilities } }`, map[string]any{"id": tt.id})
			resp.mustNoErrors(t)
			if !strings.HasPrefix(string(resp.Data), tt.want) {
				t.Fatalf("got %s, want %s…", resp.Data, tt.want)
			}
		})
	}
}

// Virola's event stream tells of a comment edited (TextMessagesUpdated) and
// deleted (TextMessageDeleted): commentEvents receives UPDATED and DELETED,
// over both WebSocket protocols and SSE, while commentAdded receives only new
// comments.
func TestCommentEventsFromTheVirolaStream(t *testing.T) {
	for _, transport := range []string{"graphql-transport-ws", "graphql-ws", "sse"} {
		t.Run(transport, func(t *testing.T) {
			v, _, parent := virolaWorld(t)
			g := MustStartGateway(t, newTestConfig(t, config.Provider{ID: "virola", Kind: "virola", BaseURL: v.URL, Token: virolatest.DefaultToken}))
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			if err := v.WaitStreams(ctx, 1); err != nil {
				t.Fatalf("the gateway never followed the Virola stream: %v", err)
			}
			thread := model.ThreadID("virola", model.ThreadKindMessage, fmt.Sprint(parent))
			evs := subscribeEvents(t, g, transport, map[string]any{"providers": []string{"virola"}})
			added := subscribeWS(t, g, "")

			target := v.Comments(parent)[0].ID
			targetID := model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(parent), fmt.Sprint(target))
			if err := v.EditMessage(target, "c0, edited"); err != nil {
				t.Fatal(err)
			}
			ev := next(t, evs)
			if ev.Type != "UPDATED" || ev.CommentID != targetID || ev.ThreadID != thread || ev.Comment == nil || ev.Comment.Text != "c0, edited" || ev.EventID == "" {
				t.Fatalf("after an edit: %+v", ev)
			}
			if err := v.DeleteMessage(target); err != nil {
				t.Fatal(err)
			}
			ev = next(t, evs)
			if ev.Type != "DELETED" || ev.CommentID != targetID || ev.ThreadID != thread || ev.Comment != nil {
				t.Fatalf("after a delete: %+v", ev)
			}
			newID, err := v.AddComment(parent, virolatest.Message{UserID: 3, Text: "fresh"})
			if err != nil {
				t.Fatal(err)
			}
			// The parent's commentCount changes too (TextMessagesUpdated for a
			// room message): that is a thread, not a comment, and no event.
			ev = next(t, evs)
			if ev.Type != "ADDED" || ev.Comment == nil || ev.Comment.Text != "fresh" || ev.CommentID != model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(parent), fmt.Sprint(newID)) {
				t.Fatalf("after a new comment: %+v", ev)
			}
			if a := next(t, added); a.Text != "fresh" {
				t.Fatalf("commentAdded's first delivery is %+v, want only the new comment", a)
			}
		})
	}
}

// lifecycleWorld is a gateway over Virola and Ziik, both of which delete, with
// a commentEvents subscriber.
type lifecycleWorld struct {
	g      *gateway
	virola *virolatest.Server
	parent int64
	ziik   *ziiktest.Server
	conv   int
	// ziikMsgs are two messages of conv by the gateway's own user.
	ziikMsgs []int
	events   <-chan commentEvent // g's commentEvents subscriber
	config   func() *config.Config
}

func newLifecycleWorld(t *testing.T, redisURL string) *lifecycleWorld {
	t.Helper()
	w := &lifecycleWorld{}
	w.virola, _, w.parent = virolaWorld(t)
	w.ziik, w.conv = ziikWorld(t)
	for _, text := range []string{"Thanks Ana — fxied", "to be deleted"} {
		id, err := w.ziik.AddMessage(ziiktest.Message{ConversationID: w.conv, AuthorID: w.ziik.BotID(), Text: text})
		if err != nil {
			t.Fatal(err)
		}
		w.ziikMsgs = append(w.ziikMsgs, id)
	}
	w.config = func() *config.Config {
		cfg := newTestConfig(t, config.Provider{ID: "virola", Kind: "virola", BaseURL: w.virola.URL, Token: virolatest.DefaultToken}, ziikProvider(w.ziik))
		cfg.Redis.URL = redisURL
		return cfg
	}
	w.g = MustStartGateway(t, w.config())
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := w.virola.WaitStreams(ctx, 1); err != nil {
		t.Fatalf("the gateway never followed the Virola stream: %v", err)
	}
	w.events = subscribeEvents(t, w.g, "graphql-transport-ws", nil)
	return w
}

// ziikComment is the global ID of ziikMsgs[n].
func (w *lifecycleWorld) ziikComment(n int) string {
	return model.CommentID("ziik", model.ThreadKindConversation, fmt.Sprint(w.conv), fmt.Sprint(w.ziikMsgs[n]))
}

// fenceZiik creates a Ziik comment through the gateway and checks it is the
// next event: nothing else (a duplicate) was queued ahead of it.
func (w *lifecycleWorld) fenceZiik(t *testing.T, text string) {
	t.Helper()
	w.fenceZiikOn(t, w.g, text)
}

func (w *lifecycleWorld) fenceZiikOn(t *testing.T, g *gateway, text string) {
	t.Helper()
	resp := g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`,
		map[string]any{"in": map[string]any{"thread": model.ThreadID("ziik", model.ThreadKindConversation, fmt.Sprint(w.conv)), "text": text}})
	resp.mustNoErrors(t)
	if ev := next(t, w.events); ev.Type != "ADDED" || ev.Comment == nil || ev.Comment.Text != text {
		t.Fatalf("next event is %v, want only the fence %q", ev, text)
	}
}

// Deleting through Virola and through Ziik answers the deleted id and
// publishes one DELETED (comment null), whatever echoes the provider sends.
func TestDeleteCommentPublishesDeleted(t *testing.T) {
	w := newLifecycleWorld(t, "")
	// Virola lets only the author delete.
	virolaTarget, err := w.virola.AddComment(w.parent, virolatest.Message{UserID: w.virola.BotID(), Text: "to be deleted"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w.events); ev.Type != "ADDED" || ev.Comment.Text != "to be deleted" {
		t.Fatalf("got %v", ev)
	}
	tests := []struct {
		provider string
		id       string
		gone     func() bool
	}{
		{"virola", model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(w.parent), fmt.Sprint(virolaTarget)), func() bool {
			for _, c := range w.virola.Comments(w.parent) {
				if c.ID == virolaTarget {
					return false
				}
			}
			return true
		}},
		{"ziik", w.ziikComment(1), func() bool {
			m, _ := w.ziik.Message(w.ziikMsgs[1])
			return m.Deleted
		}},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			resp := w.g.query(`mutation($in: DeleteCommentInput!) { deleteComment(input: $in) { deletedCommentId clientMutationId } }`,
				map[string]any{"in": map[string]any{"comment": tt.id, "clientMutationId": "del-" + tt.provider}})
			resp.mustNoErrors(t)
			var out struct {
				DeleteComment struct {
					DeletedCommentID string `json:"deletedCommentId"`
					ClientMutationID string `json:"clientMutationId"`
				} `json:"deleteComment"`
			}
			resp.decode(t, &out)
			if out.DeleteComment.DeletedCommentID != tt.id || out.DeleteComment.ClientMutationID != "del-"+tt.provider || !tt.gone() {
				t.Fatalf("deleteComment answered %+v; gone upstream: %v", out.DeleteComment, tt.gone())
			}
			gid, _ := model.DecodeID(tt.id)
			ev := next(t, w.events)
			if ev.Type != "DELETED" || ev.CommentID != tt.id || ev.Comment != nil || ev.ThreadID != model.ThreadID(gid.Provider, model.ThreadKind(gid.Ref[0]), gid.Ref[1]) {
				t.Fatalf("got %+v, want DELETED of %s", ev, tt.id)
			}
			if tt.provider == "virola" {
				// The stream's TextMessageDeleted for the same comment is the
				// same event: a comment the emulator adds after it is next.
				if _, err := w.virola.AddComment(w.parent, virolatest.Message{UserID: 3, Text: "after the delete"}); err != nil {
					t.Fatal(err)
				}
				if ev := next(t, w.events); ev.Type != "ADDED" || ev.Comment.Text != "after the delete" {
					t.Fatalf("after the delete came %v", ev)
				}
			} else {
				w.fenceZiik(t, "after the delete")
			}
			// The same clientMutationId again answers the same, and deletes
			// nothing more upstream.
			w.virola.ResetCalls()
			w.ziik.ResetCalls()
			replay := w.g.query(`mutation($in: DeleteCommentInput!) { deleteComment(input: $in) { deletedCommentId clientMutationId } }`,
				map[string]any{"in": map[string]any{"comment": tt.id, "clientMutationId": "del-" + tt.provider}})
			replay.mustNoErrors(t)
			deletes := w.virola.Calls("DELETE /api/v1/messages/{messageId}") + w.ziik.Calls("DELETE /conversations/{conversation}/messages/{message}")
			if string(replay.Data) != string(resp.Data) || deletes != 0 {
				t.Fatalf("replayed delete answered %s after %s, with %d upstream deletes", replay.Data, resp.Data, deletes)
			}
			// Deleting it again without one is NOT_FOUND and publishes nothing.
			again := w.g.query(`mutation($in: DeleteCommentInput!) { deleteComment(input: $in) { deletedCommentId } }`,
				map[string]any{"in": map[string]any{"comment": tt.id}})
			if c := again.codes(); len(c) != 1 || c[0] != "NOT_FOUND" {
				t.Fatalf("second delete: %+v", again.Errors)
			}
		})
	}
}

// An edit through Ziik with a mention answers the text as the provider now
// holds it, with the mention's span, publishes one UPDATED, and the same
// clientMutationId twice edits once.
func TestUpdateCommentThroughZiik(t *testing.T) {
	w := newLifecycleWorld(t, "")
	target := w.ziikComment(0)
	ana := model.UserID("ziik", fmt.Sprint(w.ziik.BotID()+1)) // ziikWorld's first user
	update := func() gqlResponse {
		return w.g.query(`mutation($in: UpdateCommentInput!) { updateComment(input: $in) { comment { `+commentFields+` editedAt } clientMutationId } }`,
			map[string]any{"in": map[string]any{"comment": target, "text": "Thanks {0} — fixed 🙏", "mentions": []map[string]any{{"index": 0, "user": ana}}, "clientMutationId": "edit-1"}})
	}
	w.ziik.ResetCalls()
	resp := update()
	resp.mustNoErrors(t)
	var out struct {
		UpdateComment struct {
			Comment struct {
				commentJSON
				EditedAt *string `json:"editedAt"`
			}
			ClientMutationID string `json:"clientMutationId"`
		} `json:"updateComment"`
	}
	resp.decode(t, &out)
	c := out.UpdateComment.Comment
	if c.ID != target || c.Text != "Thanks @Ana Test — fixed 🙏" || c.EditedAt == nil || out.UpdateComment.ClientMutationID != "edit-1" {
		t.Fatalf("updateComment answered %+v", out.UpdateComment)
	}
	if len(c.Mentions) != 1 || spanText(c.Text, c.Mentions[0].Offset, c.Mentions[0].Length) != "@Ana Test" || c.Mentions[0].User.ID != ana {
		t.Fatalf("mentions %+v of %q", c.Mentions, c.Text)
	}
	ev := next(t, w.events)
	if ev.Type != "UPDATED" || ev.CommentID != target || ev.Comment == nil || ev.Comment.Text != c.Text {
		t.Fatalf("got %+v, want UPDATED with the new text", ev)
	}

	again := update()
	again.mustNoErrors(t)
	if string(again.Data) != string(resp.Data) {
		t.Fatalf("the same clientMutationId answered\n%s\nthen\n%s", resp.Data, again.Data)
	}
	const patch = "PATCH /conversations/{conversation}/messages/{message}"
	if n := w.ziik.Calls(patch); n != 1 {
		t.Fatalf("%d upstream updates for one clientMutationId sent twice", n)
	}
	w.fenceZiik(t, "after the edit")

	// A mention of another provider's user is refused before any call.
	w.ziik.ResetCalls()
	bad := w.g.query(`mutation($in: UpdateCommentInput!) { updateComment(input: $in) { comment { id } } }`,
		map[string]any{"in": map[string]any{"comment": target, "text": "{0}", "mentions": []map[string]any{{"index": 0, "user": model.UserID("virola", "3")}}}})
	if c := bad.codes(); len(c) != 1 || c[0] != "BAD_USER_INPUT" || w.ziik.TotalCalls() != 0 {
		t.Fatalf("cross-provider mention: %+v, %d calls", bad.Errors, w.ziik.TotalCalls())
	}
}

// markRead through Virola, comments of two threads in one call: each comes
// back, in the order asked, read by the gateway's user.
func TestMarkReadThroughVirola(t *testing.T) {
	w := newLifecycleWorld(t, "")
	room := w.virola.AddRoom(virolatest.Room{Name: "Second"})
	other, err := w.virola.AddMessage(virolatest.Message{RoomID: room.ID, UserID: 3, Text: "Other plan"})
	if err != nil {
		t.Fatal(err)
	}
	otherComment, err := w.virola.AddComment(other, virolatest.Message{UserID: 3, Text: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	cs := w.virola.Comments(w.parent)
	ids := []string{
		model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(w.parent), fmt.Sprint(cs[2].ID)),
		model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(other), fmt.Sprint(otherComment)),
		model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(w.parent), fmt.Sprint(cs[0].ID)),
	}
	resp := w.g.query(`mutation($in: MarkReadInput!) { markRead(input: $in) { comments { id text readBy { user { id } readAt } } } }`,
		map[string]any{"in": map[string]any{"comments": ids}})
	resp.mustNoErrors(t)
	var out struct {
		MarkRead struct {
			Comments []struct {
				ID     string
				Text   string
				ReadBy []struct {
					User   struct{ ID string }
					ReadAt string `json:"readAt"`
				} `json:"readBy"`
			}
		} `json:"markRead"`
	}
	resp.decode(t, &out)
	bot := model.UserID("virola", fmt.Sprint(w.virola.BotID()))
	if len(out.MarkRead.Comments) != len(ids) {
		t.Fatalf("got %s", resp.Data)
	}
	for i, c := range out.MarkRead.Comments {
		read := false
		for _, r := range c.ReadBy {
			read = read || r.User.ID == bot && r.ReadAt != ""
		}
		if c.ID != ids[i] || !read {
			t.Fatalf("comment %d: %+v, want %s read by %s", i, c, ids[i], bot)
		}
	}
	if got := w.virola.ReadBy(otherComment); len(got) != 1 || got[0].UserID != w.virola.BotID() {
		t.Fatalf("upstream receipts: %+v", got)
	}

	// A thread that fails fails the mutation, naming its provider; the other
	// thread's comment is read all the same.
	fresh, err := w.virola.AddComment(other, virolatest.Message{UserID: 3, Text: "unread"})
	if err != nil {
		t.Fatal(err)
	}
	resp = w.g.query(`mutation($in: MarkReadInput!) { markRead(input: $in) { comments { id } } }`,
		map[string]any{"in": map[string]any{"comments": []string{
			model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(w.parent), "999999"),
			model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(other), fmt.Sprint(fresh)),
		}}})
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["provider"] != "virola" || string(resp.Data) != "null" {
		t.Fatalf("with one comment unknown: %s %+v", resp.Data, resp.Errors)
	}
	if got := w.virola.ReadBy(fresh); len(got) != 1 {
		t.Fatalf("the other thread's comment was not read: %+v", got)
	}
}

// An event written by an instance that predates event types (a stream entry
// with no type) reaches commentAdded, and commentEvents as ADDED.
func TestOlderInstancesEventReadsAsAdded(t *testing.T) {
	r := redistest.MustStart(t)
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Redis.URL = r.URL
	g := MustStartGateway(t, cfg)
	evs := subscribeEvents(t, g, "graphql-transport-ws", nil)
	added := subscribeWS(t, g, "")

	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()
	c := model.Comment{ProviderID: "klink", ThreadKind: model.ThreadKindRoom, ThreadRef: roomB, Ref: "old-1", Text: "from an older instance", Markup: model.MarkupPlain, CreatedAt: time.Now().UTC()}
	raw, _ := json.Marshal(&c)
	if err := client.XAdd(t.Context(), &redis.XAddArgs{Stream: "commentgraph:{events}", Values: []any{"c", string(raw), "at", fmt.Sprint(time.Now().UnixMilli())}}).Err(); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, evs); ev.Type != "ADDED" || ev.Comment == nil || ev.Comment.Text != c.Text || ev.CommentID != c.ID() {
		t.Fatalf("commentEvents got %+v", ev)
	}
	if a := next(t, added); a.Text != c.Text || a.Source != "klink" {
		t.Fatalf("commentAdded got %+v", a)
	}
}

// Two instances on one Redis, both following Virola's stream: an edit
// (Ziik) and a delete (Virola) made on B reach A's subscriber once each,
// though the delete's echo from the stream reaches both instances too.
func TestTwoInstancesDeliverEditsAndDeletesOnce(t *testing.T) {
	r := redistest.MustStart(t)
	w := newLifecycleWorld(t, r.URL)
	b := MustStartGateway(t, w.config())
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := w.virola.WaitStreams(ctx, 2); err != nil {
		t.Fatalf("both instances should follow Virola's events: %v", err)
	}
	target, err := w.virola.AddComment(w.parent, virolatest.Message{UserID: w.virola.BotID(), Text: "to be deleted"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w.events); ev.Type != "ADDED" || ev.Comment.Text != "to be deleted" {
		t.Fatalf("got %v", ev)
	}
	id := model.CommentID("virola", model.ThreadKindMessage, fmt.Sprint(w.parent), fmt.Sprint(target))
	b.query(`mutation($in: DeleteCommentInput!) { deleteComment(input: $in) { deletedCommentId } }`,
		map[string]any{"in": map[string]any{"comment": id}}).mustNoErrors(t)
	if ev := next(t, w.events); ev.Type != "DELETED" || ev.CommentID != id || ev.Comment != nil {
		t.Fatalf("got %+v, want DELETED of %s", ev, id)
	}
	// Each instance reads the stream's TextMessageDeleted before this comment.
	if _, err := w.virola.AddComment(w.parent, virolatest.Message{UserID: 3, Text: "after the delete"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w.events); ev.Type != "ADDED" || ev.Comment.Text != "after the delete" {
		t.Fatalf("after the delete came %v", ev)
	}

	edit := w.ziikComment(0)
	b.query(`mutation($in: UpdateCommentInput!) { updateComment(input: $in) { comment { id } } }`,
		map[string]any{"in": map[string]any{"comment": edit, "text": "fixed on B"}}).mustNoErrors(t)
	if ev := next(t, w.events); ev.Type != "UPDATED" || ev.CommentID != edit || ev.Comment == nil || ev.Comment.Text != "fixed on B" {
		t.Fatalf("got %+v, want UPDATED of %s", ev, edit)
	}
	w.fenceZiikOn(t, b, "after the edit")
}

// commentEvents resumes like commentAdded: from since over WebSocket, from
// Last-Event-ID over SSE, replaying the edits and deletions missed, in order.
func TestCommentEventsResume(t *testing.T) {
	w := newLifecycleWorld(t, "")
	edit, gone := w.ziikComment(0), w.ziikComment(1)
	// This comment's event id is where a reconnecting client resumes.
	resp := w.g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`,
		map[string]any{"in": map[string]any{"thread": model.ThreadID("ziik", model.ThreadKindConversation, fmt.Sprint(w.conv)), "text": "last seen"}})
	resp.mustNoErrors(t)
	last := next(t, w.events)
	w.g.query(`mutation($in: UpdateCommentInput!) { updateComment(input: $in) { comment { id } } }`,
		map[string]any{"in": map[string]any{"comment": edit, "text": "edited while away"}}).mustNoErrors(t)
	w.g.query(`mutation($in: DeleteCommentInput!) { deleteComment(input: $in) { deletedCommentId } }`,
		map[string]any{"in": map[string]any{"comment": gone}}).mustNoErrors(t)
	want := []string{"UPDATED " + edit, "DELETED " + gone}

	for _, transport := range []string{"graphql-transport-ws", "sse"} {
		t.Run(transport, func(t *testing.T) {
			waitSubscribers(t, w.g, 1) // the world's own; the last subtest's has gone
			vars, lastEventID := map[string]any{"providers": []string{"ziik"}}, ""
			if transport == "sse" {
				lastEventID = last.EventID
			} else {
				vars["since"] = last.EventID
			}
			evs := openEvents(t, w.g, transport, vars, lastEventID)
			for _, wt := range want {
				if ev := next(t, evs); ev.Type+" "+ev.CommentID != wt {
					t.Fatalf("resumed with %+v, want %s", ev, wt)
				}
			}
		})
	}
}

// The gateway's own edit, seen again by a poll (the comment as Ziik then
// lists it), is one UPDATED event; a second edit in the same second (Ziik's
// edited_at has one-second resolution) is an event of its own.
func TestPolledEchoOfAnEditIsTheSameEvent(t *testing.T) {
	w := newLifecycleWorld(t, "")
	id := w.ziikComment(0)
	edit := func(text string) {
		t.Helper()
		w.g.query(`mutation($in: UpdateCommentInput!) { updateComment(input: $in) { comment { id } } }`,
			map[string]any{"in": map[string]any{"comment": id, "text": text}}).mustNoErrors(t)
		if ev := next(t, w.events); ev.Type != "UPDATED" || ev.Comment == nil || ev.Comment.Text != text {
			t.Fatalf("got %+v, want UPDATED %q", ev, text)
		}
	}
	echo := func() {
		t.Helper()
		p, err := w.g.app.registry.Get("ziik")
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		th, err := p.Thread(ctx, model.ThreadKindConversation, fmt.Sprint(w.conv))
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.GetComment(ctx, th, fmt.Sprint(w.ziikMsgs[0]))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.g.app.ingest(ctx, "ziik", "ziik", &providers.Change{UpdatedComments: []*model.Comment{c}}); err != nil {
			t.Fatal(err)
		}
	}
	edit("first fix")
	echo()
	edit("second fix")
	echo()
	w.fenceZiik(t, "after the echoes")
}
