package graphqlws

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Close codes this transport sends. The 44xx ones are graphql-transport-ws's
// (PROTOCOL.md); the legacy graphql-ws protocol defines none, so it gets the
// same ones.
const (
	// CloseInvalidMessage: a frame that is not a message of the protocol
	// (not JSON, unknown type, a subscribe without an id or with a payload
	// that is not a request).
	CloseInvalidMessage = 4400
	// CloseUnauthorized: subscribe before connection_ack.
	CloseUnauthorized = 4401
	// CloseForbidden: Options.Init refused the connection with an error that is
	// not a CloseError.
	CloseForbidden = 4403
	// CloseInitTimeout: no connection_init within Options.InitTimeout.
	CloseInitTimeout = 4408
	// CloseDuplicateID: a subscribe whose id is already in use on the socket.
	CloseDuplicateID = 4409
	// CloseTooManyRequests: a second connection_init (reason "Too many
	// initialisation requests"), or a slow consumer (reason "slow consumer"):
	// a socket that fell Options.MaxQueued frames behind. Both are the
	// client asking for more than the server will give it.
	CloseTooManyRequests = 4429
)

// CloseError is what Options.Init returns to refuse a connection with a
// particular close code, e.g. CloseError{4401, "unauthorized"}. Reason is
// sent to the client, so it must not hold anything secret.
type CloseError struct {
	Code   int
	Reason string
}

func (e CloseError) Error() string { return fmt.Sprintf("websocket close %d: %s", e.Code, e.Reason) }

// Options configure a Transport. Every field is optional.
type Options struct {
	// Init checks connection_init's payload (nil when the client sent none)
	// and returns the context every operation of the socket runs with. An
	// error closes the socket: with its code and reason when it is a
	// CloseError, else with 4403 "Forbidden". Nil: every socket is accepted.
	Init func(ctx context.Context, payload map[string]any) (context.Context, error)
	// Expires is when the credential the socket was accepted with (Init's
	// context) stops being valid, say a JWT's exp; the socket is then
	// closed with 4401, so the client reconnects with a fresh one rather
	// than go on receiving on a lapsed credential. Nil, or a zero time:
	// never.
	Expires func(ctx context.Context) time.Time
	// InitTimeout is how long a socket may go without connection_init before
	// it is closed with 4408. 0: 10 s. -1: no limit.
	InitTimeout time.Duration
	// KeepAlive is the interval of the server's keep-alive message ("ping"
	// on graphql-transport-ws, "ka" on graphql-ws). 0: 15 s. -1: none.
	KeepAlive time.Duration
	// AllowedOrigins are the origins besides the server's own that an
	// upgrade's Origin header may name; others are refused with 403. An
	// entry is scheme://host[:port], e.g. "https://app.example.com" or
	// "http://localhost:3000", and admits exactly that scheme, host and port
	// (no port: the scheme's default). The host may be a path.Match pattern:
	// "https://*.example.com" admits every https subdomain on port 443. An
	// entry without a scheme is https only: "app.example.com" admits
	// https://app.example.com, not http://app.example.com (a page served over
	// plain http can be anyone's on the way). Entries are case-insensitive;
	// one that is not an http(s) origin admits nothing and is logged by New.
	//
	// A request with no Origin (not a browser) is always allowed, and so is
	// one whose Origin is the request's own scheme and Host. The scheme is
	// https when the request came over TLS or its X-Forwarded-Proto header
	// says https (the TLS-terminating proxy's view). Trusting that header is
	// safe here: a browser cannot set it on a WebSocket upgrade, and a client
	// that can set headers can set Origin too, so it only lets a proxied
	// https page in and keeps a plain-http page on the same host out.
	AllowedOrigins []string
	// MaxSubscriptionsPerConnection caps the operations one socket runs at
	// once; over it, the new one gets an "error" with extensions.code
	// BAD_USER_INPUT. 0: no cap.
	MaxSubscriptionsPerConnection int
	// ReadLimit is the largest message a client may send, in bytes; a larger
	// one closes the socket with 1009. 0: 64 KiB.
	ReadLimit int64
	// WriteTimeout bounds each frame written to a socket; a write that fails
	// or does not finish in time closes the socket. 0: 5 s.
	WriteTimeout time.Duration
	// MaxQueued is how many frames may wait for a socket while one is being
	// written to it. One more and the socket is a slow consumer: what it has
	// not been sent is dropped and it is closed with 4429 "slow consumer".
	// AwaitRoom (a replay) waits while more than half of it wait. 0: 64.
	MaxQueued int
	// Writers is how many goroutines at most write frames to sockets at once
	// (they start when there is something to write and end when there is
	// not). A writer blocked on a slow consumer is held up to WriteTimeout,
	// so there are more writers than cores. 0: 2×GOMAXPROCS, at least 8.
	Writers int
	// Key names the identity of a socket's context (after Init) for sharing:
	// subscriptions with the same Key, document, operation name, variables
	// and extensions share one execution and its output. It must tell apart
	// every two contexts the resolvers may answer differently (the gateway
	// passes its API key fingerprint). Nil: nothing is shared.
	Key func(ctx context.Context) string
	// ResumeArgument names the argument that resumes a subscription from a
	// point (every subscriber with it needs its own replay). An operation
	// whose document mentions it, or any operation of a socket whose upgrade
	// carried a Last-Event-ID header, runs on its own. "": "since".
	ResumeArgument string
	// OnSubscribe and OnUnsubscribe are called once for each socket
	// subscription as it starts receiving events (the resolver has
	// subscribed) and as it ends, whatever ends it. Queries and mutations
	// sent over a socket are not counted. Nil: not called.
	OnSubscribe, OnUnsubscribe func()
	// Logger receives one line per socket closed for a reason worth knowing
	// (slow consumer, write failure). Nil: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.InitTimeout == 0 {
		o.InitTimeout = 10 * time.Second
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 64 << 10
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 64
	}
	if o.Writers <= 0 {
		o.Writers = max(8, 2*runtime.GOMAXPROCS(0))
	}
	if o.ResumeArgument == "" {
		o.ResumeArgument = "since"
	}
	if o.OnSubscribe == nil {
		o.OnSubscribe = func() {}
	}
	if o.OnUnsubscribe == nil {
		o.OnUnsubscribe = func() {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
