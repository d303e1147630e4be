package aelyst

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/redis/go-redis/v9"
)

// RedisJournal is a Journal in Redis, shared by every gateway instance. Each
// contact has three keys, with no TTL (the journal is the only record):
//
//	<prefix>{<scope>:<contact>}:order    sorted set, all scores 0, members order keys
//	<prefix>{<scope>:<contact>}:entries  hash order key → entry JSON
//	<prefix>{<scope>:<contact>}:index    hash "r:"+ref / "a:"+alias → order key, "seq" → counter
//
// The braces keep a contact's keys in one cluster slot, so the append script
// can touch them together.
type RedisJournal struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedisJournal returns a journal over rdb. prefix starts every key; empty:
// "commentgraph:aelyst:journal:".
func NewRedisJournal(rdb redis.UniversalClient, prefix string) *RedisJournal {
	if prefix == "" {
		prefix = "commentgraph:aelyst:journal:"
	}
	return &RedisJournal{rdb: rdb, prefix: prefix}
}

func (j *RedisJournal) keys(scope string, contactID int64) (order, entries, index string) {
	// Braces in the scope would break the hash tag.
	scope = strings.NewReplacer("{", "", "}", "").Replace(scope)
	base := j.prefix + "{" + scope + ":" + strconv.FormatInt(contactID, 10) + "}:"
	return base + "order", base + "entries", base + "index"
}

// appendScript does Append atomically: find the entry by alias or ref, else
// number it and store it; then record the aliases. A found entry with no
// sender takes e's (ARGV[4], JSON-encoded): Go writes senderRef last and
// omits it when empty, and an unescaped '"senderRef":' cannot occur inside
// a JSON string, so appending the field before the closing brace is exact.
// It answers the order key and 1 when it added the entry.
var appendScript = redis.NewScript(`
local key = false
for i = 5, #ARGV do
  key = redis.call('HGET', KEYS[3], 'a:' .. ARGV[i])
  if key then break end
end
if not key then key = redis.call('HGET', KEYS[3], 'r:' .. ARGV[1]) end
local added = 0
if not key then
  local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
  key = string.format('%011d:%010d', tonumber(ARGV[2]), seq)
  redis.call('HSET', KEYS[2], key, ARGV[3])
  redis.call('HSET', KEYS[3], 'r:' .. ARGV[1], key)
  redis.call('ZADD', KEYS[1], 0, key)
  added = 1
elseif ARGV[4] ~= '' then
  local cur = redis.call('HGET', KEYS[2], key)
  if cur and not string.find(cur, '"senderRef":', 1, true) then
    redis.call('HSET', KEYS[2], key, string.sub(cur, 1, -2) .. ',"senderRef":' .. ARGV[4] .. '}')
  end
end
for i = 5, #ARGV do
  redis.call('HSETNX', KEYS[3], 'a:' .. ARGV[i], key)
end
return {key, added}
`)

// Append implements Journal.
func (j *RedisJournal) Append(ctx context.Context, scope string, e Entry, aliases ...string) (Entry, bool, error) {
	if err := checkEntry(e); err != nil {
		return Entry{}, false, err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return Entry{}, false, fmt.Errorf("aelyst journal: encode entry: %w", err)
	}
	order, entries, index := j.keys(scope, e.ContactID)
	sender := ""
	if e.SenderRef != "" {
		b, _ := json.Marshal(e.SenderRef)
		sender = string(b)
	}
	args := append([]any{e.Ref, e.CreatedAt, string(raw), sender}, toAny(aliases)...)
	res, err := appendScript.Run(ctx, j.rdb, []string{order, entries, index}, args...).Slice()
	if err != nil {
		return Entry{}, false, fmt.Errorf("aelyst journal: append: %w", err)
	}
	if len(res) != 2 {
		return Entry{}, false, fmt.Errorf("aelyst journal: append answered %v", res)
	}
	key, _ := res[0].(string)
	added, _ := res[1].(int64)
	if added == 1 {
		e.Cursor = cursorOf(key)
		return e, true, nil
	}
	stored, err := j.entries(ctx, entries, []string{key})
	if err != nil {
		return Entry{}, false, err
	}
	if len(stored) == 0 {
		return Entry{}, false, fmt.Errorf("aelyst journal: entry %s is indexed but missing", key)
	}
	return stored[0], false, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// entries reads entries by order key, in the order given.
func (j *RedisJournal) entries(ctx context.Context, hash string, keys []string) ([]Entry, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	vals, err := j.rdb.HMGet(ctx, hash, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("aelyst journal: read entries: %w", err)
	}
	out := make([]Entry, 0, len(keys))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("aelyst journal: entry %s is missing", keys[i])
		}
		var e Entry
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			return nil, fmt.Errorf("aelyst journal: entry %s: %w", keys[i], err)
		}
		e.Cursor = cursorOf(keys[i])
		out = append(out, e)
	}
	return out, nil
}

