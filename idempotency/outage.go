package idempotency

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// The Redis store while Redis fails: the keys it refuses, the records it
// keeps in process, and the loop that writes them back once Redis answers.

// failed records a Redis failure: new keys are decided in process until the
// loop sees Redis answer.
func (r *Redis) failed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failedLocked(err)
}

// refuse records a Redis failure that leaves key undecidable: it is refused
// until Redis answers. owner, when set, names a claim of ours that may have
// landed; the loop deletes it first.
func (r *Redis) refuse(err error, key, owner string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unknown == nil {
		r.unknown = make(map[string]struct{})
	}
	r.unknown[key] = struct{}{}
	if owner != "" {
		r.addClaimLocked(key, owner)
	}
	r.failedLocked(err)
}

// failedRelease records a claim of ours that could not be released after a
// failed create, so the loop deletes it rather than let it hold the key
// until PendingTTL.
func (r *Redis) failedRelease(err error, key, owner string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addClaimLocked(key, owner)
	r.failedLocked(err)
}

func (r *Redis) addClaimLocked(key, owner string) {
	if r.claims == nil {
		r.claims = make(map[string]string)
	}
	r.claims[key] = owner
}

func (r *Redis) failedLocked(err error) {
	r.failures++
	if !r.down.Swap(true) {
		r.written = 0
		r.logger().Warn("idempotency: Redis failed; deciding new keys in process until it answers", "err", err)
	}
	r.startLoopLocked()
}

// refused reports whether key waits for Redis to answer.
func (r *Redis) refused(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.unknown[key]
	return ok
}

// recordForWriteBack queues a comment created in process (already in
// r.local) to be written to Redis.
func (r *Redis) recordForWriteBack(p *inProcessRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, p)
	r.startLoopLocked()
}

// startLoopLocked starts the write-back loop unless it runs or r is closed.
// The loop ends once Redis is back and nothing is left to write.
func (r *Redis) startLoopLocked() {
	if r.looping || r.closed {
		return
	}
	r.looping = true
	ctx, cancel := context.WithCancel(context.Background())
	r.cancelLoop = cancel
	r.loops.Add(1)
	go r.loop(ctx, cancel, r.options().probe)
}

func (r *Redis) loop(ctx context.Context, cancel context.CancelFunc, every time.Duration) {
	defer r.loops.Done()
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Only Close cancels a running loop, and no loop starts after it.
			r.mu.Lock()
			r.looping = false
			r.mu.Unlock()
			return
		case <-t.C:
		}
		if r.writeBackPass(ctx) {
			return
		}
	}
}

// writeBackPass is one try at recovery. If Redis answers, it deletes our
// claims on refused keys and writes back the records kept in process; then,
// if no Redis failure and no new record came meanwhile, every key goes back
// to Redis, r.local forgets the records written, and the loop is done (its
// looping flag cleared under the same lock, so a later failure starts a new
// one).
func (r *Redis) writeBackPass(ctx context.Context) bool {
	r.mu.Lock()
	failures := r.failures
	claims := maps.Clone(r.claims)
	pending := slices.Clone(r.pending)
	r.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, loopCallTimeout)
	err := r.Client.Ping(cctx).Err()
	cancel()
	if err != nil {
		return false
	}
	for key, owner := range claims {
		cctx, cancel := context.WithTimeout(ctx, loopCallTimeout)
		err := release.Run(cctx, r.Client, []string{redisKey(key)}, owner).Err()
		cancel()
		if err != nil {
			return false
		}
		r.mu.Lock()
		if r.claims[key] == owner {
			delete(r.claims, key)
		}
		r.mu.Unlock()
	}
	for _, p := range pending {
		if err := r.writeBackOne(ctx, p); err != nil {
			return false
		}
		r.mu.Lock()
		r.pending = slices.DeleteFunc(r.pending, func(q *inProcessRecord) bool { return q == p })
		// r.local keeps answering the key until every key goes back to
		// Redis: forgetting it while new keys are still decided in process
		// would let a retry post again.
		r.writtenBack = append(r.writtenBack, p)
		r.written++
		r.mu.Unlock()
	}

	r.mu.Lock()
	if r.failures != failures || len(r.pending) > 0 || len(r.claims) > 0 {
		r.mu.Unlock()
		return false
	}
	if r.down.Swap(false) {
		r.logger().Info("idempotency: Redis answers again; deciding every key there", "written_back", r.written)
	}
	clear(r.unknown)
	forget := r.writtenBack
	r.writtenBack = nil
	r.looping = false
	r.mu.Unlock()
	for _, p := range forget {
		r.local.forget(p.key, p.comment)
	}
	return true
}

// writeBackOne stores p as a done record where Redis has none (or only a
// stale claim of this process's) and logs any other record it finds there.
func (r *Redis) writeBackOne(ctx context.Context, p *inProcessRecord) error {
	ttl := time.Until(p.expires)
	if ttl < time.Millisecond {
		return nil // expired: nothing to keep
	}
	done, _ := json.Marshal(redisRecord{State: "done", Fingerprint: p.fingerprint, Comment: p.comment})
	cctx, cancel := context.WithTimeout(ctx, loopCallTimeout)
	defer cancel()
	res, err := writeBack.Run(cctx, r.Client, []string{redisKey(p.key)}, done, ttl.Milliseconds(), r.instanceID()+".").Result()
	if err != nil {
		return err
	}
	if held, ok := res.(string); ok && held != string(done) {
		r.reportConflict(p, held)
	}
	return nil
}

// reportConflict logs a record Redis holds for a key this process created in
// process, unless it names the same comment.
func (r *Redis) reportConflict(p *inProcessRecord, held string) {
	var rec redisRecord
	_ = json.Unmarshal([]byte(held), &rec)
	if rec.State == "done" && rec.Fingerprint == p.fingerprint && rec.Comment != nil && rec.Comment.ID() == p.comment.ID() {
		return
	}
	attrs := []any{"key", p.key, "redis_state", rec.State, "same_request", rec.Fingerprint == p.fingerprint,
		"provider", p.comment.ProviderID, "comment", p.comment.ID()}
	if rec.Comment != nil {
		attrs = append(attrs, "redis_comment", rec.Comment.ID())
	}
	r.logger().Warn("idempotency: a key created in process while Redis failed has another record in Redis; kept that one (the comment may have been posted twice)", attrs...)
}

// Close stops the write-back loop and waits for it to end, then makes one
// last bounded try at writing back what is still kept only in process. Do keeps
// working after Close, without write-back. Close does not close Client.
func (r *Redis) Close() error {
	r.mu.Lock()
	r.closed = true
	if r.looping {
		r.cancelLoop()
	}
	r.mu.Unlock()
	r.loops.Wait()

	r.mu.Lock()
	left := len(r.pending) + len(r.claims)
	r.mu.Unlock()
	if left == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), loopCallTimeout)
	defer cancel()
	r.writeBackPass(ctx)
	r.mu.Lock()
	left = len(r.pending)
	r.mu.Unlock()
	if left > 0 {
		r.logger().Warn("idempotency: closed with keys known only to this process", "keys", left)
	}
	return nil
}
