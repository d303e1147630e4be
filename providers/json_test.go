package providers_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/commentgraph/commentgraph/providers"
)

// DecodeJSON answers as encoding/json does where goccy/go-json alone would
// not: malformed JSON in a field nobody reads is an error, and invalid UTF-8
// becomes U+FFFD.
func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	type msg struct {
		ID   int    `json:"id"`
		Text string `json:"text"`
	}
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"plain", `{"id":7,"text":"Zoë 🥐","extra":{"deep":[1,2,{"x":null}]}}`},
		{"case-insensitive keys", `{"ID":7,"Text":"x"}`},
		{"malformed in an unread field", `{"id":1,"other":{"k"}}`},
		{"invalid UTF-8", "{\"id\":1,\"text\":\"a\xabb\"}"},
		{"trailing garbage", `{"id":1} x`},
		{"wrong type", `{"id":"seven"}`},
		{"empty", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got msg
			errWant := json.Unmarshal([]byte(tc.in), &want)
			errGot := providers.DecodeJSON([]byte(tc.in), &got)
			if (errWant == nil) != (errGot == nil) {
				t.Fatalf("encoding/json: %v; DecodeJSON: %v", errWant, errGot)
			}
			if errWant == nil && want != got {
				t.Errorf("encoding/json %+v; DecodeJSON %+v", want, got)
			}
		})
	}
}

// TestDecodeJSONLeavesItsInputAlone: answers are shared between the callers
// of one request (WithCallBudget), each decoding the same bytes, so decoding
// must not write to them, nor hand back values that alias them.
func TestDecodeJSONLeavesItsInputAlone(t *testing.T) {
	type msg struct {
		ID    int             `json:"id"`
		Text  string          `json:"text"`
		Raw   json.RawMessage `json:"raw"`
		Tags  []string        `json:"tags"`
		Extra map[string]any  `json:"extra"`
	}
	for _, in := range []string{
		`{"id":7,"text":"a\"b\\c\u00e9\ud83e\udd50","raw":{"k":[1,"x"]},"tags":["t\n1","t2"],"extra":{"deep":[1,{"x":null}]}}`,
		"{\"id\":1,\"text\":\"a\xabb\"}", // invalid UTF-8: the encoding/json path
		`{"id":"seven"}`,                 // an error
	} {
		data := []byte(in)
		var first msg
		err := providers.DecodeJSON(data, &first)
		if string(data) != in {
			t.Fatalf("DecodeJSON(%q) changed its input to %q", in, data)
		}
		if err != nil {
			continue
		}
		for i := range data { // what a careless second caller might do
			data[i] = 'X'
		}
		var again msg
		if err := providers.DecodeJSON([]byte(in), &again); err != nil {
			t.Fatal(err)
		}
		if first.Text != again.Text || string(first.Raw) != string(again.Raw) || fmt.Sprint(first.Tags) != fmt.Sprint(again.Tags) {
			t.Errorf("decoded values alias the input: %+v after it changed, %+v from a fresh copy", first, again)
		}
	}
}
