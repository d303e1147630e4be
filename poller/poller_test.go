package poller_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/events"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/clocktest"
	"github.com/commentgraph/commentgraph/poller"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
	"github.com/commentgraph/commentgraph/providers/ziik"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

const room = "3f1c2a9e-0000-4000-8000-00000000000a"

// sink records what pollers publish, one line per comment:
// "added <text>", "updated <ref> <text>", "deleted <ref>".
type sink struct {
	mu  sync.Mutex
	got []string
}

func (s *sink) publish(_ context.Context, ch *providers.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range ch.Comments {
		s.got = append(s.got, "added "+c.Text)
	}
	for _, c := range ch.UpdatedComments {
		s.got = append(s.got, "updated "+c.Ref+" "+c.Text)
	}
	for _, d := range ch.DeletedComments {
		s.got = append(s.got, "deleted "+d.Ref)
	}
	return nil
}

// take returns what was published since the last take.
func (s *sink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	return out
}

// expect takes what was published and compares it with want.
func (s *sink) expect(t *testing.T, step string, want ...string) {
	t.Helper()
	if got := s.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: published\n  %q\nwant\n  %q", step, got, want)
	}
}

// driver runs a poller whose polls start on its ticks.
type driver struct {
	ticks chan time.Time
}

// start runs a poller of thread (kind, ref) until the test ends. Its first
// poll (the baseline) starts at once.
func start(t *testing.T, p providers.Provider, kind model.ThreadKind, ref string, s *sink, opts poller.Options) *driver {
	t.Helper()
	d := &driver{ticks: make(chan time.Time)}
	opts.Ticks = d.ticks
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		poller.Thread(ctx, p, kind, ref, s.publish, opts)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d
}

// poll returns once a poll that started after the call is over: Ticks is
// unbuffered, so the first send is taken once the poll in progress (if any)
// is over and starts a new one, and the second once that one is over. The
// poll the second send starts runs on; the next call waits it out.
func (d *driver) poll(t *testing.T) {
	t.Helper()
	for range 2 {
		select {
		case d.ticks <- time.Time{}:
		case <-time.After(10 * time.Second):
			t.Fatal("the poller never finished a poll")
		}
	}
}

// ziikEnv is a Ziik emulator with one conversation, an adapter on it and the
// emulator's clock.
type ziikEnv struct {
	srv   *ziiktest.Server
	p     *ziik.Provider
	clock *clocktest.Clock
	ana   int
	conv  int
}

