package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Redis is a Store shared by every gateway instance on one Redis.
//
// When Redis fails it never posts blind; it decides by what this process
// knows. A key Redis has shown this process nothing about is created once and
// recorded in process (Memory's logic: duplicates on this instance wait for
// the first and get its comment): refusing every comment for the length of an
// outage would cost more than the rare retry that reaches another instance
// during it. A key whose Redis state this process touched without learning
// the outcome is refused with RETRY_LATER until Redis answers: after a SETNX
// that failed in a way that may have landed (a timeout or a dropped
// connection; a failed dial or an error reply proves it did not), or after
// any failure once Redis showed a record for the key (a claim pending
// elsewhere). Redis will know that key's outcome, so a retry then is decided
// exactly, where a post now could be the second. A key this process posted or
// saw done within Remember is answered from process memory, Redis up or down.
//
// While Redis is down, new keys skip it rather than each wait for a timeout.
// A background loop tries Redis every ProbeInterval; when it answers, the loop
// deletes this process's claims on refused keys, writes each key recorded in
// process back as a done record (where Redis has none, or only this process's
// own stale claim; a different record is kept, since other instances may have
// answered with it, and logged), and only then returns every key to Redis.
// Close stops the loop.
type Redis struct {
	Client redis.UniversalClient
	// Retention is how long a result is remembered. Default 24h.
	Retention time.Duration
	// PendingTTL bounds how long a claimed-but-unfinished key blocks others (a
	// crashed instance's claim expires). Default 2m.
	PendingTTL time.Duration
	// PollInterval is how often a second caller checks a pending key. Default 50ms.
	PollInterval time.Duration
	// Remember is how long this process also keeps a result it decided
	// through Redis, so that a retry on this instance costs no round trip and
	// is still answered if Redis fails. 0: 2m; -1: not kept.
	Remember time.Duration
	// ProbeInterval is how often, while Redis is failing, the store checks
	// whether it is back and writes back what it recorded in process.
	// Default 1s.
	ProbeInterval time.Duration
	// Logger receives the outage's start and end and any conflict found on
	// write-back (never a comment's text). Default slog.Default().
	Logger *slog.Logger

	local    Memory // in-flight keys, remembered results, keys recorded in process
	down     atomic.Bool
	calls    atomic.Uint64
	initOnce sync.Once
	instance string // prefix of every claim's owner: tells this process's claims apart

	mu          sync.Mutex
	failures    uint64              // Redis failures seen; a write-back pass that saw one is not a recovery
	unknown     map[string]struct{} // keys refused until Redis answers
	claims      map[string]string   // key → owner of a claim of ours to delete once Redis answers
	pending     []*inProcessRecord  // keys created in process, to write back
	writtenBack []*inProcessRecord  // written back; r.local forgets them when Redis decides every key again
	written     int                 // records written back in this outage
	looping     bool
	closed      bool
	cancelLoop  context.CancelFunc
	loops       sync.WaitGroup
}

// retryAfter is the RETRY_LATER hint: a few default probe intervals, so a
// retry after a blip finds Redis back, without holding a client long.
const retryAfter = 3 * time.Second

// loopCallTimeout bounds each of the background loop's Redis calls.
const loopCallTimeout = 2 * time.Second

type redisRecord struct {
	State       string         `json:"s"` // "pending" or "done"
	Owner       string         `json:"o,omitempty"`
	Fingerprint string         `json:"f"`
	Comment     *model.Comment `json:"c,omitempty"`
}

type inProcessRecord struct {
	key, fingerprint string
	comment          *model.Comment
	expires          time.Time
}

func redisKey(key string) string { return "cg:v1:idem:" + key }

