package klink

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// TestThreadTitles titles rooms against the emulator, in both list orders
// and with and without the legacy pagination block: a room no webhook has
// named takes its latest comment's first line (bounded; at most two pages
// read, so none when an oldest-first list gives no page count); once a message
// event names the contact, the contact's name; an empty room has no title;
// a room that cannot be read is listed untitled without failing the page.
func TestThreadTitles(t *testing.T) {
	for _, eo := range []klinktest.Options{{}, {OldestFirst: true}, {OmitPagination: true}, {OldestFirst: true, OmitPagination: true}} {
		t.Run(fmt.Sprintf("oldestFirst=%v omitPagination=%v", eo.OldestFirst, eo.OmitPagination), func(t *testing.T) {
			e := newEnv(t, eo, func(o *Options) {
				o.Rooms = []string{"room-1", "room-2", "room-3", "room-gone"}
				o.PageSize = 2 // the latest comment is pages away in an oldest-first list
			})
			ctx := context.Background()
			e.emu.AddRoom("room-2", "Globex")
			e.emu.AddRoom("room-3", "Initech")
			e.addComments(t, 0, 4)
			long := "  Refund approved — " + strings.Repeat("très long ", 20) + "\nsecond line"
			if _, err := e.emu.AddComment("room-1", klinktest.BotID, long); err != nil {
				t.Fatal(err)
			}
			if _, err := e.emu.AddComment("room-2", klinktest.BotID, "\n  Call   the customer back 📞 \nthen close"); err != nil {
				t.Fatal(err)
			}

			want := map[string]string{
				"room-1": strings.Join(strings.Fields(long[:strings.Index(long, "\n")]), " "),
				"room-2": "Call the customer back 📞",
			}
			if r := []rune(want["room-1"]); len(r) > maxTitleRunes {
				want["room-1"] = string(r[:maxTitleRunes-1]) + "…"
			}
			if eo.OldestFirst && eo.OmitPagination {
				// Its newest comment is pages away with no page count to
				// jump by: untitled rather than a scan of every page.
				delete(want, "room-1")
			}
			check := func(t *testing.T, th *model.Thread) {
				t.Helper()
				w, titled := want[th.Ref]
				switch {
				case !titled && th.Title != nil:
					t.Errorf("%s: title %q, want none", th.Ref, *th.Title)
				case titled && (th.Title == nil || *th.Title != w):
					t.Errorf("%s: title %v, want %q", th.Ref, th.Title, w)
				case th.Title != nil && utf8.RuneCountInString(*th.Title) > maxTitleRunes:
					t.Errorf("%s: title of %d code points", th.Ref, utf8.RuneCountInString(*th.Title))
				}
			}
			for _, ref := range []string{"room-1", "room-2", "room-3"} {
				e.emu.ResetCalls()
				th, err := e.p.Thread(ctx, model.ThreadKindRoom, ref)
				if err != nil {
					t.Fatal(err)
				}
				check(t, th)
				if n := e.emu.Calls(klinktest.EndpointListComments); n > 2 {
					t.Errorf("%s: titling read %d pages, want at most 2", ref, n)
				}
			}
			_, err := e.p.Thread(ctx, model.ThreadKindRoom, "room-gone")
			wantCode(t, err, model.CodeNotFound)
			listed := func() {
				t.Helper()
				pg, err := e.p.ListThreads(ctx, providers.Page{First: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(pg.Edges) != 4 {
					t.Fatalf("listed %d threads, want 4", len(pg.Edges))
				}
				for _, edge := range pg.Edges {
					check(t, edge.Thread)
				}
			}
			listed()

			// A message event names room-2's contact: the contact's name
			// wins over the latest comment, on both paths.
			hs, changes := hook(t, e.p)
			e.emu.SetWebhook(hs.URL, "whsec")
			if err := e.emu.InboundMessage("room-2", "Globex", "any news?"); err != nil {
				t.Fatal(err)
			}
			receive(t, changes)
			want["room-2"] = "Globex"
			th, err := e.p.Thread(ctx, model.ThreadKindRoom, "room-2")
			if err != nil {
				t.Fatal(err)
			}
			check(t, th)
			listed()
		})
	}
}

func TestTitleOf(t *testing.T) {
	tests := []struct {
		in   string
		want *string
	}{
		{"", nil},
		{" \n\t\n", nil},
		{"hello", ptr("hello")},
		{"\n\n  two  words \n next", ptr("two words")},
		{strings.Repeat("é", maxTitleRunes), ptr(strings.Repeat("é", maxTitleRunes))},
		{strings.Repeat("é", maxTitleRunes+1), ptr(strings.Repeat("é", maxTitleRunes-1) + "…")},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%.12q", tc.in), func(t *testing.T) {
			got := titleOf(tc.in)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("titleOf(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }
