package virola

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/commentgraph/commentgraph/providers"
)

// FuzzDecodeJSONAgrees holds providers.DecodeJSON (goccy/go-json, which
// Caller.JSON decodes with) to encoding/json on Virola's list answers,
// whatever the bytes: both fail, or both decode to the same values.
func FuzzDecodeJSONAgrees(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzCommentList", "*"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"httpStatusCode":200,"roomId":2,"messages":[{"messageId":2000129,"parentMessageId":2000127,"roomId":2,"userId":3,"text":"Looks good @Ana Lee","markupType":"TextPlain","attachments":[{"attachmentId":13,"attachmentState":"ReadyForDownloadFromServerToClient","fileName":"S.png","fileSize":63560,"size":{"width":3,"height":4}}],"createdUtc":1753210377178,"readTimestamps":[{"userId":1,"readUtc":1759757496294}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var want, got messageList
		errWant := json.Unmarshal(body, &want)
		errGot := providers.DecodeJSON(body, &got)
		if (errWant == nil) != (errGot == nil) {
			t.Fatalf("encoding/json error %v, DecodeJSON error %v", errWant, errGot)
		}
		if errWant == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("differs:\nencoding/json %+v\nDecodeJSON    %+v", want, got)
		}
	})
}
