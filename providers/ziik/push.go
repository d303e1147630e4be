package ziik

import (
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Ziik pushes no chat events and has no webhooks: new comments reach the
// gateway because it polls the configured threads with ListComments, where a
// page from the newest end (Last, no Before) is one call.

// pollThreads are the threads the gateway polls for the configured refs: a
// ref with a ':' is a message thread ("<conversationId>:<messageId>"),
// otherwise a conversation.
func pollThreads(refs []string) []providers.PollThread {
	var out []providers.PollThread
	for _, ref := range refs {
		kind := model.ThreadKindConversation
		if strings.Contains(ref, ":") {
			kind = model.ThreadKindMessage
		}
		out = append(out, providers.PollThread{Kind: kind, Ref: ref})
	}
	return out
}
