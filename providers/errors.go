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

// StatusError maps an upstream's non-2xx answer to a typed error. message is
// what the upstream said (its error body's text), kept for the log; the client
// sees a message of our own, so nothing the upstream echoes (a token, say)
// reaches it.
func StatusError(provider string, status int, message string, header http.Header) *model.Error {
	e := &model.Error{Provider: provider}
	if message != "" {
		e.Err = fmt.Errorf("upstream said %d %q", status, truncate(message, 200))
	} else {
		e.Err = fmt.Errorf("upstream said %d", status)
	}
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
		e.Code = model.CodeBadUserInput
		e.Message = "the upstream refused the input"
		if message != "" {
			e.Message += ": " + truncate(message, 200)
		}
	case status >= 500:
		e.Code, e.Message = model.CodeUpstreamUnavailable, fmt.Sprintf("the upstream failed (%d)", status)
	default:
		e.Code, e.Message = model.CodeUpstreamUnavailable, fmt.Sprintf("unexpected upstream status %d", status)
	}
	return e
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
