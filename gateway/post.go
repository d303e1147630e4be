package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport and getTransport are GraphQL over HTTP (the GraphQL over
// HTTP spec, as npm graphql-http's server audits check it; clients_test.go
// runs them).
//
// Errors raised before execution (a document that does not parse or
// validate, a variable of the wrong type, a refused cost) answer 200 under
// application/json and 400 under application/graphql-response+json, and
// carry no "data": none was executed. A request that is no GraphQL request
// (unreadable JSON, a parameter of the wrong type, no query) answers 400, and
// one for an operation this transport cannot serve a 4xx naming the one that
// can: a subscription needs a stream (WebSocket or SSE), a mutation POST.
//
// gqlgen's transport writes the response with json.Marshal, which re-scans
// the whole data (already JSON, from the executor) to compact and validate
// it, a cost that grows with every page. Here the data is written as the
// executor made it, and only the errors and extensions go through
// encoding/json; post_test.go checks the answers are otherwise gqlgen's.
type postTransport struct {
	// sse streams a subscription whose client accepts an event stream
	// beside JSON (urql's fetch subscriptions do). Nil: refused.
	sse *sseTransport
}

// getTransport takes the operation from the URL (query, operationName, and
// variables and extensions as JSON); it runs queries, and subscriptions
// through sse as postTransport does.
type getTransport struct {
	sse *sseTransport
}

var (
	_ graphql.Transport = postTransport{}
	_ graphql.Transport = getTransport{}
)

const (
	contentTypeJSON            = "application/json"
	contentTypeGraphQLResponse = "application/graphql-response+json"
)

// subscriptionTransports is what a client sending a subscription over plain
// HTTP is told to use instead.
const subscriptionTransports = "a subscription needs a streaming transport: WebSocket (subprotocol graphql-transport-ws, or the legacy graphql-ws) or Server-Sent Events (Accept: text/event-stream, POST or GET)"

// Supports takes a JSON POST that is no upgrade.
func (postTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == "" && isJSON(r)
}

// Do runs one operation.
func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	serveRequest(w, r, exec, readPostParams, t.sse)
}

// Supports takes a GET that is no upgrade (GETs for an event stream are
// sseTransport's, which comes first).
func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

// Do runs one query.
func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	serveRequest(w, r, exec, readGetParams, t.sse)
}

// serveRequest reads the operation with read and runs it as one response,
// negotiating its content type first so a request that cannot be read is
// answered in it too.
func serveRequest(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, read func(*http.Request) (*graphql.RawParams, *gqlerror.Error), sse *sseTransport) {
	contentType := responseContentType(r)
	w.Header().Set("Content-Type", contentType)
	params, err := read(r)
	if err != nil {
		writeRequestErrors(w, http.StatusBadRequest, exec.DispatchError(r.Context(), gqlerror.List{err}))
		return
	}
	serveOperation(w, r, exec, params, contentType, sse)
}

// serveOperation runs params as one response, answering contentType.
func serveOperation(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, contentType string, sse *sseTransport) {
	ctx := r.Context()
	if err := checkParams(params); err != nil {
		writeRequestErrors(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	rc, opErr := exec.CreateOperationContext(ctx, params)
	ctx = graphql.WithOperationContext(ctx, rc)
	if opErr != nil {
		status := http.StatusOK
		if contentType == contentTypeGraphQLResponse {
			status = http.StatusBadRequest
		}
		writeRequestErrors(w, status, exec.DispatchError(ctx, opErr))
		return
	}
	switch op := rc.Operation.Operation; {
	case op == ast.Subscription && sse != nil && acceptsEventStream(r):
		sse.stream(w, r, exec, rc, nil)
		return
	case op == ast.Subscription:
		writeRequestErrors(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{requestError("%s", subscriptionTransports)}))
		return
	case op == ast.Mutation && r.Method == http.MethodGet:
		// GET must stay safe: a link, a prefetch or a crawler never posts.
		w.Header().Set("Allow", http.MethodPost)
		writeRequestErrors(w, http.StatusMethodNotAllowed, exec.DispatchError(ctx, gqlerror.List{requestError("a mutation must be sent with POST, not GET")}))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, http.StatusOK, responses(ctx))
}

func isJSON(r *http.Request) bool {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == contentTypeJSON
}

// readPostParams reads a JSON request body.
func readPostParams(r *http.Request) (*graphql.RawParams, *gqlerror.Error) {
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, requestError("could not read request body")
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		return nil, bodyDecodeError(err)
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	return &params, nil
}

// readGetParams reads the request from the URL.
func readGetParams(r *http.Request) (*graphql.RawParams, *gqlerror.Error) {
	start := graphql.Now()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, requestError("the URL's query string could not be decoded")
	}
	params := graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	for _, p := range []struct {
		name string
		into *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(p.into); err != nil {
			return nil, requestError("the %s parameter must be a JSON object", p.name)
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	return &params, nil
}

// checkParams refuses a request with no document (nor a persisted one's hash).
func checkParams(p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return requestError("the request has no query")
	}
	return nil
}

// bodyDecodeError says what is wrong with a request body and where, never
// what it holds: echoing a client's body back (up to the body limit) would
// amplify abuse and repeat whatever secret it carried.
func bodyDecodeError(err error) *gqlerror.Error {
	return requestError("json request body could not be decoded: %s", decodeProblem(err))
}

func decodeProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		// Value is "array", "string", "number 12"…: only its first word, since
		// a number's digits are the client's own bytes.
		got, _, _ := strings.Cut(typ.Value, " ")
		what := "the body"
		if typ.Field != "" {
			what = strconv.Quote(typ.Field)
		}
		return fmt.Sprintf("%s must be %s, not %s (at byte %d)", what, jsonKind(typ.Type), got, typ.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or ends early"
	}
	return "not a GraphQL request object"
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Bool:
		return "a boolean"
	}
	return "a " + t.Kind().String()
}

