package virola

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Virola's Web API documents no mention syntax: a mention is the text
// "@displayName". On write the adapter renders mentions that way; on read it
// finds "@"+displayName of known users in the text, longest name first, so a
// comment it created reads back with the same spans.

// nameIndex finds "@Name" mentions of known users in text.
type nameIndex struct {
	// byFirst holds the users by the first rune of their name, each list
	// longest name first, so "@Ana Lee" wins over "@Ana".
	byFirst map[rune][]*model.User
}

func newNameIndex(users []*model.User) *nameIndex {
	ix := &nameIndex{byFirst: make(map[rune][]*model.User)}
	for _, u := range users {
		r, _ := utf8.DecodeRuneInString(u.Name)
		if u.Name == "" || r == utf8.RuneError || unicode.IsSpace(r) {
			continue
		}
		ix.byFirst[r] = append(ix.byFirst[r], u)
	}
	for _, list := range ix.byFirst {
		// Longest first; among equal names the lowest ref wins, so two users
		// with one name resolve the same way every time.
		slices.SortStableFunc(list, func(a, b *model.User) int {
			if d := len(b.Name) - len(a.Name); d != 0 {
				return d
			}
			return compareRefs(a.Ref, b.Ref)
		})
	}
	return ix
}

func compareRefs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// detect returns the mentions in text as code-point spans covering "@Name".
// An "@" glued to a word (an e-mail address) starts none, and a name glued to
// more word characters ("@Ana Leeroy") is not that user.
func (ix *nameIndex) detect(provider, text string) []*model.Mention {
	out := []*model.Mention{}
	if ix == nil {
		return out
	}
	// Every mention starts at an '@', so their count bounds the mentions:
	// one slice of them and their hints, not two objects per mention and a
	// growing slice (a page's mentions were a tenth of its allocations).
	var found []mentionAndHint
	if n := strings.Count(text, "@"); n > 0 {
		found = make([]mentionAndHint, 0, n)
		out = make([]*model.Mention, 0, n)
	}
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(text[:i])
			if isWord(prev) {
				continue
			}
		}
		rest := text[i+1:]
		first, _ := utf8.DecodeRuneInString(rest)
		for _, u := range ix.byFirst[first] {
			if !strings.HasPrefix(rest, u.Name) {
				continue
			}
			end := i + 1 + len(u.Name)
			last, _ := utf8.DecodeLastRuneInString(u.Name)
			next, _ := utf8.DecodeRuneInString(text[end:])
			if end < len(text) && isWord(last) && isWord(next) {
				continue
			}
			off, n := providers.SpanOf(text, i, end)
			found = append(found, mentionAndHint{
				mention: model.Mention{ProviderID: provider, UserRef: u.Ref, Offset: off, Length: n},
				hint:    model.User{ProviderID: provider, Ref: u.Ref, Name: u.Name},
			})
			f := &found[len(found)-1]
			f.mention.UserHint = &f.hint
			out = append(out, &f.mention)
			i = end - 1
			break
		}
	}
	return out
}

// mentionAndHint is a detected mention with the user it names, allocated
// together (detect).
type mentionAndHint struct {
	mention model.Mention
	hint    model.User
}

func isWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// render turns a {n} template into the content Virola stores ("@Name" for each
// mention) and the spans it will read back with. Every mentioned user must be
// in users.
func render(provider, template string, mentions []providers.MentionRef, users *userList) (string, []*model.Mention, error) {
	segs, err := providers.ParseTemplate(template, mentions)
	if err != nil {
		return "", nil, err
	}
	for _, m := range mentions {
		if _, ok := users.byRef[m.UserRef]; !ok {
			return "", nil, model.Errorf(model.CodeBadUserInput, "mentioned user %q is not a user of this provider", truncate(m.UserRef, 40))
		}
	}
	text, spans := providers.Render(provider, segs, func(ref string) string { return users.byRef[ref].Name })
	return text, spans, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
