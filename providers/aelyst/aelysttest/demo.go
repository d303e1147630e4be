package aelysttest

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The shared demo cast (the same people on every provider) and the API bot the
// token belongs to.
var castUsers = []User{
	{ID: 100, FirstName: "commentgraph", LastName: "bot", Email: "bot@commentgraph.dev", Role: "manager", TeamID: 4, TeamName: "Integrations"},
	{ID: 101, FirstName: "Ana", LastName: "Lee", Email: "ana.lee@example.com", Role: "owner", TeamID: 1, TeamName: "Support"},
	{ID: 102, FirstName: "Bo", LastName: "Tan", Email: "bo.tan@example.com", Role: "agent", TeamID: 1, TeamName: "Support"},
	{ID: 103, FirstName: "Chidi", LastName: "Okafor", Email: "chidi.okafor@example.com", Role: "agent", TeamID: 2, TeamName: "Engineering"},
	{ID: 104, FirstName: "Dana", LastName: "Kowalski", Email: "dana.kowalski@example.com", Role: "manager", TeamID: 3, TeamName: "Billing"},
	{ID: 105, FirstName: "Émile", LastName: "Rousseau", Email: "emile.rousseau@example.com", Role: "agent", TeamID: 2, TeamName: "Engineering"},
	{ID: 106, FirstName: "Sato", LastName: "Yūki", Email: "sato.yuki@example.com", Role: "agent", TeamID: 2, TeamName: "Engineering"},
	{ID: 107, FirstName: "Zoë", LastName: "Park", Email: "zoe.park@example.com", Role: "agent", TeamID: 1, TeamName: "Support", Restrictions: []string{"restrict_data_export"}},
}

var demoContacts = []Contact{
	{ID: 2001, FirstName: "Jane", LastName: "Doe", Email: "jane@acme.com", Phone: "+60121233112", Language: "en", CountryCode: "MY", Tags: []string{"vip", "refund"}, AssigneeID: 101, Lifecycle: "Customer"},
	{ID: 2002, FirstName: "Mateo", LastName: "García", Email: "mateo@lumen.es", Phone: "+34911234567", Language: "es", CountryCode: "ES", Tags: []string{"invoice"}, AssigneeID: 104, Lifecycle: "Customer"},
	{ID: 2003, FirstName: "Aiko", LastName: "Tanaka", Email: "aiko@kumo.jp", Phone: "+81312345678", Language: "ja", CountryCode: "JP", AssigneeID: 106, Lifecycle: "Trial"},
	{ID: 2004, FirstName: "Femi", LastName: "Adeyemi", Email: "femi@orbit.ng", Language: "en", CountryCode: "NG", Tags: []string{"bug"}, AssigneeID: 103, Status: "open"},
	{ID: 2005, FirstName: "Lena", LastName: "Müller", Email: "lena@brandt.de", Phone: "+4930123456", Language: "de", CountryCode: "DE", Status: "closed"},
}

// demoComments are seeded minutes ago: recent enough that a receiver's
// staleness window accepts them when SetWebhook delivers the backlog.
var demoComments = []struct {
	contact, author int64
	minutesAgo      int
	text            string
}{
	{2001, 101, 42, "Refund approved, {{@user.104}} please close this out."},
	{2001, 104, 38, "Done — refund of €42.00 issued. {{@user.101}} FYI"},
	{2001, 103, 30, "🚀 shipped — thanks {{@user.107}}"},
	{2001, 102, 25, "Called {{$contact.name}} back, she confirmed the fix works 👍"},
	{2002, 105, 36, "Mateo asks for an invoice in EUR — {{@user.104}} can you handle it?"},
	{2002, 104, 33, "Déjà fait ✅ — envoyé ce matin"},
	{2003, 107, 28, "日本語サポートが必要です。{{@user.106}} お願いできますか？"},
	{2003, 106, 20, "はい、対応します 🙂 — {{@user.107}} thanks for the heads-up"},
	{2004, 102, 15, "Escalating to engineering: payment webhook returns 500. {{@user.103}} {{@user.105}}"},
	{2004, 103, 9, "Reproduced. Fix is in review, ETA tomorrow 🛠️ {{@user.102}}"},
}

type demoCast struct {
	contacts []int64
}

// SeedDemo seeds the shared cast as workspace users, five customer contacts
// and a few conversations between them: mentions, non-ASCII text, emoji and a
// contact-field variable. The comments are stored (and, with a webhook set,
// delivered) as having been written in the last hour.
func (s *Server) SeedDemo() {
	for _, u := range castUsers {
		s.AddUser(u)
	}
	now := s.now()
	s.mu.Lock()
	s.demo = &demoCast{}
	for _, c := range demoContacts {
		s.demo.contacts = append(s.demo.contacts, c.ID)
	}
	s.mu.Unlock()
	for _, c := range demoContacts {
		c.CreatedAt = now.Add(-30 * 24 * time.Hour).Unix()
		s.AddContact(c)
	}
	for _, c := range demoComments {
		s.AddComment(Comment{
			ContactID: c.contact,
			AuthorID:  c.author,
			Text:      c.text,
			CreatedAt: now.Add(-time.Duration(c.minutesAgo) * time.Minute).Unix(),
		})
	}
}

var demoLines = []string{
	"{{@user.%d}} can you take a look? Customer is waiting ⏳",
	"Update: reproduced on our side — thanks {{@user.%d}} 🙏",
	"Réponse envoyée, merci {{@user.%d}} !",
	"Following up with {{$contact.name}} tomorrow ☕ — {{@user.%d}} please keep an eye on it",
	"Customer replied 🎉 looping in {{@user.%d}}",
	"対応しました。{{@user.%d}} 確認お願いします 🙇",
}

// DemoActivity posts one new comment from a cast member into a seeded contact,
// as a person using Aelyst would, and delivers it to the webhook when one is
// set. Without seeded contacts it does nothing.
func (s *Server) DemoActivity(rng *rand.Rand) {
	s.mu.Lock()
	var contacts []int64
	if s.demo != nil {
		contacts = append(contacts, s.demo.contacts...)
	} else {
		contacts = s.contactIDsLocked()
	}
	s.mu.Unlock()
	if len(contacts) == 0 {
		return
	}
	people := castUsers[1:]
	author := people[rng.IntN(len(people))]
	other := people[rng.IntN(len(people))]
	for other.ID == author.ID {
		other = people[rng.IntN(len(people))]
	}
	line := strings.Replace(demoLines[rng.IntN(len(demoLines))], "%d", strconv.FormatInt(other.ID, 10), 1)
	s.AddComment(Comment{ContactID: contacts[rng.IntN(len(contacts))], AuthorID: author.ID, Text: line})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
