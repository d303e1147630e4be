package virola

import (
	"slices"
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Virola's Web API documents no mention syntax: a mention is the text
// "@displayName". On write the adapter renders mentions that way; on read it
// finds "@"+displayName of known users in the text, longest name first, so a
// comment it created reads back with the same spans.

// nameIndex finds "@Name" mentions of known users in text.
type nameIndex struct {
	// users are in ref order, so when two users share a name the lowest ref
	// wins every time; names holds their names in that order.
	users []*model.User
	names *providers.Names
}

func newNameIndex(users []*model.User) *nameIndex {
	users = slices.Clone(users)
	slices.SortStableFunc(users, func(a, b *model.User) int { return compareRefs(a.Ref, b.Ref) })
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Name
	}
	return &nameIndex{users: users, names: providers.NewNames(names)}
}

func compareRefs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// detect returns the mentions in text as code-point spans covering "@Name"
// (providers.FindMentions: an e-mail address or "@Ana Leeroy" names nobody).
func (ix *nameIndex) detect(provider, text string) []*model.Mention {
	out := []*model.Mention{}
	if ix == nil {
		return out
	}
	spans := providers.FindMentions(text, ix.names)
	if len(spans) == 0 {
		return out
	}
	// One slice of mentions and their hints, not two objects per mention.
	found := make([]mentionAndHint, len(spans))
	out = make([]*model.Mention, len(spans))
	for i, s := range spans {
		u := ix.users[s.Name]
		f := &found[i]
		f.mention = model.Mention{ProviderID: provider, UserRef: u.Ref, Offset: s.Offset, Length: s.Length, UserHint: &f.hint}
		f.hint = model.User{ProviderID: provider, Ref: u.Ref, Name: u.Name}
		out[i] = &f.mention
	}
	return out
}

// mentionAndHint is a detected mention with the user it names, allocated
// together (detect).
type mentionAndHint struct {
	mention model.Mention
	hint    model.User
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
