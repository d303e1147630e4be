package gateway

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
)

const sendMessageMutation = `mutation($in: SendMessageInput!) {
  sendMessage(input: $in) {
    clientMutationId
    message { ref provider { id } contact room { id ref } text type status platformMessageId createdAt readAt }
  }
}`

type sentMessageJSON struct {
	ClientMutationID *string `json:"clientMutationId"`
	Message          struct {
		Ref      string
		Provider struct{ ID string }
		Contact  string
		Room     *struct{ ID, Ref string }
		Text     string
		Type     string
		Status   string
		// PlatformMessageID is the channel platform's id.
		PlatformMessageID *string `json:"platformMessageId"`
		CreatedAt         string  `json:"createdAt"`
		ReadAt            *string `json:"readAt"`
	}
}

// sendMessage runs the mutation and decodes its payload; it fails the test on
// any error.
func sendMessage(t *testing.T, g *gateway, in map[string]any) sentMessageJSON {
	t.Helper()
	resp := g.query(sendMessageMutation, map[string]any{"in": in})
	resp.mustNoErrors(t)
	var data struct{ SendMessage sentMessageJSON }
	resp.decode(t, &data)
	return data.SendMessage
}

// klinkSendGateway is a gateway on one K-LINK emulator that polls nothing, so
// every call the emulator counts is a mutation's; it returns roomA's contact.
func klinkSendGateway(t *testing.T) (*gateway, *klinktest.Server, string) {
	t.Helper()
	k := klinkWorld(t, 0)
	contact := k.AddRoom(roomA, "Jane Customer")
	kp := klinkProvider(k)
	kp.Threads = nil
	return MustStartGateway(t, newTestConfig(t, kp)), k, contact
}

// The seed page's request reaches K-LINK with the gateway's token and the
// page's fields, and the answer becomes the payload.
func TestSendMessageReachesKlink(t *testing.T) {
	g, k, contact := klinkSendGateway(t)
	got := sendMessage(t, g, map[string]any{"provider": "klink", "contact": contact, "text": "It is your message. 👋", "clientMutationId": "m-1"})
	sent := k.SentMessages()
	if len(sent) != 1 {
		t.Fatalf("%d messages reached K-LINK", len(sent))
	}
	s := sent[0]
	if s.Token != klinktest.DefaultToken || s.ContactID != contact || s.MessageType != "text" || s.Message != "It is your message. 👋" ||
		strings.Join(s.Fields, ",") != "contactId,createdAt,message,messageType" {
		t.Fatalf("K-LINK received %+v", s)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", s.CreatedAt); err != nil {
		t.Fatalf("createdAt %q: %v", s.CreatedAt, err)
	}
	m := got.Message
	if got.ClientMutationID == nil || *got.ClientMutationID != "m-1" || m.Ref != s.ID || m.Provider.ID != "klink" || m.Contact != contact ||
		m.Room == nil || m.Room.Ref != roomA || m.Room.ID == "" || m.Text != "It is your message. 👋" || m.Type != "text" ||
		m.Status != "SENT" || m.PlatformMessageID == nil || m.CreatedAt == "" || m.ReadAt != nil {
		t.Fatalf("payload %+v", got)
	}
	resp := g.query(`{ provider(id: "klink") { capabilities } }`, nil)
	resp.mustNoErrors(t)
	if !strings.Contains(string(resp.Data), `"SEND_MESSAGE"`) {
		t.Fatalf("capabilities %s lack SEND_MESSAGE", resp.Data)
	}
}

// The page's response example, verbatim, maps field by field: its empty
// message and null contactId leave what was sent.
func TestSendMessageMapsTheSeedAnswer(t *testing.T) {
	g, k, _ := klinkSendGateway(t)
	k.FailNext(klinktest.EndpointSendMessage, klinktest.Fault{Status: http.StatusOK, Body: klinktest.SeedSendMessageResponse,
		Header: http.Header{"Content-Type": {"application/json"}}})
	contact := "81d8f399-e4d3-4fd4-a8ec-61bb3c3dc8c4"
	got := sendMessage(t, g, map[string]any{"provider": "klink", "contact": contact, "text": "It is your message."})
	m := got.Message
	if m.Ref != "0b01ac59-81b4-436f-9b36-8ad40e0761f7" || m.Room == nil || m.Room.Ref != "dcccf921-dd40-4c49-8c8d-f755ee157ff1" ||
		m.Contact != contact || m.Text != "It is your message." || m.Type != "image" || m.Status != "SENT" ||
		m.PlatformMessageID == nil || !strings.HasPrefix(*m.PlatformMessageID, "m_mzGEtSseyHjNuahzh0kqvZ") ||
		m.CreatedAt != "2026-02-20T11:46:31.61603869Z" || m.ReadAt != nil || got.ClientMutationID != nil {
		t.Fatalf("payload %+v", got)
	}
}

