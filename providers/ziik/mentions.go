package ziik

import (
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Ziik documents no mention markup ("rich content markup" only), so the
// adapter writes a mention as the plain "@Name" the Ziik app shows, and finds
// mentions on read by matching "@" + the name of a user it knows: the
// conversation's participants first, then every author and user it has seen.
// A comment created here therefore reads back with the same spans.

// people remembers the users the adapter has seen, by id and by name, and who
// takes part in which conversation. It is bounded by the tenant's directory.
type people struct {
	ttl time.Duration

	mu     sync.RWMutex
	users  map[string]*model.User
	byName map[string][]string // name → user refs, first seen first
	names  []string            // every name, longest first; nil when stale
	convs  map[string]participants
}

type participants struct {
	refs    map[string]bool
	fetched time.Time
}

// learn records users (authors, participants, look-ups), replacing what was
// known of each.
func (pp *people) learn(users ...*model.User) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.learnLocked(users)
}

func (pp *people) learnLocked(users []*model.User) {
	if pp.users == nil {
		pp.users = make(map[string]*model.User)
		pp.byName = make(map[string][]string)
	}
	for _, u := range users {
		if u == nil || u.Ref == "" {
			continue
		}
		if old, ok := pp.users[u.Ref]; ok && old.Name != u.Name {
			pp.byName[old.Name] = remove(pp.byName[old.Name], u.Ref)
			if len(pp.byName[old.Name]) == 0 {
				delete(pp.byName, old.Name)
			}
			pp.names = nil
		}
		if _, ok := pp.users[u.Ref]; !ok || pp.users[u.Ref].Name != u.Name {
			if len(pp.byName[u.Name]) == 0 {
				pp.names = nil
			}
			pp.byName[u.Name] = append(pp.byName[u.Name], u.Ref)
		}
		pp.users[u.Ref] = u
	}
}

func remove(refs []string, ref string) []string {
	out := refs[:0:0]
	for _, r := range refs {
		if r != ref {
			out = append(out, r)
		}
	}
	return out
}

// learnConversation records a conversation's participants as of now.
func (pp *people) learnConversation(conv string, users []*model.User, now time.Time) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.learnLocked(users)
	if pp.convs == nil {
		pp.convs = make(map[string]participants)
	}
	refs := make(map[string]bool, len(users))
	for _, u := range users {
		refs[u.Ref] = true
	}
	pp.convs[conv] = participants{refs: refs, fetched: now}
}

// stale reports whether conv's participants are unknown or older than the TTL.
func (pp *people) stale(conv string, now time.Time) bool {
	pp.mu.RLock()
	defer pp.mu.RUnlock()
	c, ok := pp.convs[conv]
	return !ok || now.Sub(c.fetched) >= pp.ttl
}

// known returns the users among refs the adapter has seen.
func (pp *people) known(refs []string) map[string]*model.User {
	pp.mu.RLock()
	defer pp.mu.RUnlock()
	out := make(map[string]*model.User, len(refs))
	for _, r := range refs {
		if u, ok := pp.users[r]; ok {
			out[r] = u
		}
	}
	return out
}

// detect finds the mentions in text, preferring conv's participants when two
// users share a name.
func (pp *people) detect(provider, conv, text string) []*model.Mention {
	if !strings.Contains(text, "@") {
		return []*model.Mention{}
	}
	pp.mu.RLock()
	defer pp.mu.RUnlock()
	names := pp.names
	if names == nil {
		// The sorted list is rebuilt under the write lock only when learning
		// changed the names; every other comment of every request reads it
		// under the shared lock.
		pp.mu.RUnlock()
		names = pp.sortedNames()
		pp.mu.RLock()
	}
	inConv := pp.convs[conv].refs
	return findMentions(provider, text, names, func(name string) *model.User {
		refs := pp.byName[name]
		for _, r := range refs {
			if inConv[r] {
				return pp.users[r]
			}
		}
		if len(refs) == 0 {
			return nil
		}
		return pp.users[refs[0]]
	})
}

// sortedNames returns every known name, longest first, building the list
// when learning has dropped it.
func (pp *people) sortedNames() []string {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.names == nil {
		pp.names = make([]string, 0, len(pp.byName))
		for n := range pp.byName {
			pp.names = append(pp.names, n)
		}
		sort.Slice(pp.names, func(i, j int) bool {
			if len(pp.names[i]) != len(pp.names[j]) {
				return len(pp.names[i]) > len(pp.names[j])
			}
			return pp.names[i] < pp.names[j]
		})
	}
	return pp.names
}

// findMentions returns a span for each "@Name" in text, Name being one of
// names (longest first, so "@Ana Lee" beats "@Ana"). The "@" must not follow a
// letter or digit (that is an e-mail address) and the name must not run on
// into one ("@Bo Tanner" is not "@Bo Tan").
func findMentions(provider, text string, names []string, pick func(name string) *model.User) []*model.Mention {
	// One allocation holds every span a text can have (one per "@" at most).
	slab := make([]model.Mention, 0, strings.Count(text, "@"))
	out := make([]*model.Mention, 0, cap(slab))
	// Code points are counted as the scan goes, so long texts with many
	// mentions stay linear.
	counted, runes := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		if prev, _ := utf8.DecodeLastRuneInString(text[:i]); i > 0 && wordRune(prev) {
			continue
		}
		rest := text[i+1:]
		for _, name := range names {
			if name == "" || !strings.HasPrefix(rest, name) {
				continue
			}
			end := i + 1 + len(name)
			if next, _ := utf8.DecodeRuneInString(text[end:]); end < len(text) && wordRune(next) {
				continue
			}
			u := pick(name)
			if u == nil {
				continue
			}
			runes += utf8.RuneCountInString(text[counted:i])
			n := utf8.RuneCountInString(text[i:end])
			slab = append(slab, model.Mention{ProviderID: provider, UserRef: u.Ref, UserHint: u, Offset: runes, Length: n})
			out = append(out, &slab[len(slab)-1])
			counted, runes = end, runes+n
			i = end - 1
			break
		}
	}
	return out
}

func wordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}
