package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport is GraphQL over HTTP POST: gqlgen's transport.POST, but for
// how the answer is written.
//
// gqlgen's transport writes the response with json.Marshal, which re-scans
// the whole data (already JSON, from the executor) to compact and validate
// it, a cost that grows with every page. Here the data is
// written as the executor made it, and only the errors and extensions go
// through encoding/json. Everything else (what it accepts, content type
// negotiation, status codes, the error texts of a bad body) is gqlgen's
// v0.17.95 behaviour; transport_test.go checks it.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

const (
	contentTypeJSON            = "application/json"
	contentTypeGraphQLResponse = "application/graphql-response+json"
)

// Supports takes a JSON POST that is no upgrade.
func (postTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && r.Method == http.MethodPost && mediaType == contentTypeJSON
}

// Do runs one operation.
func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseContentType(r)
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()

	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeResponse(w, http.StatusOK, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body")}))
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{bodyDecodeError(err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	rc, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
			if contentType == contentTypeGraphQLResponse {
				status = http.StatusBadRequest
			}
		}
		writeResponse(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, http.StatusOK, responses(ctx))
}

// bodyDecodeError says what is wrong with a request body and where, never
// what it holds: echoing a client's body back (up to the body limit) would
// amplify abuse and repeat whatever secret it carried.
func bodyDecodeError(err error) *gqlerror.Error {
	const prefix = "json request body could not be decoded: "
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return gqlerror.Errorf(prefix+"invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		// Value is "array", "string", "number 12"…: only its first word, since
		// a number's digits are the client's own bytes.
		got, _, _ := strings.Cut(typ.Value, " ")
		what := "the body"
		if typ.Field != "" {
			what = strconv.Quote(typ.Field)
		}
		return gqlerror.Errorf(prefix+"%s must be %s, not %s (at byte %d)", what, jsonKind(typ.Type), got, typ.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return gqlerror.Errorf(prefix + "the body is empty or ends early")
	}
	return gqlerror.Errorf(prefix + "not a GraphQL request object")
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
	b := responseJSON(resp)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// responseJSON is resp as json.Marshal would write it (the same members, in
// the same order, omitted when empty), with the data as the executor wrote it.
func responseJSON(resp *graphql.Response) []byte {
	if resp == nil {
		return []byte("null")
	}
	var b bytes.Buffer
	b.Grow(len(resp.Data) + 64)
	b.WriteByte('{')
	if len(resp.Errors) > 0 {
		b.WriteString(`"errors":`)
		writeMember(&b, resp.Errors)
		b.WriteByte(',')
	}
	b.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		b.WriteString("null")
	} else {
		b.Write(resp.Data)
	}
	if resp.Label != "" {
		b.WriteString(`,"label":`)
		writeMember(&b, resp.Label)
	}
	if len(resp.Path) > 0 {
		b.WriteString(`,"path":`)
		writeMember(&b, resp.Path)
	}
	if resp.HasNext != nil {
		b.WriteString(`,"hasNext":`)
		writeMember(&b, *resp.HasNext)
	}
	if len(resp.Extensions) > 0 {
		b.WriteString(`,"extensions":`)
		writeMember(&b, resp.Extensions)
	}
	b.WriteByte('}')
	return b.Bytes()
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
