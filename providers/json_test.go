package providers_test

import (
	"encoding/json"
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