func newZiik(t *testing.T) *ziikEnv {
	t.Helper()
	c := clocktest.New(time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC))
	srv := ziiktest.NewServer(ziiktest.Options{Now: c.Now})
	t.Cleanup(srv.Close)
	email, password := srv.Credentials()
	p, err := ziik.New(ziik.Options{ID: "ziik", BaseURL: srv.URL, Email: email, Password: password, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &ziikEnv{srv: srv, p: p, clock: c}
	e.ana = srv.AddUser(ziiktest.User{FirstName: "Ana", LastName: "Lee"})
	if e.conv, err = srv.AddConversation(ziiktest.Conversation{Title: "Team", Participants: []int{srv.BotID(), e.ana}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// add adds a message by Ana a minute after the previous one and returns its
// ref.
func (e *ziikEnv) add(t *testing.T, m ziiktest.Message) string {
	t.Helper()
	e.clock.Advance(time.Minute)
	m.ConversationID, m.AuthorID, m.Date = e.conv, e.ana, e.clock.Now()
	id, err := e.srv.AddMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(id)
}

func (e *ziikEnv) thread() *model.Thread {
	return &model.Thread{ProviderID: "ziik", Kind: model.ThreadKindConversation, Ref: strconv.Itoa(e.conv)}
}

// edit edits a message through the adapter (update, then finalize-update).
func (e *ziikEnv) edit(t *testing.T, ref, text string) {
	t.Helper()
	e.clock.Advance(time.Minute)
	if _, err := e.p.UpdateComment(context.Background(), providers.CommentUpdate{Thread: e.thread(), Ref: ref, Text: text}); err != nil {
		t.Fatal(err)
	}
}

// del soft-deletes a message through the adapter.
func (e *ziikEnv) del(t *testing.T, ref string) {
	t.Helper()
	if err := e.p.DeleteComment(context.Background(), e.thread(), ref); err != nil {
		t.Fatal(err)
	}
}

// An edit through Ziik's update + finalize-update is one UPDATED, a soft
// delete one DELETED, each reported by one poll only; a poll that finds
// nothing changed publishes nothing.
func TestPollReportsZiikEditsAndDeletesOnce(t *testing.T) {
	e := newZiik(t)
	first := e.add(t, ziiktest.Message{Text: "first"})
	second := e.add(t, ziiktest.Message{Text: "second"})
	e.add(t, ziiktest.Message{Text: "third"})
	e.clock.Advance(time.Hour) // the baseline offers none as recent
	s := &sink{}
	d := start(t, e.p, model.ThreadKindConversation, strconv.Itoa(e.conv), s, poller.Options{Now: e.clock.Now})

	d.poll(t)
	s.expect(t, "baseline")
	d.poll(t)
	s.expect(t, "nothing changed")

	e.edit(t, second, "second, fixed")
	d.poll(t)
	s.expect(t, "edit", "updated "+second+" second, fixed")
	d.poll(t)
	s.expect(t, "after the edit")

	e.del(t, first)
	d.poll(t)
	s.expect(t, "delete", "deleted "+first)
	d.poll(t)
	s.expect(t, "after the delete (still listed, deleted)")

	e.add(t, ziiktest.Message{Text: "fourth"})
	e.edit(t, second, "second, fixed again")
	d.poll(t)
	s.expect(t, "new and edited", "added fourth", "updated "+second+" second, fixed again")
	d.poll(t)
	s.expect(t, "at rest")
}

// The first poll after a start is a baseline: a message edited or deleted
// before it, even while a previous poller was stopped, is not reported.
func TestFirstPollAfterStartReportsNothingAsEdited(t *testing.T) {
	e := newZiik(t)
	e.add(t, ziiktest.Message{Text: "edited before start", EditedAt: time.Date(2025, 1, 1, 9, 0, 30, 0, time.UTC)})
	kept := e.add(t, ziiktest.Message{Text: "kept"})
	gone := e.add(t, ziiktest.Message{Text: "gone"})
	e.clock.Advance(time.Hour)

	s := &sink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ticks := make(chan time.Time)
	go func() {
		defer close(done)
		poller.Thread(ctx, e.p, model.ThreadKindConversation, strconv.Itoa(e.conv), s.publish, poller.Options{Now: e.clock.Now, Ticks: ticks})
	}()
	ticks <- time.Time{} // the baseline is over
	cancel()
	<-done
	s.expect(t, "first poller's baseline")

	// Changed while no poller ran: nobody reports these, as no poller saw
	// them before.
	e.edit(t, kept, "kept, edited while stopped")
	e.del(t, gone)

	d := start(t, e.p, model.ThreadKindConversation, strconv.Itoa(e.conv), s, poller.Options{Now: e.clock.Now})
	d.poll(t)
	s.expect(t, "second poller's baseline and first poll")
}

// Only the Window newest comments are re-read: a comment deleted beyond
// them is not reported, one deleted inside them is.
func TestPollZiikDeletionBeyondTheWindowIsNotReported(t *testing.T) {
	e := newZiik(t)
	var refs []string
	for i := range 5 {
		refs = append(refs, e.add(t, ziiktest.Message{Text: fmt.Sprintf("m%d", i)}))
	}
	e.clock.Advance(time.Hour)
	s := &sink{}
	d := start(t, e.p, model.ThreadKindConversation, strconv.Itoa(e.conv), s, poller.Options{Now: e.clock.Now, Window: 3})
	d.poll(t)
	s.expect(t, "baseline")

	e.del(t, refs[1]) // the window is m2, m3, m4
	d.poll(t)
	s.expect(t, "deleted beyond the window")

	e.add(t, ziiktest.Message{Text: "m5"})
	e.add(t, ziiktest.Message{Text: "m6"})
	d.poll(t)
	s.expect(t, "two new: m2 and m3 leave the window", "added m5", "added m6")

	e.del(t, refs[3]) // the window is m4, m5, m6
	e.del(t, refs[4])
	d.poll(t)
	s.expect(t, "one beyond, one inside", "deleted "+refs[4])
}

// klinkEnv is a K-LINK emulator with one room and an adapter on it.
type klinkEnv struct {
	srv *klinktest.Server
	p   *klink.Provider
}

func newKlink(t *testing.T) *klinkEnv {
	t.Helper()
	srv := klinktest.NewServer(klinktest.Options{})
	t.Cleanup(srv.Close)
	srv.AddUser("u1", "Ana Lee")
	srv.AddRoom(room, "Jane")
	p, err := klink.New(klink.Options{ID: "klink", BaseURL: srv.URL, Token: klinktest.DefaultToken, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	return &klinkEnv{srv: srv, p: p}
}

func (e *klinkEnv) add(t *testing.T, text string) string {
	t.Helper()
	id, err := e.srv.AddComment(room, "u1", text)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// K-LINK lists no edited time and no deleted flag: an edit shows as a new
// text, a deletion as a comment missing from the list. A comment missing
// because new ones pushed it past the window's older edge is not deleted.
func TestPollReportsKlinkEditsAndVanishedComments(t *testing.T) {
	e := newKlink(t)
	var c []string
	for i := range 4 {
		c = append(c, e.add(t, fmt.Sprintf("c%d", i)))
	}
	s := &sink{}
	// The clock is far ahead: the baseline offers none of c0..c3 as recent.
	clock := clocktest.New(time.Now().Add(time.Hour))
	d := start(t, e.p, model.ThreadKindRoom, room, s, poller.Options{Now: clock.Now, Window: 3})
	d.poll(t)
	s.expect(t, "baseline")

	if err := e.srv.EditComment(room, c[3], "c3, fixed"); err != nil {
		t.Fatal(err)
	}
	d.poll(t)
	s.expect(t, "edit", "updated "+c[3]+" c3, fixed")

	if err := e.srv.RemoveComment(room, c[2]); err != nil {
		t.Fatal(err)
	}
	d.poll(t)
	s.expect(t, "removed inside the window", "deleted "+c[2])
	d.poll(t)
	s.expect(t, "c0 back in the window, unreported")

	// Three new comments fill the window: c0, c1 and c3 leave it by paging.
	e.add(t, "c4")
	c5 := e.add(t, "c5")
	e.add(t, "c6")
	d.poll(t)
	s.expect(t, "a window of new comments", "added c4", "added c5", "added c6")

	if err := e.srv.RemoveComment(room, c[1]); err != nil {
		t.Fatal(err)
	}
	d.poll(t)
	s.expect(t, "removed beyond the window")

	if err := e.srv.RemoveComment(room, c5); err != nil {
		t.Fatal(err)
	}
	e.add(t, "c7")
	d.poll(t)
	s.expect(t, "removed inside, and a new one", "added c7", "deleted "+c5)
	d.poll(t)
	s.expect(t, "at rest")
}

// When every comment the window held is removed, the window holds none seen
// to place them by: they were created after its oldest comment, so they lay
// inside it and are deleted.
func TestPollKlinkWindowEmptiedOfSeenCommentsReportsThemDeleted(t *testing.T) {
	e := newKlink(t)
	for i := range 4 {
		e.add(t, fmt.Sprintf("old %d", i))
	}
	var seen []string
	for i := range 3 {
		seen = append(seen, e.add(t, fmt.Sprintf("seen %d", i)))
	}
	s := &sink{}
	clock := clocktest.New(time.Now().Add(time.Hour))
	d := start(t, e.p, model.ThreadKindRoom, room, s, poller.Options{Now: clock.Now, PageSize: 3})
	d.poll(t)
	s.expect(t, "baseline")

	for _, ref := range seen {
		if err := e.srv.RemoveComment(room, ref); err != nil {
			t.Fatal(err)
		}
	}
	d.poll(t)
	s.expect(t, "the window is old 1..3 now", "deleted "+seen[0], "deleted "+seen[1], "deleted "+seen[2])
	e.add(t, "new")
	d.poll(t)
	s.expect(t, "after the cursor's comment went", "added new")
	d.poll(t)
	s.expect(t, "at rest")
}

func TestPollerPublishesOnlyNewCommentsInOrder(t *testing.T) {
	e := newKlink(t)
	e.add(t, "old, before the poller started")
	s := &sink{}
	leaser := events.NewMemoryLeaser(nil)
	// Two pollers for the same thread with one leaser stand for two instances:
	// only the lease holder polls, so nothing is published twice. The clock
	// is far ahead so that the baseline offers nothing as recent.
	clock := clocktest.New(time.Now().Add(time.Hour))
	var ds []*driver
	for range 2 {
		ds = append(ds, start(t, e.p, model.ThreadKindRoom, room, s, poller.Options{PageSize: 10, MaxPages: 10, Leaser: leaser, Now: clock.Now}))
	}
	for _, d := range ds {
		d.poll(t)
	}
	s.expect(t, "baseline")
	// A burst larger than a page and than the window between polls.
	var want []string
	for i := 0; i < 25; i++ {
		text := fmt.Sprintf("new %02d", i)
		want = append(want, "added "+text)
		e.add(t, text)
	}
	for _, d := range ds {
		d.poll(t)
	}
	s.expect(t, "burst", want...)
}

// stuck is a provider whose upstream never answers: each call returns only
// when its ctx is done. calling is told about each call as it starts.
type stuck struct {
	providers.Provider
	calling chan<- struct{}
}

func (stuck) Info() *model.Provider { return &model.Provider{ID: "stuck"} }

func (s stuck) Thread(ctx context.Context, _ model.ThreadKind, _ string) (*model.Thread, error) {
	s.calling <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// stuckLeaser grants every lease and blocks in Release until its ctx is done,
// like a lease store that stopped answering; released reports whether that
// ctx had a deadline.
type stuckLeaser struct {
	events.Leaser
	released chan bool
}

func (l stuckLeaser) Release(ctx context.Context, _ string) error {
	_, bounded := ctx.Deadline()
	if bounded {
		<-ctx.Done()
	}
	l.released <- bounded
	return ctx.Err()
}

// A poller stops when its ctx is done, in the middle of a poll against an
// upstream that hangs, and gives up its lease without waiting on a lease
// store that hangs too.
func TestPollerStopsMidPollWhenCancelled(t *testing.T) {
	calling := make(chan struct{}, 1)
	leaser := stuckLeaser{Leaser: events.NewMemoryLeaser(nil), released: make(chan bool, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		poller.Thread(ctx, stuck{calling: calling}, model.ThreadKindRoom, room, func(context.Context, *providers.Change) error { return nil },
			poller.Options{Interval: time.Hour, Leaser: leaser})
	}()
	deadline := time.After(10 * time.Second)
	select {
	case <-calling: // holding the lease, waiting on the upstream
	case <-deadline:
		t.Fatal("the poller never called the upstream")
	}
	cancel()
	select {
	case bounded := <-leaser.released:
		if !bounded {
			t.Error("the lease was released with no deadline: a stuck store would hold the poller forever")
		}
	case <-deadline:
		t.Fatal("the poller never released its lease")
	}
	select {
	case <-done:
	case <-deadline:
		t.Fatal("the poller did not return after its ctx was cancelled")
	}
}
