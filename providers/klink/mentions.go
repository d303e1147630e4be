package klink

import (
	"strings"

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

// mentionSpans locates each mention's "@Name" in text. Mentions are matched in
// the order given, each at the first unclaimed occurrence after the previous
// match (so two mentions of one name get the two places), falling back to the
// first unclaimed occurrence anywhere when the payload lists them out of text
// order. A mention whose "@Name" is not in the text has no span and is left
// out: a span that points at the wrong characters is worse than none.
func (p *Provider) mentionSpans(text string, ms []wireMention) []*model.Mention {
	out := []*model.Mention{}
	var claimed [][2]int // byte ranges already taken
	from := 0
	for _, m := range ms {
		if m.UserID == "" || m.Name == "" {
			continue
		}
		at := "@" + m.Name
		start := findUnclaimed(text, at, from, claimed)
		if start < 0 {
			start = findUnclaimed(text, at, 0, claimed)
		}
		if start < 0 {
			p.log.Debug("klink: mention not found in text", "user", m.UserID)
			continue
		}
		end := start + len(at)
		claimed = append(claimed, [2]int{start, end})
		from = end
		off, n := providers.SpanOf(text, start, end)
		out = append(out, &model.Mention{
			ProviderID: p.opts.ID, UserRef: m.UserID, Offset: off, Length: n,
			UserHint: &model.User{ProviderID: p.opts.ID, Ref: m.UserID, Name: m.Name},
		})
	}
	return out
}

// findUnclaimed is the byte index of the first occurrence of sub in text at or
// after from that overlaps no claimed range, or -1.
func findUnclaimed(text, sub string, from int, claimed [][2]int) int {
	for from <= len(text) {
		i := strings.Index(text[from:], sub)
		if i < 0 {
			return -1
		}
		i += from
		free := true
		for _, c := range claimed {
			if i < c[1] && i+len(sub) > c[0] {
				free = false
				break
			}
		}
		if free {
			return i
		}
		from = i + 1
	}
	return -1
}
