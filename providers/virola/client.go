package virola

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// newCaller sends every Web API call with the Bearer token, which it keeps
// out of logs and errors.
func newCaller(opts Options) *providers.Caller {
	token := opts.Token
	return &providers.Caller{
		Provider: opts.ID,
		BaseURL:  opts.BaseURL,
		Client:   opts.HTTPClient,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		},
		ErrorText: errorText,
		Redact:    []string{token},
		OnCall:    opts.OnCall,
	}
}

// errorText reads Virola's {errorText, httpStatusCode} error body; anything
// else is passed on raw (StatusError truncates it).
func errorText(body []byte) string {
	var e struct {
		ErrorText string `json:"errorText"`
	}
	if json.Unmarshal(body, &e) == nil && e.ErrorText != "" {
		return e.ErrorText
	}
	return string(body)
}

// Endpoints as the docs template them, for OnCall.
const (
	epStatus       = "/api/v1/status"
	epUsers        = "/api/v1/users"
	epRooms        = "/api/v1/rooms"
	epRoomMessages = "/api/v1/rooms/{roomId}/messages"
	epComments     = "/api/v1/messages/{messageId}/comments"
	epMessage      = "/api/v1/messages/{messageId}"
	epRead         = "/api/v1/messages/{messageId}/read"
	epEvents       = "/api/v1/events"
)

func (p *Provider) badCursor() error {
	return &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "the cursor is not one this provider made"}
}

// listQuery asks for one page of a message list.
type listQuery struct {
	cursor   int64 // 0: none
	limit    int   // 0: everything (the server's default)
	backward bool
}

func (q listQuery) encode() string {
	v := url.Values{}
	if q.cursor > 0 {
		v.Set("cursor", strconv.FormatInt(q.cursor, 10))
	}
	if q.limit > 0 {
		v.Set("limit", strconv.Itoa(q.limit))
	}
	if q.backward {
		v.Set("direction", "backward")
	} else {
		v.Set("direction", "forward")
	}
	return v.Encode()
}

// messageList is the answer of both list endpoints.
type messageList struct {
	RoomID   int64        `json:"roomId"`
	Messages []apiMessage `json:"messages"`
}

// comments lists one page of the comments under parent.
func (p *Provider) comments(ctx context.Context, parent int64, q listQuery) (*messageList, error) {
	var out messageList
	path := "/api/v1/messages/" + strconv.FormatInt(parent, 10) + "/comments?" + q.encode()
	if _, err := p.call.JSON(ctx, providers.Request{Method: http.MethodGet, Endpoint: epComments, Path: path}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// roomMessages lists one page of a room's top-level messages.
func (p *Provider) roomMessages(ctx context.Context, room int64, q listQuery) (*messageList, error) {
	var out messageList
	path := "/api/v1/rooms/" + strconv.FormatInt(room, 10) + "/messages?" + q.encode()
	if _, err := p.call.JSON(ctx, providers.Request{Method: http.MethodGet, Endpoint: epRoomMessages, Path: path}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// postComment posts content under parent. The answer is only a status — the
// docs' sample even has a trailing comma — so its body is not read.
func (p *Provider) postComment(ctx context.Context, parent int64, content string) error {
	path := "/api/v1/messages/" + strconv.FormatInt(parent, 10) + "/comments"
	_, err := p.call.Do(ctx, providers.Request{Method: http.MethodPost, Endpoint: epComments, Path: path,
		Body: map[string]string{"content": content}})
	return err
}

// deleteMessage deletes a room message or a comment. Like every write it
// answers only a status.
func (p *Provider) deleteMessage(ctx context.Context, id int64) error {
	_, err := p.call.Do(ctx, providers.Request{Method: http.MethodDelete, Endpoint: epMessage, Path: "/api/v1/messages/" + ref(id)})
	return err
}

// markMessageRead records the token's user's read receipt on a message. The
// docs send an empty JSON object.
func (p *Provider) markMessageRead(ctx context.Context, id int64) error {
	_, err := p.call.Do(ctx, providers.Request{Method: http.MethodPost, Endpoint: epRead, Path: "/api/v1/messages/" + ref(id) + "/read",
		Body: struct{}{}})
	return err
}

// myID is the userId the token acts as, from GET /status, fetched once.
func (p *Provider) myID(ctx context.Context) (int64, error) {
	p.mu.Lock()
	me := p.me
	p.mu.Unlock()
	if me != 0 {
		return me, nil
	}
	v, err, _ := p.flight.Do("status", func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it or stops it
		var st struct {
			UserID int64 `json:"userId"`
		}
		if _, err := p.call.JSON(ctx, providers.Request{Method: http.MethodGet, Endpoint: epStatus, Path: epStatus}, &st); err != nil {
			return int64(0), err
		}
		if st.UserID <= 0 {
			return int64(0), providers.GarbageError(p.opts.ID, errors.New("status names no userId"))
		}
		p.mu.Lock()
		p.me = st.UserID
		p.mu.Unlock()
		return st.UserID, nil
	})
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}
