package virola

import (
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

const (
	epDelete = "DELETE /api/v1/messages/{messageId}"
	epMark   = "POST /api/v1/messages/{messageId}/read"
)

// testClock is a fixed clock the emulator and the adapter share.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time { return time.UnixMilli(c.ms.Load()).UTC() }

// lifeEnv is env with comments to delete and read: the gateway's own, one by
// Bo Tan, and the gateway's in another thread.
type lifeEnv struct {
	*env
	clock     *testClock
	other     int64 // another thread's parent message
	mine      int64
	theirs    int64
	elsewhere int64
}

func newLifeEnv(t *testing.T) *lifeEnv {
	t.Helper()
	clk := &testClock{}
	clk.ms.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixMilli())
	e := &lifeEnv{env: newEnv(t, virolatest.Options{Now: clk.now}, Options{Now: clk.now}), clock: clk}
	e.mine = e.comment(t, e.parent, virolatest.Message{Text: "mine"})
	e.theirs = e.comment(t, e.parent, virolatest.Message{UserID: e.users["Bo Tan"], Text: "theirs"})
	var err error
	if e.other, err = e.s.AddMessage(virolatest.Message{RoomID: e.room, Text: "another thread"}); err != nil {
		t.Fatal(err)
	}
	e.elsewhere = e.comment(t, e.other, virolatest.Message{Text: "elsewhere"})
	e.s.ResetCalls()
	return e
}

