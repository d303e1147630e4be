package ziik

import "testing"

// FuzzParseFile feeds the upload answer's parser anything: it returns a file
// with an id or an error, never panics, and what it returns maps to an
// attachment with a state.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(`{"id":1,"name":"a.txt","uploaded":false}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		wf, err := parseFile(body)
		if err != nil {
			return
		}
		if wf.ID <= 0 {
			t.Fatalf("file without an id: %+v", wf)
		}
		as := attachments("z", &wireMessage{Files: []wireFile{*wf}})
		if len(as) != 1 || !as[0].State.IsValid() || as[0].Name == "" {
			t.Fatalf("mapped %+v", as)
		}
	})
}
