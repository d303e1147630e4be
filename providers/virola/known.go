package virola

import (
	"slices"
	"sync"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// known remembers, by thread, the comments the events stream has told the
// gateway about (created, updated, caught up on), so that a thread removed
// upstream can be told as a DELETED for each of them. Virola sends one
// TextMessageDeleted for a deleted parent message and nothing for the
// comments that go with it, and one RoomDeleted for a room and nothing for
// its messages; without this the gateway's subscribers would never hear that
// the comments they hold are gone.
//
// It holds at most max comment ids across threads: past that the least
// recently used thread is forgotten (its deletion will tell nothing of its
// comments), and a single thread longer than max keeps its newest ones.
type known struct {
	mu      sync.Mutex
	max     int
	n       int // ids held
	seq     uint64
	threads map[int64]*knownThread
}

type knownThread struct {
	room int64
	ids  []int64 // ascending
	used uint64
}

func (k *known) init(max int) {
	k.max = max
	k.threads = make(map[int64]*knownThread)
}

// add records comment id of thread (the comment's parent message) in room.
func (k *known) add(thread, room, id int64) {
	if thread <= 0 || id <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seq++
	t, ok := k.threads[thread]
	if !ok {
		t = &knownThread{}
		k.threads[thread] = t
	}
	t.used = k.seq
	if room > 0 {
		t.room = room
	}
	i, found := slices.BinarySearch(t.ids, id)
	if found {
		return
	}
	t.ids = slices.Insert(t.ids, i, id)
	k.n++
	for k.n > k.max {
		if len(k.threads) == 1 { // this thread alone is over: keep its newest
			over := k.n - k.max
			t.ids = slices.Delete(t.ids, 0, over)
			k.n -= over
			break
		}
		var oldest int64
		var used uint64
		for tid, o := range k.threads {
			if tid != thread && (oldest == 0 || o.used < used) {
				oldest, used = tid, o.used
			}
		}
		k.n -= len(k.threads[oldest].ids)
		delete(k.threads, oldest)
	}
}

// drop forgets comment id of thread (deleted on its own).
func (k *known) drop(thread, id int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.threads[thread]
	if !ok {
		return
	}
	if i, found := slices.BinarySearch(t.ids, id); found {
		t.ids = slices.Delete(t.ids, i, i+1)
		k.n--
	}
}

// take forgets thread and returns its comment ids, ascending (nil when none
// is known).
func (k *known) take(thread int64) []int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.threads[thread]
	if !ok {
		return nil
	}
	delete(k.threads, thread)
	k.n -= len(t.ids)
	return t.ids
}

// takeRoom forgets every thread known to be in room and returns them,
// ascending, each with its comment ids.
func (k *known) takeRoom(room int64) (threads []int64, ids map[int64][]int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for tid, t := range k.threads {
		if t.room != room {
			continue
		}
		if ids == nil {
			ids = make(map[int64][]int64)
		}
		threads = append(threads, tid)
		ids[tid] = t.ids
		k.n -= len(t.ids)
		delete(k.threads, tid)
	}
	slices.Sort(threads)
	return threads, ids
}

// noteComment records a comment the stream is about to tell the gateway of.
func (p *Provider) noteComment(m *apiMessage) {
	p.known.add(m.ParentMessageID, m.RoomID, m.MessageID)
}

// threadGone fills ch with what the removal of message id tells
// subscribers: the thread it heads is deleted, and so is every comment of it
// the gateway was told of; and when id is itself a comment (parent ≠ 0) it
// is a deleted comment of parent too. The comments come in creation order,
// the message itself last.
func (p *Provider) threadGone(ch *providers.Change, id, parent int64) {
	p.track.forget(id)
	ids := p.known.take(id)
	if parent == 0 || len(ids) > 0 {
		ch.DeletedThreads = append(ch.DeletedThreads, ref(id))
	}
	for _, c := range ids {
		ch.DeletedComments = append(ch.DeletedComments, providers.CommentRef{ThreadKind: model.ThreadKindMessage, ThreadRef: ref(id), Ref: ref(c)})
	}
	if parent != 0 {
		p.known.drop(parent, id)
		ch.DeletedComments = append(ch.DeletedComments, providers.CommentRef{ThreadKind: model.ThreadKindMessage, ThreadRef: ref(parent), Ref: ref(id)})
	}
}

// roomGone adds to ch the threads known in room and their comments, all
// deleted with it.
func (p *Provider) roomGone(ch *providers.Change, room int64) {
	threads, ids := p.known.takeRoom(room)
	for _, t := range threads {
		p.track.forget(t)
		ch.DeletedThreads = append(ch.DeletedThreads, ref(t))
		for _, c := range ids[t] {
			ch.DeletedComments = append(ch.DeletedComments, providers.CommentRef{ThreadKind: model.ThreadKindMessage, ThreadRef: ref(t), Ref: ref(c)})
		}
	}
}
