// Package klink is the K-LINK (Klink CX) provider: comments in chat rooms.
//
// K-LINK has no user or room directory, no single-comment endpoint and no
// comment webhook. So users and rooms are learned from every payload that names
// them (comment senders and mentions, send-message answers, webhooks) into a
// providers.Directory; rooms to list come from config plus the ones learned;
// a comment is found by scanning its room's pages; and new comments are polled
// through ListComments. The comment list's order and pagination metadata are
// undocumented, so paging copes with newest-first and oldest-first lists, with
// and without the legacy {total, page, pageSize, lastPage} block.
package klink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Defaults and limits of Options.
const (
	DefaultName     = "K-LINK"
	DefaultPageSize = 50
	// MaxPageSize is the legacy Pagination guide's maximum.
	MaxPageSize     = 100
	DefaultMaxPages = 40
	maxRefLength    = 128
	rememberFor     = 10 * time.Minute
)

// Options configures a Provider.
type Options struct {
	// ID is the instance id; it is the ProviderID of everything returned.
	// Required.
	ID string
	// Name is the display name. Empty: "K-LINK".
	Name string
	// BaseURL is the API origin, e.g. "https://apigw.klinkcx.com"; paths start
	// with /api/v1/. Required.
	BaseURL string
	// Token is the personal access token (kpt_…), sent as a Bearer token.
	// Required.
	Token string
	// WebhookSecret is the webhook's signing secret. Empty: every webhook
	// delivery is refused.
	WebhookSecret string
	// Directory keeps the users and rooms payloads name. Nil: an in-memory one.
	Directory providers.Directory
	// Rooms are room ids known from config; K-LINK cannot list rooms, so
	// ListThreads lists these plus the rooms learned since start.
	Rooms []string
	// PageSize is the upstream pageSize of comment lists. 0: 50; at most 100.
	PageSize int
	// MaxPages bounds how many upstream pages one ListComments or GetComment
	// reads. 0: 40.
	MaxPages int
	// HTTPClient makes the calls. Nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives warnings and debug detail. Nil: discarded.
	Logger *slog.Logger
	// Now is the clock (webhook freshness). Nil: time.Now.
	Now func() time.Time
	// OnCall is told about every upstream exchange (metrics). Nil: nobody.
	OnCall func(providers.CallInfo)
}

// Provider is one K-LINK instance.
type Provider struct {
	opts   Options
	info   *model.Provider
	caller *providers.Caller
	log    *slog.Logger
	dir    providers.Directory
	scope  string

	mu      sync.Mutex
	rooms   []string // config rooms, then learned ones, in that order
	roomSet map[string]bool
	// remembered says when this process last saw a room in the Directory, so
	// naming it again without a name costs no Directory round trip for a
	// while (rememberFor: the Directory may expire entries, so not forever).
	remembered map[string]time.Time
}

var _ providers.Provider = (*Provider)(nil)

// New checks opts and builds a Provider. It makes no call.
func New(opts Options) (*Provider, error) {
	switch {
	case opts.ID == "":
		return nil, errors.New("klink: Options.ID is required")
	case opts.BaseURL == "":
		return nil, errors.New("klink: Options.BaseURL is required")
	case opts.Token == "":
		return nil, errors.New("klink: Options.Token is required")
	case opts.PageSize < 0 || opts.PageSize > MaxPageSize:
		return nil, fmt.Errorf("klink: Options.PageSize %d is outside 1..%d", opts.PageSize, MaxPageSize)
	case opts.MaxPages < 0:
		return nil, fmt.Errorf("klink: Options.MaxPages %d is negative", opts.MaxPages)
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxPages == 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.Directory == nil {
		opts.Directory = &providers.MemoryDirectory{}
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
	p := &Provider{
		opts: opts,
		info: &model.Provider{
			ID: opts.ID, Kind: model.ProviderKindKlink, Name: opts.Name,
			Capabilities: []model.Capability{
				model.CapabilityListComments, model.CapabilityCreateComment,
				model.CapabilityMentions, model.CapabilityListThreads,
			},
		},
		log:        opts.Logger.With("provider", opts.ID),
		dir:        opts.Directory,
		scope:      opts.ID + ":" + providers.Fingerprint(opts.Token),
		roomSet:    make(map[string]bool),
		remembered: make(map[string]time.Time),
	}
	p.caller = p.newCaller()
	for _, r := range opts.Rooms {
		if err := checkRef(opts.ID, "room", r); err != nil {
			return nil, fmt.Errorf("klink: Options.Rooms: %w", err)
		}
		p.addRoom(r)
	}
	return p, nil
}

// Info describes the instance.
func (p *Provider) Info() *model.Provider { return p.info }

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

// Thread checks a room reference and that the room exists (one cheap list call).
func (p *Provider) Thread(ctx context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	if err := p.checkThread(kind, ref); err != nil {
		return nil, err
	}
	if _, err := p.fetchPage(ctx, ref, 1, 1); err != nil {
		return nil, err
	}
	p.learnRoom(ctx, ref, "")
	return p.thread(ctx, ref), nil
}

func (p *Provider) checkThread(kind model.ThreadKind, ref string) error {
	if kind != model.ThreadKindRoom {
		return providers.Unsupported(p.opts.ID, fmt.Sprintf("thread kind %s", kind))
	}
	return checkRef(p.opts.ID, "room", ref)
}

func (p *Provider) thread(ctx context.Context, roomID string) *model.Thread {
	t := &model.Thread{ProviderID: p.opts.ID, Kind: model.ThreadKindRoom, Ref: roomID, RoomRef: roomID}
	rooms, err := p.dir.LookupRooms(ctx, p.scope, []string{roomID})
	if err != nil {
		p.log.Warn("klink: room directory look-up failed", "err", err)
	} else if r := rooms[roomID]; r != nil && r.Name != nil {
		t.Title = r.Name
	}
	return t
}

// ListThreads lists the configured rooms, then the ones learned, forward only.
// A cursor is the room id of the previous page's last edge.
func (p *Provider) ListThreads(ctx context.Context, page providers.Page) (*providers.ThreadPage, error) {
	if page.Last > 0 || page.Before != "" {
		return nil, providers.Unsupported(p.opts.ID, "listing threads backward")
	}
	if page.First <= 0 {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "first must be positive"}
	}
	p.mu.Lock()
	rooms := slices.Clone(p.rooms)
	p.mu.Unlock()
	start := 0
	if page.After != "" {
		i := slices.Index(rooms, page.After)
		if i < 0 {
			return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "after is not a cursor of this list"}
		}
		start = i + 1
	}
	end := min(start+page.First, len(rooms))
	names, err := p.dir.LookupRooms(ctx, p.scope, rooms[start:end])
	if err != nil {
		p.log.Warn("klink: room directory look-up failed", "err", err)
	}
	out := &providers.ThreadPage{HasNextPage: end < len(rooms)}
	for _, r := range rooms[start:end] {
		t := &model.Thread{ProviderID: p.opts.ID, Kind: model.ThreadKindRoom, Ref: r, RoomRef: r}
		if room := names[r]; room != nil {
			t.Title = room.Name
		}
		out.Edges = append(out.Edges, providers.ThreadEdge{Cursor: r, Thread: t})
	}
	return out, nil
}

