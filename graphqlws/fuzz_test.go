package graphqlws

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseMessage feeds arbitrary client frames through everything the read
// loop parses before an operation starts: the message, connection_init's
// payload, the request and its sharing key. None may panic, and a request
// that parses has a key that does not depend on the order of its variables.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"type":"connection_init","payload":{"Authorization":"Bearer x"}}`))
	f.Add([]byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription { commentAdded { id } }","variables":{"b":1,"a":[1.50,"x"]}}}`))
	f.Add([]byte(`{"id":"1","type":"start","payload":{"query":"{ providers { id } }","operationName":"Q","extensions":{"persistedQuery":{"version":1}}}}`))
	f.Add([]byte(`{"type":"ping","payload":null}`))
	f.Add([]byte(`{"id":"\u00e9","type":"complete"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMessage(data)
		if err != nil {
			return
		}
		_, _ = parseInitPayload(m.Payload)
		p, err := parseRequest(m.Payload)
		if err != nil {
			return
		}
		tr := New(Options{})
		s := &socket{t: tr, share: true, key: "k"}
		key, shared := tr.shareKey(s, p)
		if !shared {
			return
		}
		// Re-encoding the variables and decoding them again gives the same
		// key: the key is canonical.
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("a parsed request does not encode: %v", err)
		}
		p2, err := parseRequest(raw)
		if err != nil {
			t.Fatalf("a re-encoded request does not parse: %v", err)
		}
		if key2, _ := tr.shareKey(s, p2); key2 != key {
			t.Fatalf("key changed after a round trip:\n%q\n%q", key, key2)
		}
	})
}

func FuzzCloseReason(f *testing.F) {
	f.Add("Subscriber for " + strings.Repeat("é", 80) + " already exists")
	f.Add("slow consumer")
	f.Fuzz(func(t *testing.T, s string) {
		r := closeReason(s)
		if len(r) > 123 || !strings.HasPrefix(s, r) || (utf8.ValidString(s) && !utf8.ValidString(r)) {
			t.Fatalf("closeReason(%q) = %q", s, r)
		}
	})
}
