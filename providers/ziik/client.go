package ziik

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

const (
	// maxLimit is the most messages or conversations one Ziik page holds.
	maxLimit = 100
	// defaultPage is the page size when none is asked for.
	defaultPage = 25
)

// Endpoints as the Ziik notes write them, for metrics.
const (
	epConversations = "/conversations"
	epConversation  = "/conversations/{conversation}"
	epMessages      = "/conversations/{conversation}/messages"
	epUser          = "/users/{id}"
)

// newCaller is the client every call goes through; call adds the JWT to each
// request. The JWT is redacted as the Authorization header sent; the
// credentials travel in /authenticate's body, so they are redacted by value.
func (p *Provider) newCaller(opts Options) providers.Caller {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return providers.Caller{
		Provider:  p.id,
		BaseURL:   strings.TrimRight(opts.BaseURL, "/"),
		Client:    client,
		ErrorText: errorText,
		Redact:    []string{opts.Password, opts.Email},
		OnCall:    opts.OnCall,
	}
}

// call performs one authenticated request and returns the 2xx body.
func (p *Provider) call(ctx context.Context, r providers.Request) ([]byte, error) {
	var resp *providers.Response
	err := p.authorized(ctx, func(jwt string) (err error) {
		r.Header = http.Header{"Authorization": {"Bearer " + jwt}}
		resp, err = p.caller.Do(ctx, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// authorized runs send, one upstream exchange, with the JWT. A 401 gets one
// fresh token and one retry: the upstream did nothing with the refused
// request, so even a POST or an upload is safe to repeat.
func (p *Provider) authorized(ctx context.Context, send func(jwt string) error) error {
	for attempt := 0; ; attempt++ {
		jwt, err := p.token(ctx)
		if err != nil {
			return err
		}
		err = send(jwt)
		if err == nil {
			return nil
		}
		// The status comes with the error, also when the answer was another
		// call's, shared within the request (providers.WithCallBudget).
		status := providers.UpstreamStatus(err)
		if attempt == 0 && status == http.StatusUnauthorized {
			p.invalidate(jwt)
			continue
		}
		return p.statusError(err, status)
	}
}

// statusError adjusts the shared status mapping where Ziik's statuses mean
// something more specific: 410 Gone is a removed resource (NOT_FOUND for the
// client, not an outage); 503 is Ziik's maintenance answer and stays
// UPSTREAM_UNAVAILABLE.
func (p *Provider) statusError(err error, status int) error {
	var me *model.Error
	if status == http.StatusGone && errors.As(err, &me) {
		return &model.Error{Code: model.CodeNotFound, Provider: p.id, Message: "removed upstream (410 Gone)", Err: me.Err}
	}
	return err
}

// errorText reads Ziik's {"error":{code,message}} body for the log. The
// Caller redacts it of the JWT the request carried and of the credentials
// (Redact).
func errorText(body []byte) string {
	var e struct {
		Error struct {
			Code    any    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error.Message != "" || e.Error.Code != nil) {
		return strings.TrimSpace(fmt.Sprintf("%v: %s", e.Error.Code, e.Error.Message))
	}
	return string(body)
}

// badInput is a BAD_USER_INPUT error from this provider.
func (p *Provider) badInput(format string, args ...any) *model.Error {
	e := model.Errorf(model.CodeBadUserInput, format, args...)
	e.Provider = p.id
	return e
}

// garbage reports an answer the adapter could not read.
func (p *Provider) garbage(endpoint string, err error) error {
	return providers.GarbageError(p.id, fmt.Errorf("%s: %w", endpoint, err))
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
