package virolatest

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"testing"
)

// multipartBody is a multipart/form-data body with one file part per name
// given, under field.
func multipartBody(field string, names ...string) (string, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, n := range names {
		fw, _ := w.CreateFormFile(field, n)
		fmt.Fprintf(fw, "content of %s", n)
	}
	_ = w.Close()
	return w.FormDataContentType(), b.String()
}

// The attach endpoint takes the notes' parts named files from the message's
// author and serves them through the download endpoint; anything else is
// refused with Virola's error body.
func TestUploadEndpoint(t *testing.T) {
	s := NewServer(Options{})
	t.Cleanup(s.Close)
	other := s.AddUser(User{UserName: "zoe", DisplayName: "Zoë"})
	s.AddToken("zoe-token", other.ID)
	room := s.AddRoom(Room{Name: "r"})
	mine, _ := s.AddMessage(Message{RoomID: room.ID, Text: "mine"})
	theirs, _ := s.AddMessage(Message{RoomID: room.ID, UserID: other.ID, Text: "theirs"})
	path := func(id int64) string { return fmt.Sprintf("/api/v1/messages/%d/attachments", id) }
	okType, okBody := multipartBody("files", "a.txt", "b.txt")
	otherType, otherBody := multipartBody("file", "a.txt")
	for _, tc := range []struct {
		name, token, ctype, body string
		id                       int64
		status                   int
	}{
		{"two files", s.Token(), okType, okBody, mine, http.StatusOK},
		{"not multipart", s.Token(), "application/json", `{}`, mine, http.StatusBadRequest},
		{"no part named files", s.Token(), otherType, otherBody, mine, http.StatusBadRequest},
		{"another user's message", s.Token(), okType, okBody, theirs, http.StatusForbidden},
		{"no such message", s.Token(), okType, okBody, 42, http.StatusNotFound},
		{"no token", "", okType, okBody, mine, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := doType(t, s, tc.token, http.MethodPost, path(tc.id), tc.ctype, tc.body)
			if status != tc.status || int(out["httpStatusCode"].(float64)) != tc.status {
				t.Fatalf("%d %s, want %d", status, raw, tc.status)
			}
			if status != http.StatusOK && out["errorText"] == "" {
				t.Fatalf("no errorText: %s", raw)
			}
		})
	}
	s.mu.Lock()
	atts := s.world.msgs[mine].Attachments
	s.mu.Unlock()
	if len(atts) != 2 || atts[0].AttachmentState != StateReady || atts[1].FileName != "b.txt" || atts[1].FileSize != int64(len("content of b.txt")) {
		t.Fatalf("attachments %+v", atts)
	}
	status, _, raw := do(t, s, s.Token(), http.MethodGet, fmt.Sprintf("/api/v1/attachments/%d/b.txt", atts[1].AttachmentID), "")
	if status != http.StatusOK || string(raw) != "content of b.txt" {
		t.Fatalf("download %d %q", status, raw)
	}
}
