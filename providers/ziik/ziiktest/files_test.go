package ziiktest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// upload posts one file part named field to POST /messages/{id}/files.
func (f *fixture) upload(t *testing.T, msg int, field, name, ctype, content string) (int, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, field, name)}
	h["Content-Type"] = []string{ctype}
	pw, _ := w.CreatePart(h)
	_, _ = io.WriteString(pw, content)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/messages/%d/files", f.srv.URL, msg), &b)
	req.Header.Set("Authorization", "Bearer "+f.jwt)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// A message announces its files with fileCount and lists them as not
// uploaded until each arrives; an upload fills the next, and the file's
// source serves its bytes with the JWT, by range too.
func TestFileCountUploadAndDownload(t *testing.T) {
	f := newFixture(t, ziiktest.Options{})
	conv, err := f.srv.AddConversation(ziiktest.Conversation{Participants: []int{f.srv.BotID()}})
	if err != nil {
		t.Fatal(err)
	}
	status, body := f.do(t, "POST", fmt.Sprintf("/conversations/%d/messages", conv), f.jwt, map[string]any{"message": "two files", "fileCount": 2})
	var m struct {
		ID    int `json:"id"`
		Files []struct {
			ID       int    `json:"id"`
			Uploaded bool   `json:"uploaded"`
			Source   string `json:"source"`
		} `json:"files"`
	}
	if status != http.StatusCreated || json.Unmarshal(body, &m) != nil || len(m.Files) != 2 || m.Files[0].Uploaded || m.Files[1].Uploaded {
		t.Fatalf("create: %d %s", status, body)
	}
	for _, tc := range []struct {
		name, field string
		status      int
		code        string
	}{
		{"first file", "file", http.StatusCreated, ""},
		{"no part named file", "upload", http.StatusUnprocessableEntity, "invalid_parameters"},
		{"second file", "file", http.StatusCreated, ""},
		{"one more than announced", "file", http.StatusUnprocessableEntity, "invalid_parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.upload(t, m.ID, tc.field, tc.name+".txt", "text/plain", "bytes of "+tc.name)
			if status != tc.status || (tc.code != "" && errorCode(t, body) != tc.code) {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
	status, body = f.do(t, "POST", fmt.Sprintf("/conversations/%d/messages", conv), f.jwt, map[string]any{"message": "x", "fileCount": 11})
	if status != http.StatusUnprocessableEntity || errorCode(t, body) != "invalid_parameters" {
		t.Fatalf("fileCount 11: %d %s", status, body)
	}
	got, _ := f.srv.Message(m.ID)
	src := strings.TrimSuffix(f.srv.URL, "/api") + fmt.Sprintf("/files/%d/%s", got.Files[1].ID, url.PathEscape(got.Files[1].Name))
	for _, tc := range []struct {
		name, jwt, rng string
		status         int
		body           string
	}{
		{"whole", f.jwt, "", http.StatusOK, "bytes of second file"},
		{"range", f.jwt, "bytes=9-12", http.StatusPartialContent, "seco"},
		{"no token", "", "", http.StatusUnauthorized, ""},
	} {
		t.Run("download "+tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, src, nil)
			if tc.jwt != "" {
				req.Header.Set("Authorization", "Bearer "+tc.jwt)
			}
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) {
				t.Fatalf("%d %q", resp.StatusCode, b)
			}
			if tc.status == http.StatusOK && (resp.Header.Get("Content-Type") != "text/plain" ||
				resp.Header.Get("Content-Length") != fmt.Sprint(len(tc.body)) || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment")) {
				t.Fatalf("headers %v", resp.Header)
			}
		})
	}
}
