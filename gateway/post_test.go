package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/commentgraph/commentgraph/resolvers"
)

// postTransport answers as gqlgen's transport.POST does (the same status,
// content type and JSON, only written without re-scanning the data), except
// where GraphQL over HTTP asks otherwise: errors raised before execution
// answer 200 under application/json (gqlgen: 422) and carry no "data"
// (gqlgen: null), and a request that is no GraphQL request is BAD_REQUEST.
func TestPostTransportAnswersAsGqlgens(t *testing.T) {
	serve := func(tr graphql.Transport) *httptest.Server {
		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Providers: providers.NewRegistry()}}))
		srv.AddTransport(tr)
		hs := httptest.NewServer(srv)
		t.Cleanup(hs.Close)
		return hs
	}
	theirs, ours := serve(transport.POST{}), serve(postTransport{})
	// differs is where our answer differs from gqlgen's on purpose.
	type differs struct {
		status int
		// noData: the errors were raised before execution, so "data" is absent.
		noData bool
		// message and code replace gqlgen's first error's.
		message, code string
	}
	for _, tc := range []struct {
		name, body, contentType, accept string
		ours                            differs
	}{
		{name: "a query", body: `{"query":"{ providers { id } __typename }"}`},
		{name: "variables and an operation name", body: `{"query":"query A($id: ID!) { node(id: $id) { id } } query B { __typename }","operationName":"A","variables":{"id":"x"}}`},
		{name: "a resolver error with data", body: `{"query":"{ a: node(id: \"nope\") { id } b: __typename }"}`},
		{name: "HTML-looking data", body: `{"query":"{ node(id: \"<b>&amp;</b>\") { id } }"}`},
		{name: "a syntax error", body: `{"query":"{"}`, ours: differs{status: http.StatusOK, noData: true}},
		{name: "a validation error", body: `{"query":"{ nope }"}`, ours: differs{status: http.StatusOK, noData: true}},
		{name: "a validation error, graphql-response+json", body: `{"query":"{ nope }"}`, accept: "application/graphql-response+json", ours: differs{noData: true}},
		{name: "a variable of the wrong type", body: `{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":null}}`, ours: differs{status: http.StatusOK, noData: true}},
		{name: "accept anything", body: `{"query":"{ __typename }"}`, accept: "*/*"},
		{name: "accept something else", body: `{"query":"{ __typename }"}`, accept: "text/html"},
		// gqlgen's message echoes the body back.
		{name: "a body that is not JSON", body: `{"query":`, ours: differs{noData: true, message: "json request body could not be decoded: the body is empty or ends early", code: "BAD_REQUEST"}},
		{name: "no query", body: `{}`, ours: differs{status: http.StatusBadRequest, noData: true, message: "the request has no query", code: "BAD_REQUEST"}},
		{name: "a mutation over POST", body: `{"query":"mutation { createComment(input: {thread: \"x\", text: \"hi\"}) { clientMutationId } }"}`},
		{name: "JSON with a charset", body: `{"query":"{ __typename }"}`, contentType: "application/json; charset=utf-8"},
		{name: "an answer larger than net/http's buffers", body: `{"query":"{ ` + aliases(600) + ` }"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			post := func(url string, framed bool) (int, string, any) {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(tc.body))
				req.Header.Set("Content-Type", ct)
				if tc.accept != "" {
					req.Header.Set("Accept", tc.accept)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				raw, _ := io.ReadAll(res.Body)
				// Ours says how long the answer is, whatever its size, so it
				// goes out unchunked, in one write after the header.
				if framed && (res.ContentLength != int64(len(raw)) || len(res.TransferEncoding) > 0) {
					t.Errorf("Content-Length %d, Transfer-Encoding %v for an answer of %d bytes", res.ContentLength, res.TransferEncoding, len(raw))
				}
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Fatalf("%s answered no JSON: %q", url, raw)
				}
				return res.StatusCode, res.Header.Get("Content-Type"), v
			}
			ws, wct, wv := post(theirs.URL, false)
			gs, gct, gv := post(ours.URL, true)
			if tc.ours.status != 0 {
				ws = tc.ours.status
			}
			if gs != ws || gct != wct {
				t.Errorf("status %d %q, want %d %q", gs, gct, ws, wct)
			}
			want := wv.(map[string]any)
			if tc.ours.noData {
				delete(want, "data")
			}
			if tc.ours.message != "" {
				first := want["errors"].([]any)[0].(map[string]any)
				first["message"] = tc.ours.message
				first["extensions"] = map[string]any{"code": tc.ours.code}
			}
			if !reflect.DeepEqual(gv, any(want)) {
				t.Errorf("body differs\nours: %v\nwant: %v", gv, want)
			}
		})
	}
}

// aliases is n aliased __typename fields: an answer of about 20 bytes each.
func aliases(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: __typename ", i)
	}
	return b.String()
}
