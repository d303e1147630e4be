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
	// One buffer for the joined parts (a page encodes an ID per comment).
	var stack [128]byte
	raw := append(stack[:0], idVersion...)
	for _, p := range append([]string{string(id.Type), id.Provider}, id.Ref...) {
		raw = append(raw, sep...)
		if strings.Contains(p, sep) {
			p = strings.ReplaceAll(p, sep, "")
		}
		raw = append(raw, p...)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
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
	return EncodeID(GlobalID{Provider: provider, Type: TypeThread, Ref: []string{string(kind), ref}})
}

// CommentID is the global ID of a comment in a thread.
func CommentID(provider string, kind ThreadKind, threadRef, ref string) string {
	return EncodeID(GlobalID{Provider: provider, Type: TypeComment, Ref: []string{string(kind), threadRef, ref}})
}

// UserID is the global ID of a provider's user.
func UserID(provider, ref string) string {
	return EncodeID(GlobalID{Provider: provider, Type: TypeUser, Ref: []string{ref}})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
