package klinktest

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"time"
)

// DemoID is the stable id the demo data gives name (a person or a room), so
// global IDs survive a restart of demo mode.
func DemoID(name string) string {
	sum := sha256.Sum256([]byte("klinktest demo\x00" + name))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// Cast is the shared demo cast: the same people on every provider's emulator.
var Cast = []string{"Ana Lee", "Bo Tan", "Chidi Okafor", "Dana Kowalski", "Émile Rousseau", "Sato Yūki", "Zoë Park"}

// demoRooms are the seeded rooms, each a conversation with one customer contact.
var demoRooms = []struct{ name, contact string }{
	{"room:northwind", "Northwind Traders"},
	{"room:blue-harbor", "Blue Harbor Clinic"},
	{"room:kestrel", "Kestrel Logistics"},
}

type demoComment struct {
	room     int
	sender   string
	text     string
	mentions []string
}

var demoHistory = []demoComment{
	{0, "Ana Lee", "Customer says the invoice export is missing VAT lines. {0} can you take a look?", []string{"Bo Tan"}},
	{0, "Bo Tan", "On it. Looks like the export template predates the tax change.", nil},
	{0, "Bo Tan", "Fix is in review, {0} please double-check the rounding 🙏", []string{"Dana Kowalski"}},
	{0, "Dana Kowalski", "Rounding is fine — 0,005 goes up as the contract says.", nil},
	{0, "Zoë Park", "🚀 shipped — thanks {0}", []string{"Bo Tan"}},
	{1, "Chidi Okafor", "They want appointment reminders in French too. {0}, can you review the wording?", []string{"Émile Rousseau"}},
	{1, "Émile Rousseau", "« Votre rendez-vous est confirmé » reads better than the machine translation. Updated.", nil},
	{1, "Sato Yūki", "日本語 version is ready as well; {0} and {1} please sign off.", []string{"Chidi Okafor", "Ana Lee"}},
	{1, "Ana Lee", "Signed off ✅", nil},
	{2, "Dana Kowalski", "Kestrel's driver app shows stale ETAs after 18:00. {0} is this the timezone bug again?", []string{"Sato Yūki"}},
	{2, "Sato Yūki", "Yes — UTC vs Europe/Warsaw. Patch tonight, {0} can you tell the customer?", []string{"Zoë Park"}},
	{2, "Zoë Park", "Told them. They asked for a call tomorrow 10:00 with {0}.", []string{"Dana Kowalski"}},
}

// SeedDemo adds the demo cast, the bot, three rooms with their contacts, and a
// history of comments that mention each other (non-ASCII names, emoji). K-LINK
// comments have no replies, edits, deletion or attachments, so none are seeded.
// Call it on a fresh server.
func (s *Server) SeedDemo() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range Cast {
		s.users[DemoID(name)] = name
	}
	for _, r := range demoRooms {
		id := DemoID(r.name)
		if _, ok := s.rooms[id]; ok {
			continue
		}
		cr := &room{ID: id, ContactID: DemoID("contact:" + r.contact), ContactName: r.contact}
		s.rooms[id] = cr
		s.order = append(s.order, id)
		s.contacts[cr.ContactID] = id
	}
	start := s.opts.Now().Add(-72 * time.Hour)
	for i, c := range demoHistory {
		mentions := make([]string, len(c.mentions))
		for j, m := range c.mentions {
			mentions[j] = DemoID(m)
		}
		at := start.Add(time.Duration(i) * 5 * time.Hour)
		if _, err := s.addCommentAt(DemoID(demoRooms[c.room].name), DemoID(c.sender), c.text, mentions, at); err != nil {
			panic(fmt.Sprintf("klinktest: demo data is broken: %v", err)) // a bug in the table above
		}
	}
}

var demoLines = []struct {
	text     string
	mentions int
}{
	{"Customer replied, {0} can you pick this up?", 1},
	{"Following up with the customer now.", 0},
	{"Looped in {0} — they know this account best.", 1},
	{"Status: waiting on the customer 🕒", 0},
	{"Thanks {0}! Closing the loop with {1}.", 2},
	{"Noted ✍️ I'll add it to the handover doc.", 0},
	{"Escalating to {0}, this one's urgent 🔥", 1},
}

// DemoActivity posts one new comment from a cast member into a seeded room, as
// a colleague using K-LINK would. K-LINK fires no webhook for comments (they
// are polled), so it fires none; one time in four it also has the room's
// contact write an inbound message, delivered to the webhook if one is set.
// It does nothing when no room is seeded.
func (s *Server) DemoActivity(rng *rand.Rand) {
	s.mu.Lock()
	if len(s.order) == 0 {
		s.mu.Unlock()
		return
	}
	roomID := s.order[rng.IntN(len(s.order))]
	contact := s.rooms[roomID].ContactName
	sender := Cast[rng.IntN(len(Cast))]
	line := demoLines[rng.IntN(len(demoLines))]
	var mentions []string
	for _, k := range rng.Perm(len(Cast)) {
		if len(mentions) == line.mentions {
			break
		}
		if Cast[k] != sender {
			mentions = append(mentions, DemoID(Cast[k]))
		}
	}
	senderID := DemoID(sender)
	if _, ok := s.users[senderID]; !ok {
		s.users[senderID] = sender
	}
	for _, m := range mentions {
		if _, ok := s.users[m]; !ok {
			s.users[m] = nameOf(m)
		}
	}
	_, err := s.addCommentAt(roomID, senderID, line.text, mentions, s.opts.Now())
	s.mu.Unlock()
	if err != nil {
		panic(fmt.Sprintf("klinktest: demo line is broken: %v", err)) // a bug in demoLines
	}
	if rng.IntN(4) == 0 {
		// Best effort, like the real product: a failed delivery is K-LINK's
		// retry problem, not the colleague's.
		_ = s.InboundMessage(roomID, contact, "Hi, any update on this? 🙂")
	}
}

func nameOf(id string) string {
	for _, n := range Cast {
		if DemoID(n) == id {
			return n
		}
	}
	return id
}
