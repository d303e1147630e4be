package model

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code is the machine-readable kind of an error; it becomes extensions.code.
type Code string

// Error codes (README "Errors").
const (
	CodeUnauthenticated         Code = "UNAUTHENTICATED"
	CodeForbidden               Code = "FORBIDDEN"
	CodeNotFound                Code = "NOT_FOUND"
	CodeBadUserInput            Code = "BAD_USER_INPUT"
	CodeUnsupported             Code = "UNSUPPORTED"
	CodeUpstreamUnavailable     Code = "UPSTREAM_UNAVAILABLE"
	CodeUpstreamTimeout         Code = "UPSTREAM_TIMEOUT"
	CodeUpstreamRateLimited     Code = "UPSTREAM_RATE_LIMITED"
	CodeComplexityLimitExceeded Code = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeInternal                Code = "INTERNAL"
	// CodeUpstreamBudgetExceeded: the request already made as many upstream
	// calls as limits.maxUpstreamCalls allows; the rest were not made.
	CodeUpstreamBudgetExceeded Code = "UPSTREAM_BUDGET_EXCEEDED"
	// CodeIntrospectionDisabled: __schema/__type asked of a gateway with
	// introspection off.
	CodeIntrospectionDisabled Code = "INTROSPECTION_DISABLED"
	// CodeRetryLater: the gateway cannot decide safely right now (its
	// idempotency record is unreachable); the same request may be retried,
	// after extensions.retryAfter seconds.
	CodeRetryLater Code = "RETRY_LATER"
	// CodeGraphQLParseFailed: the document does not parse.
	CodeGraphQLParseFailed Code = "GRAPHQL_PARSE_FAILED"
	// CodeGraphQLValidationFailed: the document does not fit the schema.
	CodeGraphQLValidationFailed Code = "GRAPHQL_VALIDATION_FAILED"
	// CodeBadRequest: the HTTP request cannot be served as sent (it is no
	// GraphQL request, or it asks for a subscription over plain HTTP).
	CodeBadRequest Code = "BAD_REQUEST"
	// CodePersistedQueryNotFound: a hash names no document the gateway knows
	// (Apollo's APQ link then sends the document).
	CodePersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
	// CodePersistedQueryNotAllowed: only trusted documents may run.
	CodePersistedQueryNotAllowed Code = "PERSISTED_QUERY_NOT_ALLOWED"
)

// Error is commentgraph's one error type. Message is safe to show a client;
// Err is the cause, for logs only. Provider is set on errors from an upstream.
type Error struct {
	Code     Code
	Message  string
	Provider string
	// RetryAfter is how long the client should wait before retrying
	// (UPSTREAM_RATE_LIMITED, RETRY_LATER); it becomes extensions.retryAfter.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Provider != "" {
		msg = e.Provider + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode is the code of err: an *Error's own, UPSTREAM_TIMEOUT for a deadline,
// INTERNAL for anything else.
func ErrorCode(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.DeadlineExceeded):
		return CodeUpstreamTimeout
	default:
		return CodeInternal
	}
}

// IsCode reports whether err carries code.
func IsCode(err error, code Code) bool { return ErrorCode(err) == code }
