package telemetry

import (
	"context"
	"strings"
	"testing"
)

func TestAcceptRequestID(t *testing.T) {
	for _, tc := range []struct {
		name, sent string
		kept       bool
	}{
		{"uuid", "0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"trace-like", "Root=1-67891233-abcdef012345678912345678", true},
		{"base64", "dGhpcyBpcyBhbiBpZA+/==", true},
		{"dotted", "lb-3.eu:1234_x", true},
		{"longest", strings.Repeat("a", MaxRequestIDLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxRequestIDLen+1), false},
		{"space", "a b", false},
		{"newline", "abc\nlevel=ERROR msg=forged", false},
		{"quote", `abc"def`, false},
		{"non-ASCII", "zoë", false},
		{"NUL", "a\x00b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AcceptRequestID(tc.sent)
			if tc.kept && got != tc.sent {
				t.Fatalf("AcceptRequestID(%q) = %q, want it kept", tc.sent, got)
			}
			if !tc.kept && (got == tc.sent || !validRequestID(got)) {
				t.Fatalf("AcceptRequestID(%q) = %q, want a new valid id", tc.sent, got)
			}
		})
	}
}

func TestNewRequestIDsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewRequestID()
		if len(id) != 32 || !validRequestID(id) {
			t.Fatalf("NewRequestID() = %q, want 32 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestRequestIDRoundTripsThroughContext(t *testing.T) {
	if id := RequestID(context.Background()); id != "" {
		t.Fatalf("RequestID(empty context) = %q", id)
	}
	ctx := WithRequestID(context.Background(), "abc")
	if id := RequestID(ctx); id != "abc" {
		t.Fatalf("RequestID = %q, want abc", id)
	}
}

// FuzzAcceptRequestID: whatever a client sends, the id used is safe to log
// and echo, and a safe one is kept as sent.
func FuzzAcceptRequestID(f *testing.F) {
	for _, s := range []string{"", "abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "a\nb", strings.Repeat("x", 200), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sent string) {
		got := AcceptRequestID(sent)
		if !validRequestID(got) {
			t.Fatalf("AcceptRequestID(%q) = %q: not a valid id", sent, got)
		}
		if validRequestID(sent) != (got == sent) {
			t.Fatalf("AcceptRequestID(%q) = %q: a valid id is kept, an invalid one replaced", sent, got)
		}
	})
}
