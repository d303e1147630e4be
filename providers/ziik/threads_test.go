package ziik_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

func TestThread(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.user(t, "Ana", "Lee")
	team := e.conv(t, "Team room", ana)
	direct := e.conv(t, "", ana)
	hidden, err := e.srv.AddConversation(ziiktest.Conversation{Title: "secret", Participants: []int{ana}})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 200)
	parent := e.msg(t, ziiktest.Message{ConversationID: team, AuthorID: ana, Text: "Release checklist"})
	longMsg := e.msg(t, ziiktest.Message{ConversationID: team, AuthorID: ana, Text: long})
	other := e.msg(t, ziiktest.Message{ConversationID: direct, AuthorID: ana, Text: "hi"})
	tests := []struct {
		name      string
		kind      model.ThreadKind
		ref       string
		code      model.Code
		title     string
		wantCalls bool
	}{
		{"conversation", model.ThreadKindConversation, strconv.Itoa(team), "", "Team room", true},
		{"direct conversation named by its people", model.ThreadKindConversation, strconv.Itoa(direct), "", "commentgraph bot, Ana Lee", true},
		{"message", model.ThreadKindMessage, fmt.Sprintf("%d:%d", team, parent), "", "Release checklist", true},
		{"long message title is cut", model.ThreadKindMessage, fmt.Sprintf("%d:%d", team, longMsg), "", strings.Repeat("é", 119) + "…", true},
		{"unknown conversation", model.ThreadKindConversation, "999999", model.CodeNotFound, "", true},
		{"conversation not visible", model.ThreadKindConversation, strconv.Itoa(hidden), model.CodeForbidden, "", true},
		{"message of another conversation", model.ThreadKindMessage, fmt.Sprintf("%d:%d", team, other), model.CodeNotFound, "", true},
		{"unknown message", model.ThreadKindMessage, fmt.Sprintf("%d:%d", team, 1), model.CodeNotFound, "", true},
		{"empty", model.ThreadKindConversation, "", model.CodeBadUserInput, "", false},
		{"not a number", model.ThreadKindConversation, "abc", model.CodeBadUserInput, "", false},
		{"leading zero", model.ThreadKindConversation, "057", model.CodeBadUserInput, "", false},
		{"negative", model.ThreadKindConversation, "-5", model.CodeBadUserInput, "", false},
		{"huge", model.ThreadKindConversation, "99999999999999999999", model.CodeBadUserInput, "", false},
		{"message without colon", model.ThreadKindMessage, "57", model.CodeBadUserInput, "", false},
		{"message with extra part", model.ThreadKindMessage, "57:1:2", model.CodeBadUserInput, "", false},
		{"message with empty id", model.ThreadKindMessage, "57:", model.CodeBadUserInput, "", false},
		{"room kind", model.ThreadKindRoom, "57", model.CodeUnsupported, "", false},
		{"contact kind", model.ThreadKindContact, "id:1", model.CodeUnsupported, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.srv.ResetCalls()
			th, err := e.p.Thread(context.Background(), tc.kind, tc.ref)
			if calls := e.srv.TotalCalls() > 0; calls != tc.wantCalls {
				t.Errorf("called upstream: %v", calls)
			}
			if tc.code != "" {
				var me *model.Error
				if !errors.As(err, &me) || me.Code != tc.code || me.Provider != providerID {
					t.Fatalf("got %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			conv, _, _ := strings.Cut(tc.ref, ":")
			if th.Kind != tc.kind || th.Ref != tc.ref || th.RoomRef != conv || th.ProviderID != providerID || deref(th.Title) != tc.title {
				t.Errorf("got %+v title %q", th, deref(th.Title))
			}
		})
	}
}

func TestListThreads(t *testing.T) {
	e := newEnv(t, nil)
	ana := e.user(t, "Ana", "Lee")
	var want []string
	for i := range 7 {
		c := e.conv(t, fmt.Sprintf("room %d", i), ana)
		// Activity orders the list: the last written is listed first.
		e.clock.Advance(time.Minute)
		e.msg(t, ziiktest.Message{ConversationID: c, AuthorID: ana, Text: "x"})
		want = append([]string{strconv.Itoa(c)}, want...)
	}
	if _, err := e.srv.AddConversation(ziiktest.Conversation{Title: "not mine", Participants: []int{ana}}); err != nil {
		t.Fatal(err)
	}
	for _, sizes := range [][]int{{3}, {2, 3}, {7}, {100}, {1, 4, 2}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			var got []string
			after := ""
			for i := 0; ; i++ {
				size := sizes[min(i, len(sizes)-1)]
				pg, err := e.p.ListThreads(context.Background(), providers.Page{First: size, After: after})
				if err != nil {
					t.Fatal(err)
				}
				if len(pg.Edges) > size {
					t.Fatalf("%d edges for %d", len(pg.Edges), size)
				}
				for _, ed := range pg.Edges {
					th := ed.Thread
					if th.Kind != model.ThreadKindConversation || th.RoomRef != th.Ref || th.ProviderID != providerID || !strings.HasPrefix(deref(th.Title), "room ") {
						t.Errorf("thread %+v", th)
					}
					got = append(got, th.Ref)
				}
				if !pg.HasNextPage {
					break
				}
				after = pg.Edges[len(pg.Edges)-1].Cursor
				if i > 20 {
					t.Fatal("paging does not end")
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("got %v want %v", got, want)
			}
		})
	}
}
