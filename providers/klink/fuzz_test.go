package klink

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// Seeds live in testdata/fuzz/FuzzXxx/ and run with plain go test.

func fuzzProvider(t testing.TB) *Provider {
	p, err := New(Options{ID: "kl", BaseURL: "http://127.0.0.1:1", Token: "kpt_fuzz_token", WebhookSecret: "whsec",
		Now: func() time.Time { return time.Date(2026, 2, 27, 12, 20, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzCommentList feeds a comment list page through everything that reads
// one: parsing, the paging window both ways, and mapping to the model.
func FuzzCommentList(f *testing.F) {
	p := fuzzProvider(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := parseCommentList(body)
		if err != nil {
			return
		}
		s := p.newScan("room")
		s.pages[1], s.lo, s.hi, s.endSeen = l.Data, 1, 1, s.isLast(l, 1)
		w := s.window()
		pages := []providers.Page{{First: 2}, {Last: 2}}
		if len(w.items) > 0 {
			mid := w.items[len(w.items)/2]
			pages = append(pages, providers.Page{First: 1, After: encodeCursor(mid.c.ID, mid.at)}, providers.Page{Last: 3, Before: encodeCursor(mid.c.ID, mid.at)})
		}
		for _, pg := range pages {
			var c *cursor
			if raw := pg.After + pg.Before; raw != "" {
				if c, err = decodeCursor("kl", raw); err != nil {
					continue // an id that is no valid ref cannot be a cursor
				}
			}
			start, end, _ := w.slice(pg, c)
			if start < 0 || end > len(w.items) || start > end {
				t.Fatalf("slice [%d:%d] of %d", start, end, len(w.items))
			}
		}
		for i := range l.Data {
			cm := p.toComment(&l.Data[i], "room")
			n := utf8.RuneCountInString(cm.Text)
			for _, m := range cm.Mentions {
				if m.Offset < 0 || m.Length <= 0 || m.Offset+m.Length > n {
					t.Fatalf("mention %+v outside text of %d code points", m, n)
				}
			}
		}
	})
}

// FuzzMentionSpans checks every span found covers exactly "@"+name.
func FuzzMentionSpans(f *testing.F) {
	p := fuzzProvider(f)
	f.Fuzz(func(t *testing.T, text, a, b string) {
		ms := []wireMention{{UserID: "a", Name: a}, {UserID: "b", Name: b}}
		for _, m := range p.mentionSpans(text, ms) {
			runes := []rune(text)
			if m.Offset < 0 || m.Offset+m.Length > len(runes) {
				t.Fatalf("span %d+%d outside %d runes", m.Offset, m.Length, len(runes))
			}
			want := "@" + a
			if m.UserRef == "b" {
				want = "@" + b
			}
			if utf8.ValidString(text) && string(runes[m.Offset:m.Offset+m.Length]) != want {
				t.Fatalf("span of %s covers %q, want %q", m.UserRef, string(runes[m.Offset:m.Offset+m.Length]), want)
			}
		}
	})
}

// FuzzWebhook feeds signed bodies to ReceiveWebhook: never a panic, every
// refusal a *model.Error.
func FuzzWebhook(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		p := fuzzProvider(t)
		h := http.Header{"X-Signature": {klinktest.Sign("whsec", body)}}
		ch, err := p.ReceiveWebhook(context.Background(), h, body)
		if err != nil {
			var me *model.Error
			if !errors.As(err, &me) || me.Provider != "kl" {
				t.Fatalf("error %v is not a provider *model.Error", err)
			}
			return
		}
		var env struct {
			Event string `json:"event"`
		}
		_ = json.Unmarshal(body, &env)
		if ch.Key == "" || !strings.HasPrefix(ch.Key, env.Event+":") {
			t.Fatalf("key %q for event %q", ch.Key, env.Event)
		}
	})
}

// FuzzCursor checks cursors decode without panics and round-trip.
func FuzzCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor("kl", s)
		if err != nil {
			if !model.IsCode(err, model.CodeBadUserInput) {
				t.Fatalf("error %v is not BAD_USER_INPUT", err)
			}
			return
		}
		again, err := decodeCursor("kl", encodeCursor(c.id, c.at))
		if err != nil || again.id != c.id || !again.at.Equal(c.at) {
			t.Fatalf("round trip of %+v: %+v %v", c, again, err)
		}
	})
}

// FuzzParseTime checks timestamps parse without panics, to UTC.
func FuzzParseTime(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseTime(s)
		if err == nil && tm.Location() != time.UTC {
			t.Fatalf("%q parsed to %v, not UTC", s, tm)
		}
	})
}

// FuzzErrorBody checks error bodies become one clean, bounded line without
// the token.
func FuzzErrorBody(f *testing.F) {
	p := fuzzProvider(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		got := p.errorText(body)
		if !utf8.ValidString(got) || len(got) > 304 || strings.ContainsAny(got, "\n\r") || strings.Contains(got, "kpt_fuzz_token") {
			t.Fatalf("errorText(%q) = %q", body, got)
		}
	})
}

// FuzzSendResponse reads send-message answers and maps them as SendMessage
// does.
func FuzzSendResponse(f *testing.F) {
	p := fuzzProvider(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := parseSendResponse(body)
		if err != nil || out.Data == nil {
			return
		}
		m := p.toMessage(out.Data, providers.MessageInput{Contact: "c1", Text: "hi"})
		if m.Ref != out.Data.ID || m.Contact == "" || m.Text == "" || len(m.Type) > 64+len("…") {
			t.Fatalf("message %+v from %+v", m, out.Data)
		}
	})
}
