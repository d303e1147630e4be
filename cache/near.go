package cache

import (
	"context"

	"github.com/commentgraph/commentgraph/graph/model"
)

// nearThread answers a thread look-up from the in-process entries kept in
// front of Redis: known is false when there is none (or no near store), and
// th is nil for a thread remembered as not found. A hit counts as a cache hit.
func (c *Cache) nearThread(scope, id string) (th *model.Thread, known bool) {
	if c.near == nil {
		return nil, false
	}
	vals, _ := c.near.get(context.Background(), []string{key(scope, kindThread, id)}) // in-memory: never fails
	v := vals[0]
	switch {
	case v == nil:
		return nil, false
	case isNegative(v):
		c.m.count(kindThread, resultNegativeHit, 1)
		return nil, true
	}
	th, ok := decode[*model.Thread](v)
	if !ok {
		return nil, false
	}
	c.m.count(kindThread, resultHit, 1)
	return th, true
}

// keepNearThread keeps what Redis or the upstream said about a thread in the
// process for ThreadNearTTL (a not-found, th nil, for no longer than
// NegativeTTL). Entries are encoded like Redis's, so every hit decodes its own
// copy and no caller shares another's *model.Thread.
func (c *Cache) keepNearThread(scope, id string, th *model.Thread) {
	if c.near == nil {
		return
	}
	e := entry{key: key(scope, kindThread, id), ttl: c.opts.ThreadNearTTL}
	switch {
	case th != nil:
		b, err := encode(th)
		if err != nil {
			return
		}
		e.value = b
	case c.opts.NegativeTTL > 0:
		e.value, e.ttl = negative, min(e.ttl, c.opts.NegativeTTL)
	default:
		return
	}
	_ = c.near.set(context.Background(), []entry{e})
}
