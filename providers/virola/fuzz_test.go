package virola

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// fuzzProvider is a provider with a user list already in hand, so mapping
// needs no upstream.
func fuzzProvider(t testing.TB) *Provider {
	p, err := New(Options{ID: "vir", BaseURL: "https://virola.example.com", Token: "t", DirectoryTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p.users = p.mapUsers([]apiUser{
		{UserID: 1, DisplayName: "Ana"}, {UserID: 2, DisplayName: "Ana Lee"}, {UserID: 3, DisplayName: "Zoë Park"},
		{UserID: 4, DisplayName: "Sato Yūki"}, {UserID: 5, UserName: "bo"}, {UserID: 6, DisplayName: "@@"},
	})
	return p
}

// checkComment asserts what every mapped comment must hold whatever the input.
func checkComment(t *testing.T, c *model.Comment) {
	n := utf8.RuneCountInString(c.Text)
	runes := []rune(c.Text)
	for _, m := range c.Mentions {
		if m.Offset < 0 || m.Length < 2 || m.Offset+m.Length > n {
			t.Fatalf("mention %+v outside text of %d code points", m, n)
		}
		if runes[m.Offset] != '@' {
			t.Fatalf("mention %+v does not start at an @ in %q", m, c.Text)
		}
	}
	if c.CreatedAt.Location() != time.UTC {
		t.Fatal("time not UTC")
	}
	if !c.Markup.IsValid() {
		t.Fatalf("markup %q", c.Markup)
	}
	for _, a := range c.Attachments {
		if !a.State.IsValid() || a.Kind == "" {
			t.Fatalf("attachment %+v", a)
		}
	}
}

// FuzzCommentList feeds the comments list answer through decoding, paging
// and mapping.
func FuzzCommentList(f *testing.F) {
	f.Add([]byte(`{"httpStatusCode":200,"roomId":2,"messages":[{"messageId":2000129,"parentMessageId":2000127,"roomId":2,"userId":3,"text":"Looks good @Ana Lee","markupType":"TextPlain","messageType":"Regular","priority":"Normal","commentCount":0,"attachments":[{"attachmentId":13,"attachmentState":"ReadyForDownloadFromServerToClient","createdUtc":0,"fileName":"Screenshot.png","fileSize":63560,"hasThumbnail":true}],"createdUtc":1753210377178,"lastEditedUtc":1753210377178,"lastModifiedUtc":1753210404075,"readTimestamps":[{"userId":1,"readUtc":1759757496294}]}]}`), int64(0), false)
	f.Add([]byte(`{"messages":[{"messageId":5,"text":"<p>hi <b>@Zoë Park</b>&amp;</p>","markupType":"TextHtml"},{"messageId":5},{"messageId":-1}]}`), int64(4), true)
	f.Fuzz(func(t *testing.T, body []byte, cursor int64, backward bool) {
		p := fuzzProvider(t)
		var l messageList
		if providers.DecodeJSON(body, &l) != nil { // as Caller.JSON decodes it
			return
		}
		msgs := strictlyBeyond(l.Messages, cursor, backward)
		for i := range msgs {
			if i > 0 && msgs[i].MessageID <= msgs[i-1].MessageID {
				t.Fatal("not strictly ascending")
			}
			checkComment(t, p.toComment(&msgs[i], p.users))
		}
	})
}

// FuzzEventFrame feeds an events frame through parsing and mapping.
func FuzzEventFrame(f *testing.F) {
	f.Add([]byte(`{"type":"TextMessagesCreated","data":{"messages":[{"messageId":2000130,"parentMessageId":2000127,"roomId":2,"userId":3,"text":"🚀 shipped — thanks @Zoë Park","createdUtc":1753210377178,"lastEditedUtc":1753210377178}]}}`))
	f.Add([]byte(`{"type":"TextMessagesUpdated","data":{"messages":[{"messageId":2000127,"parentMessageId":0,"roomId":2,"commentCount":3,"text":"Parent\nline"}]}}`))
	f.Add([]byte(`{"type":"TextMessageDeleted","data":{"messageId":2000130,"roomId":2,"parentMessageId":2000127}}`))
	f.Add([]byte(`{"type":"RoomCreated","data":{"room":{"roomId":7,"displayName":"Launch 🚀","roomType":"Public","lastMessage":null}}}`))
	f.Add([]byte(`{"type":"RoomDeleted","data":{"roomId":7}}`))
	f.Add([]byte(`{"type":"SomethingNew","data":[1,2,3]}`))
	f.Add([]byte(`{"type":"TextMessagesCreated","data":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := fuzzProvider(t)
		fr, err := parseFrame(raw)
		if err != nil {
			return
		}
		for _, ch := range p.changes(context.Background(), fr) {
			if !strings.HasPrefix(ch.Key, "virola:") {
				t.Fatalf("key %q", ch.Key)
			}
			for _, c := range append(ch.Comments, ch.UpdatedComments...) {
				checkComment(t, c)
			}
		}
	})
}

// FuzzMentions checks mention detection on any text and any user name.
func FuzzMentions(f *testing.F) {
	f.Add("🚀 shipped — thanks @Zoë Park", "Zoë Park")
	f.Add("mail bo@tan.com and @Ana Leeroy", "Ana Lee")
	f.Add("@@@@", "@")
	f.Add("@\xff\xfe", "\xff")
	f.Fuzz(func(t *testing.T, text, name string) {
		ix := newNameIndex([]*model.User{{Ref: "1", Name: name}, {Ref: "2", Name: "Ana"}})
		n := utf8.RuneCountInString(text)
		for _, m := range ix.detect("vir", text) {
			if m.Offset < 0 || m.Length < 2 || m.Offset+m.Length > n {
				t.Fatalf("span %+v outside %d code points", m, n)
			}
		}
	})
}

// FuzzErrorText reads any error body.
func FuzzErrorText(f *testing.F) {
	f.Add([]byte(`{"errorText":"Wrong Bearer, please renew Web API Access Token","httpStatusCode":401}`))
	f.Add([]byte(`<html>502</html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if got := errorText(body); len(got) > len(body) {
			t.Fatalf("error text %q longer than the body", got)
		}
	})
}
