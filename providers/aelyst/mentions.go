package aelyst

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/providers"
)

// Aelyst mentions a user by embedding {{@user.<ID>}} in the text, and fills
// contact-field variables ({{$contact.name}}) with the contact's fields. The
// journal renders both into Text: mentions as @Name spans, the variables
// Aelyst's UI would fill (contactFields) with the contact's values. Other
// {{…}} tokens stay text.

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

// token is one {{@user.ID}} or {{$contact.field}} in a body: its byte range
// and the user id or the contact field (one of the two is set).
type token struct {
	start, end int
	userRef    string
	field      string
}

// maxUserIDDigits bounds a mentioned id (int64 has 19 digits).
const maxUserIDDigits = 18

// contactFields are the contact variables rendered: the ones the notes show
// ({{$contact.name}}) and the contact object's own name and address fields
// ([respond.io] offers these as $contact.<field>).
var contactFields = map[string]bool{"name": true, "firstName": true, "lastName": true, "email": true, "phone": true}

// scanTokens finds the {{@user.ID}} and {{$contact.field}} tokens of body,
// tolerating spaces just inside the braces. Anything else between braces is
// left alone.
func scanTokens(body string) []token {
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
		if f, ok := strings.CutPrefix(inner, "$contact."); ok && contactFields[f] {
			out = append(out, token{start: open, end: closing + 2, field: f})
			i = closing + 2
			continue
		}
		i = open + 1
	}
	return out
}

// scanMentions finds the {{@user.ID}} tokens of body.
func scanMentions(body string) []token {
	var out []token
	for _, t := range scanTokens(body) {
		if t.userRef != "" {
			out = append(out, t)
		}
	}
	return out
}

// hasContactFields says whether body uses a contact variable.
func hasContactFields(body string) bool {
	return slices.ContainsFunc(scanTokens(body), func(t token) bool { return t.field != "" })
}

// mentionedUsers lists the distinct user ids a body mentions.
func mentionedUsers(body string) []string {
	var refs []string
	for _, t := range scanMentions(body) {
		refs = append(refs, t.userRef)
	}
	return dedupe(refs)
}

// renderBody turns a body into plain text with @Name for each mention and
// each contact variable filled, and the mentions as code-point spans of it.
// name gives a user's display name; field gives a contact field's value, ok
// false (or field nil: the contact is unknown) leaving the variable as text.
func renderBody(body string, name func(userRef string) string, field func(name string) (string, bool)) (string, []EntryMention) {
	toks := scanTokens(body)
	if len(toks) == 0 {
		return body, nil
	}
	var b strings.Builder
	var mentions []EntryMention
	runes, last := 0, 0
	for _, t := range toks {
		b.WriteString(body[last:t.start])
		runes += utf8.RuneCountInString(body[last:t.start])
		last = t.end
		if t.field != "" {
			v, ok := "", false
			if field != nil {
				v, ok = field(t.field)
			}
			if !ok {
				v = body[t.start:t.end]
			}
			b.WriteString(v)
			runes += utf8.RuneCountInString(v)
			continue
		}
		at := "@" + name(t.userRef)
		n := utf8.RuneCountInString(at)
		mentions = append(mentions, EntryMention{UserRef: t.userRef, Offset: runes, Length: n})
		b.WriteString(at)
		runes += n
	}
	b.WriteString(body[last:])
	return b.String(), mentions
}

// contactField is c's value of a contact variable; ok false when c is nil or
// has no such value. name is the contact's full name, or how it is reached
// when it has none (contactName).
func contactField(c *contactJSON) func(string) (string, bool) {
	if c == nil {
		return nil
	}
	return func(f string) (string, bool) {
		var v string
		switch f {
		case "name":
			v = contactName(c)
		case "firstName":
			v = str(c.FirstName)
		case "lastName":
			v = str(c.LastName)
		case "email":
			v = str(c.Email)
		case "phone":
			v = str(c.Phone)
		}
		return v, v != ""
	}
}

// unknownName names a mentioned user the directory does not know.
func unknownName(userRef string) string { return "user." + userRef }
