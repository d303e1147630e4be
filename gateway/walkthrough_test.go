package gateway

import (
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// The README's walk-through step 2, against the Ziik emulator's demo data
// (files, voice notes, reactions, replies, edits): every field resolves.
func TestWalkthroughThreadQuery(t *testing.T) {
	z := ziiktest.NewServer(ziiktest.Options{})
	t.Cleanup(z.Close)
	z.SeedDemo()
	g := MustStartGateway(t, newTestConfig(t, ziikProvider(z)))
	resp := g.query(`{
  thread(provider: "ziik", kind: CONVERSATION, ref: "57") {
    id title
    comments(last: 20) {
      edges {
        cursor
        node {
          id text createdAt editedAt deleted
          sender { id name title department unit }
          mentions { offset length user { id name } }
          attachments { name kind state mimeType size width height duration url }
          reactions { emoji count users { name } }
          parent { text }
        }
      }
      pageInfo { hasPreviousPage startCursor }
    }
  }
}`, nil)
	resp.mustNoErrors(t)
	body := string(resp.Data)
	for _, want := range []string{`"reactions":[{"emoji"`, `"users":[{"name"`, `"kind":"VOICE"`, `"duration":`, `"department":`, `"parent":{"text"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the answer lacks %s", want)
		}
	}
}
