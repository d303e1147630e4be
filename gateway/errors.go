package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/commentgraph/commentgraph/graph/guard"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/graph/persisted"
	"github.com/commentgraph/commentgraph/internal/telemetry"
)

// presentError gives every error extensions.code (and provider, retryAfter for
// upstream ones). Errors that are not ours are masked as INTERNAL; their
// detail goes to the log only.
func (a *App) presentError(ctx context.Context, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	code := model.CodeInternal
	var me *model.Error
	switch {
	case errors.As(err, &me):
		code = me.Code
		gerr.Message = me.Message
		if me.Provider != "" {
			gerr.Message = me.Provider + ": " + me.Message
			setExt(gerr, "provider", me.Provider)
		}
		if me.RetryAfter > 0 || me.Code == model.CodeUpstreamRateLimited {
			setExt(gerr, "retryAfter", int(math.Ceil(me.RetryAfter.Seconds())))
		}
		if me.Err != nil {
			a.log.DebugContext(ctx, "graphql error", "code", code, "provider", me.Provider, "path", gerr.Path.String(), "err", me.Err)
		}
		if code == model.CodeInternal {
			a.log.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", err)
			gerr.Message = "internal error"
		}
	case errors.Is(err, context.DeadlineExceeded):
		code = model.CodeUpstreamTimeout
		gerr.Message = "the request ran out of time"
	case errors.Is(err, context.Canceled):
		code = model.CodeUpstreamTimeout
		gerr.Message = "the request was canceled"
	case gerr.Err == nil || len(gerr.Path) == 0:
		// About the request rather than a field, raised before execution: an
		// unusable HTTP request, parse, validation, variable coercion,
		// complexity, a persisted document.
		code = requestErrorCode(gerr)
	default:
		a.log.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", err)
		gerr.Message = "internal error"
		gerr.Err = nil
	}
	if id := telemetry.RequestID(ctx); id != "" {
		setExt(gerr, "requestId", id)
	}
	setExt(gerr, "code", string(code))
	a.metrics.gqlErrors.WithLabelValues(string(code)).Inc()
	return gerr
}

// requestErrorCode is the code of an error raised before execution, from the
// code gqlgen, graph/guard, graph/persisted or a transport gave it.
func requestErrorCode(gerr *gqlerror.Error) model.Code {
	switch c, _ := gerr.Extensions["code"].(string); c {
	case guard.CodeComplexity, guard.CodeIntrospection, persisted.CodeNotFound, persisted.CodeNotAllowed:
		return model.Code(c) // defined as the model's codes
	case errcode.ParseFailed:
		return model.CodeGraphQLParseFailed
	case errcode.ValidationFailed:
		// gqlgen files a variable whose value does not fit its type under
		// validation too (its path starts at "variable"): there the document
		// is fine and the input is not.
		if len(gerr.Path) > 0 && gerr.Path[0] == ast.PathName("variable") {
			return model.CodeBadUserInput
		}
		return model.CodeGraphQLValidationFailed
	case string(model.CodeBadRequest):
		return model.CodeBadRequest
	}
	return model.CodeBadUserInput
}

// requestError is a transport's refusal of a request none of which ran.
func requestError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, string(model.CodeBadRequest))
	return err
}

func setExt(e *gqlerror.Error, k string, v any) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions[k] = v
}

// recoverPanic masks a resolver panic as INTERNAL and logs the stack.
func (a *App) recoverPanic(ctx context.Context, p any) error {
	a.log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return &model.Error{Code: model.CodeInternal, Message: "internal error"}
}

// recoverHTTP keeps a panic outside gqlgen (a webhook parser, say) from killing
// the process; http.ErrAbortHandler passes through as net/http intends.
func (a *App) recoverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(r.Context(), "panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeGraphQLError(w, http.StatusInternalServerError, model.CodeInternal, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeGraphQLError answers outside gqlgen in GraphQL's error shape.
func writeGraphQLError(w http.ResponseWriter, status int, code model.Code, msg string) {
	ext := map[string]any{"code": code}
	if id := w.Header().Get(telemetry.RequestIDHeader); id != "" {
		ext["requestId"] = id
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": msg, "extensions": ext}}})
}
