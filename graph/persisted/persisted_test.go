package persisted_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/graph/persisted"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

const (
	docProviders = "query Providers { providers { id } }"
	docOther     = "{ __typename }"
)

func byHash(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func TestParseManifest(t *testing.T) {
	h := persisted.Hash(docProviders)
	flat, _ := json.Marshal(map[string]string{h: docProviders})
	apollo, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []map[string]string{{"id": h, "name": "Providers", "type": "query", "body": docProviders}}})
	for _, tc := range []struct {
		name string
		raw  []byte
		ok   bool
	}{
		{"GraphQL Codegen's client preset", flat, true},
		{"Apollo's manifest", apollo, true},
		{"a hash that is not the document's", []byte(`{"00": "{ __typename }"}`), false},
		{"not JSON", []byte(`nope`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := persisted.ParseManifest(tc.raw)
			if tc.ok != (err == nil) {
				t.Fatalf("err %v", err)
			}
			if tc.ok && m[h] != docProviders {
				t.Errorf("manifest %v", m)
			}
		})
	}
}

func TestTrusted(t *testing.T) {
	m := persisted.Manifest{persisted.Hash(docProviders): docProviders}
	code := func(tr persisted.Trusted, p *graphql.RawParams) string {
		err := tr.MutateOperationParameters(context.Background(), p)
		if err == nil {
			return ""
		}
		c, _ := err.Extensions["code"].(string)
		return c
	}
	for _, tc := range []struct {
		name      string
		only      bool
		params    graphql.RawParams
		wantCode  string
		wantQuery string
	}{
		{"a known hash is filled in", false, graphql.RawParams{Extensions: byHash(persisted.Hash(docProviders))}, "", docProviders},
		{"an unknown hash is left to APQ", false, graphql.RawParams{Extensions: byHash(persisted.Hash(docOther))}, "", ""},
		{"any text runs when not only", false, graphql.RawParams{Query: docOther}, "", docOther},
		{"only: a known hash runs", true, graphql.RawParams{Extensions: byHash(persisted.Hash(docProviders))}, "", docProviders},
		{"only: a trusted document's text runs", true, graphql.RawParams{Query: docProviders}, "", docProviders},
		{"only: an unknown hash is refused", true, graphql.RawParams{Extensions: byHash(persisted.Hash(docOther))}, persisted.CodeNotFound, ""},
		{"only: other text is refused", true, graphql.RawParams{Query: docOther}, persisted.CodeNotAllowed, docOther},
		{"a hash sent with another document is refused", false, graphql.RawParams{Query: docOther, Extensions: byHash(persisted.Hash(docProviders))}, persisted.CodeNotAllowed, docOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.params
			if got := code(persisted.Trusted{Manifest: m, Only: tc.only}, &p); got != tc.wantCode {
				t.Errorf("code %q, want %q", got, tc.wantCode)
			}
			if p.Query != tc.wantQuery {
				t.Errorf("query %q, want %q", p.Query, tc.wantQuery)
			}
		})
	}
}

// TestRedisCacheIsSharedAndFailsAsAMiss: a document one instance stored is
// found by another; with Redis gone, a look-up is a miss, not an error.
func TestRedisCacheIsSharedAndFailsAsAMiss(t *testing.T) {
	srv := redistest.MustStart(t)
	one := &persisted.RedisCache{Client: redis.NewClient(&redis.Options{Addr: srv.Addr})}
	two := &persisted.RedisCache{Client: redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})}
	ctx := context.Background()
	h := persisted.Hash(docProviders)
	if _, ok := two.Get(ctx, h); ok {
		t.Fatal("found before it was added")
	}
	one.Add(ctx, h, docProviders)
	if doc, ok := two.Get(ctx, h); !ok || doc != docProviders {
		t.Fatalf("Get = %q, %v", doc, ok)
	}
	srv.Kill()
	if _, ok := two.Get(ctx, h); ok {
		t.Error("a hit with Redis gone")
	}
}