// Users answers from the Directory: K-LINK has no user endpoint, so a user is
// known once a payload named them.
func (p *Provider) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	users, err := p.dir.LookupUsers(ctx, p.scope, refs)
	if err != nil {
		return nil, fmt.Errorf("klink: user directory: %w", err)
	}
	return users, nil
}

// Rooms answers from the Directory, like Users.
func (p *Provider) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	rooms, err := p.dir.LookupRooms(ctx, p.scope, refs)
	if err != nil {
		return nil, fmt.Errorf("klink: room directory: %w", err)
	}
	return rooms, nil
}

// addRoom adds a room id to the list ListThreads serves; false if it was there.
func (p *Provider) addRoom(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.roomSet[id] {
		return false
	}
	p.roomSet[id] = true
	p.rooms = append(p.rooms, id)
	return true
}

// learnUsers remembers users a payload named. Learning is best effort: a
// Directory failure is logged, never the caller's failure.
func (p *Provider) learnUsers(ctx context.Context, users []*model.User) {
	if len(users) == 0 {
		return
	}
	if err := p.dir.RememberUsers(ctx, p.scope, users); err != nil {
		p.log.Warn("klink: remembering users failed", "err", err)
	}
}

// learnRoom remembers a room a payload named, and lists it; it returns the
// room as now known, or nil when there is nothing new to tell. A payload that
// names the room without a name (a comment list, a send-message answer) does
// not overwrite a name learned before.
func (p *Provider) learnRoom(ctx context.Context, id, name string) *model.Room {
	if checkRef(p.opts.ID, "room", id) != nil {
		return nil
	}
	p.addRoom(id)
	room := &model.Room{ProviderID: p.opts.ID, Ref: id}
	now := p.opts.Now()
	p.mu.Lock()
	fresh := now.Sub(p.remembered[id]) < rememberFor
	p.mu.Unlock()
	if name == "" && fresh {
		return nil
	}
	if name != "" {
		room.Name = &name
	} else {
		known, err := p.dir.LookupRooms(ctx, p.scope, []string{id})
		if err != nil {
			p.log.Warn("klink: room directory look-up failed", "err", err)
			return room
		}
		if k := known[id]; k != nil {
			p.markRemembered(id, now)
			return k
		}
	}
	if err := p.dir.RememberRooms(ctx, p.scope, []*model.Room{room}); err != nil {
		p.log.Warn("klink: remembering room failed", "err", err)
		return room
	}
	p.markRemembered(id, now)
	return room
}

func (p *Provider) markRemembered(id string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remembered[id] = now
}

func init() { providers.Register("klink", build) }

// build is K-LINK's factory: the configured rooms are listed and polled
// (K-LINK has no room directory and documents no comment event).
func build(cfg providers.Config, deps providers.Deps) (*providers.Instance, error) {
	p, err := New(Options{
		ID: cfg.ID, Name: cfg.Name, BaseURL: cfg.BaseURL, Token: cfg.Token, WebhookSecret: cfg.WebhookSecret,
		Directory: deps.Directory, Rooms: cfg.Threads, HTTPClient: deps.HTTPClient, Logger: deps.Logger, OnCall: deps.OnCall,
	})
	if err != nil {
		return nil, err
	}
	inst := &providers.Instance{Provider: p, Webhook: func(ctx context.Context, h http.Header, body []byte) (*providers.Change, error) {
		ch, err := p.ReceiveWebhook(ctx, h, body)
		if err != nil {
			return nil, err
		}
		return &providers.Change{Key: ch.Key, Comments: ch.Comments, Users: ch.Users, Rooms: ch.Rooms, DeletedUsers: ch.DeletedUsers, DeletedRooms: ch.DeletedRooms}, nil
	}}
	for _, ref := range cfg.Threads {
		inst.Poll = append(inst.Poll, providers.PollThread{Kind: model.ThreadKindRoom, Ref: ref})
	}
	return inst, nil
}
