package aelysttest

import (
	"testing"
)

// TestTokensBelongToUsers checks that a comment created with a user's token
// is stored as that user's, that the answer names no author (as Aelyst's), and
// that, workspace tokens seeing every contact, each user's token reads and
// comments on every contact.
func TestTokensBelongToUsers(t *testing.T) {
	s, _ := start(t)
	s.AddToken("tok-ana", 44)
	s.AddToken("tok-bo", 43)
	for _, tc := range []struct {
		name, token string
		contact     string
		wantAuthor  int64
		want        int
	}{
		{"Ana on Jane", "tok-ana", "1", 44, 200},
		{"Bo on Jane", "tok-bo", "1", 43, 200},
		{"Bo on another contact", "tok-bo", "2", 43, 200},
		{"a token with no user named", tok, "2", 0, 200},
		{"an unknown token", "tok-nobody", "1", 0, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "note from " + tc.name
			a := do(t, s, tc.token, "POST", "/contact/id:"+tc.contact+"/comment", `{"text":"`+text+`"}`)
			if a.status != tc.want {
				t.Fatalf("create: %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if g := do(t, s, tc.token, "GET", "/contact/id:"+tc.contact, ""); g.status != tc.want {
				t.Fatalf("get contact: %d, want %d", g.status, tc.want)
			}
			if tc.want != 200 {
				if a.body["message"] != MsgUnauthorized {
					t.Errorf("401 body %s", a.raw)
				}
				return
			}
			for _, k := range []string{"author", "authorId", "userId", "sender"} {
				if _, ok := a.body[k]; ok {
					t.Errorf("the answer names an author (%s): %s", k, a.raw)
				}
			}
			id := int64(a.body["contactId"].(float64))
			cs := s.Comments(id)
			if last := cs[len(cs)-1]; last.Text != text || last.AuthorID != tc.wantAuthor {
				t.Errorf("stored %+v, want %q by %d", last, text, tc.wantAuthor)
			}
		})
	}
}
