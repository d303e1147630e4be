package klink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Route templates, as the reference names them; they label metrics.
const (
	endpointComments    = "/api/v1/comments/rooms/{roomId}"
	endpointSendMessage = "/api/v1/messages/send"
)

// newCaller sets up the Caller every call goes through: the token as a
// Bearer token, K-LINK's error body read, and the secrets kept out of what is
// logged.
func (p *Provider) newCaller() *providers.Caller {
	return &providers.Caller{
		Provider: p.opts.ID,
		BaseURL:  strings.TrimRight(p.opts.BaseURL, "/"),
		Client:   p.opts.HTTPClient,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+p.opts.Token)
			return nil
		},
		ErrorText: p.errorText,
		// The token is redacted as the Authorization header sent; the
		// webhook secret should never come back, but costs nothing to hide.
		Redact: []string{p.opts.Token, p.opts.WebhookSecret},
		OnCall: p.opts.OnCall,
	}
}

// errorText reads K-LINK's error body, whose shape is undocumented: JSON with
// a message (string, or a list of strings, Nest-style) and maybe a requestId,
// or anything else. The token is never repeated back, whatever the upstream
// echoes.
func (p *Provider) errorText(body []byte) string {
	var e struct {
		Message   json.RawMessage `json:"message"`
		Error     json.RawMessage `json:"error"`
		RequestID string          `json:"requestId"`
	}
	text := ""
	if json.Unmarshal(body, &e) == nil {
		text = rawText(e.Message)
		if text == "" {
			text = rawText(e.Error)
		}
		if text != "" && e.RequestID != "" {
			text += " (requestId " + truncate(e.RequestID, 64) + ")"
		}
	}
	if text == "" {
		text = string(body)
	}
	return p.clean(text)
}

// clean makes upstream text fit for a log line or a client message: valid
// UTF-8, one line, bounded, and never holding the token.
func (p *Provider) clean(text string) string {
	// The token goes first, so truncation cannot leave a piece of it behind.
	text = strings.ReplaceAll(strings.ToValidUTF8(text, "?"), p.opts.Token, "[token]")
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	return truncate(strings.TrimSpace(text), 300)
}

// rawText is a JSON string, or the strings of a JSON array joined.
func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, "; ")
	}
	return ""
}

// fetchPage reads one upstream page of a room's comments.
func (p *Provider) fetchPage(ctx context.Context, roomID string, page, size int) (*commentList, error) {
	path := fmt.Sprintf("/api/v1/comments/rooms/%s?page=%d&pageSize=%d", url.PathEscape(roomID), page, size)
	resp, err := p.caller.Do(ctx, providers.Request{Method: http.MethodGet, Endpoint: endpointComments, Path: path})
	if err != nil {
		return nil, err
	}
	l, err := parseCommentList(resp.Body)
	if err != nil {
		return nil, providers.GarbageError(p.opts.ID, fmt.Errorf("GET %s: %w", endpointComments, err))
	}
	return l, nil
}

// checkRef refuses a reference that cannot be a K-LINK id in a URL path, before
// any call is made with it.
func checkRef(provider, what, ref string) error {
	bad := func(why string) error {
		return &model.Error{Code: model.CodeBadUserInput, Provider: provider,
			Message: fmt.Sprintf("%q is not a K-LINK %s id: %s", truncate(ref, 64), what, why)}
	}
	switch {
	case ref == "":
		return bad("empty")
	case len(ref) > maxRefLength:
		return bad(fmt.Sprintf("longer than %d bytes", maxRefLength))
	case strings.ContainsAny(ref, "/?#%\\"):
		return bad("it holds a URL delimiter")
	}
	for _, r := range ref {
		if r <= ' ' || r == 0x7f || r == '\uFFFD' || (r >= 0x80 && r <= 0x9f) || r == 0x85 || r == 0xa0 || r == 0x2028 || r == 0x2029 {
			return bad("it holds whitespace or a control character")
		}
	}
	if ref == "." || ref == ".." {
		return bad("it is a path segment")
	}
	return nil
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
