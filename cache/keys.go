package cache

import (
	"encoding/json"
	"strings"

	"github.com/commentgraph/commentgraph/providers"
)

// kind is what an entry holds. The Directory side has kinds of its own so that
// a short-lived read-through entry never overwrites, and then expires, a
// learned user that nothing can refetch.
type kind uint8

const (
	kindUser kind = iota
	kindRoom
	kindLearnedUser
	kindLearnedRoom
	kindThread
	// kindRoomThreads is a set, per room, of the keys of the cached threads
	// that hang off it (Thread.RoomRef): a pushed change to the room drops
	// them, as their title may be the room's name.
	kindRoomThreads
)

func (k kind) String() string {
	switch k {
	case kindUser:
		return "user"
	case kindRoom:
		return "room"
	case kindLearnedUser:
		return "learned-user"
	case kindThread:
		return "thread"
	case kindRoomThreads:
		return "room-threads"
	default:
		return "learned-room"
	}
}

// keyPrefix carries a version so that a change of value encoding can move to
// new keys instead of misreading old ones.
const keyPrefix = "cg:v1:"

// key is cg:v1:<scope>:<kind>:<escaped ref>. The ref is escaped so it holds no
// ':' and the kind never does, so the last two colons always split a key
// back into (scope, kind, ref): no ref can forge another scope's or kind's
// key, whatever the scope looks like.
func key(scope string, k kind, ref string) string {
	var b strings.Builder
	ks := k.String()
	b.Grow(len(keyPrefix) + len(scope) + len(ks) + len(ref) + 2)
	b.WriteString(keyPrefix)
	b.WriteString(scope)
	b.WriteByte(':')
	b.WriteString(ks)
	b.WriteByte(':')
	escapeRef(&b, ref)
	return b.String()
}

const hexDigits = "0123456789ABCDEF"

// escapeRef percent-encodes ':' (the key separator), '%' (so escaping is
// reversible), '{' and '}' (so a ref cannot pick a Cluster hash slot), and
// control bytes and space (so keys read well in redis-cli). Other bytes,
// UTF-8 included, pass through.
func escapeRef(b *strings.Builder, ref string) {
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c == ':' || c == '%' || c == '{' || c == '}' || c <= ' ' || c == 0x7f {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
}

// negative is the value of a "does not exist" entry. Real values are JSON
// objects, which start with '{', so the two never collide.
var negative = []byte{'!'}

func isNegative(v []byte) bool { return len(v) == 1 && v[0] == '!' }

// Values are JSON: a user is about 100–200 bytes and decodes in a couple of
// microseconds with a handful of allocations, small next to the Redis round
// trip it saves; a binary codec would save some bytes and CPU but make entries
// unreadable in redis-cli and tie them to Go struct layout. The v1 key prefix
// lets the encoding change later.
func encode[T any](v T) ([]byte, error) { return json.Marshal(v) }

// decode reads a value written by encode. Anything else (another writer,
// truncation) reports ok=false and is treated as a miss, never a crash.
func decode[T any](b []byte) (v T, ok bool) {
	if len(b) == 0 || b[0] != '{' {
		return v, false
	}
	if err := providers.DecodeJSON(b, &v); err != nil {
		return v, false
	}
	return v, true
}