func stored(e *lifeEnv, parent int64) []int64 {
	var ids []int64
	for _, c := range e.s.Comments(parent) {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestDeleteComment(t *testing.T) {
	tests := []struct {
		name    string
		before  func(t *testing.T, e *lifeEnv)
		thread  func(e *lifeEnv) *model.Thread // nil: e.thread
		ref     func(e *lifeEnv) string
		code    model.Code // "": success
		deletes int        // DELETE calls made
		left    func(e *lifeEnv) []int64
	}{
		{name: "own comment", ref: func(e *lifeEnv) string { return ref(e.mine) }, deletes: 1,
			left: func(e *lifeEnv) []int64 { return []int64{e.theirs} }},
		{name: "twice", ref: func(e *lifeEnv) string { return ref(e.mine) },
			before: func(t *testing.T, e *lifeEnv) {
				if err := e.p.DeleteComment(ctxT(t), e.thread, ref(e.mine)); err != nil {
					t.Fatal(err)
				}
				e.s.ResetCalls()
			},
			code: model.CodeNotFound, left: func(e *lifeEnv) []int64 { return []int64{e.theirs} }},
		{name: "a delete lost to a race", ref: func(e *lifeEnv) string { return ref(e.mine) },
			before: func(t *testing.T, e *lifeEnv) {
				e.s.FailNext(epDelete, virolatest.Fault{Status: 404, Body: `{"errorText":"Message not found","httpStatusCode":404}`})
			},
			code: model.CodeNotFound, deletes: 1},
		{name: "unknown comment", ref: func(*lifeEnv) string { return "999999" }, code: model.CodeNotFound},
		{name: "another thread's comment", ref: func(e *lifeEnv) string { return ref(e.elsewhere) }, code: model.CodeNotFound},
		{name: "the thread's own message", ref: func(e *lifeEnv) string { return ref(e.parent) }, code: model.CodeBadUserInput},
		{name: "not a message id", ref: func(*lifeEnv) string { return "12abc" }, code: model.CodeBadUserInput},
		{name: "someone else's comment", ref: func(e *lifeEnv) string { return ref(e.theirs) }, code: model.CodeForbidden, deletes: 1},
		{name: "a ROOM thread", ref: func(e *lifeEnv) string { return ref(e.mine) }, code: model.CodeUnsupported,
			thread: func(e *lifeEnv) *model.Thread {
				return &model.Thread{ProviderID: "vir", Kind: model.ThreadKindRoom, Ref: ref(e.room)}
			}},
		{name: "no thread", ref: func(e *lifeEnv) string { return ref(e.mine) }, code: model.CodeBadUserInput,
			thread: func(*lifeEnv) *model.Thread { return nil }},
		{name: "the token renewed since", ref: func(e *lifeEnv) string { return ref(e.mine) }, code: model.CodeUnauthenticated,
			before: func(_ *testing.T, e *lifeEnv) { e.s.AddToken("renewed", e.s.BotID()) }},
		{name: "a deleted thread", ref: func(e *lifeEnv) string { return ref(e.mine) }, code: model.CodeNotFound,
			before: func(t *testing.T, e *lifeEnv) {
				if err := e.s.DeleteMessage(e.parent); err != nil {
					t.Fatal(err)
				}
			},
			left: func(*lifeEnv) []int64 { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newLifeEnv(t)
			if tc.before != nil {
				tc.before(t, e)
			}
			thread := e.thread
			if tc.thread != nil {
				thread = tc.thread(e)
			}
			err := e.p.DeleteComment(ctxT(t), thread, tc.ref(e))
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				wantCode(t, err, tc.code)
			}
			if got := e.s.Calls(epDelete); got != tc.deletes {
				t.Errorf("%d DELETE calls, want %d", got, tc.deletes)
			}
			want := []int64{e.mine, e.theirs}
			if tc.left != nil {
				want = tc.left(e)
			}
			if got := stored(e, e.parent); !slices.Equal(got, want) {
				t.Errorf("thread holds %v, want %v", got, want)
			}
			if got := stored(e, e.other); !slices.Equal(got, []int64{e.elsewhere}) {
				t.Errorf("the other thread holds %v", got)
			}
		})
	}
}

// readers is who read c, as user refs.
func readers(c *model.Comment) []string {
	var out []string
	for _, r := range c.ReadBy {
		out = append(out, r.UserRef)
	}
	return out
}

func TestMarkRead(t *testing.T) {
	tests := []struct {
		name   string
		before func(t *testing.T, e *lifeEnv)
		thread func(e *lifeEnv) *model.Thread // nil: e.thread
		refs   func(e *lifeEnv) []string
		code   model.Code // "": success
		// want is, per comment returned, its ref and its readers.
		want  func(e *lifeEnv) [][]string
		marks int // POST …/read calls made
		lists int // comment list calls made
	}{
		{name: "two comments, in the order asked", refs: func(e *lifeEnv) []string { return []string{ref(e.theirs), ref(e.mine)} },
			want: func(e *lifeEnv) [][]string {
				return [][]string{{ref(e.theirs), ref(e.s.BotID())}, {ref(e.mine), ref(e.s.BotID())}}
			},
			marks: 2, lists: 2},
		{name: "a ref twice is one comment", refs: func(e *lifeEnv) []string { return []string{ref(e.mine), ref(e.mine)} },
			want:  func(e *lifeEnv) [][]string { return [][]string{{ref(e.mine), ref(e.s.BotID())}} },
			marks: 1, lists: 2},
		{name: "other readers stay", refs: func(e *lifeEnv) []string { return []string{ref(e.theirs)} },
			before: func(t *testing.T, e *lifeEnv) {
				if err := e.s.MarkRead(e.theirs, e.users["Bo Tan"]); err != nil {
					t.Fatal(err)
				}
			},
			want: func(e *lifeEnv) [][]string {
				return [][]string{{ref(e.theirs), ref(e.users["Bo Tan"]), ref(e.s.BotID())}}
			},
			marks: 1, lists: 2},
		{name: "already read is not marked again", refs: func(e *lifeEnv) []string { return []string{ref(e.mine)} },
			before: func(t *testing.T, e *lifeEnv) {
				if err := e.s.MarkRead(e.mine, e.s.BotID()); err != nil {
					t.Fatal(err)
				}
			},
			want:  func(e *lifeEnv) [][]string { return [][]string{{ref(e.mine), ref(e.s.BotID())}} },
			lists: 1},
		{name: "a read-back that lags still names the gateway", refs: func(e *lifeEnv) []string { return []string{ref(e.theirs)} },
			before: func(_ *testing.T, e *lifeEnv) {
				e.s.FailNext(epGetComments, virolatest.Fault{}) // the look-up is served
				e.s.FailNext(epGetComments, virolatest.Fault{Status: 200, Body: fmt.Sprintf(
					`{"httpStatusCode":200,"roomId":%d,"messages":[{"messageId":%d,"parentMessageId":%d,"userId":%d,"text":"theirs","createdUtc":1,"readTimestamps":[]}]}`,
					e.room, e.theirs, e.parent, e.users["Bo Tan"])})
			},
			want:  func(e *lifeEnv) [][]string { return [][]string{{ref(e.theirs), ref(e.s.BotID())}} },
			marks: 1, lists: 2},
		{name: "none", refs: func(*lifeEnv) []string { return nil }, want: func(*lifeEnv) [][]string { return nil }},
		{name: "unknown comment", refs: func(e *lifeEnv) []string { return []string{ref(e.mine), "999999"} }, code: model.CodeNotFound, lists: 1},
		{name: "another thread's comment", refs: func(e *lifeEnv) []string { return []string{ref(e.elsewhere)} }, code: model.CodeNotFound, lists: 1},
		{name: "the thread's own message", refs: func(e *lifeEnv) []string { return []string{ref(e.parent)} }, code: model.CodeBadUserInput},
		{name: "not a message id", refs: func(*lifeEnv) []string { return []string{"-4"} }, code: model.CodeBadUserInput},
		{name: "too many", code: model.CodeBadUserInput, refs: func(*lifeEnv) []string {
			var refs []string
			for i := range maxMarkRead + 1 {
				refs = append(refs, strconv.Itoa(5_000_000+i))
			}
			return refs
		}},
		{name: "a ROOM thread", refs: func(e *lifeEnv) []string { return []string{ref(e.mine)} }, code: model.CodeUnsupported,
			thread: func(e *lifeEnv) *model.Thread {
				return &model.Thread{ProviderID: "vir", Kind: model.ThreadKindRoom, Ref: ref(e.room)}
			}},
		{name: "the token renewed since", refs: func(e *lifeEnv) []string { return []string{ref(e.mine)} }, code: model.CodeUnauthenticated,
			before: func(_ *testing.T, e *lifeEnv) { e.s.AddToken("renewed", e.s.BotID()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newLifeEnv(t)
			if tc.before != nil {
				tc.before(t, e)
			}
			thread := e.thread
			if tc.thread != nil {
				thread = tc.thread(e)
			}
			got, err := e.p.MarkRead(ctxT(t), thread, tc.refs(e))
			if tc.code != "" {
				wantCode(t, err, tc.code)
				if got := e.s.ReadBy(e.mine); len(got) != 0 {
					t.Errorf("refused, yet %d read receipts on %d", len(got), e.mine)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				var refsAndReaders [][]string
				for _, c := range got {
					refsAndReaders = append(refsAndReaders, append([]string{c.Ref}, readers(c)...))
					if c.ThreadRef != ref(e.parent) || c.ProviderID != "vir" {
						t.Errorf("comment %s in thread %s of %s", c.Ref, c.ThreadRef, c.ProviderID)
					}
					for _, r := range c.ReadBy {
						if r.UserRef == ref(e.s.BotID()) && !r.ReadAt.Equal(e.clock.now()) {
							t.Errorf("read at %v, want %v", r.ReadAt, e.clock.now())
						}
					}
				}
				if want := tc.want(e); !slices.EqualFunc(refsAndReaders, want, slices.Equal) {
					t.Errorf("comments and readers %v, want %v", refsAndReaders, want)
				}
				for _, c := range got {
					id, _ := parseRef(c.Ref)
					if !slices.ContainsFunc(e.s.ReadBy(id), func(r virolatest.Read) bool { return r.UserID == e.s.BotID() }) {
						t.Errorf("the emulator holds no receipt of the gateway on %d", id)
					}
				}
			}
			if n := e.s.Calls(epMark); n != tc.marks {
				t.Errorf("%d read calls, want %d", n, tc.marks)
			}
			if n := e.s.Calls(epGetComments); n != tc.lists {
				t.Errorf("%d list calls, want %d", n, tc.lists)
			}
		})
	}
}

// TestMarkReadFindsCommentsFarApart: comments a page or more apart are found
// by a jump, not by walking every page between them.
func TestMarkReadFindsCommentsFarApart(t *testing.T) {
	e := newLifeEnv(t)
	ids := []int64{e.mine, e.theirs}
	for i := range 2*maxPage + 10 {
		ids = append(ids, e.comment(t, e.parent, virolatest.Message{Text: fmt.Sprint("filler ", i)}))
	}
	e.s.ResetCalls()
	asked := []string{ref(ids[len(ids)-1]), ref(ids[0]), ref(ids[1])}
	got, err := e.p.MarkRead(ctxT(t), e.thread, asked)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, c := range got {
		refs = append(refs, c.Ref)
		if !slices.Contains(readers(c), ref(e.s.BotID())) {
			t.Errorf("comment %s not read by the gateway: %v", c.Ref, readers(c))
		}
	}
	if !slices.Equal(refs, asked) {
		t.Fatalf("comments %v, want %v", refs, asked)
	}
	// Two lists to find them (the first two, then a jump to the last), two to
	// read them back.
	if n := e.s.Calls(epGetComments); n != 4 {
		t.Fatalf("%d list calls, want 4", n)
	}
}

// TestStreamDeliversDeletesAndReads: what DeleteComment and MarkRead do
// upstream comes back on the events stream as the change each is, and a
// deleted thread as a deleted thread.
func TestStreamDeliversDeletesAndReads(t *testing.T) {
	e := newLifeEnv(t)
	ch := streaming(t, e.env)
	bot, bo := ref(e.s.BotID()), ref(e.users["Bo Tan"])

	if _, err := e.p.MarkRead(ctxT(t), e.thread, []string{ref(e.theirs)}); err != nil {
		t.Fatal(err)
	}
	c := next(t, ch)
	if len(c.UpdatedComments) != 1 || c.UpdatedComments[0].Ref != ref(e.theirs) || !slices.Equal(readers(c.UpdatedComments[0]), []string{bot}) {
		t.Fatalf("read change %+v", c)
	}
	readKey := c.Key

	// Bo reads it within the same millisecond: another change, another key.
	if err := e.s.MarkRead(e.theirs, e.users["Bo Tan"]); err != nil {
		t.Fatal(err)
	}
	c = next(t, ch)
	if len(c.UpdatedComments) != 1 || !slices.Equal(readers(c.UpdatedComments[0]), []string{bot, bo}) || c.Key == readKey {
		t.Fatalf("second read change %+v (first key %s)", c, readKey)
	}

	if err := e.p.DeleteComment(ctxT(t), e.thread, ref(e.mine)); err != nil {
		t.Fatal(err)
	}
	c = next(t, ch) // the parent's commentCount update is no comment change
	want := []providers.CommentRef{{ThreadKind: model.ThreadKindMessage, ThreadRef: ref(e.parent), Ref: ref(e.mine)}}
	if !slices.Equal(c.DeletedComments, want) || c.Key != fmt.Sprintf("virola:%d:TextMessageDeleted", e.mine) ||
		len(c.Comments)+len(c.UpdatedComments)+len(c.DeletedThreads) != 0 {
		t.Fatalf("delete change %+v", c)
	}

	if err := e.s.DeleteMessage(e.parent); err != nil {
		t.Fatal(err)
	}
	c = next(t, ch) // with the comment the stream told of (read), not the one deleted
	want = []providers.CommentRef{{ThreadKind: model.ThreadKindMessage, ThreadRef: ref(e.parent), Ref: ref(e.theirs)}}
	if !slices.Equal(c.DeletedThreads, []string{ref(e.parent)}) || !slices.Equal(c.DeletedComments, want) {
		t.Fatalf("thread delete change %+v", c)
	}
}
