package idempotency

// LoopRunning reports whether r's write-back loop is running.
func LoopRunning(r *Redis) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.looping
}
