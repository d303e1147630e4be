package aelyst

import (
	"strings"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/providers"
)

// Aelyst mentions a user by embedding {{@user.<ID>}} in the text. Other
// {{…}} tokens are contact-field variables ({{$contact.name}}) and stay text.

// encodeBody writes a template's segments in Aelyst's dialect.
func encodeBody(segs []providers.Segment) string {
	var b strings.Builder
	for _, s := range segs {
		if s.Mention == nil {
			b.WriteString(s.Text)
			continue
		}
		b.WriteString("{{@user.")
		b.WriteString(s.Mention.UserRef)
		b.WriteString("}}")
	}
	return b.String()
}

// token is one {{@user.ID}} in a body: its byte range and the user id.
type token struct {
	start, end int
	userRef    string
}

// maxUserIDDigits bounds a mentioned id (int64 has 19 digits).
const maxUserIDDigits = 18

// scanMentions finds the {{@user.ID}} tokens of body, tolerating spaces just
// inside the braces. Anything else between braces is left alone.
func scanMentions(body string) []token {
	var out []token
	for i := 0; i < len(body); {
		open := strings.Index(body[i:], "{{")
		if open < 0 {
			break
		}
		open += i
		closing := strings.Index(body[open+2:], "}}")
		if closing < 0 {
			break
		}
		closing += open + 2
		inner := strings.TrimSpace(body[open+2 : closing])
		if id, ok := strings.CutPrefix(inner, "@user."); ok && validUserRef(id) && len(id) <= maxUserIDDigits {
			out = append(out, token{start: open, end: closing + 2, userRef: id})
			i = closing + 2
			continue
		}
		i = open + 1
	}
	return out
}

// mentionedUsers lists the distinct user ids a body mentions.
func mentionedUsers(body string) []string {
	var refs []string
	for _, t := range scanMentions(body) {
		refs = append(refs, t.userRef)
	}
	return dedupe(refs)
}

// renderBody turns a body into plain text with @Name for each mention and the
// mentions as code-point spans of it. name gives a user's display name.
func renderBody(body string, name func(userRef string) string) (string, []EntryMention) {
	toks := scanMentions(body)
	if len(toks) == 0 {
		return body, nil
	}
	var b strings.Builder
	var mentions []EntryMention
	runes, last := 0, 0
	for _, t := range toks {
		b.WriteString(body[last:t.start])
		runes += utf8.RuneCountInString(body[last:t.start])
		at := "@" + name(t.userRef)
		n := utf8.RuneCountInString(at)
		mentions = append(mentions, EntryMention{UserRef: t.userRef, Offset: runes, Length: n})
		b.WriteString(at)
		runes += n
		last = t.end
	}
	b.WriteString(body[last:])
	return b.String(), mentions
}

// unknownName names a mentioned user the directory does not know.
func unknownName(userRef string) string { return "user." + userRef }
