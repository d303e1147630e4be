package aelyst

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Entry is one journaled comment, as the gateway saw it when it was created or
// delivered. Text and Mentions are rendered then, so reading the journal costs
// no upstream call (a user renamed later keeps the old name in old comments).
type Entry struct {
	// Ref is the comment's stable, gateway-made id: EntryRef(CreatedAt, Body).
	Ref       string         `json:"ref"`
	ContactID int64          `json:"contactId"`
	Body      string         `json:"body"` // as Aelyst holds it, {{@user.ID}} tokens kept
	Text      string         `json:"text"` // mentions rendered as @Name
	Mentions  []EntryMention `json:"mentions,omitempty"`
	CreatedAt int64          `json:"createdAt"` // Unix s, as Aelyst gave it
	SenderRef string         `json:"senderRef,omitempty"`
	// Cursor is the entry's position, set by the journal when it answers.
	Cursor string `json:"-"`
}

// EntryMention is a span of Entry.Text in code points.
type EntryMention struct {
	UserRef string `json:"user"`
	Offset  int    `json:"offset"`
	Length  int    `json:"length"`
}

// EntryRef is a comment's ref: when it was created and a hash of its body.
// Aelyst gives comments no id, and a comment the gateway created arrives again
// by webhook with the same contact, text and created_at: deriving the ref from
// those makes both the same entry. (Two identical comments on one contact in
// the same second are one entry; nothing upstream tells them apart either.)
func EntryRef(createdAt int64, body string) string {
	sum := sha256.Sum256([]byte(body))
	return strconv.FormatInt(createdAt, 10) + "-" + hex.EncodeToString(sum[:6])
}

