package providers_test

import (
	"fmt"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/providers"
)

func TestFindMentions(t *testing.T) {
	names := []string{"Ana", "Ana Lee", "Zoë Park", "Bo", "Bo.", "O'Neil", "@@", "Ana Lee", " Sp", "", "\xffx", "Zoe\u0308"}
	type span struct {
		name string // names[Span.Name]
		at   string // the text the span covers, by code points
	}
	tests := []struct {
		name string
		text string
		want []span
	}{
		{"none", "no mention here", nil},
		{"empty text", "", nil},
		{"bare at", "@ @", nil},
		{"one", "hi @Ana!", []span{{"Ana", "@Ana"}}},
		{"longest name wins", "@Ana Lee, ok", []span{{"Ana Lee", "@Ana Lee"}}},
		{"falls back to a shorter name", "@Ana Leeroy", []span{{"Ana", "@Ana"}}},
		{"at the end", "thanks @Ana Lee", []span{{"Ana Lee", "@Ana Lee"}}},
		{"e-mail address", "bo@tan.com @Bo", []span{{"Bo", "@Bo"}}},
		{"after a mark", "e\u0301@Bo", nil},
		{"after underscore", "x_@Bo", nil},
		{"after punctuation", "(@Bo)", []span{{"Bo", "@Bo"}}},
		{"glued to a word", "@Bob", nil},
		{"glued to a digit", "@Bo2", nil},
		{"name ending in punctuation may touch a word", "@Bo.x", []span{{"Bo.", "@Bo."}}},
		{"prefers the longer of two that fit", "@Bo. then", []span{{"Bo.", "@Bo."}}},
		{"apostrophe", "@O'Neil's idea", []span{{"O'Neil", "@O'Neil"}}},
		{"code points", "🚀 thanks @Zoë Park 🎉 @Ana", []span{{"Zoë Park", "@Zoë Park"}, {"Ana", "@Ana"}}},
		{"combining mark is part of the word", "@Zoe\u0308 and @Zoe", []span{{"Zoe\u0308", "@Zoe\u0308"}}},
		{"mark after the name", "@Bo\u0301", nil},
		{"name of at signs", "@@@ @@@@", []span{{"@@", "@@@"}, {"@@", "@@@"}}},
		{"adjacent mentions", "@Ana,@Bo", []span{{"Ana", "@Ana"}, {"Bo", "@Bo"}}},
		{"glued mentions", "@Ana@Bo", []span{{"Ana", "@Ana"}}},
		{"repeated", "@Bo @Bo", []span{{"Bo", "@Bo"}, {"Bo", "@Bo"}}},
		{"name starting with a space is none", "@ Sp", nil},
		{"invalid UTF-8 is no name", "@\xffx", nil},
		{"invalid UTF-8 around", "\xff@Ana\xfe", []span{{"Ana", "@Ana"}}},
	}
	ns := providers.NewNames(names)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans := providers.FindMentions(tt.text, ns)
			var got []span
			runes := []rune(tt.text)
			for _, s := range spans {
				if tt.text[s.Start:s.End] != "@"+names[s.Name] {
					t.Errorf("bytes [%d:%d] = %q, not @%s", s.Start, s.End, tt.text[s.Start:s.End], names[s.Name])
				}
				got = append(got, span{names[s.Name], string(runes[s.Offset : s.Offset+s.Length])})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("FindMentions(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestFindMentionsDuplicateNamesTakeTheFirst(t *testing.T) {
	names := []string{"Bo", "Ana", "Ana"}
	spans := providers.FindMentions("@Ana", providers.NewNames(names))
	if len(spans) != 1 || spans[0].Name != 1 {
		t.Fatalf("spans %+v, want one naming index 1", spans)
	}
}

func TestFindMentionsNoNames(t *testing.T) {
	if got := providers.FindMentions("@Ana", nil); got != nil {
		t.Fatalf("nil names: %+v", got)
	}
	if got := providers.FindMentions("@Ana", providers.NewNames(nil)); got != nil {
		t.Fatalf("no names: %+v", got)
	}
}

func ExampleFindMentions() {
	users := []string{"Ana", "Ana Lee"}
	text := "🚀 @Ana Lee, ping @Ana (not ana@example.com)"
	for _, s := range providers.FindMentions(text, providers.NewNames(users)) {
		fmt.Printf("%s at code point %d, %d long\n", users[s.Name], s.Offset, s.Length)
	}
	// Output:
	// Ana Lee at code point 2, 8 long
	// Ana at code point 17, 4 long
}

// FuzzFindMentions checks, for any text and name, that spans come in order
// without overlapping, each covers "@" and its name on word boundaries, and
// the code-point span is the byte span's.
func FuzzFindMentions(f *testing.F) {
	f.Add("🚀 shipped — thanks @Zoë Park", "Zoë Park")
	f.Add("mail bo@tan.com and @Ana Leeroy", "Ana Lee")
	f.Add("@@@@", "@")
	f.Add("@\xff\xfe", "\xff")
	f.Fuzz(func(t *testing.T, text, name string) {
		names := []string{name, "Ana", "Ana Lee", "Zoë"}
		end := 0
		for _, s := range providers.FindMentions(text, providers.NewNames(names)) {
			if s.Name < 0 || s.Name >= len(names) {
				t.Fatalf("span %+v names no name", s)
			}
			if s.Start < end || s.End > len(text) || s.Start >= s.End {
				t.Fatalf("span %+v out of order or outside %d bytes", s, len(text))
			}
			if text[s.Start:s.End] != "@"+names[s.Name] {
				t.Fatalf("span %+v covers %q", s, text[s.Start:s.End])
			}
			if s.Offset != utf8.RuneCountInString(text[:s.Start]) || s.Length != utf8.RuneCountInString(text[s.Start:s.End]) || s.Length < 2 {
				t.Fatalf("span %+v: code points do not match the bytes", s)
			}
			if s.Start > 0 {
				if r, _ := utf8.DecodeLastRuneInString(text[:s.Start]); isWord(r) {
					t.Fatalf("span %+v starts glued to %q", s, r)
				}
			}
			if s.End < len(text) {
				last, _ := utf8.DecodeLastRuneInString(text[s.Start:s.End])
				next, _ := utf8.DecodeRuneInString(text[s.End:])
				if isWord(last) && isWord(next) {
					t.Fatalf("span %+v runs on into %q", s, next)
				}
			}
			end = s.End
		}
	})
}

// isWord is the word character of FindMentions' boundaries.
func isWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}
