package cache

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRedisConfigBuildsTheClientItNames(t *testing.T) {
	tests := []struct {
		name    string
		rc      RedisConfig
		cluster bool
		addrs   []string
		user    string
		pass    string
		tls     bool
	}{
		{"URL", RedisConfig{URL: "redis://u:p@h:6379/2"}, false, []string{"h:6379"}, "u", "p", false},
		{"rediss URL", RedisConfig{URL: "rediss://h:6380"}, false, []string{"h:6380"}, "", "", true},
		{"address with credentials", RedisConfig{Addrs: []string{"h:6379"}, Username: "u", Password: "p", TLS: true}, false, []string{"h:6379"}, "u", "p", true},
		{"password replaces the URL's", RedisConfig{URL: "redis://:old@h:6379", Password: "new"}, false, []string{"h:6379"}, "", "new", false},
		{"cluster addresses", RedisConfig{Addrs: []string{"a:1", "b:2", "c:3"}, Cluster: true, Password: "p"}, true, []string{"a:1", "b:2", "c:3"}, "", "p", false},
		{"cluster URL", RedisConfig{URL: "rediss://u:p@a:1?addr=b:2&addr=c:3", Cluster: true}, true, []string{"a:1", "b:2", "c:3"}, "u", "p", true},
		{"one cluster address", RedisConfig{Addrs: []string{"a:1"}, Cluster: true, TLS: true}, true, []string{"a:1"}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, fast := range []bool{true, false} {
				build := tt.rc.NewClient
				if fast {
					build = tt.rc.NewCacheClient
				}
				c, err := build()
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				switch c := c.(type) {
				case *redis.ClusterClient:
					o := c.Options()
					if !tt.cluster || strings.Join(o.Addrs, ",") != strings.Join(tt.addrs, ",") || o.Username != tt.user || o.Password != tt.pass || (o.TLSConfig != nil) != tt.tls {
						t.Errorf("cluster client %v %q %q tls %v", o.Addrs, o.Username, o.Password, o.TLSConfig != nil)
					}
					if fast && (o.MaxRetries > 0 || !o.ContextTimeoutEnabled) {
						t.Errorf("cache client retries (%d) or ignores context deadlines", o.MaxRetries)
					}
				case *redis.Client:
					o := c.Options()
					if tt.cluster || o.Addr != tt.addrs[0] || o.Username != tt.user || o.Password != tt.pass || (o.TLSConfig != nil) != tt.tls {
						t.Errorf("client %v %q %q tls %v", o.Addr, o.Username, o.Password, o.TLSConfig != nil)
					}
					if fast && (o.MaxRetries > 0 || !o.ContextTimeoutEnabled) {
						t.Errorf("cache client retries (%d) or ignores context deadlines", o.MaxRetries)
					}
				default:
					t.Fatalf("%T", c)
				}
			}
		})
	}
}

func TestRedisConfigRefusals(t *testing.T) {
	for name, rc := range map[string]RedisConfig{
		"nothing":                      {},
		"URL and addresses":            {URL: "redis://h:1", Addrs: []string{"h:1"}},
		"two addresses, not a cluster": {Addrs: []string{"a:1", "b:2"}},
		"cluster URL with a password":  {URL: "redis://:s3cret@[::1/0", Cluster: true},
		"cluster URL, bad option":      {URL: "redis://:s3cret@h:1?colour=red", Cluster: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rc.NewCacheClient()
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q repeats the password", err)
			}
		})
	}
}
