// Package credstore keeps end users' own upstream credentials, encrypted: the
// store behind the connectProvider mutation (Put) and disconnectProvider
// (Delete), read back (Get) when the gateway acts upstream as that user.
//
// # Encryption
//
// Each credential is sealed with AES-256-GCM under a key derived from the
// configured auth.credentialKey by HKDF-SHA256 with a fixed info label. Go's
// standard library (crypto/aes, crypto/cipher, crypto/hkdf) is the
// implementation to use here, not a third-party package: its AEAD is
// constant-time, hardware-accelerated, FIPS-validated and maintained by the Go
// security team, and a wrapper library would only add code to trust.
//
// A stored value is one version byte, a random 12-byte nonce drawn for every
// Put, then the ciphertext and its 16-byte tag. The additional data binds the
// version, tenant, issuer, user and provider, so a value copied under another
// owner's or another provider's key does not open: Get then answers
// ErrUnreadable, as it does for a value sealed under another credentialKey.
//
// Changing auth.credentialKey therefore makes every stored credential
// unreadable. Get reports ErrUnreadable for each (the record is still found,
// since key names do not depend on credentialKey), Delete still removes it,
// and a new Put (the user connecting again) replaces it. There is no
// re-encryption under a new key.
//
// # Key names
//
// A Redis key is Prefix, then a hash tag {H(tenant, issuer, user)}, then
// ":" and H(tenant, issuer, user, provider): truncated hex SHA-256 over
// length-prefixed fields, so a key name holds no secret and no raw user id,
// and one owner's keys sit on one Redis Cluster slot. The hash is not keyed:
// someone who can list the keys and guesses a user id can confirm that the
// user has stored a credential, but cannot read it.
//
// # Failures
//
// Redis errors are returned wrapped, never hidden: the caller decides to fail
// closed. Neither errors nor the package (which does not log) ever carry a
// secret, and errors name an owner only by its hash.
package credstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Owner is whose credential it is: tenant ("" = default), the JWT issuer and
// the user claim. Two owners that differ in any field are different owners.
type Owner struct{ Tenant, Issuer, User string }

// Store keeps one secret per owner and provider. Implementations are safe for
// concurrent use.
type Store interface {
	// Put stores secret for o and provider, replacing any stored one. An
	// empty User, provider or secret is refused.
	Put(ctx context.Context, o Owner, provider, secret string) error
	// Get returns the stored secret. ok is false when none is stored, and
	// also (with an error wrapping ErrUnreadable) when the stored value does
	// not open: sealed under another credentialKey, copied from another
	// owner or provider, or corrupted. A backend failure is an error with ok
	// false, never a silent "none".
	Get(ctx context.Context, o Owner, provider string) (secret string, ok bool, err error)
	// Delete forgets the stored secret; removed says whether there was one.
	Delete(ctx context.Context, o Owner, provider string) (removed bool, err error)
}

// Options tune a Store. The zero value is ready to use.
type Options struct {
	// Prefix begins every Redis key. Default "cg:v1:cred:". It may not
	// contain '{' or '}', which would move the hash tag.
	Prefix string
	// TTL is how long a stored credential lives after its Put. 0: no expiry;
	// negative is refused.
	TTL time.Duration
	// MaxEntries bounds the in-memory store (rdb nil): past it, a Put of a
	// new owner and provider fails with ErrFull rather than evict someone's
	// credential. Expired entries do not count. 0: 100000; negative is
	// refused. Unused with Redis.
	MaxEntries int
}

// DefaultPrefix is Options.Prefix's default.
const DefaultPrefix = "cg:v1:cred:"

// DefaultMaxEntries is Options.MaxEntries's default.
const DefaultMaxEntries = 100000

// MinKeyLength is the fewest characters New accepts in the credential key.
const MinKeyLength = 32

var (
	// ErrUnreadable means a stored credential exists but does not open
	// under this owner, provider and credentialKey.
	ErrUnreadable = errors.New("credstore: stored credential is unreadable")
	// ErrFull means the in-memory store holds MaxEntries credentials.
	ErrFull = errors.New("credstore: in-memory store is full")
)

// version is the first byte of every stored value.
const version byte = 1

// hkdfInfo labels the AES key derived from the configured string. Changing it
// changes the key, like changing credentialKey.
const hkdfInfo = "commentgraph credstore v1 AES-256-GCM"

// New returns a Store sealing with key (config auth.credentialKey, at least
// MinKeyLength characters). With rdb nil the store lives in this process:
// for one gateway instance only, since another instance would not see it,
// and a restart forgets everything.
func New(key string, rdb redis.UniversalClient, opts Options) (Store, error) {
	var b backend
	if rdb != nil {
		b = redisBackend{rdb: rdb}
	} else {
		maxEntries := opts.MaxEntries
		if maxEntries == 0 {
			maxEntries = DefaultMaxEntries
		}
		b = newMemoryBackend(time.Now, maxEntries)
	}
	s, err := newStore(key, b, opts)
	if err != nil {
		return nil, err // not a nil *store in a non-nil Store
	}
	return s, nil
}

