package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// sseTransport is GraphQL over Server-Sent Events (POST, Accept:
// text/event-stream), like gqlgen's transport.SSE, plus what resuming needs:
// each event is written with an `id:` line holding its bus event id, and the
// client's Last-Event-ID header reaches the resolver (it reads it from the
// operation's headers) to replay what it missed.
type sseTransport struct {
	// KeepAlive is the interval of ": ping" comments that keep proxies from
	// closing an idle stream. 0: none.
	KeepAlive time.Duration
	// OnSubscribe and OnUnsubscribe are called once a subscription's resolver
	// has subscribed and when the stream ends (one per SSE request; queries
	// and mutations are not counted). Nil: not called.
	OnSubscribe, OnUnsubscribe func()
}

var _ graphql.Transport = sseTransport{}

func (sseTransport) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	start := graphql.Now()
	params := &graphql.RawParams{}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		resp := exec.DispatchError(ctx, gqlerror.List{bodyDecodeError(err)})
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	rc, opErr := exec.CreateOperationContext(ctx, params)
	ctx = graphql.WithOperationContext(ctx, rc)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Connection", "keep-alive")
	w.Header().Set("X-Accel-Buffering", "no")
	var mu sync.Mutex
	write := func(f func(io.Writer)) {
		mu.Lock()
		defer mu.Unlock()
		f(w)
		flusher.Flush()
	}
	write(func(w io.Writer) { io.WriteString(w, ":\n\n") })

	if t.KeepAlive > 0 {
		done := make(chan struct{})
		defer close(done)
		go func() {
			tick := time.NewTicker(t.KeepAlive)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				case <-tick.C:
					write(func(w io.Writer) { io.WriteString(w, ": ping\n\n") })
				}
			}
		}()
	}

	if opErr != nil {
		resp := exec.DispatchError(ctx, opErr)
		write(func(w io.Writer) { writeSSE(w, resp) })
		write(func(w io.Writer) { io.WriteString(w, "event: complete\n\n") })
		return
	}
	responses, dctx := exec.DispatchOperation(ctx, rc)
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription && t.OnSubscribe != nil {
		t.OnSubscribe()
		if t.OnUnsubscribe != nil {
			defer t.OnUnsubscribe()
		}
	}
	for {
		resp := responses(dctx)
		if resp == nil {
			break
		}
		write(func(w io.Writer) { writeSSE(w, resp) })
	}
	write(func(w io.Writer) { io.WriteString(w, "event: complete\n\n") })
}

// writeSSE writes one response as an SSE event, with `id:` when it is a
// subscription event (extensions.eventId).
func writeSSE(w io.Writer, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(graphql.Response{Errors: gqlerror.List{{Message: "internal error", Extensions: map[string]any{"code": "INTERNAL"}}}})
	}
	if id, ok := resp.Extensions["eventId"].(string); ok && id != "" && !strings.ContainsAny(id, "\r\n") {
		fmt.Fprintf(w, "id: %s\n", id)
	}
	// JSON has no raw newlines, so one data line carries it whole.
	fmt.Fprintf(w, "event: next\ndata: %s\n\n", bytes.TrimSpace(b))
}