// Lookup implements Journal.
func (j *RedisJournal) Lookup(ctx context.Context, scope string, contactID int64, alias string) (Entry, bool, error) {
	_, entries, index := j.keys(scope, contactID)
	key, err := j.rdb.HGet(ctx, index, "a:"+alias).Result()
	if errors.Is(err, redis.Nil) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("aelyst journal: lookup: %w", err)
	}
	got, err := j.entries(ctx, entries, []string{key})
	if err != nil {
		return Entry{}, false, err
	}
	return got[0], true, nil
}

// Get implements Journal.
func (j *RedisJournal) Get(ctx context.Context, scope string, contactID int64, ref string) (Entry, error) {
	_, entries, index := j.keys(scope, contactID)
	key, err := j.rdb.HGet(ctx, index, "r:"+ref).Result()
	if errors.Is(err, redis.Nil) {
		return Entry{}, model.Errorf(model.CodeNotFound, "no comment %q on this contact", clip(ref))
	}
	if err != nil {
		return Entry{}, fmt.Errorf("aelyst journal: get: %w", err)
	}
	got, err := j.entries(ctx, entries, []string{key})
	if err != nil {
		return Entry{}, err
	}
	return got[0], nil
}

// List implements Journal. Entries are only ever added, so the page and the
// has-more checks, read in one pipeline, agree.
func (j *RedisJournal) List(ctx context.Context, scope string, contactID int64, page providers.Page) (*JournalPage, error) {
	size, cursor, err := checkPage(page)
	if err != nil {
		return nil, err
	}
	order, entries, _ := j.keys(scope, contactID)
	pipe := j.rdb.Pipeline()
	var pageCmd, beyondCmd *redis.StringSliceCmd
	if page.Backward() {
		hi := "+"
		if cursor != "" {
			hi = "(" + cursor
		}
		pageCmd = pipe.ZRevRangeByLex(ctx, order, &redis.ZRangeBy{Max: hi, Min: "-", Count: int64(size) + 1})
		if cursor != "" {
			beyondCmd = pipe.ZRangeByLex(ctx, order, &redis.ZRangeBy{Min: "[" + cursor, Max: "+", Count: 1})
		}
	} else {
		lo := "-"
		if cursor != "" {
			lo = "(" + cursor
		}
		pageCmd = pipe.ZRangeByLex(ctx, order, &redis.ZRangeBy{Min: lo, Max: "+", Count: int64(size) + 1})
		if cursor != "" {
			beyondCmd = pipe.ZRevRangeByLex(ctx, order, &redis.ZRangeBy{Max: "[" + cursor, Min: "-", Count: 1})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("aelyst journal: list: %w", err)
	}
	keys := pageCmd.Val()
	more := len(keys) > size
	if more {
		keys = keys[:size]
	}
	beyond := beyondCmd != nil && len(beyondCmd.Val()) > 0
	out := &JournalPage{}
	if page.Backward() {
		for l, r := 0, len(keys)-1; l < r; l, r = l+1, r-1 {
			keys[l], keys[r] = keys[r], keys[l]
		}
		out.HasPreviousPage, out.HasNextPage = more, beyond
	} else {
		out.HasNextPage, out.HasPreviousPage = more, beyond
	}
	if out.Entries, err = j.entries(ctx, entries, keys); err != nil {
		return nil, err
	}
	return out, nil
}
