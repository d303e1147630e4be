package ziiktest

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// cast is the shared demo cast, the same people on every provider.
var cast = []User{
	{FirstName: "Ana", LastName: "Lee", Title: "Product Manager", Department: "Product", Unit: "HQ", Reference: "ana.lee"},
	{FirstName: "Bo", LastName: "Tan", Title: "Backend Engineer", Department: "Engineering", Unit: "HQ", Reference: "bo.tan"},
	{FirstName: "Chidi", LastName: "Okafor", Title: "Support Lead", Department: "Support", Unit: "Lagos", Reference: "chidi.okafor"},
	{FirstName: "Dana", LastName: "Kowalski", Title: "Designer", Department: "Design", Unit: "Warsaw", Reference: "dana.kowalski"},
	{FirstName: "Émile", LastName: "Rousseau", Title: "Sales Manager", Department: "Sales", Unit: "Lyon", Reference: "emile.rousseau"},
	{FirstName: "Sato", LastName: "Yūki", Title: "QA Engineer", Department: "Engineering", Unit: "Tokyo", Reference: "sato.yuki"},
	{FirstName: "Zoë", LastName: "Park", Title: "Head of Operations", Department: "Operations", Unit: "HQ", Reference: "zoe.park"},
}

// SeedDemo fills the tenant with the demo cast and three conversations that
// reference each other: mentions (written "@Name" as the Ziik app shows them),
// replies, an edit, a soft-deleted message, files of every kind and state, a
// voice note and reactions. Conversations() lists them afterwards.
func (s *Server) SeedDemo() {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[string]int{}
	for _, u := range cast {
		u.ID = s.nextUser
		s.nextUser++
		u.Email = u.Reference + "@example.com"
		u.AvatarURL = fmt.Sprintf("https://avatars.example.com/%s.png", u.Reference)
		s.users[u.ID] = &u
		ids[u.FirstName] = u.ID
	}
	ana, bo, chidi, dana, emile, sato, zoe := ids["Ana"], ids["Bo"], ids["Chidi"], ids["Dana"], ids["Émile"], ids["Sato"], ids["Zoë"]
	start := s.now().Add(-72 * time.Hour).Truncate(time.Minute)
	at := func(min int) time.Time { return start.Add(time.Duration(min) * time.Minute) }
	conv := func(title string, members ...int) int {
		id := s.nextConv
		s.nextConv++
		s.convs[id] = &conversation{Conversation: Conversation{ID: id, Title: title, Participants: append([]int{s.botID}, members...), CreatedAt: at(0)}, updated: at(0)}
		s.demoConvs = append(s.demoConvs, id)
		return id
	}
	// Seeding our own data cannot fail; a failure here is a bug in this file.
	add := func(m Message) int {
		id, err := s.addMessage(m)
		if err != nil {
			panic(err)
		}
		return id
	}
	launch := conv("Launch crew 🚀", ana, bo, chidi, dana, zoe, sato)
	lyon := conv("Lyon store opening", emile, zoe, dana, chidi)
	direct := conv("", ana)

	kick := add(Message{ConversationID: launch, AuthorID: ana, Date: at(5), Text: "Morning all! Release 4.2 goes out Thursday. @Bo Tan can you confirm the migration is ready?",
		Reactions: []Reaction{{Emoji: "👍", UserIDs: []int{bo, zoe}}, {Emoji: "🎉", UserIDs: []int{dana}}}})
	add(Message{ConversationID: launch, AuthorID: bo, ParentID: kick, Date: at(12), Text: "Migration is ready — dry run took 4 min on staging.",
		Files: []File{{Name: "migration-dry-run.log", Mime: "text/plain", Size: 18231}}})
	add(Message{ConversationID: launch, AuthorID: sato, ParentID: kick, Date: at(20), EditedAt: at(26), Text: "QA sign-off done ✅ (edited: all 212 cases green)"})
	add(Message{ConversationID: launch, AuthorID: dana, Date: at(40), Text: "New onboarding screens, feedback welcome @Ana Lee",
		Files: []File{
			{Name: "onboarding-v3.png", Mime: "image/png", Size: 482113, Width: 1440, Height: 900},
			{Name: "walkthrough.mp4", Mime: "video/mp4", Size: 20971520, Width: 1920, Height: 1080, Processing: true},
		}})
	add(Message{ConversationID: launch, AuthorID: chidi, Date: at(55), Deleted: true})
	add(Message{ConversationID: launch, AuthorID: chidi, Date: at(57), Text: "Support macros updated for 4.2; ticket volume forecast attached.",
		Files: []File{{Name: "forecast-q3.pdf", Mime: "application/pdf", Size: 102400}}})
	ship := add(Message{ConversationID: launch, AuthorID: bo, Date: at(90), Text: "🚀 shipped — thanks @Zoë Park and @Sato Yūki!",
		Reactions: []Reaction{{Emoji: "🚀", UserIDs: []int{ana, chidi, dana, zoe}}, {Emoji: "❤️", UserIDs: []int{sato}}}})
	add(Message{ConversationID: launch, AuthorID: zoe, ParentID: ship, Date: at(95), Text: "Great work everyone. Retro on Monday, @Ana Lee will send the invite.",
		Voice: &Voice{Duration: 12.5}})

	opening := add(Message{ConversationID: lyon, AuthorID: emile, Date: at(100), Text: "Bonjour ! Le magasin ouvre samedi à 10h. @Zoë Park, les caisses sont prêtes ?"})
	add(Message{ConversationID: lyon, AuthorID: zoe, ParentID: opening, Date: at(130), Text: "Oui — tills arrive Friday. @Dana Kowalski has the signage files.",
		Files: []File{{Name: "signage-draft.pdf", Mime: "application/pdf", Size: 734003, Uploading: true}}})
	add(Message{ConversationID: lyon, AuthorID: dana, Date: at(150), Text: "Façade mock-up, 3 variants",
		Files: []File{{Name: "façade-A.jpg", Mime: "image/jpeg", Size: 912345, Width: 4032, Height: 3024}}})
	add(Message{ConversationID: lyon, AuthorID: chidi, Date: at(160), Text: "Voice memo from the site visit",
		Voice: &Voice{Duration: 48.2, Processing: true}})

	add(Message{ConversationID: direct, AuthorID: ana, Date: at(200), Text: "Hi bot, please post the release notes link in Launch crew when it's up."})
}

