package resolvers

import "testing"

func TestUploadTypeChecks(t *testing.T) {
	allowed := []string{"image/*", "application/pdf", "text/plain"}
	for _, tc := range []struct {
		declared, sniffed string
		allowed, matches  bool
	}{
		{"image/png", "image/png", true, true},
		{"image/jpeg", "image/png", true, true}, // same family: the sniffer's guess within it is not held against the client
		{"image/png", "text/plain", true, false},
		{"application/pdf", "application/pdf", true, true},
		{"application/pdf", "text/plain", true, false},
		{"text/plain", "application/octet-stream", true, false},
		{"application/json", "text/plain", false, true},
		{"application/zip", "application/zip", false, true},
		{"imagex/png", "image/png", false, false},
	} {
		t.Run(tc.declared+" as "+tc.sniffed, func(t *testing.T) {
			if got := typeAllowed(tc.declared, allowed); got != tc.allowed {
				t.Errorf("allowed %v, want %v", got, tc.allowed)
			}
			if got := family(tc.declared) == family(tc.sniffed); got != tc.matches {
				t.Errorf("family match %v, want %v", got, tc.matches)
			}
		})
	}
}
