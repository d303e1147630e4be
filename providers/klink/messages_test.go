package klink

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// The capability and the optional interface say the same thing.
func TestSendMessageCapability(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	_, sends := providers.Lifecycle[providers.MessageSender](e.p)
	if !sends || !e.p.Info().Has(model.CapabilitySendMessage) {
		t.Fatalf("MessageSender %v, SEND_MESSAGE listed %v", sends, e.p.Info().Has(model.CapabilitySendMessage))
	}
}

// The seed page's request goes out with the token, and the emulator's answer
// becomes the message.
func TestSendMessageRequestAndAnswer(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	contact := e.emu.AddRoom("room-4", "Initech")
	m, err := e.p.SendMessage(context.Background(), providers.MessageInput{Contact: contact, Text: "It is your message. 👋"})
	if err != nil {
		t.Fatal(err)
	}
	sent := e.emu.SentMessages()
	if len(sent) != 1 {
		t.Fatalf("%d messages sent", len(sent))
	}
	s := sent[0]
	if s.Token != testToken || s.ContactID != contact || s.MessageType != "text" || s.Message != "It is your message. 👋" ||
		strings.Join(s.Fields, ",") != "contactId,createdAt,message,messageType" {
		t.Fatalf("sent %+v", s)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", s.CreatedAt); err != nil {
		t.Fatalf("createdAt %q is not the page's millisecond form: %v", s.CreatedAt, err)
	}
	if m.Ref != s.ID || m.Room == nil || m.Room.Ref != "room-4" || m.Room.ProviderID != "kl" || m.Contact != contact ||
		m.Text != "It is your message. 👋" || m.Type != "text" || m.Status != model.MessageStatusSent ||
		m.PlatformMessageID == nil || !strings.HasPrefix(*m.PlatformMessageID, "m_") || m.Provider.ID != "kl" ||
		m.CreatedAt.IsZero() || m.CreatedAt.Location() != time.UTC || m.ReadAt != nil {
		t.Fatalf("message %+v", m)
	}
}

// The page's response example, as is: its empty message and null contactId
// leave what was sent; the rest is read from it.
func TestSendMessageReadsTheSeedAnswer(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	e.emu.FailNext(klinktest.EndpointSendMessage, klinktest.Fault{Status: 200, Body: klinktest.SeedSendMessageResponse,
		Header: http.Header{"Content-Type": {"application/json"}}})
	contact := "81d8f399-e4d3-4fd4-a8ec-61bb3c3dc8c4"
	m, err := e.p.SendMessage(context.Background(), providers.MessageInput{Contact: contact, Text: "It is your message."})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 2, 20, 11, 46, 31, 616038690, time.UTC)
	if m.Ref != "0b01ac59-81b4-436f-9b36-8ad40e0761f7" || m.Room == nil || m.Room.Ref != "dcccf921-dd40-4c49-8c8d-f755ee157ff1" ||
		m.Contact != contact || m.Text != "It is your message." || m.Type != "image" || m.Status != model.MessageStatusSent ||
		m.PlatformMessageID == nil || !strings.HasPrefix(*m.PlatformMessageID, "m_mzGEtSseyHjNuahzh0kqvZ") ||
		!m.CreatedAt.Equal(want) || m.ReadAt != nil {
		t.Fatalf("message %+v", m)
	}
}

func TestSendMessageErrors(t *testing.T) {
	e := newEnv(t, klinktest.Options{}, nil)
	contact := e.emu.AddRoom("room-4", "Initech")
	ctx := context.Background()
	send := func(contact string) error {
		_, err := e.p.SendMessage(ctx, providers.MessageInput{Contact: contact, Text: "hi"})
		return err
	}
	t.Run("upstream 400", func(t *testing.T) { wantCode(t, send("not-a-uuid"), model.CodeBadUserInput) })
	t.Run("unknown contact", func(t *testing.T) { wantCode(t, send("81d8f399-e4d3-4fd4-a8ec-61bb3c3dc8c4"), model.CodeNotFound) })
	t.Run("envelope says 400", func(t *testing.T) {
		e.emu.FailNext(klinktest.EndpointSendMessage, klinktest.Fault{Status: 200, Body: `{"status":400,"message":"message is required."}`})
		wantCode(t, send(contact), model.CodeBadUserInput)
	})
	t.Run("answer without data", func(t *testing.T) {
		e.emu.FailNext(klinktest.EndpointSendMessage, klinktest.Fault{Status: 200, Body: `{"status":200,"message":"ok"}`})
		err := send(contact)
		if err == nil || model.IsCode(err, model.CodeBadUserInput) {
			t.Fatalf("err %v, want an upstream failure", err)
		}
	})
	t.Run("token rejected", func(t *testing.T) {
		other, err := New(Options{ID: "kl", BaseURL: e.emu.URL, Token: "kpt_revoked"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = other.SendMessage(ctx, providers.MessageInput{Contact: contact, Text: "hi"})
		wantCode(t, err, model.CodeUnauthenticated)
	})
	if n := len(e.emu.SentMessages()); n != 0 {
		t.Fatalf("%d messages accepted", n)
	}
}
