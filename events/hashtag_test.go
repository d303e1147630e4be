package events

import "testing"

// hasHashTag follows Redis Cluster's rule: the text between the first '{'
// and the first '}' after it, when not empty.
func TestHasHashTag(t *testing.T) {
	for key, want := range map[string]bool{
		"commentgraph:{events}": true,
		"a}{b}":                 true,
		"{x}{y}":                true,
		"events":                false,
		"a{}b{c}":               false, // an empty tag: the whole key is hashed
		"a{b":                   false,
		"":                      false,
	} {
		if got := hasHashTag(key); got != want {
			t.Errorf("hasHashTag(%q) = %v, want %v", key, got, want)
		}
	}
}
