package gateway

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

type threadsPage struct {
	Edges []struct {
		Cursor string `json:"cursor"`
		Node   struct {
			ID string `json:"id"`
		} `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

func (p threadsPage) ids() []string {
	var out []string
	for _, e := range p.Edges {
		out = append(out, e.Node.ID)
	}
	return out
}

const providerThreadsQuery = `query($id: ID!, $first: Int, $after: String) {
  provider(id: $id) { threads(first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }
}`

// cursorWorld is a Ziik emulator with n conversations the gateway's bot
// takes part in, and the K-LINK world with its two rooms.
func cursorWorld(t *testing.T, n int) (*gateway, *ziiktest.Server, interface {
	TotalCalls() int
	ResetCalls()
}) {
	t.Helper()
	z := ziiktest.NewServer(ziiktest.Options{})
	t.Cleanup(z.Close)
	u := z.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Test"})
	for i := range n {
		c, err := z.AddConversation(ziiktest.Conversation{Participants: []int{u, z.BotID()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := z.AddMessage(ziiktest.Message{ConversationID: c, AuthorID: u, Text: fmt.Sprint("hello ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	k := klinkWorld(t, 1)
	cfg := newTestConfig(t, ziikProvider(z), klinkProvider(k))
	cfg.Events.PollInterval = -1 // no pollers: every call an emulator counts is the query's
	return MustStartGateway(t, cfg), z, k
}

func providerThreads(t *testing.T, g *gateway, id string, first int, after *string) (threadsPage, gqlResponse) {
	t.Helper()
	vars := map[string]any{"id": id, "first": first}
	if after != nil {
		vars["after"] = *after
	}
	resp := g.query(providerThreadsQuery, vars)
	var data struct {
		Provider *struct {
			Threads threadsPage `json:"threads"`
		} `json:"provider"`
	}
	if len(resp.Errors) == 0 {
		resp.decode(t, &data)
		if data.Provider == nil {
			t.Fatalf("provider %q is null", id)
		}
		return data.Provider.Threads, resp
	}
	return threadsPage{}, resp
}

// Paging provider(id:).threads with first: 2 and the opaque endCursor walks
// every Ziik conversation once, in the order one big page lists them, and the
// cursors carry the provider rather than Ziik's own offsets.
func TestProviderThreadsPagesWithOpaqueCursors(t *testing.T) {
	const n = 7
	g, _, _ := cursorWorld(t, n)
	all, resp := providerThreads(t, g, "ziik", 50, nil)
	resp.mustNoErrors(t)
	want := all.ids()
	if len(want) != n || all.PageInfo.HasNextPage {
		t.Fatalf("one page lists %d threads (hasNextPage %v), want %d", len(want), all.PageInfo.HasNextPage, n)
	}
	var got []string
	var after *string
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatalf("no end after %d pages: %v", pages, got)
		}
		p, resp := providerThreads(t, g, "ziik", 2, after)
		resp.mustNoErrors(t)
		for _, e := range p.Edges {
			raw, err := base64.RawURLEncoding.DecodeString(e.Cursor)
			if err != nil || !strings.HasPrefix(string(raw), "ziik\x00") {
				t.Fatalf("cursor %q does not name its provider", e.Cursor)
			}
		}
		got = append(got, p.ids()...)
		if !p.PageInfo.HasNextPage {
			break
		}
		if p.PageInfo.EndCursor == nil {
			t.Fatal("hasNextPage without endCursor")
		}
		after = p.PageInfo.EndCursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged through\n%v\nwant\n%v", got, want)
	}
}

// A cursor of another provider, or one the gateway did not make, on
// provider(id:) is BAD_USER_INPUT and nothing is asked of the upstream.
func TestProviderThreadsRefusesForeignAndMalformedCursors(t *testing.T) {
	g, z, k := cursorWorld(t, 3)
	zp, resp := providerThreads(t, g, "ziik", 1, nil)
	resp.mustNoErrors(t)
	kp, resp := providerThreads(t, g, "klink", 1, nil)
	resp.mustNoErrors(t)
	tests := []struct{ name, id, after string }{
		{"ziik cursor on klink", "klink", *zp.PageInfo.EndCursor},
		{"klink cursor on ziik", "ziik", *kp.PageInfo.EndCursor},
		{"ziik's own offset", "ziik", "0"},
		{"not base64", "ziik", "!!!"},
		{"no provider", "ziik", base64.RawURLEncoding.EncodeToString([]byte("\x000"))},
		{"no adapter cursor", "ziik", base64.RawURLEncoding.EncodeToString([]byte("ziik\x00"))},
		{"unknown provider", "ziik", base64.RawURLEncoding.EncodeToString([]byte("nope\x000"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z.ResetCalls()
			k.ResetCalls()
			_, resp := providerThreads(t, g, tt.id, 1, &tt.after)
			if c := resp.codes(); len(c) != 1 || c[0] != "BAD_USER_INPUT" {
				t.Fatalf("codes %v (%+v), want [BAD_USER_INPUT]", c, resp.Errors)
			}
			if n := z.TotalCalls() + k.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls, want none", n)
			}
		})
	}
}

// providers { threads(after: X) }: X is one provider's cursor; that provider
// answers the page after X, every other one an empty page with no call.
func TestProvidersThreadsSendsACursorToItsProviderOnly(t *testing.T) {
	g, z, k := cursorWorld(t, 3)
	all, resp := providerThreads(t, g, "ziik", 3, nil)
	resp.mustNoErrors(t)
	z.ResetCalls()
	k.ResetCalls()
	resp = g.query(`query($after: String) { providers { id threads(first: 1, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }`,
		map[string]any{"after": all.Edges[0].Cursor})
	resp.mustNoErrors(t)
	var data struct {
		Providers []struct {
			ID      string      `json:"id"`
			Threads threadsPage `json:"threads"`
		} `json:"providers"`
	}
	resp.decode(t, &data)
	if len(data.Providers) != 2 {
		t.Fatalf("providers: %s", resp.Data)
	}
	for _, p := range data.Providers {
		switch p.ID {
		case "ziik":
			if ids := p.Threads.ids(); !slices.Equal(ids, []string{all.Edges[1].Node.ID}) || !p.Threads.PageInfo.HasNextPage {
				t.Errorf("ziik: %v (hasNextPage %v), want [%s] and more", ids, p.Threads.PageInfo.HasNextPage, all.Edges[1].Node.ID)
			}
		case "klink":
			if len(p.Threads.Edges) != 0 || p.Threads.PageInfo.HasNextPage || p.Threads.PageInfo.EndCursor != nil {
				t.Errorf("klink answered %+v to ziik's cursor, want an empty page", p.Threads)
			}
		}
	}
	if n := k.TotalCalls(); n != 0 {
		t.Errorf("klink emulator saw %d calls, want none", n)
	}
	if z.TotalCalls() == 0 {
		t.Error("ziik emulator saw no call")
	}
}
