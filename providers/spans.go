package providers

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Several upstreams have no mention markup: a mention is the text "@Name",
// and the adapters find it again by looking for the names of users they know.
// FindMentions is that search, shared so every adapter draws the same spans.

// Span is one "@Name" FindMentions found in a text.
type Span struct {
	// Name is the index of the name matched in the list given to NewNames.
	Name int
	// Start and End are the byte range of "@Name" in the text.
	Start, End int
	// Offset and Length are the same range in code points, as model.Mention
	// counts it.
	Offset, Length int
}

// Names is a set of display names prepared for FindMentions. Build it once
// per user list and reuse it; it is never changed, so concurrent searches may
// share it.
type Names struct {
	names []string
	// byFirst holds the indexes of the names by their first rune, each list
	// longest name first, so "@Ana Lee" is tried before "@Ana".
	byFirst map[rune][]int
}

// NewNames prepares names for FindMentions. A name that is empty, not valid
// UTF-8 at its start, or that starts with a space can name no mention ("@ x"
// is no mention) and is left out. When a name appears twice the earlier index
// wins, so a caller that orders its users decides which one a shared name
// means.
func NewNames(names []string) *Names {
	ns := &Names{names: names, byFirst: make(map[rune][]int)}
	for i, n := range names {
		r, _ := utf8.DecodeRuneInString(n)
		if n == "" || r == utf8.RuneError || unicode.IsSpace(r) {
			continue
		}
		ns.byFirst[r] = append(ns.byFirst[r], i)
	}
	for _, list := range ns.byFirst {
		// Stable, so among equal lengths the order given stands.
		slices.SortStableFunc(list, func(a, b int) int { return len(names[b]) - len(names[a]) })
	}
	return ns
}

// FindMentions returns, in text order, a Span for each "@Name" in text whose
// Name is one of names. At each "@" the longest name that fits wins, and the
// search goes on after it, so spans never overlap. Matching is on whole words:
// an "@" right after a letter, digit, mark or '_' starts none (it is an e-mail
// address), and a name ending in such a character must not run on into
// another ("@Ana Leeroy" is not "@Ana Lee"). It returns nil when there is no
// mention; names may be nil.
func FindMentions(text string, names *Names) []Span {
	if names == nil || len(names.byFirst) == 0 {
		return nil
	}
	n := strings.Count(text, "@")
	if n == 0 {
		return nil
	}
	// Every span starts at its own '@', so their count bounds the spans: one
	// allocation whatever the text.
	out := make([]Span, 0, n)
	// Code points are counted as the scan goes, so a long text with many
	// mentions is still read once.
	counted, runes := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		if i > 0 {
			if prev, _ := utf8.DecodeLastRuneInString(text[:i]); isWordRune(prev) {
				continue
			}
		}
		rest := text[i+1:]
		first, _ := utf8.DecodeRuneInString(rest)
		for _, k := range names.byFirst[first] {
			name := names.names[k]
			if !strings.HasPrefix(rest, name) {
				continue
			}
			end := i + 1 + len(name)
			if end < len(text) {
				last, _ := utf8.DecodeLastRuneInString(name)
				next, _ := utf8.DecodeRuneInString(text[end:])
				if isWordRune(last) && isWordRune(next) {
					continue
				}
			}
			runes += utf8.RuneCountInString(text[counted:i])
			length := utf8.RuneCountInString(text[i:end])
			out = append(out, Span{Name: k, Start: i, End: end, Offset: runes, Length: length})
			counted, runes = end, runes+length
			i = end - 1
			break
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// isWordRune reports whether r continues a word: a letter, a digit, a
// combining mark (so "Zoe\u0308" is one word) or '_'.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}
