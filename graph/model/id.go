package model

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// NodeType names the kind of object a global ID points at.
type NodeType string

// Node types carried in global IDs.
const (
	TypeThread     NodeType = "Thread"
	TypeRoom       NodeType = "Room"
	TypeUser       NodeType = "User"
	TypeComment    NodeType = "Comment"
	TypeAttachment NodeType = "Attachment"
	TypeProvider   NodeType = "Provider"
)

// GlobalID is the decoded form of an opaque global ID: the provider instance, the
// type and the native reference parts (a thread is kind+ref, a comment is thread
// kind+thread ref+comment ref, an attachment that and its own ref, the rest one
// ref).
type GlobalID struct {
	Provider string
	Type     NodeType
	Ref      []string
}

// idVersion prefixes every encoded ID so the format can change without breaking
// IDs clients already stored.
const idVersion = "cg1"

// sep cannot appear in any part: parts are checked for it on encode and decode.
const sep = "\x1f"

// EncodeID makes the opaque, stable, URL-safe form of id.
func EncodeID(id GlobalID) string {
	return encodeParts(string(id.Type), id.Provider, id.Ref...)
}

// encodeParts is EncodeID of a type, a provider and reference parts. The
// joined parts and their base64 are built on the stack, so an ID costs one
// allocation, its string: a page encodes one per comment, and the helpers
// below (CommentID …) pass their parts without building a GlobalID.
func encodeParts(typ, provider string, refs ...string) string {
	var stack [128]byte
	raw := append(stack[:0], idVersion...)
	raw = appendIDPart(raw, typ)
	raw = appendIDPart(raw, provider)
	for _, p := range refs {
		raw = appendIDPart(raw, p)
	}
	var out [172]byte // the base64 of 128 bytes, unpadded, is 171
	n := base64.RawURLEncoding.EncodedLen(len(raw))
	if n > len(out) {
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	base64.RawURLEncoding.Encode(out[:n], raw)
	return string(out[:n])
}

// appendIDPart appends sep and p with every sep in p left out.
func appendIDPart(raw []byte, p string) []byte {
	raw = append(raw, sep...)
	for {
		i := strings.Index(p, sep)
		if i < 0 {
			return append(raw, p...)
		}
		raw = append(raw, p[:i]...)
		p = p[i+len(sep):]
	}
}

// refParts is how many reference parts each type carries.
var refParts = map[NodeType]int{
	TypeThread: 2, TypeRoom: 1, TypeUser: 1, TypeComment: 3, TypeAttachment: 4, TypeProvider: 0,
}

// DecodeID parses an ID made by EncodeID. Anything else is BAD_USER_INPUT.
func DecodeID(s string) (GlobalID, error) {
	bad := Errorf(CodeBadUserInput, "%q is not a commentgraph ID", truncate(s, 64))
	if len(s) > 4096 {
		return GlobalID{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !utf8.Valid(raw) {
		return GlobalID{}, bad
	}
	parts := strings.Split(string(raw), sep)
	if len(parts) < 3 || parts[0] != idVersion || parts[2] == "" {
		return GlobalID{}, bad
	}
	id := GlobalID{Type: NodeType(parts[1]), Provider: parts[2], Ref: parts[3:]}
	n, ok := refParts[id.Type]
	if !ok || len(id.Ref) != n {
		return GlobalID{}, bad
	}
	if id.Type == TypeThread || id.Type == TypeComment || id.Type == TypeAttachment {
		if !ThreadKind(id.Ref[0]).IsValid() {
			return GlobalID{}, bad
		}
	}
	return id, nil
}

// DecodeIDOf decodes s and checks it is of type want.
func DecodeIDOf(s string, want NodeType) (GlobalID, error) {
	id, err := DecodeID(s)
	if err != nil {
		return id, err
	}
	if id.Type != want {
		return GlobalID{}, Errorf(CodeBadUserInput, "ID %q is a %s, not a %s", truncate(s, 64), id.Type, want)
	}
	return id, nil
}

// ThreadID is the global ID of a provider's thread.
func ThreadID(provider string, kind ThreadKind, ref string) string {
	return encodeParts(string(TypeThread), provider, string(kind), ref)
}

// CommentID is the global ID of a comment in a thread.
func CommentID(provider string, kind ThreadKind, threadRef, ref string) string {
	return encodeParts(string(TypeComment), provider, string(kind), threadRef, ref)
}

// UserID is the global ID of a provider's user.
func UserID(provider, ref string) string {
	return encodeParts(string(TypeUser), provider, ref)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
