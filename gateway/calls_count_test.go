package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/bench"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

// The emulators' user and room endpoints, as their docs name them. Virola has
// only whole lists (one GET /users answers every user: a look-up of any number
// of users is one batch); Ziik answers one user or conversation per call.
const (
	virolaUsers          = "GET /api/v1/users"
	virolaRooms          = "GET /api/v1/rooms"
	ziikUser             = "GET /users/{id}"
	ziikConversation     = "GET /conversations/{conversation}"
	ziikConversationList = "GET /conversations"
)

// mustWorld starts the benchmark's World (no added latency), closed when the
// test ends.
func mustWorld(t *testing.T) *bench.World {
	t.Helper()
	w, err := bench.NewWorld(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// directoryCalls is how many user/room calls each emulator received.
type directoryCalls struct {
	VirolaUsers, VirolaRooms, ZiikUsers, ZiikConversation, ZiikConversations int
}

func countDirectoryCalls(w *bench.World) directoryCalls {
	return directoryCalls{
		VirolaUsers:       w.Virola.Calls(virolaUsers),
		VirolaRooms:       w.Virola.Calls(virolaRooms),
		ZiikUsers:         w.Ziik.Calls(ziikUser),
		ZiikConversation:  w.Ziik.Calls(ziikConversation),
		ZiikConversations: w.Ziik.Calls(ziikConversationList),
	}
}

type timelinePage struct {
	Comments struct {
		Edges []struct {
			Node struct {
				ID     string `json:"id"`
				Text   string `json:"text"`
				Sender *struct {
					Name string `json:"name"`
				} `json:"sender"`
				Mentions []struct {
					Offset int `json:"offset"`
					Length int `json:"length"`
					User   struct {
						Name string `json:"name"`
					} `json:"user"`
				} `json:"mentions"`
			} `json:"node"`
		} `json:"edges"`
	} `json:"comments"`
}

// checkPage fails unless the page is the World's: PageSize distinct comments
// from its five senders, each with two mentions whose spans cover "@Name" of
// the user they name.
func checkPage(t *testing.T, w *bench.World, resp gqlResponse) {
	t.Helper()
	resp.mustNoErrors(t)
	var page timelinePage
	resp.decode(t, &page)
	edges := page.Comments.Edges
	if len(edges) != bench.PageSize {
		t.Fatalf("page has %d comments, want %d", len(edges), bench.PageSize)
	}
	ids := map[string]bool{}
	var senders []string
	for _, e := range edges {
		n := e.Node
		if ids[n.ID] {
			t.Errorf("comment %s appears twice", n.ID)
		}
		ids[n.ID] = true
		if n.Sender == nil {
			t.Fatalf("comment %q has no sender", n.Text)
		}
		if !slices.Contains(senders, n.Sender.Name) {
			senders = append(senders, n.Sender.Name)
		}
		if len(n.Mentions) != 2 {
			t.Errorf("comment %q has %d mentions, want 2", n.Text, len(n.Mentions))
		}
		text := []rune(n.Text)
		for _, m := range n.Mentions {
			if m.Offset < 0 || m.Length <= 0 || m.Offset+m.Length > len(text) {
				t.Errorf("comment %q: mention span %d+%d is outside the text", n.Text, m.Offset, m.Length)
				continue
			}
			if got := string(text[m.Offset : m.Offset+m.Length]); got != "@"+m.User.Name {
				t.Errorf("comment %q: span covers %q, names user %q", n.Text, got, m.User.Name)
			}
		}
	}
	slices.Sort(senders)
	want := slices.Sorted(slices.Values(w.Senders))
	if !slices.Equal(senders, want) {
		t.Errorf("senders = %q, want %q", senders, want)
	}
}

// countFromNow zeroes the emulators' counters once the gateway's Virola
// events stream is up (it connects in the background), so only the calls
// queries make are counted.
func countFromNow(t *testing.T, w *bench.World) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Virola.WaitStreams(ctx, 1); err != nil {
		t.Fatalf("virola events stream: %v", err)
	}
	w.ResetCalls()
}

// TestCallsCountedNotAssumed proves on the emulators' own counters that the
// 50-comment page with senders and mentions (the page the benchmark measures:
// 3 threads on Virola and Ziik, 5 senders, 2 mentions each) asks upstream for
// each user or room not yet cached once, and for none on a warm repeat,
// whether the cache is in memory or in Redis. The naive baseline is counted
// too, so the counters are shown to see a per-comment call when there is one.
func TestCallsCountedNotAssumed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		redis bool
		naive bool
	}{
		{name: "memory cache"},
		{name: "redis cache", redis: true},
		{name: "naive baseline", naive: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustWorld(t)
			cfg := newTestConfig(t, w.Providers()...)
			if tc.redis {
				cfg.Redis.URL = redistest.MustStart(t).URL
			}
			cfg.Loaders.Disabled = tc.naive
			cfg.Cache.Disabled = tc.naive
			g := MustStartGateway(t, cfg)

			countFromNow(t, w)
			vars := map[string]any{"threads": w.Threads}
			zUsers := w.Users[bench.ZiikID]

			if tc.naive {
				// Every look-up is its own upstream call: on Ziik, one
				// GET /users/{id} per sender and per mention of its comments.
				// (Virola's adapter keeps the whole user list it must read to
				// find mentions, so even naive look-ups cost it nothing more.)
				checkPage(t, w, g.query(bench.Query, vars))
				lookups := w.Lookups[bench.ZiikID]
				if got := w.Ziik.Calls(ziikUser); got != lookups {
					t.Errorf("naive: %s calls = %d, want one per look-up: %d", ziikUser, got, lookups)
				}
				w.ResetCalls()
				checkPage(t, w, g.query(bench.Query, vars))
				if got := w.Ziik.Calls(ziikUser); got != lookups {
					t.Errorf("naive repeat: %s calls = %d, want %d again (nothing cached)", ziikUser, got, lookups)
				}
				return
			}

			// Warm one Ziik user alone first, so the page below finds it cached.
			resp := g.query(`query($p: ID!, $r: String!) { user(provider: $p, ref: $r) { name } }`,
				map[string]any{"p": bench.ZiikID, "r": zUsers[0]})
			resp.mustNoErrors(t)
			if got := countDirectoryCalls(w); got != (directoryCalls{ZiikUsers: 1}) {
				t.Fatalf("one user look-up made %+v", got)
			}
			w.ResetCalls()

			checkPage(t, w, g.query(bench.Query, vars))
			want := directoryCalls{
				// One call answers every Virola user: one batch for its three.
				VirolaUsers: 1,
				// The three Ziik users but the one cached above, once each.
				ZiikUsers: len(zUsers) - 1,
				// The one conversation the Ziik thread is in: the adapter
				// reads its participants once to find the @mentions.
				ZiikConversation: 1,
			}
			if got := countDirectoryCalls(w); got != want {
				t.Errorf("cold page: user/room calls = %+v, want %+v (total calls %d)", got, want, w.TotalCalls())
			}
			t.Logf("cold page: %d upstream calls in all", w.TotalCalls())

			w.ResetCalls()
			checkPage(t, w, g.query(bench.Query, vars))
			if got := countDirectoryCalls(w); got != (directoryCalls{}) {
				t.Errorf("warm repeat: user/room calls = %+v, want none", got)
			}
			t.Logf("warm page: %d upstream calls in all (thread checks and comment lists)", w.TotalCalls())
		})
	}
}

