// Package virola adapts a self-hosted Virola Messenger server's Web API to
// commentgraph. A thread is a top-level room message (ThreadKind MESSAGE, ref =
// its messageId); its comments are the message's child messages.
//
// Virola's writes return no id, mentions have no syntax of their own, and new
// messages are pushed over an events WebSocket. So CreateComment reads the new
// comment back, mentions are plain "@displayName" text recognised against the
// user list on every read, and Stream turns the WebSocket into Changes,
// catching up through the comments endpoint after every reconnect.
package virola

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Options configures a Virola instance. Zero values take the defaults named.
type Options struct {
	// ID is the instance id; it is in every object's ProviderID. Required.
	ID string
	// Name is the display name. Empty: "Virola".
	Name string
	// BaseURL is the server origin, e.g. "https://virola.example.com:7777";
	// paths /api/v1/… are appended. Required.
	BaseURL string
	// Token is the Bearer Web API access token; the gateway acts as its user.
	// Required. It never appears in logs or errors.
	Token string
	// HTTPClient sends every request. Nil: a client with a 10 s timeout. Its
	// transport's TLS settings (a self-signed server certificate, say) are
	// reused for the events WebSocket.
	HTTPClient *http.Client
	// Logger receives warnings (events stream trouble). Nil: discard.
	Logger *slog.Logger
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// OnCall is told about every upstream exchange (metrics). Nil: nothing.
	OnCall func(providers.CallInfo)

	// DirectoryTTL is how long the user and room lists are reused before they
	// are fetched again; a look-up of a ref missing from the list fetches it
	// again at once. 0: 30 s.
	DirectoryTTL time.Duration
	// ReadBackTries is how many times CreateComment lists the thread to find
	// the comment it posted (Virola returns no id). 0: 5.
	ReadBackTries int
	// ReadBackWait is the pause between those tries. 0: 200 ms.
	ReadBackWait time.Duration
	// ThreadScan is how many recent messages per room ListThreads looks at for
	// each page. 0: 100.
	ThreadScan int
	// ThreadRooms bounds how many rooms ListThreads reads. 0: 50.
	ThreadRooms int

	// ReconnectMin and ReconnectMax bound the events stream's reconnect
	// backoff, which doubles from min to max. 0: 1 s and 30 s, as the
	// reference client does.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// PingInterval is how often the events stream pings; a connection silent
	// for two intervals is dropped and reconnected. 0: 30 s.
	PingInterval time.Duration
	// MaxTracked bounds how many threads the events stream remembers a last
	// seen comment for (to catch up after a reconnect). 0: 10 000.
	MaxTracked int
}

// Provider is one Virola instance. It is safe for concurrent use.
type Provider struct {
	opts   Options
	info   *model.Provider
	call   *providers.Caller
	client *http.Client
	log    *slog.Logger

	flight singleflight.Group

	mu     sync.Mutex
	users  *userList
	rooms  *roomList
	me     int64 // the token's userId; 0 until known
	titles map[int64]threadInfo

	track tracker
}

var _ providers.Provider = (*Provider)(nil)

// threadInfo is what is known of a parent message without fetching it (Virola
// has no get-one-message endpoint).
type threadInfo struct {
	room  int64
	title string
}

// maxTitles bounds the remembered parent message titles.
const maxTitles = 10_000

