package aelyst

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/ and run with plain go test.

func FuzzRenderBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string) {
		text, mentions := renderBody(body, func(ref string) string { return "Zoë " + ref }, func(string) (string, bool) { return "Jane Doe", true })
		runes := []rune(text)
		prevEnd := 0
		for _, m := range mentions {
			if m.Offset < prevEnd || m.Length <= 0 || m.Offset+m.Length > len(runes) {
				t.Fatalf("span %+v outside text of %d code points (after %d)", m, len(runes), prevEnd)
			}
			if got := string(runes[m.Offset : m.Offset+m.Length]); got != "@Zoë "+m.UserRef {
				t.Fatalf("span %+v covers %q", m, got)
			}
			prevEnd = m.Offset + m.Length
		}
		if len(mentions) == 0 && !hasContactFields(body) && text != body {
			t.Fatalf("text changed without mentions or variables: %q → %q", body, text)
		}
		// Rendering with nothing known fills no variable.
		if bare, _ := renderBody(body, func(ref string) string { return "Zoë " + ref }, nil); len(mentions) == 0 && bare != body {
			t.Fatalf("text changed with no contact: %q → %q", body, bare)
		}
	})
}

func FuzzParseIdentifier(f *testing.F) {
	f.Fuzz(func(t *testing.T, ref string) {
		id, err := parseIdentifier(ref)
		if err != nil {
			if !model.IsCode(err, model.CodeBadUserInput) {
				t.Fatalf("error %v is not BAD_USER_INPUT", err)
			}
			return
		}
		if strings.HasPrefix(ref, "id:") != (id > 0) {
			t.Fatalf("%q gave contact id %d", ref, id)
		}
		seg := escapeIdentifier(ref)
		if strings.ContainsAny(seg, "/?#@+ ") {
			t.Fatalf("escaped identifier %q is not one clean path segment", seg)
		}
		back, err := url.PathUnescape(seg)
		if err != nil || back != ref {
			t.Fatalf("%q escaped to %q, unescaped to %q (%v)", ref, seg, back, err)
		}
	})
}

func FuzzParseCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, cursor string) {
		key, err := parseCursor(cursor)
		if err != nil {
			if !model.IsCode(err, model.CodeBadUserInput) {
				t.Fatalf("error %v is not BAD_USER_INPUT", err)
			}
			return
		}
		if again, err := parseCursor(cursorOf(key)); err != nil || again != key {
			t.Fatalf("%q → key %q → cursor %q → %q (%v)", cursor, key, cursorOf(key), again, err)
		}
	})
}

func FuzzDecodeContact(f *testing.F) {
	p := fuzzProvider(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if c, err := decodeContact(raw); err == nil {
			th := p.threadOf(c)
			if th.Ref != contactIdentifier(c.ID) || th.Title == nil || *th.Title == "" {
				t.Fatalf("thread %+v from %s", th, raw)
			}
			if _, err := parseIdentifier(th.Ref); err != nil {
				t.Fatalf("canonical ref %q does not parse: %v", th.Ref, err)
			}
		}
		if u, err := decodeUser(raw); err == nil {
			if mu := p.userOf(u); mu.Name == "" || mu.Ref == "" {
				t.Fatalf("user %+v from %s", mu, raw)
			}
		}
		_ = errorText(raw)
		link := string(raw)
		if n := nextCursor(&link); n < 0 {
			t.Fatalf("negative cursor %d", n)
		}
	})
}

func FuzzReceiveWebhook(f *testing.F) {
	p := fuzzProvider(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		header := signed(testSecret, body)
		ch, err := p.ReceiveWebhook(context.Background(), header, body)
		if err != nil {
			var me *model.Error
			if !errors.As(err, &me) || me.Provider != "fuzz" {
				t.Fatalf("error %v (%T) is not a provider error", err, err)
			}
			return
		}
		if ch.Key == "" {
			t.Fatal("accepted a delivery with no key")
		}
		for _, c := range ch.Comments {
			n := utf8.RuneCountInString(c.Text)
			for _, m := range c.Mentions {
				if m.Offset < 0 || m.Length <= 0 || m.Offset+m.Length > n {
					t.Fatalf("mention %+v outside %q", m, c.Text)
				}
			}
			if c.ThreadRef == "" || c.Ref == "" {
				t.Fatalf("comment %+v", c)
			}
		}
	})
}

// fuzzProvider is a provider whose upstream is an emulator, so mentioned
// users resolve for real; the clock is fixed where the seeds' created_at is.
func fuzzProvider(f *testing.F) *Provider {
	srv := aelysttest.NewServer(aelysttest.Options{Token: testToken, RateLimit: -1})
	f.Cleanup(srv.Close)
	srv.AddUser(userZoe)
	p, err := New(Options{
		ID: "fuzz", BaseURL: srv.URL, Token: testToken, WebhookSecret: testSecret,
		Now: func() time.Time { return time.Unix(1735689600, 0) },
	})
	if err != nil {
		f.Fatal(err)
	}
	return p
}