// What K-LINK refuses (its documented 400) is BAD_USER_INPUT naming the
// provider; what the gateway can tell is bad never reaches K-LINK.
func TestSendMessageValidation(t *testing.T) {
	g, k, contact := klinkSendGateway(t)
	for _, tc := range []struct {
		name, contact, text string
		calls               int
	}{
		{"contact not a UUID, refused upstream", "not-a-uuid", "hi", 1},
		{"empty text", contact, "  ", 0},
		{"contact with a slash", "a/b", "hi", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k.ResetCalls()
			resp := g.query(sendMessageMutation, map[string]any{"in": map[string]any{"provider": "klink", "contact": tc.contact, "text": tc.text}})
			if len(resp.Errors) != 1 || resp.codes()[0] != "BAD_USER_INPUT" || resp.Errors[0].Extensions["provider"] != "klink" {
				t.Fatalf("got %+v, want one BAD_USER_INPUT naming klink", resp.Errors)
			}
			if n := k.Calls(klinktest.EndpointSendMessage); n != tc.calls {
				t.Fatalf("%d upstream calls, want %d", n, tc.calls)
			}
		})
	}
	if n := len(k.SentMessages()); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
}

// Providers without a message channel answer UNSUPPORTED, naming
// themselves, and their upstreams are not called.
func TestSendMessageUnsupportedElsewhere(t *testing.T) {
	ae := aelysttest.NewServer(aelysttest.Options{})
	t.Cleanup(ae.Close)
	v, _, _ := virolaWorld(t)
	z, _ := ziikWorld(t)
	g := MustStartGateway(t, newTestConfig(t,
		config.Provider{ID: "aelyst", Kind: "aelyst", BaseURL: ae.URL, Token: aelysttest.DefaultToken, WebhookSecret: "whsec-aelyst"},
		config.Provider{ID: "virola", Kind: "virola", BaseURL: v.URL, Token: virolatest.DefaultToken},
		ziikProvider(z)))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := v.WaitStreams(ctx, 1); err != nil {
		t.Fatalf("the gateway never followed the Virola stream: %v", err)
	}
	type upstream interface {
		ResetCalls()
		TotalCalls() int
	}
	for id, stub := range map[string]upstream{"aelyst": ae, "virola": v, "ziik": z} {
		t.Run(id, func(t *testing.T) {
			stub.ResetCalls()
			resp := g.query(sendMessageMutation, map[string]any{"in": map[string]any{
				"provider": id, "contact": "81d8f399-e4d3-4fd4-a8ec-61bb3c3dc8c4", "text": "hi", "clientMutationId": "x"}})
			if len(resp.Errors) != 1 || resp.codes()[0] != "UNSUPPORTED" || resp.Errors[0].Extensions["provider"] != id {
				t.Fatalf("got %+v, want one UNSUPPORTED naming %s", resp.Errors, id)
			}
			if n := stub.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls, want none", n)
			}
		})
	}
}

// The same clientMutationId twice sends one message and answers both times
// with it; reused for another message, it is refused.
func TestSendMessageOnceWithClientMutationID(t *testing.T) {
	g, k, contact := klinkSendGateway(t)
	in := map[string]any{"provider": "klink", "contact": contact, "text": "only once", "clientMutationId": "send-1"}
	first := sendMessage(t, g, in)
	second := sendMessage(t, g, in)
	if n := len(k.SentMessages()); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}
	if !reflect.DeepEqual(first.Message, second.Message) || second.ClientMutationID == nil || *second.ClientMutationID != "send-1" {
		t.Fatalf("first %+v, second %+v", first, second)
	}
	in["text"] = "something else"
	resp := g.query(sendMessageMutation, map[string]any{"in": in})
	if len(resp.Errors) != 1 || resp.codes()[0] != "BAD_USER_INPUT" {
		t.Fatalf("reused key: %+v", resp.Errors)
	}
	// Another key is another message.
	in["clientMutationId"] = "send-2"
	sendMessage(t, g, in)
	if n := len(k.SentMessages()); n != 2 {
		t.Fatalf("%d messages sent, want 2", n)
	}
}
