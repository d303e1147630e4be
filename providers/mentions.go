package providers

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Segment is a piece of a comment template: literal text, or the mention of
// the user at placeholder {Index}.
type Segment struct {
	Text    string
	Mention *MentionRef
}

// MaxTemplateLength bounds a comment's template (64 KiB); providers have their
// own, smaller limits.
const MaxTemplateLength = 64 << 10

// ParseTemplate splits text at its {n} placeholders. Every mention must have
// exactly one placeholder and every placeholder a mention; a malformed template
// is BAD_USER_INPUT, so no provider is called with one.
func ParseTemplate(text string, mentions []MentionRef) ([]Segment, error) {
	if len(text) > MaxTemplateLength {
		return nil, model.Errorf(model.CodeBadUserInput, "text is longer than %d bytes", MaxTemplateLength)
	}
	if !utf8.ValidString(text) {
		return nil, model.Errorf(model.CodeBadUserInput, "text is not valid UTF-8")
	}
	byIndex := make(map[int]*MentionRef, len(mentions))
	for i := range mentions {
		m := &mentions[i]
		if m.Index < 0 {
			return nil, model.Errorf(model.CodeBadUserInput, "mentions[%d].index is negative", i)
		}
		if _, dup := byIndex[m.Index]; dup {
			return nil, model.Errorf(model.CodeBadUserInput, "mention index %d is given twice", m.Index)
		}
		if m.UserRef == "" {
			return nil, model.Errorf(model.CodeBadUserInput, "mentions[%d].user is empty", i)
		}
		byIndex[m.Index] = m
	}
	used := make(map[int]bool, len(mentions))
	var segs []Segment
	lit := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(text) && j-i <= 6 && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		if j == i+1 || j >= len(text) || text[j] != '}' {
			continue
		}
		n, _ := strconv.Atoi(text[i+1 : j])
		m, ok := byIndex[n]
		if !ok {
			return nil, model.Errorf(model.CodeBadUserInput, "placeholder {%d} has no mention", n)
		}
		if used[n] {
			return nil, model.Errorf(model.CodeBadUserInput, "placeholder {%d} appears twice", n)
		}
		used[n] = true
		if lit < i {
			segs = append(segs, Segment{Text: text[lit:i]})
		}
		segs = append(segs, Segment{Mention: m})
		lit = j + 1
		i = j
	}
	if lit < len(text) {
		segs = append(segs, Segment{Text: text[lit:]})
	}
	for n := range byIndex {
		if !used[n] {
			return nil, model.Errorf(model.CodeBadUserInput, "mention index %d has no {%d} in the text", n, n)
		}
	}
	return segs, nil
}

// Render turns segments into plain text with @Name for each mention and the
// mentions as code-point spans of that text. name gives a user's display name.
func Render(provider string, segs []Segment, name func(userRef string) string) (string, []*model.Mention) {
	var text []byte
	var mentions []*model.Mention
	runes := 0
	for _, s := range segs {
		if s.Mention == nil {
			text = append(text, s.Text...)
			runes += utf8.RuneCountInString(s.Text)
			continue
		}
		at := "@" + name(s.Mention.UserRef)
		n := utf8.RuneCountInString(at)
		mentions = append(mentions, &model.Mention{ProviderID: provider, UserRef: s.Mention.UserRef, Offset: runes, Length: n})
		text = append(text, at...)
		runes += n
	}
	return string(text), mentions
}

// SpanOf returns the code-point offset and length of the byte range
// text[start:end]. It is what mention parsers use to turn a byte index into a
// Mention span.
func SpanOf(text string, start, end int) (offset, length int) {
	if start < 0 || end > len(text) || start > end {
		panic(fmt.Sprintf("providers.SpanOf: range [%d:%d] outside text of %d bytes", start, end, len(text)))
	}
	return utf8.RuneCountInString(text[:start]), utf8.RuneCountInString(text[start:end])
}
