package events

import (
	"strconv"
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
)

// eventID is an event ID parsed: Redis stream IDs, "<ms>-<seq>". The memory bus
// uses the same form so that IDs look alike and order alike everywhere.
type eventID struct{ ms, seq uint64 }

func (a eventID) less(b eventID) bool {
	return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq)
}

func (a eventID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// next is the smallest ID after a, for exclusive range starts.
func (a eventID) next() eventID {
	if a.seq == ^uint64(0) {
		return eventID{ms: a.ms + 1}
	}
	return eventID{ms: a.ms, seq: a.seq + 1}
}

// parseID reads an event ID. A client hands it back as `since`, so anything
// that is not one is BAD_USER_INPUT, never a panic.
func parseID(s string) (eventID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	if ok && len(s) <= 41 {
		// ParseUint in base 10 takes digits only: no sign, no underscores.
		a, errA := strconv.ParseUint(ms, 10, 64)
		b, errB := strconv.ParseUint(seq, 10, 64)
		if errA == nil && errB == nil {
			return eventID{ms: a, seq: b}, nil
		}
	}
	return eventID{}, model.Errorf(model.CodeBadUserInput, "%q is not an event id (expected <ms>-<seq>, as sent with each event)", clip(s, 48))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
