package ziik

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/providers"
)

// The readers below skip decodes for the shapes Ziik usually sends (an id
// object as parent, {} as avatar, null org, plain ASCII strings). These
// reference versions decode everything, as the readers did before; the fuzz
// test holds the fast ones to them on any value.

func refParentID(m *wireMessage) int64 {
	var obj struct {
		ID flexInt `json:"id"`
	}
	if len(m.Parent) > 0 {
		if providers.DecodeJSON(m.Parent, &obj) == nil && obj.ID > 0 {
			return int64(obj.ID)
		}
		var id flexInt
		if providers.DecodeJSON(m.Parent, &id) == nil && id > 0 {
			return int64(id)
		}
	}
	return int64(m.ParentID)
}

func refOrgName(raw json.RawMessage) string {
	var obj struct {
		Name string `json:"name"`
	}
	if providers.DecodeJSON(raw, &obj) == nil && obj.Name != "" {
		return obj.Name
	}
	var s string
	if providers.DecodeJSON(raw, &s) == nil {
		return s
	}
	return ""
}

func refAvatarURL(raw json.RawMessage) string {
	var s string
	if providers.DecodeJSON(raw, &s) == nil {
		return s
	}
	var obj map[string]json.RawMessage
	if providers.DecodeJSON(raw, &obj) != nil {
		return ""
	}
	for _, k := range []string{"url", "original", "large", "medium", "small", "thumb", "thumbnail"} {
		if providers.DecodeJSON(obj[k], &s) == nil && s != "" {
			return s
		}
	}
	return ""
}

// FuzzFastReadersAgree feeds one JSON value to each fast reader and its
// reference: parent, org, avatar, string and number must read the same.
func FuzzFastReadersAgree(f *testing.F) {
	for _, s := range []string{
		`{"id":9902}`, `{"id":0}`, `{"id":"12"}`, `{"ID":5}`, `{"id":12,"id":13}`, `{"id":1234567890123456}`, `{"id":99999999999999999}`,
		`{"id":0012}`, `12`, `"12"`, `null`, ` null `, `[]`, `{}`, `{ }`, `""`, `"Sales"`, `{"name":"Ops"}`,
		`{"name":""}`, `{"name":7}`, `{"url":"https://a"}`, `{"url":null,"thumb":"t"}`, `{"url":1,"large":"l"}`,
		`"https://x/y?z=1"`, `"caf\u00e9"`, `"a\"b"`, `"Zoë"`, `" 42 "`, `"0x10"`, `"1e3"`, `1.5e3`, `-1`, `true`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 || !json.Valid(raw) {
			// Every reader is handed one value of a document already
			// decoded, so it is valid JSON (or absent: covered below).
			raw = nil
		}
		m := &wireMessage{Parent: raw, ParentID: 77}
		if got, want := m.parentID(), refParentID(&wireMessage{Parent: raw, ParentID: 77}); got != want {
			t.Errorf("parentID(%s) = %d, reference %d", raw, got, want)
		}
		if got, want := orgName(raw), refOrgName(raw); got != want {
			t.Errorf("orgName(%s) = %q, reference %q", raw, got, want)
		}
		if got, want := avatarURL(raw), refAvatarURL(raw); got != want {
			t.Errorf("avatarURL(%s) = %q, reference %q", raw, got, want)
		}
		if raw == nil {
			return
		}
		var s flexString
		errS := s.UnmarshalJSON(raw)
		var str string
		errRef := providers.DecodeJSON(raw, &str)
		sref := flexString(str)
		if len(raw) > 0 && raw[0] == '"' && ((errS == nil) != (errRef == nil) || s != sref) {
			t.Errorf("flexString(%s) = %q, %v; decoded %q, %v", raw, s, errS, sref, errRef)
		}
		got, errGot := flexNumber(raw)
		want, errWant := refFlexNumber(raw)
		if (errGot == nil) != (errWant == nil) || got != want && !(got != got && want != want) {
			t.Errorf("flexNumber(%s) = %v, %v; reference %v, %v", raw, got, errGot, want, errWant)
		}
	})
}

func refFlexNumber(b []byte) (float64, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return 0, nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := providers.DecodeJSON(b, &s); err != nil {
			return 0, err
		}
		b = []byte(strings.TrimSpace(s))
		if len(b) == 0 {
			return 0, nil
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		err = fmt.Errorf("not finite")
	}
	return v, err
}
