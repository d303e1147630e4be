package fastpath

import (
	"bytes"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// writeString quotes exactly as gqlgen's MarshalString, whatever the bytes
// (invalid UTF-8 and control characters included).
func FuzzWriteStringMatchesGqlgen(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnl\ncr\r", "bell\x07nul\x00", "Zoë 🥐 ✅", "bad \xab\xff utf8", "<b>&amp;</b>", "\u2028\u2029"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want, got bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		writeString(&got, s)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("writeString(%q) = %s, gqlgen writes %s", s, got.Bytes(), want.Bytes())
		}
	})
}
