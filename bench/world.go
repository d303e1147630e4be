// Package bench measures the gateway under load: the real binary, started with
// a generated config, against in-process emulators of Virola and Ziik, for the
// query the batching layer and the cache exist for (one page of 50 comments
// with their senders and mentions). See docs/benchmarks.md.
//
// World, the data the benchmark queries, is exported so the gateway's counted-
// calls test (calls_count_test.go) proves its upstream call counts on exactly
// the page the benchmark measures.
package bench

import (
	"fmt"
	"slices"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// Provider instance ids of the World in a gateway config.
const (
	VirolaID = "virola"
	ZiikID   = "ziik"
)

// The Ziik integration user's credentials; they only open the emulator.
const (
	ziikEmail    = "bench-bot@ziik.test"
	ziikPassword = "bench-ziik-password"
)

// PageSize is how many comments Query asks for; the World holds exactly that
// many across its threads, so one page returns all of them.
const PageSize = 50

// Query is the measured query: one timeline page over the World's threads
// with each comment's sender and mentioned users, which is what makes a naive
// gateway call upstream once per comment.
const Query = `query Timeline($threads: [ID!]!) {
  comments(threads: $threads, first: 50) {
    edges { node { id text sender { name } mentions { offset length user { name } } } }
  }
}`

// World is two emulated upstreams holding three threads: two Virola message
// threads and one Ziik message thread (replies to a parent message), with
// PageSize comments between them from five distinct senders (three on Virola,
// two on Ziik), each comment mentioning two people of its provider.
type World struct {
	Virola *virolatest.Server
	Ziik   *ziiktest.Server
	// Threads are the global IDs of the three threads, for Query's $threads.
	Threads []string
	// Users lists, per provider instance, the refs of every user the page
	// names (senders and mentioned), each once.
	Users map[string][]string
	// Lookups counts, per provider instance, the user look-ups the page
	// makes: a sender and two mentions per comment.
	Lookups map[string]int
	// ZiikConversation is the ref of the conversation the Ziik thread is in.
	ZiikConversation string
	// Senders are the display names of the five senders.
	Senders []string
}

// NewWorld starts the emulators (each adding latency to every request) and
// seeds them. Close it when done.
func NewWorld(latency time.Duration) (*World, error) {
	w := &World{
		Virola:  virolatest.NewServer(virolatest.Options{Latency: latency}),
		Ziik:    ziiktest.NewServer(ziiktest.Options{Email: ziikEmail, Password: ziikPassword, Latency: latency}),
		Users:   map[string][]string{},
		Lookups: map[string]int{},
	}
	if err := w.seed(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *World) seed() error {
	// Comment i goes to thread i%3 (Virola, Virola, Ziik), a minute after
	// comment i-1, so the newest-first timeline interleaves all three threads.
	base := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }

	// Virola: three senders, each comment mentions the other two.
	var vUsers []virolatest.User
	for _, p := range [][2]string{{"ana.lee", "Ana Lee"}, {"bo.tan", "Bo Tan"}, {"chidi.okafor", "Chidi Okafor"}} {
		u := w.Virola.AddUser(virolatest.User{UserName: p[0], DisplayName: p[1]})
		vUsers = append(vUsers, u)
		w.Users[VirolaID] = append(w.Users[VirolaID], fmt.Sprint(u.ID))
		w.Senders = append(w.Senders, p[1])
	}
	room := w.Virola.AddRoom(virolatest.Room{Name: "Release 4.2"})
	var vThreads []int64
	for j, title := range []string{"Migration plan for 4.2", "Launch-day checklist ✅"} {
		id, err := w.Virola.AddMessage(virolatest.Message{RoomID: room.ID, UserID: vUsers[j].ID, Text: title, Created: at(-10 + j)})
		if err != nil {
			return fmt.Errorf("bench: seed virola: %w", err)
		}
		vThreads = append(vThreads, id)
		w.Threads = append(w.Threads, model.ThreadID(VirolaID, model.ThreadKindMessage, fmt.Sprint(id)))
	}

	// Ziik: two senders in a conversation that also holds Zoë, whom every
	// Ziik comment mentions besides the other sender.
	ids := map[string]int{}
	for _, p := range [][3]string{{"Dana", "Kowalski", "dana.kowalski"}, {"Émile", "Rousseau", "emile.rousseau"}, {"Zoë", "Park", "zoe.park"}} {
		ids[p[0]] = w.Ziik.AddUser(ziiktest.User{FirstName: p[0], LastName: p[1], Email: p[2] + "@example.com", Reference: p[2]})
	}
	dana, emile, zoe := ids["Dana"], ids["Émile"], ids["Zoë"]
	for _, id := range []int{dana, emile, zoe} {
		w.Users[ZiikID] = append(w.Users[ZiikID], fmt.Sprint(id))
	}
	w.Senders = append(w.Senders, "Dana Kowalski", "Émile Rousseau")
	conv, err := w.Ziik.AddConversation(ziiktest.Conversation{Title: "Lyon store opening 🥐", Participants: []int{w.Ziik.BotID(), dana, emile, zoe}, CreatedAt: at(-20)})
	if err != nil {
		return fmt.Errorf("bench: seed ziik: %w", err)
	}
	w.ZiikConversation = fmt.Sprint(conv)
	parent, err := w.Ziik.AddMessage(ziiktest.Message{ConversationID: conv, AuthorID: zoe, Date: at(-5), Text: "Opening day plan — replies here please"})
	if err != nil {
		return fmt.Errorf("bench: seed ziik: %w", err)
	}
	w.Threads = append(w.Threads, model.ThreadID(ZiikID, model.ThreadKindMessage, fmt.Sprintf("%d:%d", conv, parent)))

	vNames := []string{"Ana Lee", "Bo Tan", "Chidi Okafor"}
	zSenders := []int{dana, emile}
	zNames := map[int]string{dana: "Dana Kowalski", emile: "Émile Rousseau"}
	for i := range PageSize {
		switch i % 3 {
		case 0, 1:
			k := i / 3 % 3 // rotates the sender within each thread
			a, b := vNames[(k+1)%3], vNames[(k+2)%3]
			text := fmt.Sprintf("Step %02d: ça roule 🚀 — @%s, @%s please check", i, a, b)
			if _, err := w.Virola.AddComment(vThreads[i%3], virolatest.Message{UserID: vUsers[k].ID, Text: text, Created: at(i)}); err != nil {
				return fmt.Errorf("bench: seed virola: %w", err)
			}
			w.Lookups[VirolaID] += 3
		default:
			sender := zSenders[i/3%2]
			other := zSenders[(i/3+1)%2]
			text := fmt.Sprintf("Point %02d: Façade prête 🥐 — @%s and @Zoë Park, OK?", i, zNames[other])
			if _, err := w.Ziik.AddMessage(ziiktest.Message{ConversationID: conv, AuthorID: sender, ParentID: parent, Date: at(i), Text: text}); err != nil {
				return fmt.Errorf("bench: seed ziik: %w", err)
			}
			w.Lookups[ZiikID] += 3
		}
	}
	for _, refs := range w.Users {
		slices.Sort(refs)
	}
	return nil
}

// Providers are the gateway config entries for the World. No thread is
// listed for polling, so no background job calls the upstreams between
// queries (the Virola events stream stays connected, silent).
func (w *World) Providers() []config.Provider {
	return []config.Provider{
		{ID: VirolaID, Kind: "virola", BaseURL: w.Virola.URL, Token: w.Virola.Token()},
		{ID: ZiikID, Kind: "ziik", BaseURL: w.Ziik.URL, Email: ziikEmail, Password: ziikPassword},
	}
}

// SetLatency changes the latency both emulators add to every request.
func (w *World) SetLatency(d time.Duration) {
	w.Virola.SetLatency(d)
	w.Ziik.SetLatency(d)
}

// TotalCalls is how many requests both emulators have received.
func (w *World) TotalCalls() int { return w.Virola.TotalCalls() + w.Ziik.TotalCalls() }

// ResetCalls zeroes both emulators' counters.
func (w *World) ResetCalls() {
	w.Virola.ResetCalls()
	w.Ziik.ResetCalls()
}

// Close stops the emulators.
func (w *World) Close() {
	w.Virola.Close()
	w.Ziik.Close()
}
