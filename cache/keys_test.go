package cache

import (
	"bytes"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
)

// splitKey undoes key: the last two colons separate kind and escaped ref.
func splitKey(k string) (scope, kindName, ref string, ok bool) {
	rest, found := strings.CutPrefix(k, keyPrefix)
	if !found {
		return "", "", "", false
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", "", "", false
	}
	escaped := rest[i+1:]
	rest = rest[:i]
	j := strings.LastIndexByte(rest, ':')
	if j < 0 {
		return "", "", "", false
	}
	var b strings.Builder
	for n := 0; n < len(escaped); n++ {
		if escaped[n] != '%' {
			b.WriteByte(escaped[n])
			continue
		}
		if n+2 >= len(escaped) {
			return "", "", "", false
		}
		hi, lo := strings.IndexByte(hexDigits, escaped[n+1]), strings.IndexByte(hexDigits, escaped[n+2])
		if hi < 0 || lo < 0 {
			return "", "", "", false
		}
		b.WriteByte(byte(hi<<4 | lo))
		n += 2
	}
	return rest[:j], rest[j+1:], b.String(), true
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name         string
		scopeA, refA string
		scopeB, refB string
	}{
		{"ref cannot reach into another scope", "a", "b:user:c", "a:user:b", "c"},
		{"escaped text is not its escape", "s", "x%3Ay", "s", "x:y"},
		{"hash tags are neutralised", "s", "{s}", "s", "%7Bs%7D"},
		{"empty ref", "s", "", "s", "%"},
		{"credentials differ", "klink:aaaa", "u1", "klink:bbbb", "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := key(tt.scopeA, kindUser, tt.refA), key(tt.scopeB, kindUser, tt.refB)
			if a == b {
				t.Fatalf("(%q,%q) and (%q,%q) share the key %q", tt.scopeA, tt.refA, tt.scopeB, tt.refB, a)
			}
			if strings.ContainsAny(a[strings.LastIndexByte(a, ':')+1:], "{}: ") {
				t.Fatalf("key %q has an unescaped separator or brace in its ref", a)
			}
		})
	}
	if got := key("klink:0123", kindRoom, "room 1"); got != "cg:v1:klink:0123:room:room%201" {
		t.Fatalf("key layout changed: %q", got)
	}
}

// FuzzKey checks that every key splits back into exactly the scope, kind and
// ref it was made of: no two inputs share a key.
func FuzzKey(f *testing.F) {
	f.Add("klink:0123456789abcdef", "42", uint8(0))
	f.Add("a", "b:user:c", uint8(1))
	f.Add("a:user:b", "%3A{}", uint8(2))
	f.Add("", "", uint8(3))
	f.Add("s", "Zoë 🚀\x00\x7f", uint8(0))
	f.Fuzz(func(t *testing.T, scope, ref string, k uint8) {
		kd := kind(k % 4)
		got := key(scope, kd, ref)
		s, kn, r, ok := splitKey(got)
		if !ok || s != scope || kn != kd.String() || r != ref {
			t.Fatalf("key(%q, %s, %q) = %q splits into (%q, %q, %q, %v)", scope, kd, ref, got, s, kn, r, ok)
		}
	})
}

// FuzzDecode feeds arbitrary bytes (what another writer, or a corrupted entry,
// could leave under a key) to the value decoder: never a panic, and what it
// accepts survives a round trip.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"provider":"klink","ref":"u1","name":"Ana Lee"}`))
	f.Add([]byte(`{"provider":"klink","ref":"r1","name":"Launch 🚀"}`))
	f.Add([]byte(`!`))
	f.Add([]byte(`{"ref":`))
	f.Add([]byte(`{"name":null,"email":123}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if isNegative(data) {
			if _, ok := decode[*model.User](data); ok {
				t.Fatal("the negative marker decoded as a user")
			}
		}
		if u, ok := decode[*model.User](data); ok {
			if u == nil {
				t.Fatal("decode accepted a value and returned nil")
			}
			roundTrip(t, u)
		}
		if r, ok := decode[*model.Room](data); ok {
			if r == nil {
				t.Fatal("decode accepted a value and returned nil")
			}
			roundTrip(t, r)
		}
	})
}

func roundTrip[T any](t *testing.T, v T) {
	t.Helper()
	b1, err := encode(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	v2, ok := decode[T](b1)
	if !ok {
		t.Fatalf("decode rejected what encode wrote: %s", b1)
	}
	b2, err := encode(v2)
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("round trip changed the value: %s then %s (%v)", b1, b2, err)
	}
}
