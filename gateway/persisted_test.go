package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/commentgraph/commentgraph/graph/persisted"
	"github.com/commentgraph/commentgraph/internal/redistest"
)

const persistedDoc = "query Providers { providers { id } }"

// byHash posts an operation by its hash, with its document when doc is set.
func (g *gateway) byHash(hash, doc string) gqlResponse {
	g.t.Helper()
	body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if doc != "" {
		body["query"] = doc
	}
	raw, _ := json.Marshal(body)
	return g.post(raw, nil)
}

func TestAutomaticPersistedQueries(t *testing.T) {
	k := klinkWorld(t, 1)
	h := persisted.Hash(persistedDoc)
	t.Run("one instance", func(t *testing.T) {
		g := MustStartGateway(t, newTestConfig(t, klinkProvider(k)))
		if codes := g.byHash(h, "").codes(); len(codes) != 1 || codes[0] != "PERSISTED_QUERY_NOT_FOUND" {
			t.Fatalf("an unknown hash: codes %v", codes)
		}
		g.byHash(h, persistedDoc).mustNoErrors(t)
		resp := g.byHash(h, "")
		resp.mustNoErrors(t)
		if string(resp.Data) != `{"providers":[{"id":"klink"}]}` {
			t.Errorf("data %s", resp.Data)
		}
		if codes := g.byHash(h, "{ __typename }").codes(); len(codes) == 0 {
			t.Error("a hash sent with another document was accepted")
		}
	})
	t.Run("registered on one instance, known to another through Redis", func(t *testing.T) {
		r := redistest.MustStart(t)
		gs := make([]*gateway, 2)
		for i := range gs {
			cfg := newTestConfig(t, klinkProvider(k))
			cfg.Redis.URL = r.URL
			gs[i] = MustStartGateway(t, cfg)
		}
		gs[0].byHash(h, persistedDoc).mustNoErrors(t)
		gs[1].byHash(h, "").mustNoErrors(t)
	})
}

func TestTrustedDocumentsOnly(t *testing.T) {
	k := klinkWorld(t, 1)
	h := persisted.Hash(persistedDoc)
	manifest := filepath.Join(t.TempDir(), "persisted-documents.json")
	raw, _ := json.Marshal(map[string]string{h: persistedDoc})
	if err := os.WriteFile(manifest, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := newTestConfig(t, klinkProvider(k))
	cfg.PersistedDocuments.Manifest = manifest
	cfg.PersistedDocuments.Only = true
	off := false
	cfg.PersistedDocuments.APQ = &off
	g := MustStartGateway(t, cfg)

	g.byHash(h, "").mustNoErrors(t)
	g.query(persistedDoc, nil).mustNoErrors(t)
	for name, resp := range map[string]gqlResponse{
		"another document":           g.query(`{ providers { id name } }`, nil),
		"an unknown hash":            g.byHash(persisted.Hash("{ __typename }"), ""),
		"registering a new document": g.byHash(persisted.Hash("{ __typename }"), "{ __typename }"),
	} {
		if codes := resp.codes(); len(codes) != 1 || (codes[0] != "PERSISTED_QUERY_NOT_ALLOWED" && codes[0] != "PERSISTED_QUERY_NOT_FOUND") {
			t.Errorf("%s: codes %v", name, codes)
		}
		if len(resp.Data) > 0 && string(resp.Data) != "null" {
			t.Errorf("%s ran: %s", name, resp.Data)
		}
	}
}
