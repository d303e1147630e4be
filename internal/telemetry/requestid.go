package telemetry

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
)

// RequestIDHeader is the header a request id is read from and answered in.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen bounds an accepted request id; a longer one is replaced.
const MaxRequestIDLen = 128

type requestIDKey struct{}

// WithRequestID returns ctx carrying id, for RequestID and the log Handler.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request id ctx carries; "" if none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// AcceptRequestID returns the id a client (or a proxy before the gateway)
// sent, when it is fit to be logged and echoed: 1 to MaxRequestIDLen bytes of
// letters, digits and - _ . : + / =. Anything else (empty, too long, spaces,
// quotes, control characters, non-ASCII) is replaced by a new id, so a client
// can neither forge log lines nor bloat them.
func AcceptRequestID(sent string) string {
	if validRequestID(sent) {
		return sent
	}
	return NewRequestID()
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// NewRequestID is 128 random bits in hex: unique enough to find one request
// in the logs of every instance, and no secret (math/rand/v2's generator, not
// crypto/rand: a request id guards nothing).
func NewRequestID() string {
	var b [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(hi >> (8 * i))
		b[8+i] = byte(lo >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}
