package cache

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig says which Redis to connect to: one server, or a Redis Cluster.
// Set URL or Addrs.
type RedisConfig struct {
	// URL is redis:// or rediss:// (TLS). With Cluster it names one node and
	// may name more as addr parameters (go-redis's ParseClusterURL):
	// redis://h1:6379?addr=h2:6379.
	URL string
	// Addrs are host:port: the one server's, or with Cluster any of the
	// nodes' (the client discovers the rest).
	Addrs []string
	// Cluster makes a redis.ClusterClient, which routes each key to the
	// master serving its hash slot.
	Cluster bool
	// Username and Password, when set, replace the URL's.
	Username, Password string
	// TLS dials with TLS, the server name taken from each address dialled.
	// With URL, rediss:// does the same.
	TLS bool
}

// NewRedisClient connects to a redis:// or rediss:// URL with the cache's
// settings: RedisConfig{URL: rawURL}.NewCacheClient().
func NewRedisClient(rawURL string) (redis.UniversalClient, error) {
	return RedisConfig{URL: rawURL}.NewCacheClient()
}

// NewCacheClient returns a client with settings that suit a fail-open cache:
// no go-redis retries (the cache's breaker decides when to try again), short
// dial attempts, and context deadlines honoured on the socket so CallTimeout
// really bounds a call. A cluster client still follows MOVED and ASK
// redirects (up to go-redis's MaxRedirects, 3), which a resharding needs.
//
// The error never repeats the URL, which may hold a password.
func (rc RedisConfig) NewCacheClient() (redis.UniversalClient, error) {
	return rc.newClient(failFast)
}

// NewClient returns a client with go-redis's defaults: retries, and read
// timeouts that allow blocking commands such as the event bus's XREAD.
func (rc RedisConfig) NewClient() (redis.UniversalClient, error) {
	return rc.newClient(settings{})
}

// settings are what differs between clients of one Redis; zero fields keep
// go-redis's defaults.
type settings struct {
	maxRetries     int
	dialTimeout    time.Duration
	dialerRetries  int
	contextTimeout bool
}

var failFast = settings{maxRetries: -1, dialTimeout: 250 * time.Millisecond, dialerRetries: 1, contextTimeout: true}

func (rc RedisConfig) newClient(s settings) (redis.UniversalClient, error) {
	if rc.Cluster {
		o, err := rc.clusterOptions()
		if err != nil {
			return nil, err
		}
		if s != (settings{}) {
			o.MaxRetries, o.DialTimeout, o.DialerRetries, o.ContextTimeoutEnabled = s.maxRetries, s.dialTimeout, s.dialerRetries, s.contextTimeout
		}
		return redis.NewClusterClient(o), nil
	}
	o, err := rc.options()
	if err != nil {
		return nil, err
	}
	if s != (settings{}) {
		o.MaxRetries, o.DialTimeout, o.DialerRetries, o.ContextTimeoutEnabled = s.maxRetries, s.dialTimeout, s.dialerRetries, s.contextTimeout
	}
	return redis.NewClient(o), nil
}

func (rc RedisConfig) options() (*redis.Options, error) {
	var o *redis.Options
	switch {
	case rc.URL != "" && len(rc.Addrs) > 0:
		return nil, errors.New("cache: redis: a URL and addresses given; want one")
	case rc.URL != "":
		var err error
		if o, err = redis.ParseURL(rc.URL); err != nil {
			return nil, urlError(err)
		}
	case len(rc.Addrs) == 1:
		o = &redis.Options{Addr: rc.Addrs[0]}
	case len(rc.Addrs) > 1:
		return nil, fmt.Errorf("cache: redis: %d addresses for one server; a cluster needs Cluster set", len(rc.Addrs))
	default:
		return nil, errors.New("cache: redis: no URL and no address")
	}
	rc.authAndTLS(&o.Username, &o.Password, &o.TLSConfig)
	return o, nil
}

func (rc RedisConfig) clusterOptions() (*redis.ClusterOptions, error) {
	var o *redis.ClusterOptions
	switch {
	case rc.URL != "" && len(rc.Addrs) > 0:
		return nil, errors.New("cache: redis: a URL and addresses given; want one")
	case rc.URL != "":
		var err error
		if o, err = redis.ParseClusterURL(rc.URL); err != nil {
			return nil, urlError(err)
		}
	case len(rc.Addrs) > 0:
		o = &redis.ClusterOptions{Addrs: rc.Addrs}
	default:
		return nil, errors.New("cache: redis: no URL and no address")
	}
	rc.authAndTLS(&o.Username, &o.Password, &o.TLSConfig)
	return o, nil
}

func (rc RedisConfig) authAndTLS(user, password *string, tc **tls.Config) {
	if rc.Username != "" {
		*user = rc.Username
	}
	if rc.Password != "" {
		*password = rc.Password
	}
	if rc.TLS && *tc == nil {
		// No ServerName: crypto/tls takes it from each address dialled, so
		// every node of a cluster is checked under its own name.
		*tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
}

// urlError drops the URL that url.Parse's error quotes, password included,
// and keeps the reason.
func urlError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cache: redis URL: %w", err)
}