// backend holds sealed values by key name.
type backend interface {
	// get returns the value at key; ok is false when there is none.
	get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// set stores value at key for ttl (0: no expiry).
	set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// del removes key and says whether it was there.
	del(ctx context.Context, key string) (bool, error)
}

type store struct {
	aead   cipher.AEAD // draws and prepends its own random 12-byte nonce
	prefix string
	ttl    time.Duration
	b      backend
}

func newStore(key string, b backend, opts Options) (*store, error) {
	// The key is never put in an error: only its length.
	if len(key) < MinKeyLength {
		return nil, fmt.Errorf("credstore: credential key has %d characters, need at least %d", len(key), MinKeyLength)
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("credstore: negative TTL %v", opts.TTL)
	}
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("credstore: negative MaxEntries %d", opts.MaxEntries)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("credstore: prefix %q contains '{' or '}'", prefix)
	}
	aesKey, err := hkdf.Key(sha256.New, []byte(key), nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("credstore: derive key: %w", err)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, fmt.Errorf("credstore: AES: %w", err)
	}
	// A fresh random 96-bit nonce for every Seal, prepended to its output.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("credstore: GCM: %w", err)
	}
	return &store{aead: aead, prefix: prefix, ttl: opts.TTL, b: b}, nil
}

// Put implements Store.
func (s *store) Put(ctx context.Context, o Owner, provider, secret string) error {
	if err := check(o, provider); err != nil {
		return err
	}
	if secret == "" {
		return errors.New("credstore: empty credential")
	}
	sealed := s.aead.Seal([]byte{version}, nil, []byte(secret), additionalData(o, provider))
	key := s.key(o, provider)
	if err := s.b.set(ctx, key, sealed, s.ttl); err != nil {
		return fmt.Errorf("credstore: store %s credential %s: %w", provider, key, err)
	}
	return nil
}

// Get implements Store.
func (s *store) Get(ctx context.Context, o Owner, provider string) (string, bool, error) {
	if err := check(o, provider); err != nil {
		return "", false, err
	}
	key := s.key(o, provider)
	sealed, ok, err := s.b.get(ctx, key)
	if err != nil {
		return "", false, fmt.Errorf("credstore: read %s credential %s: %w", provider, key, err)
	}
	if !ok {
		return "", false, nil
	}
	if len(sealed) < 1 || sealed[0] != version {
		return "", false, fmt.Errorf("%w: %s credential %s has an unknown format", ErrUnreadable, provider, key)
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], additionalData(o, provider))
	if err != nil {
		// Another credentialKey, another owner's or provider's value, or a
		// corrupted one: GCM cannot tell which, and says nothing secret.
		return "", false, fmt.Errorf("%w: %s credential %s does not open with this key and owner", ErrUnreadable, provider, key)
	}
	return string(plain), true, nil
}

// Delete implements Store.
func (s *store) Delete(ctx context.Context, o Owner, provider string) (bool, error) {
	if err := check(o, provider); err != nil {
		return false, err
	}
	key := s.key(o, provider)
	removed, err := s.b.del(ctx, key)
	if err != nil {
		return false, fmt.Errorf("credstore: delete %s credential %s: %w", provider, key, err)
	}
	return removed, nil
}

func check(o Owner, provider string) error {
	switch {
	case o.User == "":
		return errors.New("credstore: owner has no user")
	case provider == "":
		return errors.New("credstore: empty provider")
	}
	return nil
}

// key names the value of o's credential for provider:
// prefix{H(owner)}:H(owner, provider).
func (s *store) key(o Owner, provider string) string {
	owner := fields(nil, o.Tenant, o.Issuer, o.User)
	entry := fields(owner, provider)
	return s.prefix + "{" + digest("owner", owner) + "}:" + digest("entry", entry)
}

// digest is 128 bits of SHA-256 over a domain label and b, in hex.
func digest(label string, b []byte) string {
	h := sha256.New()
	h.Write([]byte("commentgraph credstore " + label + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// additionalData binds a sealed value to its version, owner and provider.
func additionalData(o Owner, provider string) []byte {
	ad := append([]byte("commentgraph credstore\x00"), version)
	return fields(ad, o.Tenant, o.Issuer, o.User, provider)
}

// fields appends each string with its length before it, so no two lists of
// strings encode the same ("ab","c" differs from "a","bc").
func fields(dst []byte, ss ...string) []byte {
	for _, s := range ss {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}
