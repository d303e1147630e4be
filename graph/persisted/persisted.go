// Package persisted serves GraphQL operations sent by hash: trusted
// documents from a build's manifest, optionally the only operations allowed,
// and the store behind Automatic Persisted Queries.
//
// Both use the request form Apollo's clients send:
// extensions.persistedQuery = {version: 1, sha256Hash: "<hex sha256 of the document>"}.
package persisted

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Codes of the errors Trusted returns (extensions.code).
const (
	// CodeNotFound: the hash names no document the gateway knows. Apollo's
	// APQ link then resends the document itself.
	CodeNotFound = string(model.CodePersistedQueryNotFound)
	// CodeNotAllowed: only trusted documents may run, and this is not one.
	CodeNotAllowed = string(model.CodePersistedQueryNotAllowed)
)

func init() {
	errcode.RegisterErrorType(CodeNotFound, errcode.KindProtocol)
	errcode.RegisterErrorType(CodeNotAllowed, errcode.KindProtocol)
}

// Manifest maps a document's sha256 (hex) to the document.
type Manifest map[string]string

// LoadManifest reads a manifest file in either format clients' build tools
// write: GraphQL Codegen's client preset ({"<hash>": "<document>"}) or
// Apollo's persisted query manifest ({"format": …, "operations": [{"id",
// "body"}]}). Every entry's hash is checked against its document.
func LoadManifest(path string) (Manifest, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("persisted documents manifest: %w", err)
	}
	return ParseManifest(raw)
}

// ParseManifest is LoadManifest on the file's bytes.
func ParseManifest(raw []byte) (Manifest, error) {
	var apollo struct {
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	m := Manifest{}
	if err := json.Unmarshal(raw, &apollo); err == nil && apollo.Operations != nil {
		for _, op := range apollo.Operations {
			m[op.ID] = op.Body
		}
	} else {
		var flat map[string]string
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&flat); err != nil {
			return nil, fmt.Errorf("persisted documents manifest: neither {\"<sha256>\": \"<document>\"} nor Apollo's {\"operations\": [...]}: %w", err)
		}
		m = flat
	}
	for hash, doc := range m {
		if Hash(doc) != hash {
			return nil, fmt.Errorf("persisted documents manifest: the entry %q is not the sha256 of its document", hash)
		}
	}
	return m, nil
}

// Hash is a document's sha256 in hex, as clients compute it.
func Hash(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// Trusted is a gqlgen extension serving a manifest's documents by hash. With
// Only, every other operation is refused, whether sent by hash or by text.
// Add it before the APQ extension and before anything that reads the query.
type Trusted struct {
	Manifest Manifest
	Only     bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = Trusted{}

func (Trusted) ExtensionName() string                   { return "TrustedDocuments" }
func (Trusted) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters fills in the document a known hash names and,
// with Only, refuses anything else.
func (t Trusted) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	hash := requestHash(p.Extensions)
	switch {
	case hash != "":
		doc, ok := t.Manifest[hash]
		switch {
		case ok && p.Query == "":
			p.Query = doc
		case ok && p.Query != doc:
			return refuse(CodeNotAllowed, "the document sent is not the one its hash names")
		case !ok && t.Only:
			return refuse(CodeNotFound, "PersistedQueryNotFound")
		}
	case t.Only:
		if _, ok := t.Manifest[Hash(p.Query)]; !ok {
			return refuse(CodeNotAllowed, "only the application's trusted documents may run on this gateway")
		}
	}
	return nil
}

func refuse(code, msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	errcode.Set(err, code)
	return err
}

// requestHash is extensions.persistedQuery.sha256Hash, "" without one.
func requestHash(ext map[string]any) string {
	pq, _ := ext["persistedQuery"].(map[string]any)
	h, _ := pq["sha256Hash"].(string)
	return h
}

// RedisCache keeps APQ documents in Redis, so a document registered on one
// gateway instance is known to all. A Redis failure is a miss: the client
// sends the document again and nothing breaks.
type RedisCache struct {
	Client redis.UniversalClient
	// TTL is how long a document is kept after its last registration.
	// Default 24h.
	TTL time.Duration
	// Prefix of the keys. Default "cg:v1:apq:".
	Prefix string
}

var _ graphql.Cache[string] = (*RedisCache)(nil)

func (c *RedisCache) key(hash string) string {
	if c.Prefix == "" {
		return "cg:v1:apq:" + hash
	}
	return c.Prefix + hash
}

// Get implements graphql.Cache.
func (c *RedisCache) Get(ctx context.Context, hash string) (string, bool) {
	doc, err := c.Client.Get(ctx, c.key(hash)).Result()
	if err != nil {
		return "", false
	}
	return doc, true
}

// Add implements graphql.Cache.
func (c *RedisCache) Add(ctx context.Context, hash, doc string) {
	ttl := c.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	c.Client.Set(ctx, c.key(hash), doc, ttl)
}
