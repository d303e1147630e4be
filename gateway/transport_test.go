package gateway

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
)

const testAPIKey = "test-api-key-0123456789"

type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsDial opens a socket on /query with a subprotocol.
func wsDial(t *testing.T, g *gateway, protocol string, header http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocol}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(g.url, "http")+"/query", header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", protocol, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wsSubscribe opens a socket with protocol (graphql-transport-ws or the
// legacy graphql-ws), acknowledges it and starts operation body as id. It
// returns the socket and the message type its results arrive as.
func wsSubscribe(t *testing.T, g *gateway, protocol, id string, body []byte) (*websocket.Conn, string) {
	t.Helper()
	c := wsDial(t, g, protocol, nil)
	_ = c.WriteJSON(wsMsg{Type: "connection_init"})
	if m := wsRead(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %+v", m)
	}
	start, nextType := "subscribe", "next"
	if protocol == "graphql-ws" {
		start, nextType = "start", "data"
	}
	_ = c.WriteJSON(wsMsg{ID: id, Type: start, Payload: body})
	return c, nextType
}

// wsRead reads the next message that is not a keep-alive, with a deadline.
func wsRead(t *testing.T, c *websocket.Conn) wsMsg {
	t.Helper()
	for {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m wsMsg
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		if m.Type == "ka" || m.Type == "ping" || m.Type == "pong" {
			continue
		}
		return m
	}
}

// waitSubscribers waits until the gateway has n open subscriptions, so a
// mutation is not published before the subscription exists.
func waitSubscribers(t *testing.T, g *gateway, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for subscriberCount(g) != n {
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions never reached %v", n)
		}
		time.Sleep(2 * time.Millisecond) // a condition poll, not a wait for the event itself
	}
}

func createKlinkComment(t *testing.T, g *gateway, text string) string {
	t.Helper()
	resp := g.query(`mutation($in: CreateCommentInput!) { createComment(input: $in) { comment { id } } }`,
		map[string]any{"in": map[string]any{"thread": model.ThreadID("klink", model.ThreadKindRoom, roomB), "text": text}})
	resp.mustNoErrors(t)
	var out struct {
		CreateComment struct{ Comment struct{ ID string } } `json:"createComment"`
	}
	resp.decode(t, &out)
	return out.CreateComment.Comment.ID
}

func TestSubscriptionReceivesCreatedCommentOverEveryTransport(t *testing.T) {
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Auth.APIKeys = config.Keys(testAPIKey)
	g := MustStartGateway(t, cfg)
	sub := `subscription($t: [ID!]) { commentAdded(threads: $t) { id text sender { name } } }`
	vars := map[string]any{"t": []string{model.ThreadID("klink", model.ThreadKindRoom, roomB)}}

	t.Run("graphql-transport-ws with the key in connection_init", func(t *testing.T) {
		c := wsDial(t, g, "graphql-transport-ws", nil)
		_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: json.RawMessage(`{"Authorization":"Bearer ` + testAPIKey + `"}`)})
		if m := wsRead(t, c); m.Type != "connection_ack" {
			t.Fatalf("got %+v, want connection_ack", m)
		}
		payload, _ := json.Marshal(map[string]any{"query": sub, "variables": vars})
		_ = c.WriteJSON(wsMsg{ID: "1", Type: "subscribe", Payload: payload})
		waitSubscribers(t, g, 1)
		id := createKlinkComment(t, g, "over graphql-transport-ws ✅")
		m := wsRead(t, c)
		if m.Type != "next" || m.ID != "1" || !strings.Contains(string(m.Payload), id) || !strings.Contains(string(m.Payload), "commentgraph bot") {
			t.Fatalf("got %+v", m)
		}
		_ = c.WriteJSON(wsMsg{ID: "1", Type: "complete"})
		c.Close()
	})

	t.Run("legacy graphql-ws with the key as a header", func(t *testing.T) {
		waitSubscribers(t, g, 0)
		c := wsDial(t, g, "graphql-ws", http.Header{"Authorization": {"Bearer " + testAPIKey}})
		_ = c.WriteJSON(wsMsg{Type: "connection_init"})
		if m := wsRead(t, c); m.Type != "connection_ack" {
			t.Fatalf("got %+v, want connection_ack", m)
		}
		payload, _ := json.Marshal(map[string]any{"query": sub, "variables": vars})
		_ = c.WriteJSON(wsMsg{ID: "7", Type: "start", Payload: payload})
		waitSubscribers(t, g, 1)
		id := createKlinkComment(t, g, "over graphql-ws")
		m := wsRead(t, c)
		if m.Type != "data" || m.ID != "7" || !strings.Contains(string(m.Payload), id) {
			t.Fatalf("got %+v", m)
		}
		c.Close()
	})

	t.Run("SSE", func(t *testing.T) {
		waitSubscribers(t, g, 0)
		body, _ := json.Marshal(map[string]any{"query": sub, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, g.url+"/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("SSE answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		waitSubscribers(t, g, 1)
		id := createKlinkComment(t, g, "over SSE")
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("stream ended")
				}
				if strings.HasPrefix(l, "data:") && strings.Contains(l, id) {
					return
				}
			case <-timeout:
				t.Fatal("no event over SSE")
			}
		}
	})
}

