package virolatest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Cast is the demo's people, the same names on every provider's emulator.
var Cast = []string{"Ana Lee", "Bo Tan", "Chidi Okafor", "Dana Kowalski", "Émile Rousseau", "Sato Yūki", "Zoë Park"}

// demoState remembers what SeedDemo made, for DemoActivity.
type demoState struct {
	people  []int64 // cast user ids
	threads []int64 // parent messages that have discussions
	names   map[int64]string
}

// SeedDemo fills the server with a small company's worth of believable data:
// the cast as users, two public rooms and a private one, top-level messages with
// discussions that mention each other, non-ASCII text and emoji, an edited
// comment, a deleted one, every markup type, priority, issue and meeting
// messages, read receipts and attachments in every state. It returns an error
// only if the server already holds conflicting data.
func (s *Server) SeedDemo() error {
	ids := make(map[string]int64, len(Cast))
	var people []int64
	for _, name := range Cast {
		u := s.AddUser(User{UserName: userName(name), DisplayName: name})
		ids[name] = u.ID
		people = append(people, u.ID)
	}
	bot := s.BotID()
	launch := s.AddRoom(Room{Name: "Launch 🚀", Pinned: true})
	design := s.AddRoom(Room{Name: "Design review"})
	private := s.AddRoom(Room{Name: "Zoë Park", Type: "Private", Members: []int64{bot, ids["Zoë Park"]}})

	now := s.now().UTC()
	at := func(minutesAgo int) time.Time { return now.Add(-time.Duration(minutesAgo) * time.Minute) }
	reads := func(minutesAgo int, names ...string) []Read {
		var out []Read
		for i, n := range names {
			out = append(out, Read{UserID: ids[n], At: at(minutesAgo - i - 1)})
		}
		return out
	}
	png := []byte("\x89PNG\r\n\x1a\n demo screenshot")
	pdf := []byte("%PDF-1.4 demo release notes")

	type comment struct {
		m       Message
		editTo  string
		deleted bool
	}
	type thread struct {
		top      Message
		comments []comment
	}
	threads := []thread{
		{top: Message{RoomID: launch.ID, UserID: ids["Ana Lee"], Created: at(300),
			Text: "Release 2.4 goes out Thursday\nChecklist and notes in the discussion."},
			comments: []comment{
				{m: Message{UserID: ids["Bo Tan"], Created: at(290), Text: "Release notes draft attached, @Ana Lee please check the wording.",
					Attachments: []Attachment{{FileName: "release-notes-2.4.pdf", Content: pdf}}, ReadBy: reads(280, "Ana Lee", "Zoë Park")}},
				{m: Message{UserID: ids["Ana Lee"], Created: at(280), Text: "Looks good — one typo in §3, fixed it 👍"},
					editTo: "Looks good — one typo in §3, fixed it myself 👍"},
				{m: Message{UserID: ids["Chidi Okafor"], Created: at(250), Priority: "High", Text: "Smoke tests are green on staging. @Dana Kowalski can you sign off?"}},
				{m: Message{UserID: ids["Dana Kowalski"], Created: at(240), Text: "Signed off ✅"}},
				{m: Message{UserID: ids["Sato Yūki"], Created: at(200), Text: "wrong thread, sorry"}, deleted: true},
				{m: Message{UserID: ids["Émile Rousseau"], Created: at(120), Text: "🚀 shipped — thanks @Zoë Park", ReadBy: reads(100, "Ana Lee", "Bo Tan", "Zoë Park")}},
			}},
		{top: Message{RoomID: launch.ID, UserID: ids["Dana Kowalski"], Created: at(200), Type: "Issue", Priority: "Critical",
			Text:  "Checkout fails for carts over 99 items",
			Issue: &IssueProperties{Type: "Bug", Status: "InProgress", Assignees: []int64{ids["Chidi Okafor"]}}},
			comments: []comment{
				{m: Message{UserID: ids["Chidi Okafor"], Created: at(190), Markup: "TextCode", Priority: "Critical",
					Text: "panic: index out of range [100] with length 100\n\tcheckout/cart.go:212"}},
				{m: Message{UserID: ids["Zoë Park"], Created: at(185), Markup: "TextMarkdown",
					Text: "Repro steps:\n1. add **100** items\n2. press *Pay*\n\n@Chidi Okafor screenshots below",
					Attachments: []Attachment{
						{FileName: "cart-100.png", Content: png, HasThumbnail: true, Width: 1280, Height: 800},
						{FileName: "cart-101.png", State: StateUploading},
						{FileName: "screen-recording.mp4", State: StateVerifying},
						{FileName: "trace.json", State: StateChecksumClientFailed},
					}}},
				{m: Message{UserID: ids["Bo Tan"], Created: at(170), Markup: "TextHtml", Priority: "Low",
					Text: "<p>Same on <b>iOS</b> — log attached, thanks <i>@Zoë Park</i></p>",
					Attachments: []Attachment{
						{FileName: "ios.log", State: StateUploadFailed},
						{FileName: "ios-2.log", State: StateVerificationMismatch},
						{FileName: "ios-3.log", State: StateVerificationFailed},
						{FileName: "ios-4.log", State: StateInitial},
						{FileName: "ios-5.log", State: StateChecksumClient},
					}}},
			}},
		{top: Message{RoomID: design.ID, UserID: ids["Émile Rousseau"], Created: at(400), Type: "Meeting",
			Text:    "Design crit: onboarding flow v3\nThursday 10:00, room Kyōto",
			Meeting: &MeetingProperties{TimeUtc: ms(now.Add(48 * time.Hour)), Duration: 3600}},
			comments: []comment{
				{m: Message{UserID: ids["Sato Yūki"], Created: at(390), Text: "I'll bring the new illustrations 🎨 — @Émile Rousseau can we add 10 min for them?"}},
				{m: Message{UserID: ids["Émile Rousseau"], Created: at(380), Markup: "TextLatex", Priority: "Trivial",
					Text: "Agenda weight: $t_{crit} = 50\\,\\mathrm{min} + 10\\,\\mathrm{min}$"}},
				{m: Message{UserID: ids["Ana Lee"], Created: at(60), Priority: "Blocker", Text: "Heads-up: Thursday clashes with the release, @Sato Yūki could we move to Friday?"}},
			}},
		{top: Message{RoomID: design.ID, UserID: ids["Zoë Park"], Created: at(90), Text: "New icon set is in Figma 🎉"}},
		{top: Message{RoomID: private.ID, UserID: ids["Zoë Park"], Created: at(80), Text: "Quick question about the API bot"},
			comments: []comment{
				{m: Message{UserID: bot, Created: at(79), Text: "Hi @Zoë Park — I post release summaries here."}},
			}},
	}

	var demoThreads []int64
	for _, t := range threads {
		parent, err := s.AddMessage(t.top)
		if err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
		if len(t.comments) > 0 {
			demoThreads = append(demoThreads, parent)
		}
		for _, c := range t.comments {
			id, err := s.AddComment(parent, c.m)
			if err != nil {
				return fmt.Errorf("seed demo: %w", err)
			}
			if c.editTo != "" {
				if err := s.EditMessage(id, c.editTo); err != nil {
					return fmt.Errorf("seed demo: %w", err)
				}
			}
			if c.deleted {
				if err := s.DeleteMessage(id); err != nil {
					return fmt.Errorf("seed demo: %w", err)
				}
			}
		}
	}
	names := make(map[int64]string, len(ids))
	for n, id := range ids {
		names[id] = n
	}
	s.mu.Lock()
	s.demo = demoState{people: people, threads: demoThreads, names: names}
	s.mu.Unlock()
	return nil
}

