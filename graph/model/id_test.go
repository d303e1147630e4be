package model_test

import (
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
)

func TestIDRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		id   model.GlobalID
	}{
		{"thread", model.GlobalID{Provider: "klink", Type: model.TypeThread, Ref: []string{"ROOM", "r-1"}}},
		{"contact with email", model.GlobalID{Provider: "aelyst", Type: model.TypeThread, Ref: []string{"CONTACT", "email:jane+1@acme.com"}}},
		{"comment", model.GlobalID{Provider: "ziik", Type: model.TypeComment, Ref: []string{"MESSAGE", "57:9931", "9940"}}},
		{"user unicode", model.GlobalID{Provider: "virola", Type: model.TypeUser, Ref: []string{"Zoë 🚀"}}},
		{"room", model.GlobalID{Provider: "v2", Type: model.TypeRoom, Ref: []string{"2"}}},
		{"attachment", model.GlobalID{Provider: "virola", Type: model.TypeAttachment, Ref: []string{"MESSAGE", "2000127", "2000124", "13"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := model.EncodeID(tt.id)
			if strings.ContainsAny(s, "/+=") {
				t.Errorf("ID %q is not URL-safe", s)
			}
			if model.EncodeID(tt.id) != s {
				t.Error("encoding is not stable")
			}
			got, err := model.DecodeID(s)
			if err != nil {
				t.Fatalf("DecodeID: %v", err)
			}
			if got.Provider != tt.id.Provider || got.Type != tt.id.Type || strings.Join(got.Ref, "|") != strings.Join(tt.id.Ref, "|") {
				t.Errorf("round trip: got %+v, want %+v", got, tt.id)
			}
		})
	}
}

// IDs clients have stored must keep meaning the same object: these are the
// encodings an earlier implementation made (one with a part holding the
// separator, which is left out; one longer than the encoder's stack buffer).
func TestEncodeIDIsUnchanged(t *testing.T) {
	for _, tt := range []struct {
		id   model.GlobalID
		want string
	}{
		{model.GlobalID{Provider: "ziik", Type: model.TypeComment, Ref: []string{"MESSAGE", "57:9931", "9940"}}, "Y2cxH0NvbW1lbnQfemlpax9NRVNTQUdFHzU3Ojk5MzEfOTk0MA"},
		{model.GlobalID{Provider: "aelyst", Type: model.TypeThread, Ref: []string{"CONTACT", "a\x1fb\x1f\x1fc"}}, "Y2cxH1RocmVhZB9hZWx5c3QfQ09OVEFDVB9hYmM"},
		{model.GlobalID{Provider: "virola", Type: model.TypeAttachment, Ref: []string{"MESSAGE", strings.Repeat("t", 100), strings.Repeat("c", 60), "13"}},
			"Y2cxH0F0dGFjaG1lbnQfdmlyb2xhH01FU1NBR0UfdHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dB9jY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2MfMTM"},
	} {
		if got := model.EncodeID(tt.id); got != tt.want {
			t.Errorf("EncodeID(%+v) = %q, want %q", tt.id, got, tt.want)
		}
	}
	c := model.Comment{ProviderID: "ziik", ThreadKind: "MESSAGE", ThreadRef: "57:9931", Ref: "9940"}
	if got, want := c.ID(), "Y2cxH0NvbW1lbnQfemlpax9NRVNTQUdFHzU3Ojk5MzEfOTk0MA"; got != want {
		t.Errorf("Comment.ID() = %q, want %q", got, want)
	}
}

func TestDecodeIDRefusals(t *testing.T) {
	for _, s := range []string{
		"", "not base64!", "Y2cxHw", // "cg1\x1f"
		model.EncodeID(model.GlobalID{Provider: "p", Type: "Bogus", Ref: []string{"x"}}),
		model.EncodeID(model.GlobalID{Provider: "p", Type: model.TypeThread, Ref: []string{"PLANET", "x"}}),
		model.EncodeID(model.GlobalID{Provider: "p", Type: model.TypeUser, Ref: []string{"a", "b"}}),
		model.EncodeID(model.GlobalID{Provider: "", Type: model.TypeUser, Ref: []string{"a"}}),
		strings.Repeat("A", 5000),
	} {
		if _, err := model.DecodeID(s); !model.IsCode(err, model.CodeBadUserInput) {
			t.Errorf("DecodeID(%.40q) = %v, want BAD_USER_INPUT", s, err)
		}
	}
	u := model.UserID("p", "1")
	if _, err := model.DecodeIDOf(u, model.TypeThread); !model.IsCode(err, model.CodeBadUserInput) {
		t.Errorf("a user ID taken as a thread: %v", err)
	}
}

func FuzzDecodeID(f *testing.F) {
	f.Add(model.ThreadID("klink", model.ThreadKindRoom, "r-1"))
	f.Add(model.CommentID("ziik", model.ThreadKindMessage, "1:2", "3"))
	f.Add("Y2cxHw")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := model.DecodeID(s)
		if err != nil {
			return
		}
		again, err := model.DecodeID(model.EncodeID(id))
		if err != nil || again.Provider != id.Provider || again.Type != id.Type {
			t.Fatalf("re-encode of %q: %+v, %v", s, again, err)
		}
	})
}
