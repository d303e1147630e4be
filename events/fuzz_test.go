package events

import (
	"encoding/json"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
)

// since comes from clients (SSE Last-Event-ID, the since argument).
func FuzzParseID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseID(s)
		if err != nil {
			if !model.IsCode(err, model.CodeBadUserInput) {
				t.Fatalf("parseID(%q): %v is not BAD_USER_INPUT", s, err)
			}
			return
		}
		again, err := parseID(id.String())
		if err != nil || again != id {
			t.Fatalf("parseID(%q) = %v, which does not round-trip: %v %v", s, id, again, err)
		}
		if n := id.next(); !id.less(n) && id != (eventID{ms: ^uint64(0), seq: ^uint64(0)}) {
			t.Fatalf("%v.next() = %v is not after it", id, n)
		}
	})
}

// Stream entries come from a Redis shared with other instances (and whatever
// else writes there): decoding must never panic.
func FuzzDecodeEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, c, at string) {
		ev, err := decodeEntry(id, map[string]any{"c": c, "at": at})
		if err != nil {
			return
		}
		if ev.ID != id || ev.Comment == nil || ev.Comment.ProviderID == "" || ev.At.Location().String() != "UTC" {
			t.Fatalf("decodeEntry(%q, %q, %q) = %+v", id, c, at, ev)
		}
		// What a bus writes for a decoded comment decodes to the same.
		raw, err := json.Marshal(ev.Comment)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeEntry(id, map[string]any{"c": string(raw), "at": at})
		if err != nil {
			t.Fatalf("re-encoded comment does not decode: %v", err)
		}
		raw2, _ := json.Marshal(again.Comment)
		if string(raw) != string(raw2) {
			t.Fatalf("round trip changed the comment:\n%s\n%s", raw, raw2)
		}
	})
}

// An entry of any type (t, m) decodes to that type or is refused; never a
// panic, never a type the schema does not have.
func FuzzDecodeTypedEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, typ, m, at string) {
		ev, err := decodeEntry(id, map[string]any{"t": typ, "m": m, "at": at})
		if err != nil {
			return
		}
		if !ev.Type.IsValid() || string(ev.Type) != typ || ev.Comment == nil || ev.Comment.ProviderID == "" {
			t.Fatalf("decodeEntry(%q, t=%q, m=%q) = %+v", id, typ, m, ev)
		}
	})
}
