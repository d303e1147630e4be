// Package virola adapts a self-hosted Virola Messenger server's Web API to
// commentgraph. A thread is a top-level room message (ThreadKind MESSAGE, ref =
// its messageId); its comments are the message's child messages.
//
// Virola's writes return no id, mentions have no syntax of their own, and new
// messages are pushed over an events WebSocket. So CreateComment reads the new
// comment back, mentions are plain "@displayName" text recognised against the
// user list on every read, and Stream turns the WebSocket into Changes,
// catching up through the comments endpoint after every reconnect.
//
// Past creation a comment can be deleted and marked read (providers.Deleter,
// providers.ReadMarker); Virola documents no edit, so there is no Editor.
package virola

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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
	// again at once. 0: 30 s. Negative: never reused, every read fetches
	// them.
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
	// backoff, which doubles from min to max, each wait randomised by ±50 %
	// (providers.Backoff) so instances cut off together do not return
	// together. 0: 1 s and 30 s, as the reference client does. A max below
	// min is raised to min.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// PingInterval is how often the events stream pings; a connection silent
	// for two intervals is dropped and reconnected. 0: 30 s.
	PingInterval time.Duration
	// MaxTracked bounds how many threads the events stream remembers a last
	// seen comment for (to catch up after a reconnect). 0: 10 000.
	MaxTracked int
	// MaxKnown bounds how many comment ids the events stream remembers, by
	// thread, from what it emitted, so that a thread deleted upstream (its
	// parent message or its room; Virola sends no frame per comment) is
	// told as a DELETED for each of them. Past it the least recently active
	// threads are forgotten. 0: 100 000.
	MaxKnown int
}

// Provider is one Virola instance. It is safe for concurrent use.
type Provider struct {
	opts Options
	info *model.Provider
	call *providers.Caller
	log  *slog.Logger

	flight singleflight.Group

	mu     sync.Mutex
	users  *userList
	rooms  *roomList
	me     int64 // the token's userId; 0 until known
	titles map[int64]threadInfo

	track tracker
	known known
}

var _ providers.Provider = (*Provider)(nil)

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
	setDefault(&opts.MaxKnown, 100_000)
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = opts.ReconnectMin
	}
	p := &Provider{
		opts:   opts,
		log:    opts.Logger.With("provider", opts.ID),
		titles: make(map[int64]threadInfo),
		info: &model.Provider{
			ID: opts.ID, Kind: model.ProviderKindVirola, Name: opts.Name,
			Capabilities: []model.Capability{
				model.CapabilityListComments, model.CapabilityCreateComment, model.CapabilityMentions,
				model.CapabilityAttachments, model.CapabilityReadReceipts, model.CapabilityUserDirectory,
				model.CapabilityListThreads, model.CapabilityPushEvents,
				model.CapabilityDeleteComments, model.CapabilityMarkRead,
			},
		},
		call: newCaller(opts),
	}
	p.track.init(opts.MaxTracked)
	p.known.init(opts.MaxKnown)
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

func init() { providers.Register("virola", build) }

// build is Virola's factory: comments arrive through the events stream, which
// every instance follows (the bus publishes each comment once); the
// configured threads are watched for catch-up after a reconnect, which keeps
// to deps.CatchUp and tells deps.OnCatchUpDropped what it left out.
func build(cfg providers.Config, deps providers.Deps) (*providers.Instance, error) {
	p, err := New(Options{
		ID: cfg.ID, Name: cfg.Name, BaseURL: cfg.BaseURL, Token: cfg.Token,
		HTTPClient: deps.HTTPClient, Logger: deps.Logger, OnCall: deps.OnCall,
	})
	if err != nil {
		return nil, err
	}
	b := deps.CatchUp
	cu := CatchUpOptions{Rooms: b.Rooms, Messages: b.Messages, Threads: b.Threads, Comments: b.Comments}
	if f := deps.OnCatchUpDropped; f != nil {
		cu.OnDropped = func(d CatchUpDropped) {
			f(cfg.ID, providers.CatchUpDropped{Rooms: d.Rooms, Messages: d.PartialRooms, Threads: d.Threads, Comments: d.Comments, Failed: d.Failed})
		}
	}
	p.SetCatchUp(cu)
	for _, ref := range cfg.Threads {
		p.Watch(ref)
	}
	return &providers.Instance{Provider: p, Stream: p.Stream}, nil
}
