package klink

import (
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// K-LINK takes mentions as {n} placeholders plus mentions[{index, userId}] —
// the gateway's own template convention — and answers with the text rendered
// ("@Ana Lee") and mentions[{userId, name}], with no positions. The spans are
// recovered by finding each "@"+name in the rendered text.

// wireMentionIn is one mention of a create request.
type wireMentionIn struct {
	Index  int    `json:"index"`
	UserID string `json:"userId"`
}

// mentionsIn turns the gateway's mentions into K-LINK's, in placeholder order.
func mentionsIn(segs []providers.Segment) []wireMentionIn {
	out := []wireMentionIn{}
	for _, s := range segs {
		if s.Mention != nil {
			out = append(out, wireMentionIn{Index: s.Mention.Index, UserID: s.Mention.UserRef})
		}
	}
	return out
}

// mentionSpans locates each mention's "@Name" in text with
// providers.FindMentions. Mentions are matched in the order given, each at the
// first unclaimed occurrence after the previous match (so two mentions of one
// name get the two places), falling back to the first unclaimed occurrence
// anywhere when the payload lists them out of text order. A mention whose
// "@Name" is not in the text has no span and is left out: a span that points
// at the wrong characters is worse than none.
func (p *Provider) mentionSpans(text string, ms []wireMention) []*model.Mention {
	out := []*model.Mention{}
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.UserID != "" && m.Name != "" {
			names = append(names, m.Name)
		}
	}
	if len(names) == 0 {
		return out
	}
	found := providers.FindMentions(text, providers.NewNames(names))
	claimed := make([]bool, len(found))
	from := 0
	for _, m := range ms {
		if m.UserID == "" || m.Name == "" {
			continue
		}
		k := claim(found, names, m.Name, from, claimed)
		if k < 0 {
			k = claim(found, names, m.Name, 0, claimed)
		}
		if k < 0 {
			p.log.Debug("klink: mention not found in text", "user", m.UserID)
			continue
		}
		from = found[k].End
		out = append(out, &model.Mention{
			ProviderID: p.opts.ID, UserRef: m.UserID, Offset: found[k].Offset, Length: found[k].Length,
			UserHint: &model.User{ProviderID: p.opts.ID, Ref: m.UserID, Name: m.Name},
		})
	}
	return out
}

// claim takes the first span of found not yet claimed that starts at or after
// byte from and covers "@"+name, and returns its index, or -1. Names shared by
// two users are one entry of FindMentions' list, so spans are told apart by
// the name they cover, not by its index.
func claim(found []providers.Span, names []string, name string, from int, claimed []bool) int {
	for k, s := range found {
		if !claimed[k] && s.Start >= from && names[s.Name] == name {
			claimed[k] = true
			return k
		}
	}
	return -1
}
