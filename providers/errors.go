package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
)

// StatusError maps an upstream's non-2xx answer to a typed error. The client
// sees a fixed message per status and nothing the upstream said, so nothing
// it echoes (a token, a password from the request) reaches a client. message
// is what the upstream said, for the log only: it goes into Err after Redact
// (the usual credential fields and Bearer tokens; Caller has already removed
// the request's own secrets) and truncated to 200 bytes. UpstreamStatus(err)
// reads status back.
func StatusError(provider string, status int, message string, header http.Header) *model.Error {
	e := &model.Error{Provider: provider, Err: &upstreamStatus{status: status, text: logText(message)}}
	switch {
	case status == http.StatusUnauthorized:
		e.Code, e.Message = model.CodeUnauthenticated, "the upstream rejected the gateway's credential"
	case status == http.StatusForbidden:
		e.Code, e.Message = model.CodeForbidden, "the upstream refused access"
	case status == http.StatusNotFound:
		e.Code, e.Message = model.CodeNotFound, "not found upstream"
	case status == http.StatusTooManyRequests:
		e.Code, e.Message = model.CodeUpstreamRateLimited, "the upstream is rate limiting the gateway"
		e.RetryAfter = RetryAfter(header, time.Now())
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		e.Code, e.Message = model.CodeBadUserInput, "the upstream refused the input"
	case status >= 500:
		e.Code, e.Message = model.CodeUpstreamUnavailable, fmt.Sprintf("the upstream failed (%d)", status)
	default:
		e.Code, e.Message = model.CodeUpstreamUnavailable, fmt.Sprintf("unexpected upstream status %d", status)
	}
	return e
}

// upstreamStatus is the cause StatusError records: the upstream's status and
// its redacted, truncated text.
type upstreamStatus struct {
	status int
	text   string
}

func (e *upstreamStatus) Error() string {
	if e.text == "" {
		return fmt.Sprintf("upstream said %d", e.status)
	}
	return fmt.Sprintf("upstream said %d %q", e.status, e.text)
}

// UpstreamStatus is the HTTP status of the upstream answer err reports (an
// error from StatusError, however wrapped or copied), or 0 when err does not
// come from an answer. Adapters read it to retry on 401, 429 and the like: it
// holds for an answer shared by another call of the request (WithCallBudget),
// which OnCall is not told about.
func UpstreamStatus(err error) int {
	var s *upstreamStatus
	if errors.As(err, &s) {
		return s.status
	}
	return 0
}

// logText is upstream text made fit for a log line: redacted, then cut to
// 200 bytes.
func logText(message string) string {
	if message == "" {
		return ""
	}
	return truncate(Redact(truncate(message, redactScan)), 200)
}

// TransportError maps a failure to reach the upstream (or to read it) to
// UPSTREAM_TIMEOUT or UPSTREAM_UNAVAILABLE. A canceled request context stays
// context.Canceled, so nothing is reported for a client that went away.
func TransportError(provider string, err error) error {
	var me *model.Error
	if errors.As(err, &me) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &model.Error{Code: model.CodeUpstreamTimeout, Provider: provider, Message: "the upstream did not answer in time", Err: err}
	}
	return &model.Error{Code: model.CodeUpstreamUnavailable, Provider: provider, Message: "the upstream could not be reached", Err: err}
}

// GarbageError reports an upstream answer the gateway could not read.
func GarbageError(provider string, err error) *model.Error {
	return &model.Error{Code: model.CodeUpstreamUnavailable, Provider: provider, Message: "the upstream answered with something unreadable", Err: err}
}

// Unsupported is the error for a capability the provider lacks.
func Unsupported(provider, what string) *model.Error {
	return &model.Error{Code: model.CodeUnsupported, Provider: provider, Message: what + " is not supported by this provider"}
}

// RetryAfter reads a Retry-After header: seconds or an HTTP date. 0 when absent
// or unreadable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