// prefersEventStream says the client asks for text/event-stream before any
// JSON type: at a higher quality, or at the same one and named first. A
// client that merely accepts a stream beside JSON (urql names every type it
// can parse) gets JSON for what is one response.
func prefersEventStream(r *http.Request) bool {
	stream, jsonType := acceptRanks(r)
	return stream.q > 0 && (stream.q > jsonType.q || stream.q == jsonType.q && stream.pos < jsonType.pos)
}

// acceptsEventStream says the client can read text/event-stream.
func acceptsEventStream(r *http.Request) bool {
	stream, _ := acceptRanks(r)
	return stream.q > 0
}

type acceptRank struct {
	q   float64
	pos int
}

// acceptRanks ranks text/event-stream and the best JSON type in the Accept
// header (wildcards count for neither).
func acceptRanks(r *http.Request) (stream, jsonType acceptRank) {
	for i, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		rank := acceptRank{q: q, pos: i}
		switch mediaType {
		case contentTypeEventStream:
			if q > stream.q {
				stream = rank
			}
		case contentTypeJSON, contentTypeGraphQLResponse:
			if q > jsonType.q {
				jsonType = rank
			}
		}
	}
	return stream, jsonType
}

// responseContentType negotiates as gqlgen does: application/json unless
// the client asks for application/graphql-response+json (or names neither).
func responseContentType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return contentTypeJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", contentTypeJSON:
			return contentTypeJSON
		case contentTypeGraphQLResponse:
			return contentTypeGraphQLResponse
		}
	}
	return contentTypeGraphQLResponse
}

// writeResponse answers status with resp, in one Write and with a
// Content-Length: without one, net/http frames a page larger than its 2 KiB
// buffer as chunks and sends it in one more write(2) (three for a page of
// 50 comments instead of two).
func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	writeBody(w, status, responseJSON(resp, true))
}

// writeRequestErrors answers resp, the errors of a request none of which
// ran, without "data": the GraphQL spec leaves it out when execution never
// began, and graphql-response+json clients read its absence as that.
func writeRequestErrors(w http.ResponseWriter, status int, resp *graphql.Response) {
	writeBody(w, status, responseJSON(resp, false))
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// responseJSON is resp as json.Marshal would write it (the same members, in
// the same order, omitted when empty), with the data as the executor wrote
// it; without withData, "data" is left out.
func responseJSON(resp *graphql.Response, withData bool) []byte {
	if resp == nil {
		return []byte("null")
	}
	var b bytes.Buffer
	b.Grow(len(resp.Data) + 64)
	b.WriteByte('{')
	if len(resp.Errors) > 0 {
		member(&b, `"errors":`)
		writeMember(&b, resp.Errors)
	}
	if withData {
		member(&b, `"data":`)
		if len(resp.Data) == 0 {
			b.WriteString("null")
		} else {
			b.Write(resp.Data)
		}
	}
	if resp.Label != "" {
		member(&b, `"label":`)
		writeMember(&b, resp.Label)
	}
	if len(resp.Path) > 0 {
		member(&b, `"path":`)
		writeMember(&b, resp.Path)
	}
	if resp.HasNext != nil {
		member(&b, `"hasNext":`)
		writeMember(&b, *resp.HasNext)
	}
	if len(resp.Extensions) > 0 {
		member(&b, `"extensions":`)
		writeMember(&b, resp.Extensions)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// member starts a member of the object b holds, after a comma unless it is
// the first.
func member(b *bytes.Buffer, name string) {
	if b.Len() > 1 {
		b.WriteByte(',')
	}
	b.WriteString(name)
}

func writeMember(b *bytes.Buffer, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		// Errors and extensions hold only the presenter's strings and numbers,
		// which always encode; null keeps the answer JSON if that ever changes.
		raw = []byte("null")
	}
	b.Write(raw)
}