func userName(display string) string {
	out := make([]rune, 0, len(display))
	for _, r := range display {
		switch {
		case r == ' ':
			out = append(out, '.')
		case r < 128:
			out = append(out, r|0x20) // ASCII letters to lower case
		default:
			out = append(out, r)
		}
	}
	return string(out)
}

var demoLines = []string{
	"Pushed a fix, can you take another look %s?",
	"👀 on it",
	"Merged. Thanks %s!",
	"Numbers from this morning look better — p95 down to 180 ms 📉",
	"I'll pair with %s on this after lunch",
	"Can we sync on this tomorrow? Ça me va aussi le matin.",
	"Added notes to the doc ✍️",
	"%s this might affect the mobile build too",
	"LGTM 🚀",
	"了解です — I'll update the ticket",
}

// DemoActivity posts one new comment from a random cast member into one of the
// seeded discussions, as someone using Virola would, and pushes it to the
// events clients. It does nothing before SeedDemo.
func (s *Server) DemoActivity(rng *rand.Rand) {
	s.mu.Lock()
	d := s.demo
	var live []int64
	for _, id := range d.threads {
		// Only the public discussions: anyone in the cast may talk there.
		if m, ok := s.world.msgs[id]; ok && s.world.rooms[m.RoomID].members == nil {
			live = append(live, id)
		}
	}
	s.mu.Unlock()
	if len(live) == 0 || len(d.people) < 2 {
		return
	}
	parent := live[rng.IntN(len(live))]
	author := d.people[rng.IntN(len(d.people))]
	other := d.people[rng.IntN(len(d.people))]
	for other == author {
		other = d.people[rng.IntN(len(d.people))]
	}
	line := demoLines[rng.IntN(len(demoLines))]
	text := line
	if strings.Contains(line, "%s") {
		text = fmt.Sprintf(line, "@"+d.names[other])
	}
	_, _ = s.AddComment(parent, Message{UserID: author, Text: text})
}