// The timeline looks ahead into the selection before it fetches users: a
// page that selects no sender and no mentioned user makes no user call even
// on a cold cache, and one that asks for them through a fragment (with an
// alias, under nodes rather than edges) still gets the page's users in the
// one batch per provider.
func TestPrefetchFollowsTheSelection(t *testing.T) {
	w := mustWorld(t)
	g := MustStartGateway(t, newTestConfig(t, w.Providers()...))
	countFromNow(t, w)
	vars := map[string]any{"threads": w.Threads}

	// The adapters read Virola's user list and the Ziik conversation's
	// participants to find mentions in any case; the look-ups the sender and
	// mention fields make are Ziik's GET /users/{id}.
	g.query(`query($threads: [ID!]!) { comments(threads: $threads, first: 50) { edges { cursor node { id text mentions { offset length } } } } }`, vars).mustNoErrors(t)
	if got := w.Ziik.Calls(ziikUser); got != 0 {
		t.Errorf("no user selected: %d %s calls, want none", got, ziikUser)
	}

	w.ResetCalls()
	resp := g.query(`query($threads: [ID!]!) { comments(threads: $threads, first: 50) { nodes { ...who } } }
fragment who on Comment { author: sender { name } mentions { user { name } } }`, vars)
	resp.mustNoErrors(t)
	var page struct {
		Comments struct {
			Nodes []struct {
				Author   struct{ Name string }
				Mentions []struct{ User struct{ Name string } }
			}
		}
	}
	resp.decode(t, &page)
	if len(page.Comments.Nodes) != bench.PageSize {
		t.Fatalf("%d comments, want %d", len(page.Comments.Nodes), bench.PageSize)
	}
	for _, n := range page.Comments.Nodes {
		if n.Author.Name == "" || len(n.Mentions) != 2 || n.Mentions[0].User.Name == "" {
			t.Fatalf("comment without its users: %+v", n)
		}
	}
	if got, want := w.Ziik.Calls(ziikUser), len(w.Users[bench.ZiikID]); got != want {
		t.Errorf("users through a fragment: %d %s calls, want %d (each of the page's users once)", got, ziikUser, want)
	}
}

// The benchmark's page runs on the fast path (graph/fastpath) in the real
// gateway, a page that asks for a comment's thread runs on the generated
// executor, and the naive baseline keeps the generated executor for all;
// /metrics counts which executor answered.
func TestFastPathServesTheTimelinePage(t *testing.T) {
	w := mustWorld(t)
	executors := func(g *gateway) (fast, generated string) {
		_, body := get(t, g.url+"/metrics")
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, `commentgraph_graphql_operations_total{executor="fast"} `); ok {
				fast = v
			}
			if v, ok := strings.CutPrefix(line, `commentgraph_graphql_operations_total{executor="generated"} `); ok {
				generated = v
			}
		}
		return fast, generated
	}
	vars := map[string]any{"threads": w.Threads}

	g := MustStartGateway(t, newTestConfig(t, w.Providers()...))
	checkPage(t, w, g.query(bench.Query, vars))
	if f, gen := executors(g); f != "1" || gen != "0" {
		t.Errorf("after the benchmark's page: fast %q, generated %q; want 1 and 0", f, gen)
	}
	g.query(`query($threads: [ID!]!) { comments(threads: $threads, first: 1) { nodes { thread { ref } } } }`, vars).mustNoErrors(t)
	if f, gen := executors(g); f != "1" || gen != "1" {
		t.Errorf("after a page with Comment.thread: fast %q, generated %q; want 1 and 1", f, gen)
	}

	cfg := newTestConfig(t, w.Providers()...)
	cfg.Loaders.Disabled, cfg.Cache.Disabled = true, true
	naive := MustStartGateway(t, cfg)
	checkPage(t, w, naive.query(bench.Query, vars))
	if f, gen := executors(naive); f != "" || gen != "" {
		t.Errorf("naive baseline: fast %q, generated %q; want no fast path at all", f, gen)
	}
}
