package providers

import (
	"encoding/json"

	gojson "github.com/goccy/go-json"
)

// DecodeJSON is json.Unmarshal for upstream answers, cheaper: decoding the
// upstreams' comment pages is one of the gateway's largest costs per query
// (docs/architecture.md, "Decoding"). The bytes are first checked to be
// valid JSON and valid UTF-8, in one pass by validJSON, which answers as
// json.Valid and utf8.Valid together do (goccy/go-json skips unknown fields
// without looking at them, so it accepts some malformed JSON, and keeps
// invalid UTF-8 that encoding/json replaces). Then goccy/go-json decodes
// them into the same structs, honouring json.Unmarshaler and the same field
// matching. FuzzDecodeJSONAgrees (in the adapters) holds its results to
// encoding/json's on arbitrary input. Should it ever panic on hostile input,
// the answer is decoded again by encoding/json: a bad upstream answer is an
// error, never a crash.
func DecodeJSON(data []byte, v any) (err error) {
	if !validJSON(data) {
		// encoding/json's error, or its replacement of invalid UTF-8 by
		// U+FFFD (goccy/go-json would pass the bytes through).
		return json.Unmarshal(data, v)
	}
	defer func() {
		if recover() != nil {
			err = json.Unmarshal(data, v)
		}
	}()
	return gojson.Unmarshal(data, v)
}