// validRef checks the form EntryRef makes.
func validRef(ref string) bool {
	ts, h, ok := strings.Cut(ref, "-")
	if !ok || len(h) != 12 || len(ts) == 0 || len(ts) > 11 {
		return false
	}
	for _, r := range ts {
		if r < '0' || r > '9' {
			return false
		}
	}
	for _, r := range h {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// JournalPage is one page of entries, oldest first either way.
type JournalPage struct {
	Entries         []Entry
	HasNextPage     bool // newer entries exist after the last one
	HasPreviousPage bool // older entries exist before the first one
}

// Journal is the durable record of a contact's comments, which Aelyst cannot
// list. scope names the provider instance (and credential) the contact
// belongs to. Entries are never removed.
type Journal interface {
	// Append stores e unless the contact already has an entry with e.Ref or
	// with one of aliases (a webhook event id, an idempotency key). It
	// returns the entry as stored (the earlier one when it was there) and
	// whether e was added; appending the same thing twice is harmless. An
	// earlier entry with no SenderRef takes e's: a webhook, which names no
	// author, can beat the create that knows it.
	Append(ctx context.Context, scope string, e Entry, aliases ...string) (Entry, bool, error)
	// Lookup returns the entry an alias was appended with.
	Lookup(ctx context.Context, scope string, contactID int64, alias string) (Entry, bool, error)
	// Get returns one entry; NOT_FOUND when the contact has none with ref.
	Get(ctx context.Context, scope string, contactID int64, ref string) (Entry, error)
	// List pages a contact's entries, ordered by created_at, then by arrival,
	// with Relay semantics (providers.Page). A cursor it did not make is
	// BAD_USER_INPUT.
	List(ctx context.Context, scope string, contactID int64, page providers.Page) (*JournalPage, error)
}

// maxPage bounds one page of the journal.
const maxPage = 100

// orderKey is an entry's position: created_at, then the arrival sequence
// within the contact, fixed-width so keys sort as strings (Redis ZRANGEBYLEX).
func orderKey(createdAt, seq int64) string { return fmt.Sprintf("%011d:%010d", createdAt, seq) }

// cursorOf is the short public form of an order key.
func cursorOf(key string) string {
	ts, seq, _ := strings.Cut(key, ":")
	return strings.TrimLeft(ts, "0") + "." + strings.TrimLeft(seq, "0")
}

// parseCursor turns a cursor back into its order key.
func parseCursor(c string) (string, error) {
	bad := model.Errorf(model.CodeBadUserInput, "%q is not a comment cursor", clip(c))
	ts, seq, ok := strings.Cut(c, ".")
	if !ok || len(ts) > 11 || len(seq) == 0 || len(seq) > 10 {
		return "", bad
	}
	t, err1 := strconv.ParseInt("0"+ts, 10, 64)
	s, err2 := strconv.ParseInt(seq, 10, 64)
	if err1 != nil || err2 != nil || s <= 0 || strings.ContainsAny(ts+seq, "+-") {
		return "", bad
	}
	return orderKey(t, s), nil
}

// checkPage validates a page request and returns its size and the cursor's
// order key ("" for none).
func checkPage(page providers.Page) (size int, key string, err error) {
	size = page.Size()
	if size <= 0 || (page.First > 0 && page.Last > 0) {
		return 0, "", model.Errorf(model.CodeBadUserInput, "give first or last, positive")
	}
	size = min(size, maxPage)
	cursor := page.After
	if page.Backward() {
		cursor = page.Before
	}
	if cursor != "" {
		if key, err = parseCursor(cursor); err != nil {
			return 0, "", err
		}
	}
	return size, key, nil
}

func checkEntry(e Entry) error {
	if e.ContactID <= 0 || e.CreatedAt < 0 || e.CreatedAt > maxUnix || !validRef(e.Ref) {
		return fmt.Errorf("aelyst journal: entry %q of contact %d at %d is malformed", e.Ref, e.ContactID, e.CreatedAt)
	}
	return nil
}

// MemoryJournal is a Journal in process memory: for tests, demo mode and a
// single instance that may lose its journal on restart.
type MemoryJournal struct {
	mu       sync.Mutex
	contacts map[string]*memContact
}

type memContact struct {
	seq     int64
	keys    []string // order keys, sorted
	entries map[string]Entry
	refs    map[string]string // ref → order key
	aliases map[string]string // alias → order key
}

// NewMemoryJournal returns an empty MemoryJournal.
func NewMemoryJournal() *MemoryJournal { return &MemoryJournal{contacts: map[string]*memContact{}} }

func (j *MemoryJournal) contact(scope string, id int64, create bool) *memContact {
	k := scope + "\x00" + strconv.FormatInt(id, 10)
	c := j.contacts[k]
	if c == nil && create {
		c = &memContact{entries: map[string]Entry{}, refs: map[string]string{}, aliases: map[string]string{}}
		j.contacts[k] = c
	}
	return c
}

// Append implements Journal.
func (j *MemoryJournal) Append(_ context.Context, scope string, e Entry, aliases ...string) (Entry, bool, error) {
	if err := checkEntry(e); err != nil {
		return Entry{}, false, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.contact(scope, e.ContactID, true)
	key, known := "", false
	for _, a := range aliases {
		if key, known = c.aliases[a]; known {
			break
		}
	}
	if !known {
		key, known = c.refs[e.Ref]
	}
	if !known {
		c.seq++
		key = orderKey(e.CreatedAt, c.seq)
		i := sort.SearchStrings(c.keys, key)
		c.keys = append(c.keys, "")
		copy(c.keys[i+1:], c.keys[i:])
		c.keys[i] = key
		c.entries[key] = e
		c.refs[e.Ref] = key
	}
	for _, a := range aliases {
		if _, ok := c.aliases[a]; !ok {
			c.aliases[a] = key
		}
	}
	if stored := c.entries[key]; known && stored.SenderRef == "" && e.SenderRef != "" {
		stored.SenderRef = e.SenderRef
		c.entries[key] = stored
	}
	stored := c.entries[key]
	stored.Cursor = cursorOf(key)
	return stored, !known, nil
}

// Lookup implements Journal.
func (j *MemoryJournal) Lookup(_ context.Context, scope string, contactID int64, alias string) (Entry, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.contact(scope, contactID, false)
	if c == nil {
		return Entry{}, false, nil
	}
	key, ok := c.aliases[alias]
	if !ok {
		return Entry{}, false, nil
	}
	e := c.entries[key]
	e.Cursor = cursorOf(key)
	return e, true, nil
}

// Get implements Journal.
func (j *MemoryJournal) Get(_ context.Context, scope string, contactID int64, ref string) (Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if c := j.contact(scope, contactID, false); c != nil {
		if key, ok := c.refs[ref]; ok {
			e := c.entries[key]
			e.Cursor = cursorOf(key)
			return e, nil
		}
	}
	return Entry{}, model.Errorf(model.CodeNotFound, "no comment %q on this contact", clip(ref))
}

// List implements Journal.
func (j *MemoryJournal) List(_ context.Context, scope string, contactID int64, page providers.Page) (*JournalPage, error) {
	size, cursor, err := checkPage(page)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.contact(scope, contactID, false)
	if c == nil {
		return &JournalPage{}, nil
	}
	var from, to int // the page is c.keys[from:to]
	out := &JournalPage{}
	if page.Backward() {
		to = len(c.keys)
		if cursor != "" {
			to = sort.SearchStrings(c.keys, cursor) // keys < cursor
		}
		from = max(0, to-size)
	} else {
		if cursor != "" {
			from = sort.Search(len(c.keys), func(i int) bool { return c.keys[i] > cursor })
		}
		to = min(len(c.keys), from+size)
	}
	out.HasPreviousPage = from > 0
	out.HasNextPage = to < len(c.keys)
	for _, k := range c.keys[from:to] {
		e := c.entries[k]
		e.Cursor = cursorOf(k)
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}
