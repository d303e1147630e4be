package virolatest

import (
	"net/http/httptest"
	"slices"
	"testing"
)

// FuzzPage checks that any cursor/limit/direction query either is refused or
// picks an ascending run of the ids that honours the limit.
func FuzzPage(f *testing.F) {
	f.Add("cursor=-1&limit=100&direction=backward", false)
	f.Add("cursor=2000105&limit=2&direction=forward", true)
	f.Add("cursor=1&direction=sideways", false)
	f.Add("limit=0", false)
	f.Fuzz(func(t *testing.T, query string, inclusive bool) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.URL.RawQuery = query
		p, bad := parsePage(r)
		if bad != "" {
			return
		}
		ids := []int64{2000100, 2000101, 2000103, 2000105, 2000108}
		got := p.pick(ids, inclusive)
		if p.limit > 0 && len(got) > p.limit {
			t.Fatalf("%d ids for limit %d", len(got), p.limit)
		}
		if !slices.IsSorted(got) {
			t.Fatalf("not ascending: %v", got)
		}
		for _, id := range got {
			if p.cursor != 0 && !inclusive && id == p.cursor {
				t.Fatalf("exclusive page holds its cursor %d", id)
			}
		}
	})
}
