package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

type mergedPage struct {
	Comments struct {
		Edges []struct {
			Cursor string
			Node   struct {
				Text      string
				CreatedAt string
				Provider  struct{ ID string }
			}
		}
		PageInfo struct {
			HasNextPage bool
			EndCursor   *string
		}
	}
}

// The timeline merges threads of two providers newest first; walking it page
// by page returns every comment exactly once, even when comments arrive
// between pages.
func TestTimelineAcrossProvidersNoSkipNoRepeat(t *testing.T) {
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	k := klinktest.NewServer(klinktest.Options{})
	t.Cleanup(k.Close)
	k.AddUser(userAna, "Ana Lee")
	k.AddRoom(roomA, "Jane")
	v := virolatest.NewServer(virolatest.Options{})
	t.Cleanup(v.Close)
	v.AddUser(virolatest.User{ID: 3, UserName: "zoe", DisplayName: "Zoë Park"})
	room := v.AddRoom(virolatest.Room{Name: "General"})
	parentA, _ := v.AddMessage(virolatest.Message{RoomID: room.ID, UserID: 3, Text: "Plan A", Created: base})
	parentB, _ := v.AddMessage(virolatest.Message{RoomID: room.ID, UserID: 3, Text: "Plan B", Created: base})

	// 12 K-LINK comments now (the emulator stamps its own clock) and 2×7
	// Virola comments interleaved in time.
	want := map[string]bool{}
	for i := 0; i < 12; i++ {
		text := fmt.Sprintf("klink %02d", i)
		if _, err := k.AddComment(roomA, userAna, text); err != nil {
			t.Fatal(err)
		}
		want[text] = true
	}
	for i := 0; i < 7; i++ {
		for j, parent := range []int64{parentA, parentB} {
			text := fmt.Sprintf("virola %d-%02d", j, i)
			if _, err := v.AddComment(parent, virolatest.Message{UserID: 3, Text: text, Created: time.Now().Add(time.Duration(i-10) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			want[text] = true
		}
	}
	g := MustStartGateway(t, newTestConfig(t,
		config.Provider{ID: "klink", Kind: "klink", BaseURL: k.URL, Token: klinktest.DefaultToken},
		config.Provider{ID: "virola", Kind: "virola", BaseURL: v.URL, Token: virolatest.DefaultToken},
	))
	threads := []string{
		model.ThreadID("klink", model.ThreadKindRoom, roomA),
		model.ThreadID("virola", model.ThreadKindMessage, fmt.Sprint(parentA)),
		model.ThreadID("virola", model.ThreadKindMessage, fmt.Sprint(parentB)),
	}
	seen := map[string]int{}
	var last time.Time
	after := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("timeline does not end")
		}
		vars := map[string]any{"t": threads, "first": 5}
		if after != "" {
			vars["after"] = after
		}
		resp := g.query(`query($t: [ID!]!, $first: Int, $after: String) { comments(threads: $t, first: $first, after: $after) { edges { cursor node { text createdAt provider { id } } } pageInfo { hasNextPage endCursor } } }`, vars)
		resp.mustNoErrors(t)
		var p mergedPage
		resp.decode(t, &p)
		for _, e := range p.Comments.Edges {
			seen[e.Node.Text]++
			at, err := time.Parse(time.RFC3339Nano, e.Node.CreatedAt)
			if err != nil {
				t.Fatal(err)
			}
			if !last.IsZero() && at.After(last) {
				t.Errorf("%q (%s) comes after an older comment: not newest first", e.Node.Text, at)
			}
			last = at
		}
		if pages == 1 {
			// A comment arriving mid-walk is newer than everything: it belongs
			// before the first page, so the walk must neither show it nor skip
			// anything because of it.
			if _, err := k.AddComment(roomA, userAna, "late arrival"); err != nil {
				t.Fatal(err)
			}
		}
		if !p.Comments.PageInfo.HasNextPage {
			break
		}
		after = *p.Comments.PageInfo.EndCursor
	}
	for text := range want {
		if seen[text] != 1 {
			t.Errorf("%q seen %d times", text, seen[text])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("saw %d distinct comments, want %d: %v", len(seen), len(want), seen)
	}
}

// One provider failing yields the others' comments plus its error.
func TestTimelinePartialWhenOneProviderFails(t *testing.T) {
	k := klinkWorld(t, 4)
	v := virolatest.NewServer(virolatest.Options{})
	t.Cleanup(v.Close)
	room := v.AddRoom(virolatest.Room{Name: "General"})
	parent, _ := v.AddMessage(virolatest.Message{RoomID: room.ID, Text: "Plan"})
	for i := 0; i < 3; i++ {
		v.AddComment(parent, virolatest.Message{Text: fmt.Sprintf("virola %d", i)})
	}
	g := MustStartGateway(t, newTestConfig(t,
		klinkProvider(k),
		config.Provider{ID: "virola", Kind: "virola", BaseURL: v.URL, Token: virolatest.DefaultToken},
	))
	v.FailNext("GET /api/v1/messages/{messageId}/comments", virolatest.Fault{Status: 503, Body: `{"errorText":"maintenance","httpStatusCode":503}`, Times: 50})
	resp := g.query(`query($t: [ID!]!) { comments(threads: $t, first: 10) { edges { node { text provider { id } } } pageInfo { hasNextPage } } }`,
		map[string]any{"t": []string{model.ThreadID("klink", model.ThreadKindRoom, roomA), model.ThreadID("virola", model.ThreadKindMessage, fmt.Sprint(parent))}})
	var p mergedPage
	resp.decode(t, &p)
	if len(p.Comments.Edges) != 4 {
		t.Errorf("%d comments, want the 4 from K-LINK", len(p.Comments.Edges))
	}
	for _, e := range p.Comments.Edges {
		if e.Node.Provider.ID != "klink" {
			t.Errorf("unexpected %+v", e.Node)
		}
	}
	if !p.Comments.PageInfo.HasNextPage {
		t.Error("the failed thread's comments are still to come: hasNextPage must be true")
	}
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["provider"] != "virola" || resp.Errors[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("errors = %+v", resp.Errors)
	}
}
