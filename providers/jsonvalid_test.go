package providers

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var validJSONCases = []string{
	``, ` `, `null`, ` true `, `false`, `nul`, `truex`, `[true false]`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1E-7`, `-12.5e10`, `1e5.5`, `+1`,
	`""`, `"a`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`, `"\u12"`, `"\u12G4"`, `"\x"`, "\"tab\there\"", "\"\x1f\"", "\"\x7f\"",
	`"é"`, "\"\xff\"", "\"\xed\xa0\x80\"", "\"\xef\xbf\xbd\"", "\xef\xbb\xbf{}", "é",
	`{}`, `{ }`, `{"a":1}`, `{"a" : [1, 2, {"b": null}] }`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`,
	`[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `[[]]`, `[[]`, `[]]`, `{]`, `[}`, `{"a":[}]`, `[{}]`, `]`, `}`,
	`{} {}`, `1 2`, "[1]\n", "\t[\r1\n]\t",
	strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
	strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	strings.Repeat(`{"a":`, maxJSONDepth) + "1" + strings.Repeat("}", maxJSONDepth),
	strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1),
}

// validJSON answers as utf8.Valid && json.Valid on hand-picked edges: each
// token's malformed forms, escapes, UTF-8, nesting at and past the limit.
func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range validJSONCases {
		want := utf8.ValidString(in) && json.Valid([]byte(in))
		if got := validJSON([]byte(in)); got != want {
			t.Errorf("validJSON(%.60q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzValidJSONAgrees(f *testing.F) {
	for _, in := range validJSONCases {
		if len(in) < 200 {
			f.Add([]byte(in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want := utf8.Valid(in) && json.Valid(in)
		if got := validJSON(in); got != want {
			t.Errorf("validJSON(%q) = %v, want %v", in, got, want)
		}
	})
}

// BenchmarkValidJSON compares validJSON with what it replaces on a page
// shaped like an upstream's: 50 messages, mostly text.
func BenchmarkValidJSON(b *testing.B) {
	type msg struct {
		ID      int64             `json:"id"`
		Text    string            `json:"text"`
		Created int64             `json:"created"`
		User    map[string]string `json:"user"`
		Tags    []string          `json:"tags"`
	}
	var page struct {
		Messages []msg `json:"messages"`
		Next     *int  `json:"next"`
	}
	for i := range 50 {
		page.Messages = append(page.Messages, msg{ID: int64(1e12 + i), Text: "Migration plan step — see @Ana Lee and @Bo Tan ✅ \"quoted\"\n", Created: 1741942800000, User: map[string]string{"name": "Chidi Okafor"}, Tags: []string{"a", "b"}})
	}
	data, err := json.Marshal(page)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !validJSON(data) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("utf8+encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !utf8.Valid(data) || !json.Valid(data) {
				b.Fatal("invalid")
			}
		}
	})
}
