package ziik

import (
	"strings"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
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
	names  *mentionNames       // every name, for FindMentions; nil when stale
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

// mentionNames is every known name, prepared for providers.FindMentions.
type mentionNames struct {
	list  []string
	index *providers.Names
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
		// The names are prepared under the write lock only when learning
		// changed them; every other comment of every request reads them
		// under the shared lock.
		pp.mu.RUnlock()
		names = pp.mentionNames()
		pp.mu.RLock()
	}
	spans := providers.FindMentions(text, names.index)
	// One allocation holds every mention of the text.
	slab := make([]model.Mention, 0, len(spans))
	out := make([]*model.Mention, 0, len(spans))
	inConv := pp.convs[conv].refs
	for _, s := range spans {
		u := pp.pick(names.list[s.Name], inConv)
		if u == nil {
			continue // renamed since the names were prepared
		}
		slab = append(slab, model.Mention{ProviderID: provider, UserRef: u.Ref, UserHint: u, Offset: s.Offset, Length: s.Length})
		out = append(out, &slab[len(slab)-1])
	}
	return out
}

// pick is the user a mentioned name means: a participant of the
// conversation if one has that name, else the first user seen with it.
func (pp *people) pick(name string, inConv map[string]bool) *model.User {
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
}

// mentionNames returns every known name prepared for FindMentions, building
// it when learning has dropped it.
func (pp *people) mentionNames() *mentionNames {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.names == nil {
		list := make([]string, 0, len(pp.byName))
		for n := range pp.byName {
			list = append(list, n)
		}
		pp.names = &mentionNames{list: list, index: providers.NewNames(list)}
	}
	return pp.names
}
