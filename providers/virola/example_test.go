package virola_test

import (
	"context"
	"fmt"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

// A comment with a mention goes in as a {0} template and comes back as text
// with an "@Name" span, the id read back from the server.
func Example() {
	s := virolatest.NewServer(virolatest.Options{})
	defer s.Close()
	zoe := s.AddUser(virolatest.User{DisplayName: "Zoë Park"})
	room := s.AddRoom(virolatest.Room{Name: "Launch"})
	parent, _ := s.AddMessage(virolatest.Message{RoomID: room.ID, Text: "Release 2.4"})

	p, err := virola.New(virola.Options{ID: "virola", BaseURL: s.URL, Token: virolatest.DefaultToken})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	thread, err := p.Thread(ctx, model.ThreadKindMessage, fmt.Sprint(parent))
	if err != nil {
		panic(err)
	}
	c, err := p.CreateComment(ctx, providers.CommentInput{
		Thread:   thread,
		Text:     "🚀 shipped — thanks {0}",
		Mentions: []providers.MentionRef{{Index: 0, UserRef: fmt.Sprint(zoe.ID)}},
	})
	if err != nil {
		panic(err)
	}
	m := c.Mentions[0]
	fmt.Println(c.Text)
	fmt.Println(string([]rune(c.Text)[m.Offset:m.Offset+m.Length]), m.UserRef == fmt.Sprint(zoe.ID))
	// Output:
	// 🚀 shipped — thanks @Zoë Park
	// @Zoë Park true
}
