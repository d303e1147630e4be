package klink

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// K-LINK pages comments by page number, in an order it does not document, so
// page boundaries move whenever a comment is added. The adapter therefore
// never hands out page numbers: a cursor names a comment (its id and creation
// time) and each ListComments re-reads pages from one end of the list until
// the comment is located again and enough neighbours are in hand. Whatever
// arrived meanwhile only shifts where the comment is found, so nothing is
// skipped or repeated.
//
// Pages read form a window: a contiguous run of the upstream list that reaches
// the page-1 end and, once the last page is read, the other end too. Whether
// page 1 holds the newest or the oldest comments is read from the timestamps
// (newest first, the notes' assumption, when they cannot tell).

// cursor is a decoded comment cursor.
type cursor struct {
	id string
	at time.Time
}

const maxCursorLength = 256

func encodeCursor(id string, at time.Time) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 36) + "~" + id))
}

// decodeCursor reads a cursor made by encodeCursor; anything else is
// BAD_USER_INPUT.
func decodeCursor(provider, s string) (*cursor, error) {
	bad := &model.Error{Code: model.CodeBadUserInput, Provider: provider, Message: "the cursor is not one this provider made"}
	if len(s) > maxCursorLength {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ts, id, ok := strings.Cut(string(raw), "~")
	if !ok || checkRef(provider, "comment", id) != nil {
		return nil, bad
	}
	us, err := strconv.ParseInt(ts, 36, 64)
	if err != nil {
		return nil, bad
	}
	return &cursor{id: id, at: time.UnixMicro(us).UTC()}, nil
}

// item is a listed comment with its parsed creation time.
type item struct {
	c  wireComment
	at time.Time
}

// window is a contiguous run of a room's comments, oldest first.
type window struct {
	items  []item
	oldest bool // the run starts at the room's oldest comment
	newest bool // the run ends at the room's newest comment
	// newestFirst is the upstream's order: page 1 holds the newest comments.
	newestFirst bool
	// moreOlder and moreNewer say comments certainly lie beyond that end of
	// the run (pages known to exist but not read), so no page more need be
	// read to tell HasPreviousPage or HasNextPage.
	moreOlder, moreNewer bool
}

// locate finds where a cursor's comment sits: the index of the comment itself
// (exact), or — when it is gone — the index of the first comment created after
// (forward) or not before (backward) its time. ok is false when the window
// cannot tell yet.
func (w *window) locate(c *cursor, backward bool) (int, bool) {
	for i := range w.items {
		if w.items[i].c.ID == c.id {
			if backward {
				return i, true
			}
			return i + 1, true
		}
	}
	n := len(w.items)
	spans := (w.oldest || (n > 0 && w.items[0].at.Before(c.at))) && (w.newest || (n > 0 && w.items[n-1].at.After(c.at)))
	if !spans {
		return 0, false
	}
	for i := range w.items {
		if w.items[i].at.After(c.at) || (backward && w.items[i].at.Equal(c.at)) {
			return i, true
		}
	}
	return n, true
}

// slice picks the page's edges w.items[start:end]; final is false when reading
// more pages could still change the answer.
func (w *window) slice(pg providers.Page, c *cursor) (start, end int, final bool) {
	n := len(w.items)
	if !pg.Backward() {
		if c != nil {
			i, ok := w.locate(c, false)
			if !ok {
				return 0, 0, false
			}
			start = i
		} else if !w.oldest {
			return 0, 0, false
		}
		end = min(start+pg.First, n)
		// The edges are decided by a full page or the end; HasNextPage by one
		// comment beyond the page, the end, or knowing more exist.
		full := start+pg.First <= n
		return start, end, (full || w.newest) && (end < n || w.newest || w.moreNewer)
	}
	end = n
	if c != nil {
		i, ok := w.locate(c, true)
		if !ok {
			return 0, 0, false
		}
		end = i
	} else if !w.newest {
		return 0, 0, false
	}
	start = max(0, end-pg.Last)
	full := end-pg.Last >= 0
	return start, end, (full || w.oldest) && (start > 0 || w.oldest || w.moreOlder)
}

// scan reads a room's pages and keeps what it read.
type scan struct {
	p    *Provider
	room string
	size int

	pages   map[int][]wireComment
	lo, hi  int // the run of pages the window is made of
	endSeen bool
	fetches int
	// total and lastPage are page 1's legacy block, when it has one.
	total, lastPage int
	jumped, noJump  bool
}

func (p *Provider) newScan(room string) *scan {
	return &scan{p: p, room: room, size: p.opts.PageSize, pages: make(map[int][]wireComment)}
}

// fetch reads page n, within the MaxPages budget.
func (s *scan) fetch(ctx context.Context, n int) (*commentList, error) {
	if s.fetches >= s.p.opts.MaxPages {
		return nil, &model.Error{Code: model.CodeUpstreamUnavailable, Provider: s.p.opts.ID,
			Message: fmt.Sprintf("the room has more comments than the gateway reads at once (%d pages)", s.p.opts.MaxPages)}
	}
	s.fetches++
	l, err := s.p.fetchPage(ctx, s.room, n, s.size)
	if err != nil {
		return nil, err
	}
	s.pages[n] = l.Data
	return l, nil
}

// isLast reads the two end-of-list signals the notes allow: a short page, or
// the legacy block's lastPage.
func (s *scan) isLast(l *commentList, n int) bool {
	size := s.size
	if l.PageSize != nil && *l.PageSize > 0 {
		size = *l.PageSize // the upstream may cap what was asked
	}
	return l.rawCount < size || (l.LastPage != nil && n >= *l.LastPage)
}

// next reads one more page: the next one in sequence, or, when the answer lies
// at the far end of a long list whose length is known, the last pages first.
func (s *scan) next(ctx context.Context, farEnd bool) error {
	if s.hi == 0 {
		l, err := s.fetch(ctx, 1)
		if err != nil {
			return err
		}
		s.lo, s.hi, s.endSeen = 1, 1, s.isLast(l, 1)
		if l.Total != nil && l.LastPage != nil {
			s.total, s.lastPage = *l.Total, *l.LastPage
		} else {
			s.noJump = true
		}
		return nil
	}
	if !s.jumped && farEnd && !s.noJump && s.lastPage > 2 && !s.endSeen {
		// Jump: the run becomes [lastPage, lastPage] and grows toward page 1.
		s.jumped = true
		return s.extendFar(ctx, s.lastPage)
	}
	if s.jumped {
		if s.lo == 2 {
			s.lo = 1 // page 1 was read first and nothing has moved since
			return nil
		}
		return s.extendFar(ctx, s.lo-1)
	}
	n := s.hi + 1
	l, err := s.fetch(ctx, n)
	if err != nil {
		return err
	}
	s.hi, s.endSeen = n, s.isLast(l, n)
	return nil
}

// extendFar reads page n of a jump. Reading from the far end is only safe
// while the list does not change: a comment added at the page-1 end shifts
// every page by one and the run would skip one. So every page must report the
// total page 1 did; if not, the jump is abandoned for a sequential read.
func (s *scan) extendFar(ctx context.Context, n int) error {
	l, err := s.fetch(ctx, n)
	if err != nil {
		return err
	}
	if l.Total == nil || *l.Total != s.total || l.LastPage == nil || *l.LastPage != s.lastPage {
		s.p.log.Debug("klink: room changed while paging from its end; reading from page 1", "room", s.room)
		for k := range s.pages {
			if k != 1 {
				delete(s.pages, k)
			}
		}
		s.jumped, s.noJump = false, true
		s.lo, s.hi = 1, 1
		return nil
	}
	if n == s.lastPage {
		s.hi, s.endSeen = n, true
	}
	s.lo = n
	return nil
}

// window builds the run read so far, oldest first, without repeats (a comment
// added between two page reads pushes one comment onto the next page too).
func (s *scan) window() *window {
	var native []item
	seen := make(map[string]bool)
	for n := s.lo; n <= s.hi; n++ {
		for _, c := range s.pages[n] {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			at, _ := parseTime(c.CreatedAt)
			native = append(native, item{c: c, at: at})
		}
	}
	w := &window{items: native, newestFirst: newestFirst(native)}
	// Pages before the run: page 1 was read and held comments. Pages after
	// it: page 1's legacy block counted more.
	before := s.lo > 1 && len(s.pages[1]) > 0
	after := !s.endSeen && s.lastPage > s.hi
	if w.newestFirst {
		slices.Reverse(w.items)
		w.newest, w.oldest = s.lo == 1, s.endSeen
		w.moreNewer, w.moreOlder = before, after
	} else {
		w.oldest, w.newest = s.lo == 1, s.endSeen
		w.moreOlder, w.moreNewer = before, after
	}
	return w
}

// newestFirst reads the list's order from the first two comments with
// different times; newest first when none differ.
func newestFirst(items []item) bool {
	for i := 1; i < len(items); i++ {
		a, b := items[i-1].at, items[i].at
		if a.IsZero() || b.IsZero() || a.Equal(b) {
			continue
		}
		return a.After(b)
	}
	return true
}

// collect reads pages until the page asked for is decided.
func (s *scan) collect(ctx context.Context, pg providers.Page, c *cursor) (w *window, start, end int, err error) {
	for {
		if s.hi != 0 {
			w = s.window()
			var final bool
			if start, end, final = w.slice(pg, c); final {
				return w, start, end, nil
			}
			if s.lo == 1 && s.endSeen {
				// Both ends read: slice is always final then; this is a guard.
				return nil, 0, 0, fmt.Errorf("klink: paging did not settle")
			}
		}
		// Without a cursor, the far end is wanted when it is not page 1's end.
		farEnd := c == nil && w != nil && pg.Backward() != w.newestFirst
		if err := s.next(ctx, farEnd); err != nil {
			return nil, 0, 0, err
		}
	}
}
