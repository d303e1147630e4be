package credstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisBackend keeps sealed values in Redis (or Redis Cluster), shared by
// every gateway instance. Every method is one single-key command.
type redisBackend struct {
	rdb redis.UniversalClient
}

func (r redisBackend) get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.rdb.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("redis GET: %w", err)
	}
	return b, true, nil
}

func (r redisBackend) set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := r.rdb.Set(ctx, key, value, ttl).Err(); err != nil {
		return fmt.Errorf("redis SET: %w", err)
	}
	return nil
}

func (r redisBackend) del(ctx context.Context, key string) (bool, error) {
	n, err := r.rdb.Del(ctx, key).Result()
	if err != nil {
		return false, fmt.Errorf("redis DEL: %w", err)
	}
	return n > 0, nil
}