var demoLines = []string{
	"Quick update: the dashboard numbers look good this morning 📈",
	"Can someone double-check the rota for next week?",
	"Thanks! That's exactly what I needed.",
	"Heads up — the VPN is being patched at lunch.",
	"Merci pour l'aide, c'est réglé ✅",
	"I'll take this one.",
	"Meeting notes are in the shared drive.",
	"お疲れさまです — tests are green again.",
}

// DemoActivity posts one message from a cast member into a seeded group
// conversation, as someone using the Ziik app would: sometimes a reply to the
// latest top-level message, sometimes mentioning another participant. Ziik has
// no chat push, so the gateway sees it by polling. Before SeedDemo it does
// nothing: there is no one to talk.
func (s *Server) DemoActivity(rng *rand.Rand) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var groups []*conversation
	for _, id := range s.demoConvs {
		if c := s.convs[id]; c != nil && len(c.Participants) > 2 {
			groups = append(groups, c)
		}
	}
	if len(groups) == 0 {
		return
	}
	c := groups[rng.IntN(len(groups))]
	people := c.Participants[1:] // [0] is the bot
	author := people[rng.IntN(len(people))]
	text := demoLines[rng.IntN(len(demoLines))]
	if rng.IntN(3) == 0 {
		other := people[rng.IntN(len(people))]
		if other != author {
			text = "@" + s.users[other].Name() + " " + text
		}
	}
	m := Message{ConversationID: c.ID, AuthorID: author, Text: text}
	if rng.IntN(4) == 0 {
		ids := s.convMessages(c.ID)
		for i := len(ids) - 1; i >= 0; i-- {
			if p := s.msgs[ids[i]]; p.ParentID == 0 && !p.Deleted {
				m.ParentID = p.ID
				break
			}
		}
	}
	// Every field comes from seeded data, so this cannot fail.
	_, _ = s.addMessage(m)
}