// release deletes the claim only if it is still ours.
var release = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.find(v, ARGV[1], 1, true) then return redis.call('DEL', KEYS[1]) end
return 0`)

// writeBack stores a done record (ARGV[1], for ARGV[2] ms) where the key has
// no record or a pending claim whose owner starts with ARGV[3] (this
// process's own, left by a create whose result it could not store). It
// returns 1, or the record it left in place.
var writeBack = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local ok, rec = pcall(cjson.decode, v)
  if not (ok and type(rec) == 'table' and rec.s == 'pending' and type(rec.o) == 'string'
      and string.sub(rec.o, 1, #ARGV[3]) == ARGV[3]) then
    return v
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

type redisOptions struct {
	retention, pendingTTL, poll, remember, probe time.Duration
}

func (r *Redis) options() redisOptions {
	o := redisOptions{r.Retention, r.PendingTTL, r.PollInterval, r.Remember, r.ProbeInterval}
	if o.retention <= 0 {
		o.retention = 24 * time.Hour
	}
	if o.pendingTTL <= 0 {
		o.pendingTTL = 2 * time.Minute
	}
	if o.poll <= 0 {
		o.poll = 50 * time.Millisecond
	}
	switch {
	case o.remember == 0:
		o.remember = 2 * time.Minute
	case o.remember < 0:
		o.remember = 0
	}
	if o.probe <= 0 {
		o.probe = time.Second
	}
	return o
}

func (r *Redis) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// instanceID names this process among those sharing the Redis.
func (r *Redis) instanceID() string {
	r.initOnce.Do(func() {
		var b [8]byte
		_, _ = rand.Read(b[:])
		r.instance = hex.EncodeToString(b[:])
	})
	return r.instance
}

// owner names one claim: the instance, then a counter (fixed width, so no
// owner is a prefix of another).
func (r *Redis) owner() string {
	return fmt.Sprintf("%s.%016x", r.instanceID(), r.calls.Add(1))
}

// Do implements Store.
func (r *Redis) Do(ctx context.Context, key, fingerprint string, create func(context.Context) (*model.Comment, error)) (*model.Comment, error) {
	o := r.options()
	var inProcess bool
	c, err := r.local.do(ctx, key, fingerprint, func(ctx context.Context) (*model.Comment, time.Duration, error) {
		return r.decide(ctx, o, key, fingerprint, create, &inProcess)
	})
	if err == nil && inProcess {
		// Only now, with the comment in r.local for this instance's retries.
		r.recordForWriteBack(&inProcessRecord{key: key, fingerprint: fingerprint, comment: c, expires: time.Now().Add(o.retention)})
	}
	return c, err
}

// decide runs for one caller per key at a time (r.local sees to that) and
// returns the comment and how long r.local keeps it. It sets *inProcess when
// the result is only in process and must be written back.
func (r *Redis) decide(ctx context.Context, o redisOptions, key, fingerprint string, create func(context.Context) (*model.Comment, error), inProcess *bool) (*model.Comment, time.Duration, error) {
	if r.down.Load() {
		if r.refused(key) {
			return nil, 0, retryLater(nil)
		}
		return createInProcess(ctx, o, create, inProcess)
	}
	rk := redisKey(key)
	owner := r.owner()
	claim, _ := json.Marshal(redisRecord{State: "pending", Owner: owner, Fingerprint: fingerprint})
	seen := false // Redis has shown a record for the key: only Redis knows its outcome
	for {
		ok, err := r.Client.SetNX(ctx, rk, claim, o.pendingTTL).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			if !seen && notApplied(err) {
				r.failed(err)
				return createInProcess(ctx, o, create, inProcess)
			}
			r.refuse(err, key, owner)
			return nil, 0, retryLater(err)
		}
		if ok {
			c, err := create(ctx)
			if err != nil {
				if rerr := release.Run(context.WithoutCancel(ctx), r.Client, []string{rk}, owner).Err(); rerr != nil {
					r.failedRelease(rerr, key, owner)
				}
				return nil, 0, err
			}
			done, _ := json.Marshal(redisRecord{State: "done", Fingerprint: fingerprint, Comment: c})
			if err := r.Client.Set(context.WithoutCancel(ctx), rk, done, o.retention).Err(); err != nil {
				// Posted, but only this process knows: keep it and write it
				// back over our own claim.
				r.failed(err)
				*inProcess = true
				return c, o.retention, nil
			}
			return c, o.remember, nil
		}
		seen = true
		raw, err := r.Client.Get(ctx, rk).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // released or expired between our SETNX and GET
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			r.refuse(err, key, "")
			return nil, 0, retryLater(err)
		}
		var rec redisRecord
		if json.Unmarshal(raw, &rec) != nil {
			return nil, 0, fmt.Errorf("idempotency: unreadable record for a key")
		}
		if rec.Fingerprint != fingerprint {
			return nil, 0, errReused
		}
		if rec.State == "done" && rec.Comment != nil {
			return rec.Comment, o.remember, nil
		}
		t := time.NewTimer(o.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, 0, ctx.Err()
		case <-t.C:
		}
	}
}

func createInProcess(ctx context.Context, o redisOptions, create func(context.Context) (*model.Comment, error), inProcess *bool) (*model.Comment, time.Duration, error) {
	c, err := create(ctx)
	if err != nil {
		return nil, 0, err
	}
	*inProcess = true
	return c, o.retention, nil
}

func retryLater(cause error) error {
	return &model.Error{
		Code:       model.CodeRetryLater,
		Message:    "this clientMutationId cannot be checked right now; send the same request again shortly",
		RetryAfter: retryAfter,
		Err:        cause,
	}
}

// notApplied reports whether err proves that Redis did not apply the
// command: the dial failed, no connection was free, the client is closed, or
// Redis answered with an error. Anything else (a timeout, a dropped
// connection) may have come after Redis applied it.
func notApplied(err error) bool {
	var op *net.OpError
	var reply redis.Error
	return errors.As(err, &op) && op.Op == "dial" ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) ||
		errors.Is(err, redis.ErrClosed) ||
		errors.As(err, &reply)
}
