package ziik

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// capture keeps the body of the last messages answer the adapter read.
type capture struct {
	next http.RoundTripper
	body []byte
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/messages") {
		return res, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	c.body = b
	res.Body = io.NopCloser(strings.NewReader(string(b)))
	return res, nil
}

// BenchmarkListCommentsDecode is the adapter's CPU work for one page of the
// bench/ world's Ziik thread (a parent and its replies, two authors, every
// reply mentioning two people), without the HTTP round trip: parsing the
// emulator's answer, mapping authors, filtering the parent's replies and
// mapping each with its mentions. It is the straggler of the 50-comment
// timeline's fan-out (bench/ -bench.allocprofile).
func BenchmarkListCommentsDecode(b *testing.B) {
	srv := ziiktest.NewServer(ziiktest.Options{})
	b.Cleanup(srv.Close)
	dana := srv.AddUser(ziiktest.User{FirstName: "Dana", LastName: "Kowalski", Email: "dana@example.com", Reference: "dana"})
	emile := srv.AddUser(ziiktest.User{FirstName: "Émile", LastName: "Rousseau", Email: "emile@example.com", Reference: "emile"})
	zoe := srv.AddUser(ziiktest.User{FirstName: "Zoë", LastName: "Park", Email: "zoe@example.com", Reference: "zoe"})
	conv, err := srv.AddConversation(ziiktest.Conversation{Title: "Lyon store opening", Participants: []int{srv.BotID(), dana, emile, zoe}})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	parent, err := srv.AddMessage(ziiktest.Message{ConversationID: conv, AuthorID: zoe, Date: at, Text: "Opening day plan"})
	if err != nil {
		b.Fatal(err)
	}
	names := map[int]string{dana: "Émile Rousseau", emile: "Dana Kowalski"}
	for i := range 17 {
		sender := []int{dana, emile}[i%2]
		text := fmt.Sprintf("Point %02d: Façade prête 🥐 — @%s and @Zoë Park, OK?", i, names[sender])
		if _, err := srv.AddMessage(ziiktest.Message{ConversationID: conv, AuthorID: sender, ParentID: parent, Date: at.Add(time.Duration(i) * time.Minute), Text: text}); err != nil {
			b.Fatal(err)
		}
	}
	email, pass := srv.Credentials()
	rec := &capture{next: http.DefaultTransport}
	p, err := New(Options{ID: "ziik", BaseURL: srv.URL, Email: email, Password: pass, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		b.Fatal(err)
	}
	th := &model.Thread{ProviderID: "ziik", Kind: model.ThreadKindMessage, Ref: fmt.Sprintf("%d:%d", conv, parent)}
	page, err := p.ListComments(context.Background(), th, providers.Page{Last: 50})
	if err != nil {
		b.Fatal(err)
	}
	if len(page.Edges) != 17 || len(page.Edges[0].Comment.Mentions) != 2 {
		b.Fatalf("the page has %d comments, the first with %d mentions; want 17 with 2", len(page.Edges), len(page.Edges[0].Comment.Mentions))
	}
	body := rec.body
	t := threadRef{conv: int64(conv), msg: int64(parent)}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		pg, err := parseMessagePage(body)
		if err != nil {
			b.Fatal(err)
		}
		p.mapAuthors(pg)
		var got []*wireMessage
		for i := range pg.items {
			if m := &pg.items[i]; m.parentID() == t.msg {
				got = append(got, m)
			}
		}
		if out := p.commentPage(th, t, got, false, false); len(out.Edges) != 17 {
			b.Fatalf("%d comments, want 17", len(out.Edges))
		}
	}
}
