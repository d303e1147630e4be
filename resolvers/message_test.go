package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/idempotency"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/providers/klink"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
)

// A sendMessage with attachments, sent as a GraphQL multipart request (the
// Upload scalar through gqlgen's MultipartForm transport), answers
// UNSUPPORTED naming K-LINK, and K-LINK is not called: its notes do not say
// how a Media Manager file is attached to a message.
func TestSendMessageAttachmentsUnsupported(t *testing.T) {
	emu := klinktest.NewServer(klinktest.Options{})
	t.Cleanup(emu.Close)
	contact := emu.AddRoom("room-1", "Acme")
	p, err := klink.New(klink.Options{ID: "kl", BaseURL: emu.URL, Token: klinktest.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{
		Providers: providers.NewRegistry(p), Idempotency: &idempotency.Memory{},
	}}))
	srv.AddTransport(transport.MultipartForm{})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var me *model.Error
		if errors.As(err, &me) {
			gerr.Extensions = map[string]any{"code": string(me.Code), "provider": me.Provider}
		}
		return gerr
	})

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{
		"query": `mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { ref } } }`,
		"variables": map[string]any{"in": map[string]any{
			"provider": "kl", "contact": contact, "text": "see attached", "attachments": []any{nil}, "clientMutationId": "a-1"}},
	})
	_ = mw.WriteField("operations", string(ops))
	_ = mw.WriteField("map", `{"0": ["variables.in.attachments.0"]}`)
	fw, _ := mw.CreateFormFile("0", "red-pixel.png")
	_, _ = fw.Write([]byte("\x89PNG\r\n\x1a\n"))
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/query", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)

	var resp struct {
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "UNSUPPORTED" || resp.Errors[0].Extensions["provider"] != "kl" ||
		!strings.Contains(resp.Errors[0].Message, "attachments") {
		t.Fatalf("got %s, want one UNSUPPORTED naming kl and attachments", rec.Body)
	}
	if n := emu.TotalCalls(); n != 0 {
		t.Fatalf("%d upstream calls, want none", n)
	}
}

// A sent message survives the idempotency store's record as JSON (the Redis
// store keeps it so).
func TestMessageRecordRoundTrip(t *testing.T) {
	read := time.Date(2026, 2, 20, 11, 50, 0, 0, time.UTC)
	pm := "m_1"
	m := &model.Message{Ref: "0b01", Provider: &model.Provider{ID: "kl"}, Contact: "c1", Room: &model.Room{ProviderID: "kl", Ref: "r1"},
		Text: "hi", Type: "text", Status: model.MessageStatusRead, PlatformMessageID: &pm,
		CreatedAt: time.Date(2026, 2, 20, 11, 46, 31, 616038690, time.UTC), ReadAt: &read}
	rec, err := messageRecord(m)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ProviderID != "kl" || rec.Ref != "0b01" || rec.ThreadRef != "r1" {
		t.Fatalf("record %+v", rec)
	}
	raw, _ := json.Marshal(rec)
	var back model.Comment
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	got, err := messageOf(&back)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ref != m.Ref || got.Contact != m.Contact || got.Room.Ref != "r1" || got.Text != m.Text || got.Status != m.Status ||
		*got.PlatformMessageID != pm || !got.CreatedAt.Equal(m.CreatedAt) || !got.ReadAt.Equal(read) || got.Provider != nil {
		t.Fatalf("back %+v", got)
	}
	if _, err := messageOf(&model.Comment{Body: "not json"}); err == nil {
		t.Fatal("an unreadable record was read")
	}
}
