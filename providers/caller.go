package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/commentgraph/commentgraph/internal/upstreamwait"
)

// DefaultMaxBody is how much of an upstream answer is read (8 MiB); a longer
// one is garbage to us.
const DefaultMaxBody = 8 << 20

// CallInfo describes one finished upstream exchange, for metrics.
type CallInfo struct {
	Provider string
	Method   string
	// Endpoint is the route template ("/api/v1/comments/rooms/{roomId}"), not the
	// concrete path, so metrics stay low-cardinality.
	Endpoint string
	Status   int // 0 when no answer came
	Duration time.Duration
}

// Caller performs JSON exchanges with one upstream: it sets auth, bounds the body,
// maps statuses to typed errors and reports each call. Each provider's client.go
// builds one and supplies what differs: how to authenticate and how to read the
// upstream's error body.
type Caller struct {
	Provider string
	BaseURL  string
	// Client defaults to a client with a 10 s timeout.
	Client *http.Client
	// Authorize sets credentials on a request. Nil: none.
	Authorize func(ctx context.Context, req *http.Request) error
	// ErrorText extracts the upstream's error message from a non-2xx body. Nil:
	// the raw body. What it returns goes to the log only, redacted (see
	// Redact): of the credentials the request carried (Authorization,
	// Cookie, X-Api-Key and the like, as sent, with and without their
	// scheme), of Redact, and of fields named like a credential.
	ErrorText func(body []byte) string
	// Redact lists further secrets to keep out of the log should the upstream
	// echo them: what a login body carries (a password, an email), a webhook
	// secret. Nil: only the request's credential headers and what Redact
	// finds by name.
	Redact []string
	// MaxBody defaults to DefaultMaxBody. An answer that says it is longer
	// is refused unread.
	MaxBody int64
	// OnCall, when set, is told about every exchange: not about a call the
	// budget refused or an answer shared within a request (WithCallBudget).
	OnCall func(CallInfo)
}

// Request is one call: Endpoint is the route template reported to OnCall, Path
// the concrete path (with query) appended to BaseURL.
type Request struct {
	Method   string
	Endpoint string
	Path     string
	Body     any // marshalled as JSON when not nil
	Header   http.Header
}

// Response is a successful answer's raw parts. Within a call scope
// (WithCallBudget) Body and Header may be shared with other callers of the
// request: read them, never modify them.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends r and returns the 2xx answer, or a typed error: StatusError for a
// non-2xx, TransportError when the upstream could not be reached in time,
// GarbageError for an answer longer than MaxBody. Under a call scope
// (WithCallBudget) each call spends one unit of the request's budget and
// identical GETs are made once; past the budget, UPSTREAM_BUDGET_EXCEEDED.
func (c *Caller) Do(ctx context.Context, r Request) (*Response, error) {
	var body io.Reader
	contentType := ""
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: encode request: %w", c.Provider, err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := c.newRequest(ctx, r, body, -1, contentType)
	if err != nil {
		return nil, err
	}
	s := scopeFrom(ctx)
	switch {
	case s == nil:
		return c.send(ctx, req, r.Endpoint)
	case req.Method != http.MethodGet || r.Body != nil:
		if err := s.write(c.Provider); err != nil {
			return nil, err
		}
		return c.send(ctx, req, r.Endpoint)
	case s.unshared:
		if err := s.spend(c.Provider); err != nil {
			return nil, err
		}
		return c.send(ctx, req, r.Endpoint)
	}
	return s.shared(ctx, c.Provider, memoKey(c.Provider, c.BaseURL+r.Path, req.Header), func() (*Response, error) {
		return c.send(ctx, req, r.Endpoint)
	})
}

// newRequest builds r over body, of contentType when not "" and of length
// size when not negative, and authorizes it.
func (c *Caller) newRequest(ctx context.Context, r Request, body io.Reader, size int64, contentType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, c.BaseURL+r.Path, body)
	if err != nil {
		return nil, fmt.Errorf("%s: build request: %w", c.Provider, err)
	}
	if size >= 0 {
		req.ContentLength = size
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Authorize != nil {
		if err := c.Authorize(ctx, req); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// send makes the call req and reads its answer.
func (c *Caller) send(ctx context.Context, req *http.Request, endpoint string) (*Response, error) {
	client := c.Client
	if client == nil {
		client = defaultClient
	}
	// The request's own-time metric counts this call as upstream time
	// until its body has been read (internal/upstreamwait).
	wait := upstreamwait.FromContext(ctx)
	wait.Begin()
	defer wait.End()
	start := time.Now()
	resp, err := client.Do(req)
	info := CallInfo{Provider: c.Provider, Method: req.Method, Endpoint: endpoint, Duration: time.Since(start)}
	if err != nil {
		c.report(info)
		return nil, TransportError(c.Provider, err)
	}
	// Closing a body not read to its end drops the connection rather than
	// draining it: an answer refused for its length is not read at all.
	defer resp.Body.Close()
	info.Status = resp.StatusCode
	max := c.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	if resp.ContentLength > max {
		c.report(info)
		return nil, GarbageError(c.Provider, fmt.Errorf("answer of %d bytes, longer than %d", resp.ContentLength, max))
	}
	raw, err := readBody(resp, max)
	info.Duration = time.Since(start)
	c.report(info)
	if err != nil {
		return nil, TransportError(c.Provider, err)
	}
	if int64(len(raw)) > max {
		return nil, GarbageError(c.Provider, fmt.Errorf("answer longer than %d bytes", max))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, StatusError(c.Provider, resp.StatusCode, c.errorText(req, raw), resp.Header)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// errorText is the upstream's error text for the log, rid of the request's
// credentials and the Caller's secrets (StatusError redacts what is named
// like a credential and truncates).
func (c *Caller) errorText(req *http.Request, raw []byte) string {
	var text string
	if c.ErrorText != nil {
		text = c.ErrorText(raw)
	} else {
		text = string(raw[:min(len(raw), redactScan)])
	}
	if text == "" {
		return ""
	}
	secrets := append(headerSecrets(req.Header), c.Redact...)
	return replaceSecrets(truncate(text, redactScan), secrets)
}

// readBody reads at most max+1 bytes of resp's body; the caller has refused
// a Content-Length over max. With a Content-Length it reads into one buffer
// of that size, without io.ReadAll's doublings and copies, and in as few
// reads as the connection allows.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 {
		return io.ReadAll(io.LimitReader(resp.Body, max+1))
	}
	if n > max {
		return nil, fmt.Errorf("answer of %d bytes, longer than %d", n, max)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// JSON sends r and decodes the 2xx answer into out (when not nil). An answer
// that is not the JSON expected is GarbageError.
func (c *Caller) JSON(ctx context.Context, r Request, out any) (*Response, error) {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := DecodeJSON(resp.Body, out); err != nil {
			return resp, GarbageError(c.Provider, fmt.Errorf("%s %s: %w", r.Method, r.Endpoint, err))
		}
	}
	return resp, nil
}

func (c *Caller) report(info CallInfo) {
	if c.OnCall != nil {
		c.OnCall(info)
	}
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}
