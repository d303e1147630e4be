package ziik

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
)

// The seed corpora live in testdata/fuzz/<Target>/ and run in plain go test.

var fuzzThread = &model.Thread{ProviderID: "z", Kind: model.ThreadKindConversation, Ref: "57"}

// checkComment holds what every mapped comment must satisfy, whatever the
// upstream sent.
func checkComment(t *testing.T, c *model.Comment, pp *people) {
	t.Helper()
	if c.Ref == "" || c.ProviderID != "z" {
		t.Fatalf("comment without ref/provider: %+v", c)
	}
	if !c.CreatedAt.IsZero() && c.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt not UTC: %v", c.CreatedAt)
	}
	if c.Deleted && (c.Text != "" || c.Body != "") {
		t.Fatal("deleted comment keeps text")
	}
	for _, a := range c.Attachments {
		if a.Ref == "" || a.Name == "" || !a.State.IsValid() {
			t.Fatalf("bad attachment %+v", a)
		}
	}
	for _, r := range c.Reactions {
		if r.Emoji == "" || r.Count < len(r.UserRefs) {
			t.Fatalf("bad reaction %+v", r)
		}
	}
	checkMentions(t, c.Text, pp.detect("z", "57", c.Text))
}

// checkMentions verifies every span lies in text and covers "@" + the name.
func checkMentions(t *testing.T, text string, ms []*model.Mention) {
	t.Helper()
	runes := []rune(text)
	end := 0
	for _, m := range ms {
		if m.Offset < end || m.Length < 2 || m.Offset+m.Length > len(runes) {
			t.Fatalf("span %d+%d outside %q (or overlapping)", m.Offset, m.Length, text)
		}
		got := string(runes[m.Offset : m.Offset+m.Length])
		if m.UserHint == nil || got != "@"+m.UserHint.Name {
			t.Fatalf("span %q does not name %+v", got, m.UserHint)
		}
		end = m.Offset + m.Length
	}
}

func fuzzPeople() *people {
	pp := &people{ttl: time.Minute}
	pp.learnConversation("57", []*model.User{
		{ProviderID: "z", Ref: "1", Name: "Zoë Park"}, {ProviderID: "z", Ref: "2", Name: "Bo Tan"}, {ProviderID: "z", Ref: "3", Name: "Bo"},
	}, time.Unix(0, 0))
	return pp
}

func FuzzParseMessagePage(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		pg, err := parseMessagePage(body)
		if err != nil {
			return
		}
		pp := fuzzPeople()
		for i := range pg.items {
			if i > 0 && pg.items[i-1].ID >= pg.items[i].ID {
				t.Fatal("page not in ascending id order")
			}
			m := &pg.items[i]
			if m.Author != nil && m.Author.ID > 0 {
				pp.learn(user("z", m.Author))
			}
			checkComment(t, comment("z", fuzzThread, m), pp)
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseMessage(body)
		if err != nil {
			return
		}
		checkComment(t, comment("z", fuzzThread, m), fuzzPeople())
	})
}

func FuzzParseConversationPage(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, limit int) {
		pg, err := parseConversationPage(body, limit)
		if err != nil {
			return
		}
		for i := range pg.items {
			if pg.items[i].ID > 0 {
				if r := room("z", &pg.items[i]); r.Ref == "" {
					t.Fatal("room without ref")
				}
			}
		}
	})
}

func FuzzParseConversation(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := parseConversation(body)
		if err != nil {
			return
		}
		if r := room("z", c); r.Ref != c.ID.String() {
			t.Fatalf("room ref %q for id %d", r.Ref, c.ID)
		}
		for i := range c.Participants {
			if u := user("z", &c.Participants[i]); u.Name == "" {
				t.Fatal("user without name")
			}
		}
	})
}

func FuzzParseUser(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := parseUser(body)
		if err != nil {
			return
		}
		u := user("z", w)
		if u.Ref == "" || u.Name == "" || !utf8.ValidString(u.Name) {
			t.Fatalf("bad user %+v", u)
		}
	})
}

func FuzzParseAuth(f *testing.F) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		jwt, exp, err := parseAuth(body, now)
		if err != nil {
			return
		}
		if jwt == "" || strings.ContainsAny(jwt, " \r\n\t") || exp.IsZero() {
			t.Fatalf("accepted jwt %q expiring %v", jwt, exp)
		}
	})
}

func FuzzFindMentions(f *testing.F) {
	f.Fuzz(func(t *testing.T, text, name string) {
		pp := fuzzPeople()
		if name != "" && utf8.ValidString(name) {
			pp.learn(&model.User{ProviderID: "z", Ref: "9", Name: name})
		}
		if !utf8.ValidString(text) {
			return // comment text is decoded JSON, always valid UTF-8
		}
		checkMentions(t, text, pp.detect("z", "57", text))
	})
}

func FuzzReactions(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, r := range reactions("z", raw) {
			if r.Emoji == "" || r.Count < len(r.UserRefs) || r.Count < 0 {
				t.Fatalf("bad reaction %+v", r)
			}
		}
	})
}
