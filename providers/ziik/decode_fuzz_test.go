package ziik

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/commentgraph/commentgraph/providers"
)

// FuzzDecodeJSONAgrees holds providers.DecodeJSON (goccy/go-json) to
// encoding/json on Ziik's wire shapes, whatever the bytes: both fail, or
// both decode to the same values. The seeds are the message-page corpus.
func FuzzDecodeJSONAgrees(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseMessagePage", "*"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"data":[{"id":"7","author":{"id":3,"first_name":"Zoë","avatar":{"url":"https://a"},"department":{"name":"Ops"}},"parent":{"id":1},"date":1.7e9,"files":[{"id":1,"size":"12"}]}],"meta":{"next_cursor":5}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		type page struct {
			Data       []wireMessage `json:"data"`
			NextCursor flexString    `json:"next_cursor"`
			Meta       struct {
				NextCursor flexString `json:"next_cursor"`
			} `json:"meta"`
		}
		for _, pair := range [][2]any{{&page{}, &page{}}, {&[]wireMessage{}, &[]wireMessage{}}, {&wireConversation{}, &wireConversation{}}} {
			want, got := pair[0], pair[1]
			errWant := json.Unmarshal(body, want)
			errGot := providers.DecodeJSON(body, got)
			if (errWant == nil) != (errGot == nil) {
				t.Fatalf("%T: encoding/json error %v, DecodeJSON error %v", want, errWant, errGot)
			}
			if errWant == nil && !reflect.DeepEqual(want, got) {
				t.Fatalf("%T differs:\nencoding/json %+v\nDecodeJSON    %+v", want, want, got)
			}
		}
	})
}
