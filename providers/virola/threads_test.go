package virola

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

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

func TestListThreads(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{ThreadScan: 3})
	// Three rooms; messages with comments are threads, others are not. With
	// a scan of 3 per room the pages must still come out complete and newest
	// first.
	rooms := []int64{e.room, e.s.AddRoom(virolatest.Room{Name: "B"}).ID, e.s.AddRoom(virolatest.Room{Name: "C"}).ID}
	want := []string{}
	e.comment(t, e.parent, virolatest.Message{Text: "c"})
	want = append(want, ref(e.parent))
	for i := range 12 {
		room := rooms[i%3]
		id, err := e.s.AddMessage(virolatest.Message{RoomID: room, Text: "topic " + string(rune('a'+i)) + "\nmore"})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 || room == rooms[2] {
			e.comment(t, id, virolatest.Message{Text: "c"})
			want = append([]string{ref(id)}, want...) // newest first
		}
	}
	var got []string
	after := ""
	for range 20 {
		pg, err := e.p.ListThreads(ctxT(t), providers.Page{First: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, edge := range pg.Edges {
			got = append(got, edge.Thread.Ref)
			if edge.Thread.Title == nil || strings.Contains(*edge.Thread.Title, "\n") || edge.Thread.RoomRef == "" || edge.Cursor != edge.Thread.Ref {
				t.Fatalf("thread %+v", edge.Thread)
			}
		}
		if !pg.HasNextPage {
			break
		}
		after = pg.Edges[len(pg.Edges)-1].Cursor
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("threads %v, want %v", got, want)
	}
	// Thread now knows the title.
	th, err := e.p.Thread(ctxT(t), model.ThreadKindMessage, ref(e.parent))
	if err != nil || th.Title == nil || *th.Title != "Release plan" {
		t.Fatalf("thread %+v %v", th, err)
	}
	_, err = e.p.ListThreads(ctxT(t), providers.Page{First: 2, After: "garbage"})
	wantCode(t, err, model.CodeBadUserInput)
}

// TestThreadTitleBeforeListing looks a thread up before ListThreads has seen
// it: it must carry the parent message's first line all the same, with the
// cursor counted in or out, and whether or not a newer message follows the
// parent; ListThreads then agrees, and a second look-up costs no title read.
func TestThreadTitleBeforeListing(t *testing.T) {
	for _, inclusive := range []bool{false, true} {
		for _, newer := range []bool{false, true} {
			name := fmt.Sprintf("inclusive=%v newer=%v", inclusive, newer)
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, virolatest.Options{InclusiveCursor: inclusive}, Options{})
				e.comment(t, e.parent, virolatest.Message{Text: "c"})
				if newer {
					if _, err := e.s.AddMessage(virolatest.Message{RoomID: e.room, Text: "Later topic"}); err != nil {
						t.Fatal(err)
					}
				}
				th, err := e.p.Thread(ctxT(t), model.ThreadKindMessage, ref(e.parent))
				if err != nil {
					t.Fatal(err)
				}
				if th.Title == nil || *th.Title != "Release plan" || th.RoomRef != ref(e.room) {
					t.Fatalf("thread looked up first: %+v (title %v)", th, th.Title)
				}
				e.s.ResetCalls()
				th, err = e.p.Thread(ctxT(t), model.ThreadKindMessage, ref(e.parent))
				if err != nil || th.Title == nil || *th.Title != "Release plan" {
					t.Fatalf("second look-up: %+v %v", th, err)
				}
				if n := e.s.Calls("GET /api/v1/rooms/{roomId}/messages"); n != 0 {
					t.Fatalf("a known title was read again (%d room message calls)", n)
				}
				pg, err := e.p.ListThreads(ctxT(t), providers.Page{First: 5})
				if err != nil {
					t.Fatal(err)
				}
				if len(pg.Edges) != 1 || pg.Edges[0].Thread.Title == nil || *pg.Edges[0].Thread.Title != *th.Title {
					t.Fatalf("listed threads disagree: %+v", pg.Edges)
				}
			})
		}
	}
}

// TestThreadTitleUnreadable: when the parent cannot be read for its title,
// the thread is still returned (it exists), only untitled.
func TestThreadTitleUnreadable(t *testing.T) {
	e := newEnv(t, virolatest.Options{}, Options{})
	e.comment(t, e.parent, virolatest.Message{Text: "c"})
	e.s.FailNext("GET /api/v1/rooms/{roomId}/messages", virolatest.Fault{Status: 500, Times: 10})
	th, err := e.p.Thread(ctxT(t), model.ThreadKindMessage, ref(e.parent))
	if err != nil {
		t.Fatal(err)
	}
	if th.Title != nil || th.RoomRef != ref(e.room) {
		t.Fatalf("thread %+v", th)
	}
}