// New checks opts and builds the provider. It makes no call.
func New(opts Options) (*Provider, error) {
	if opts.ID == "" {
		return nil, errors.New("virola: ID is required")
	}
	if opts.Token == "" {
		return nil, errors.New("virola: Token is required")
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("virola: BaseURL %q is not an http(s) origin", opts.BaseURL)
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.Name == "" {
		opts.Name = "Virola"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	setDefault(&opts.DirectoryTTL, 30*time.Second)
	setDefault(&opts.ReadBackTries, 5)
	setDefault(&opts.ReadBackWait, 200*time.Millisecond)
	setDefault(&opts.ThreadScan, 100)
	setDefault(&opts.ThreadRooms, 50)
	setDefault(&opts.ReconnectMin, time.Second)
	setDefault(&opts.ReconnectMax, 30*time.Second)
	setDefault(&opts.PingInterval, 30*time.Second)
	setDefault(&opts.MaxTracked, 10_000)
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = opts.ReconnectMin
	}
	token := opts.Token
	p := &Provider{
		opts:   opts,
		client: opts.HTTPClient,
		log:    opts.Logger.With("provider", opts.ID),
		titles: make(map[int64]threadInfo),
		info: &model.Provider{
			ID: opts.ID, Kind: model.ProviderKindVirola, Name: opts.Name,
			Capabilities: []model.Capability{
				model.CapabilityListComments, model.CapabilityCreateComment, model.CapabilityMentions,
				model.CapabilityAttachments, model.CapabilityReadReceipts, model.CapabilityUserDirectory,
				model.CapabilityListThreads, model.CapabilityPushEvents,
			},
		},
		call: &providers.Caller{
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
		},
	}
	p.track.init(opts.MaxTracked)
	return p, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Info describes the instance.
func (p *Provider) Info() *model.Provider { return p.info }

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
	epEvents       = "/api/v1/events"
)

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

// userList is one fetch of GET /users, mapped.
type userList struct {
	fetched time.Time
	byRef   map[string]*model.User
	names   *nameIndex
}

// userDirectory returns the user list, fetching it when it is older than
// DirectoryTTL or lacks one of need. When a fetch fails an older list is used
// if there is one, since mentions and names from a minute ago beat no comments.
func (p *Provider) userDirectory(ctx context.Context, need ...string) (*userList, error) {
	p.mu.Lock()
	cur := p.users
	p.mu.Unlock()
	if cur != nil && p.opts.Now().Sub(cur.fetched) < p.opts.DirectoryTTL && hasAll(cur.byRef, need) {
		return cur, nil
	}
	v, err, _ := p.flight.Do("users", func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it or stops it
		var body struct {
			Users []apiUser `json:"users"`
		}
		if _, err := p.call.JSON(ctx, providers.Request{Method: http.MethodGet, Endpoint: epUsers, Path: epUsers}, &body); err != nil {
			return nil, err
		}
		l := p.mapUsers(body.Users)
		p.mu.Lock()
		p.users = l
		p.mu.Unlock()
		return l, nil
	})
	if err != nil {
		if cur != nil {
			p.log.Warn("virola: user list refresh failed; using the previous one", "err", err)
			return cur, nil
		}
		return nil, err
	}
	return v.(*userList), nil
}

// roomList is one fetch of GET /rooms, mapped.
type roomList struct {
	fetched time.Time
	rooms   []apiRoom
	byRef   map[string]*model.Room
}

// roomDirectory returns the caller's rooms, like userDirectory.
func (p *Provider) roomDirectory(ctx context.Context, need ...string) (*roomList, error) {
	p.mu.Lock()
	cur := p.rooms
	p.mu.Unlock()
	if cur != nil && p.opts.Now().Sub(cur.fetched) < p.opts.DirectoryTTL && hasAll(cur.byRef, need) {
		return cur, nil
	}
	v, err, _ := p.flight.Do("rooms", func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it or stops it
		var body struct {
			Rooms []apiRoom `json:"rooms"`
		}
		if _, err := p.call.JSON(ctx, providers.Request{Method: http.MethodGet, Endpoint: epRooms, Path: epRooms}, &body); err != nil {
			return nil, err
		}
		l := &roomList{fetched: p.opts.Now(), rooms: body.Rooms, byRef: make(map[string]*model.Room, len(body.Rooms))}
		for i := range body.Rooms {
			r := p.toRoom(&body.Rooms[i])
			l.byRef[r.Ref] = r
		}
		p.mu.Lock()
		p.rooms = l
		p.mu.Unlock()
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*roomList), nil
}

// forgetRooms drops the cached room list, after the events stream said a room
// changed.
func (p *Provider) forgetRooms() {
	p.mu.Lock()
	p.rooms = nil
	p.mu.Unlock()
}

func hasAll[V any](m map[string]V, refs []string) bool {
	for _, r := range refs {
		if _, ok := m[r]; !ok {
			return false
		}
	}
	return true
}

// wait pauses d or until ctx is done.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