func TestAuthOnEveryTransport(t *testing.T) {
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Auth.APIKeys = config.Keys(testAPIKey, "second-api-key-abcdefgh")
	g := MustStartGateway(t, cfg)
	q := []byte(`{"query":"{ providers { id } }"}`)

	for name, header := range map[string]string{"missing": "", "wrong": "Bearer nope-nope-nope-nope", "not bearer": "Basic " + testAPIKey, "prefix of a key": "Bearer " + testAPIKey[:10]} {
		t.Run("POST "+name, func(t *testing.T) {
			g.key = ""
			h := http.Header{}
			if header != "" {
				h.Set("Authorization", header)
			}
			resp := g.post(q, h)
			if resp.Status != http.StatusUnauthorized || len(resp.codes()) != 1 || resp.codes()[0] != "UNAUTHENTICATED" {
				t.Errorf("status %d codes %v", resp.Status, resp.codes())
			}
		})
	}
	t.Run("POST second key", func(t *testing.T) {
		g.key = "second-api-key-abcdefgh"
		resp := g.post(q, nil)
		if resp.Status != 200 {
			t.Errorf("status %d", resp.Status)
		}
		resp.mustNoErrors(t)
	})
	t.Run("GET without key", func(t *testing.T) {
		resp, err := http.Get(g.url + "/query?query=%7Bproviders%7Bid%7D%7D")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("WebSocket without key closes 4401", func(t *testing.T) {
		c := wsDial(t, g, "graphql-transport-ws", nil)
		_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: json.RawMessage(`{"Authorization":"Bearer wrong-wrong-wrong-wrong"}`)})
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var m wsMsg
			err := c.ReadJSON(&m)
			if err == nil {
				if m.Type == "connection_ack" {
					t.Fatal("acked without a key")
				}
				continue
			}
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4401 {
				t.Fatalf("closed with %v, want 4401", err)
			}
			return
		}
	})
	t.Run("SSE without key", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, g.url+"/query", strings.NewReader(`{"query":"subscription { commentAdded { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestProtections(t *testing.T) {
	k := klinkWorld(t, 1)
	cfg := newTestConfig(t, klinkProvider(k))
	off := false
	cfg.GraphiQL, cfg.Introspection = &off, &off
	cfg.Limits.MaxBodyBytes = 4096
	cfg.Limits.MaxTokens = 300
	cfg.Limits.MaxComplexity = 500
	g := MustStartGateway(t, cfg)

	t.Run("body over the limit is 413", func(t *testing.T) {
		big := `{"query":"{ providers { id } }","variables":{"pad":"` + strings.Repeat("x", 5000) + `"}}`
		resp := g.post([]byte(big), nil)
		if resp.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", resp.Status)
		}
	})
	t.Run("token limit", func(t *testing.T) {
		q := "{ " + strings.Repeat("providers { id } ", 200) + "}"
		resp := g.query(q, nil)
		if codes := resp.codes(); len(codes) == 0 || codes[0] != "GRAPHQL_PARSE_FAILED" {
			t.Errorf("codes %v %+v", codes, resp.Errors)
		}
	})
	t.Run("deep nesting is refused, not crashed on", func(t *testing.T) {
		q := "{ providers " + strings.Repeat("{ id ", 2000) + strings.Repeat("}", 2001)
		resp := g.post([]byte(`{"query":`+jsonString(q)+`}`), nil)
		if len(resp.Errors) == 0 {
			t.Error("accepted")
		}
	})
	t.Run("complexity counts page sizes", func(t *testing.T) {
		q := `{ providers { threads(first: 100) { nodes { comments(first: 100) { nodes { id } } } } } }`
		resp := g.query(q, nil)
		if codes := resp.codes(); len(codes) != 1 || codes[0] != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("codes %v", codes)
		}
	})
	t.Run("introspection off with GraphiQL off", func(t *testing.T) {
		resp := g.query(`{ __schema { types { name } } }`, nil)
		if len(resp.Errors) == 0 {
			t.Error("introspection answered")
		}
		r, err := http.Get(g.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GraphiQL served with graphiql off: %d", r.StatusCode)
		}
	})
	t.Run("malformed JSON and GraphQL", func(t *testing.T) {
		for _, tc := range []struct {
			body   string
			status int
			code   string
		}{
			{`{"query": `, http.StatusBadRequest, "BAD_REQUEST"},
			{`[]`, http.StatusBadRequest, "BAD_REQUEST"},
			{`{"query": "{ providers { id "}`, http.StatusOK, "GRAPHQL_PARSE_FAILED"},
			{`{"query": "{ nope }"}`, http.StatusOK, "GRAPHQL_VALIDATION_FAILED"},
			{`{"query": "mutation { createComment(input: {}) { comment { id } } }"}`, http.StatusOK, "GRAPHQL_VALIDATION_FAILED"},
		} {
			resp := g.post([]byte(tc.body), nil)
			if resp.Status != tc.status || len(resp.Errors) == 0 || resp.codes()[0] != tc.code || resp.Data != nil {
				t.Errorf("%s: status %d codes %v data %s, want %d %s and no data", tc.body, resp.Status, resp.codes(), resp.Data, tc.status, tc.code)
			}
		}
	})
	t.Run("GET refuses mutations", func(t *testing.T) {
		r, err := http.Get(g.url + "/query?query=" + "mutation%7BcreateComment(input%3A%7Bthread%3A%22x%22%2Ctext%3A%22y%22%7D)%7Bcomment%7Bid%7D%7D%7D")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var out gqlResponse
		_ = json.NewDecoder(r.Body).Decode(&out)
		if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" || len(out.Errors) != 1 || out.codes()[0] != "BAD_REQUEST" {
			t.Errorf("GET mutation: %d Allow %q codes %v", r.StatusCode, r.Header.Get("Allow"), out.codes())
		}
	})
}

func TestGraphiQLServedWhenOn(t *testing.T) {
	g := MustStartGateway(t, newTestConfig(t))
	r, err := http.Get(g.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(r.Body)
	if r.StatusCode != 200 || !strings.Contains(b.String(), "graphiql") {
		t.Errorf("GET / = %d", r.StatusCode)
	}
	resp := g.query(`{ __schema { queryType { name } } }`, nil)
	resp.mustNoErrors(t)
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// GraphQL over HTTP's statuses, over POST and GET: errors raised before
// execution answer 200 under application/json and 400 under
// application/graphql-response+json, and carry no data; each kind has its
// own code.
func TestGraphQLOverHTTPStatuses(t *testing.T) {
	k := klinkWorld(t, 0)
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.Limits.MaxComplexity = 500
	g := MustStartGateway(t, cfg)
	for _, tc := range []struct {
		name, query, variables string
		code                   string // "": no error
	}{
		{name: "a query", query: `{ providers { id } }`},
		{name: "a parse error", query: `{ providers { id `, code: "GRAPHQL_PARSE_FAILED"},
		{name: "a validation error", query: `{ nope }`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "an unknown operation name", query: `query A { __typename }&operationName=B`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "a variable of the wrong type", query: `query($id: ID!) { node(id: $id) { id } }`, variables: `{"id": null}`, code: "BAD_USER_INPUT"},
		{name: "a document over the cost limit", query: `{ providers { threads(first: 100) { nodes { comments(first: 100) { nodes { id } } } } } }`, code: "COMPLEXITY_LIMIT_EXCEEDED"},
	} {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			for _, accept := range []string{"application/json", "application/graphql-response+json"} {
				t.Run(tc.name+" "+method+" "+accept, func(t *testing.T) {
					query, opName, _ := strings.Cut(tc.query, "&operationName=")
					var req *http.Request
					if method == http.MethodGet {
						v := url.Values{"query": {query}}
						if opName != "" {
							v.Set("operationName", opName)
						}
						if tc.variables != "" {
							v.Set("variables", tc.variables)
						}
						req, _ = http.NewRequest(method, g.url+"/query?"+v.Encode(), nil)
					} else {
						body := map[string]any{"query": query, "operationName": opName, "variables": json.RawMessage(cmp.Or(tc.variables, "null"))}
						b, _ := json.Marshal(body)
						req, _ = http.NewRequest(method, g.url+"/query", bytes.NewReader(b))
						req.Header.Set("Content-Type", "application/json")
					}
					req.Header.Set("Accept", accept)
					status, ct, raw := do(t, req)
					var out map[string]json.RawMessage
					if err := json.Unmarshal(raw, &out); err != nil {
						t.Fatalf("%d %s", status, raw)
					}
					_, hasData := out["data"]
					wantStatus := http.StatusOK
					if tc.code != "" && accept == "application/graphql-response+json" {
						wantStatus = http.StatusBadRequest
					}
					if status != wantStatus || !strings.HasPrefix(ct, accept) || hasData != (tc.code == "") || (tc.code != "" && !strings.Contains(string(out["errors"]), `"code":"`+tc.code+`"`)) {
						t.Errorf("answered %d %s %s; want %d, code %q, data only without errors", status, ct, raw, wantStatus, tc.code)
					}
				})
			}
		}
	}
}

// A subscription sent as a plain request (no event stream accepted) is
// refused with a 400 naming the transports that carry subscriptions, instead
// of answering its first event and hanging up.
func TestSubscriptionOverPlainHTTPIsRefused(t *testing.T) {
	k := klinkWorld(t, 0)
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	const sub = `subscription { commentAdded { id } }`
	post, _ := http.NewRequest(http.MethodPost, g.url+"/query", strings.NewReader(`{"query":`+jsonString(sub)+`}`))
	post.Header.Set("Content-Type", "application/json")
	get, _ := http.NewRequest(http.MethodGet, g.url+"/query?"+url.Values{"query": {sub}}.Encode(), nil)
	get.Header.Set("Accept", "application/graphql-response+json")
	for _, req := range []*http.Request{post, get} {
		status, _, raw := do(t, req)
		var out gqlResponse
		_ = json.Unmarshal(raw, &out)
		if status != http.StatusBadRequest || len(out.Errors) != 1 || out.codes()[0] != "BAD_REQUEST" || out.Data != nil ||
			!strings.Contains(out.Errors[0].Message, "graphql-transport-ws") || !strings.Contains(out.Errors[0].Message, "text/event-stream") {
			t.Errorf("%s: %d %s", req.Method, status, raw)
		}
	}
	if n := subscriberCount(g); n != 0 {
		t.Errorf("%v subscriptions opened", n)
	}
}

// A client that names an event stream among the types it can read (urql
// names every one) gets JSON for a query, and a stream for a subscription.
func TestEventStreamOnlyWhenPreferredOrNeeded(t *testing.T) {
	k := klinkWorld(t, 0)
	g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
	const urqlAccept = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"
	for _, tc := range []struct {
		name, method, query, accept, want string
	}{
		{"urql's query over GET", http.MethodGet, `{ providers { id } }`, urqlAccept, "application/graphql-response+json"},
		{"urql's query over POST", http.MethodPost, `{ providers { id } }`, urqlAccept, "application/graphql-response+json"},
		{"a stream preferred by quality", http.MethodPost, `{ providers { id } }`, "application/json;q=0.5, text/event-stream", "text/event-stream"},
		{"a stream asked for", http.MethodGet, `{ providers { id } }`, "text/event-stream", "text/event-stream"},
		{"anything", http.MethodGet, `{ providers { id } }`, "*/*", "application/json"},
		{"urql's subscription over POST", http.MethodPost, `subscription { commentAdded { id } }`, urqlAccept, "text/event-stream"},
		{"urql's subscription over GET", http.MethodGet, `subscription { commentAdded { id } }`, urqlAccept, "text/event-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var req *http.Request
			if tc.method == http.MethodGet {
				req, _ = http.NewRequestWithContext(ctx, tc.method, g.url+"/query?"+url.Values{"query": {tc.query}}.Encode(), nil)
			} else {
				req, _ = http.NewRequestWithContext(ctx, tc.method, g.url+"/query", strings.NewReader(`{"query":`+jsonString(tc.query)+`}`))
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Accept", tc.accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, tc.want) {
				t.Errorf("answered %d %s, want %s", resp.StatusCode, ct, tc.want)
			}
		})
	}
}

// do sends req and reads the whole answer.
func do(t *testing.T, req *http.Request) (status int, contentType string, body []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}
