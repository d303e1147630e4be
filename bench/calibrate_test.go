package bench

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The machine this benchmark runs on is shared: the same gateway, doing the
// same work per query (same allocations, system calls and upstream calls),
// has used twice the CPU time per query on one day as on another. A figure
// taken on a slow day and one taken on a fast day differ by the machine, not
// the code. calibrate times a fixed workload that depends on nothing in this
// repository (the standard library's JSON decoding and encoding of a fixed
// 50-comment document, in one goroutine) just before each sub-benchmark, and
// the sub-benchmark reports it as machine_ms: runs whose machine_ms differ
// had machines of different speed, whatever the code.

// calibrationRounds is how many decode-and-encode rounds one trial makes
// (13–15 ms on an idle core of the 2-core machine on 2026-12-02).
const calibrationRounds = 40

// calibrationTrials is how many trials calibrate times; it reports their
// median, so one trial cut short by a scheduler hiccup does not count.
const calibrationTrials = 5

// calibrationDoc is the document calibrate decodes and encodes: 50 comments
// shaped like an upstream's list answer, fixed by its construction.
var calibrationDoc = func() []byte {
	type user struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	type mention struct {
		Offset int  `json:"offset"`
		Length int  `json:"length"`
		User   user `json:"user"`
	}
	type comment struct {
		ID       string    `json:"id"`
		Text     string    `json:"text"`
		SentAt   string    `json:"sent_at"`
		Sender   user      `json:"sender"`
		Mentions []mention `json:"mentions"`
	}
	var doc struct {
		Data []comment `json:"data"`
		Next string    `json:"next"`
	}
	for i := range 50 {
		doc.Data = append(doc.Data, comment{
			ID:     fmt.Sprintf("c-%04d", i),
			Text:   strings.Repeat(fmt.Sprintf("comment %d says something about the release ", i), 4),
			SentAt: fmt.Sprintf("2026-11-%02dT10:%02d:00Z", 1+i%28, i%60),
			Sender: user{ID: fmt.Sprintf("u-%d", i%5), Name: fmt.Sprintf("Sender %d", i%5)},
			Mentions: []mention{
				{Offset: 0, Length: 8, User: user{ID: fmt.Sprintf("u-%d", (i+1)%5), Name: "First"}},
				{Offset: 20, Length: 9, User: user{ID: fmt.Sprintf("u-%d", (i+2)%5), Name: "Second"}},
			},
		})
	}
	doc.Next = "c-0049"
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // fixed data: cannot happen
	}
	return b
}()

// calibrate returns the median time of calibrationTrials trials of the fixed
// workload, each calibrationRounds rounds of decoding calibrationDoc into
// generic values and encoding them again.
func calibrate() (time.Duration, error) {
	trials := make([]time.Duration, calibrationTrials)
	for i := range trials {
		start := time.Now()
		for range calibrationRounds {
			var v any
			if err := json.Unmarshal(calibrationDoc, &v); err != nil {
				return 0, fmt.Errorf("calibrate: %w", err)
			}
			if _, err := json.Marshal(v); err != nil {
				return 0, fmt.Errorf("calibrate: %w", err)
			}
		}
		trials[i] = time.Since(start)
	}
	slices.Sort(trials)
	return trials[len(trials)/2], nil
}
