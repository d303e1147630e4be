package events

import (
	"crypto/sha256"
	"time"
)

// seenKeys remembers PublishOnce keys for a window. Keys are stored as hashes
// so a long or sensitive delivery id costs 16 bytes and never sits in memory
// verbatim.
type seenKeys struct {
	window time.Duration
	max    int // 0: no bound beyond the window
	expiry map[[16]byte]time.Time
	// order lists keys oldest first; the window is fixed, so expiries are in
	// order too and pruning pops from the front.
	order []seenKey
}

type seenKey struct {
	hash   [16]byte
	expiry time.Time
}

func newSeenKeys(window time.Duration, max int) *seenKeys {
	return &seenKeys{window: window, max: max, expiry: make(map[[16]byte]time.Time)}
}

func hashKey(key string) [16]byte {
	sum := sha256.Sum256([]byte("commentgraph event key\x00" + key))
	var h [16]byte
	copy(h[:], sum[:])
	return h
}

// add records key at now and reports whether it was new within the window.
func (k *seenKeys) add(key string, now time.Time) bool {
	k.prune(now)
	h := hashKey(key)
	if exp, ok := k.expiry[h]; ok && now.Before(exp) {
		return false
	}
	exp := now.Add(k.window)
	k.expiry[h] = exp
	k.order = append(k.order, seenKey{hash: h, expiry: exp})
	return true
}

func (k *seenKeys) prune(now time.Time) {
	n := 0
	for n < len(k.order) && (!now.Before(k.order[n].expiry) || k.max > 0 && len(k.order)-n >= k.max) {
		e := k.order[n]
		if k.expiry[e.hash] == e.expiry {
			delete(k.expiry, e.hash)
		}
		n++
	}
	if n > 0 {
		k.order = append(k.order[:0:0], k.order[n:]...)
	}
}
