package providers_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

func TestParseTemplateAndRender(t *testing.T) {
	names := map[string]string{"u1": "Zoë 🚀 Park", "u2": "Ana Lee"}
	tests := []struct {
		name     string
		text     string
		mentions []providers.MentionRef
		want     string
		spans    []string // the text each mention span covers
	}{
		{"none", "plain", nil, "plain", nil},
		{"two, out of order", "🎉 {1} and {0}!", []providers.MentionRef{{0, "u1"}, {1, "u2"}}, "🎉 @Ana Lee and @Zoë 🚀 Park!", []string{"@Ana Lee", "@Zoë 🚀 Park"}},
		{"adjacent", "{0}{1}", []providers.MentionRef{{0, "u1"}, {1, "u2"}}, "@Zoë 🚀 Park@Ana Lee", []string{"@Zoë 🚀 Park", "@Ana Lee"}},
		{"literal braces stay", "{x} {} {0} {12a}", []providers.MentionRef{{0, "u2"}}, "{x} {} @Ana Lee {12a}", []string{"@Ana Lee"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, err := providers.ParseTemplate(tt.text, tt.mentions)
			if err != nil {
				t.Fatal(err)
			}
			text, ms := providers.Render("p", segs, func(ref string) string { return names[ref] })
			if text != tt.want {
				t.Errorf("text %q, want %q", text, tt.want)
			}
			if len(ms) != len(tt.spans) {
				t.Fatalf("%d mentions, want %d", len(ms), len(tt.spans))
			}
			runes := []rune(text)
			for i, m := range ms {
				if got := string(runes[m.Offset : m.Offset+m.Length]); got != tt.spans[i] {
					t.Errorf("span %d covers %q, want %q", i, got, tt.spans[i])
				}
			}
		})
	}
}

func TestParseTemplateRefusals(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		mentions []providers.MentionRef
	}{
		{"placeholder without mention", "hi {0}", nil},
		{"mention without placeholder", "hi", []providers.MentionRef{{0, "u"}}},
		{"placeholder twice", "{0} {0}", []providers.MentionRef{{0, "u"}}},
		{"index twice", "{0}", []providers.MentionRef{{0, "u"}, {0, "v"}}},
		{"negative index", "{0}", []providers.MentionRef{{-1, "u"}}},
		{"empty user", "{0}", []providers.MentionRef{{0, ""}}},
		{"invalid UTF-8", "bad \xff", nil},
		{"too long", strings.Repeat("x", providers.MaxTemplateLength+1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := providers.ParseTemplate(tt.text, tt.mentions); !model.IsCode(err, model.CodeBadUserInput) {
				t.Errorf("err = %v, want BAD_USER_INPUT", err)
			}
		})
	}
}

func TestSpanOf(t *testing.T) {
	text := "é🚀 @Ana"
	start := strings.Index(text, "@")
	off, n := providers.SpanOf(text, start, len(text))
	if off != 3 || n != utf8.RuneCountInString("@Ana") {
		t.Errorf("SpanOf = %d,%d", off, n)
	}
}

func FuzzParseTemplate(f *testing.F) {
	f.Add("hi {0} and {1}", 2)
	f.Add("{0}{0}", 1)
	f.Add("{99999999999999}", 0)
	f.Fuzz(func(t *testing.T, text string, n int) {
		if n < 0 || n > 8 {
			return
		}
		var ms []providers.MentionRef
		for i := 0; i < n; i++ {
			ms = append(ms, providers.MentionRef{Index: i, UserRef: "u"})
		}
		segs, err := providers.ParseTemplate(text, ms)
		if err != nil {
			return
		}
		out, spans := providers.Render("p", segs, func(string) string { return "Ünï 🚀" })
		r := []rune(out)
		for _, m := range spans {
			if m.Offset < 0 || m.Offset+m.Length > len(r) || string(r[m.Offset:m.Offset+m.Length]) != "@Ünï 🚀" {
				t.Fatalf("span %+v outside or wrong in %q", m, out)
			}
		}
	})
}
