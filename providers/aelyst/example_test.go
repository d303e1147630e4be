package aelyst_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/aelyst"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
)

// The gateway's wiring in miniature: a provider over the emulator, its
// webhook endpoint, a comment posted with a mention and read back from the
// journal.
func Example() {
	upstream := aelysttest.NewServer(aelysttest.Options{Token: "token"})
	defer upstream.Close()
	upstream.SeedDemo()

	p, err := aelyst.New(aelyst.Options{
		ID:            "aelyst",
		BaseURL:       upstream.URL,
		Token:         "token",
		WebhookSecret: "secret",
		// Journal: aelyst.NewRedisJournal(rdb, "") in production.
	})
	if err != nil {
		panic(err)
	}

	changes := make(chan *providers.Change, 32)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, aelyst.MaxWebhookBody+1))
		change, err := p.ReceiveWebhook(r.Context(), r.Header, body)
		if model.IsCode(err, model.CodeUnauthenticated) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if err != nil {
			http.Error(w, "bad delivery", http.StatusBadRequest)
			return
		}
		changes <- change
	}))
	defer hook.Close()

	ctx := context.Background()
	thread, err := p.Thread(ctx, model.ThreadKindContact, "email:jane@acme.com")
	if err != nil {
		panic(err)
	}
	c, err := p.CreateComment(ctx, providers.CommentInput{
		Thread:   thread,
		Text:     "🚀 shipped — thanks {0}",
		Mentions: []providers.MentionRef{{Index: 0, UserRef: "107"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(thread.Ref, *thread.Title)
	fmt.Println(c.Text, c.Mentions[0].Offset, c.Mentions[0].Length)
	fmt.Println(c.Body)

	page, err := p.ListComments(ctx, thread, providers.Page{Last: 10})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(page.Edges), page.Edges[0].Comment.Ref == c.Ref)
	// Output:
	// id:2001 Jane Doe
	// 🚀 shipped — thanks @Zoë Park 19 9
	// 🚀 shipped — thanks {{@user.107}}
	// 1 true
}
