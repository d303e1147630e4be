package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/commentgraph/commentgraph/graph"
	"github.com/commentgraph/commentgraph/graph/model"
)

var shapeNames = flag.String("bench.shapes", "timeline", "query shapes to run, comma-separated: timeline (Query.comments over the World's threads) and thread (each thread's Thread.comments through thread(...)); both ask for the same 50 comments with their senders and mentions, with the same upstream calls")

// shapes are the ways the benchmarks can ask for the World's page.
var shapes = []string{"timeline", "thread"}

// threadsQuery is the thread shape's query for n threads: each thread
// through thread(provider, kind, ref), its comments (newest 50, all it
// holds) with their senders and mentioned users, as a web app asks for a
// thread it shows. Its upstream calls are the timeline's: one list per
// thread (Page{Last: 50}), each thread's check answered from the cache.
func threadsQuery(n int) string {
	var q strings.Builder
	q.WriteString("query Threads(")
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "$p%d: ID!, $k%d: ThreadKind!, $r%d: String!", i, i, i)
	}
	q.WriteString(") {\n")
	for i := range n {
		fmt.Fprintf(&q, "  t%d: thread(provider: $p%d, kind: $k%d, ref: $r%d) { ...page }\n", i, i, i, i)
	}
	q.WriteString(`}
fragment page on Thread {
  comments(last: 50) {
    edges { node { id text sender { name } mentions { offset length user { name } } } }
  }
}`)
	return q.String()
}

// requestBody is the JSON body of shape's query over w's threads.
func requestBody(w *World, shape string) ([]byte, error) {
	switch shape {
	case "timeline":
		return json.Marshal(map[string]any{"query": Query, "variables": map[string]any{"threads": w.Threads}})
	case "thread":
		vars := map[string]any{}
		for i, id := range w.Threads {
			gid, err := model.DecodeIDOf(id, model.TypeThread)
			if err != nil {
				return nil, err
			}
			vars[fmt.Sprint("p", i)], vars[fmt.Sprint("k", i)], vars[fmt.Sprint("r", i)] = gid.Provider, gid.Ref[0], gid.Ref[1]
		}
		return json.Marshal(map[string]any{"query": threadsQuery(len(w.Threads)), "variables": vars})
	}
	return nil, fmt.Errorf("-bench.shapes: %q is not timeline or thread", shape)
}

// mustParseShapes returns -bench.shapes, or fails b.
func mustParseShapes(b *testing.B) []string {
	b.Helper()
	var out []string
	for _, s := range strings.Split(*shapeNames, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(shapes, s) {
			b.Fatalf("-bench.shapes: %q is not timeline or thread", s)
		}
		out = append(out, s)
	}
	return out
}

// mustBody is requestBody, or fails b.
func mustBody(b *testing.B, w *World, shape string) []byte {
	b.Helper()
	body, err := requestBody(w, shape)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// Both shapes' queries are valid against the gateway's schema, and the
// thread shape asks for every thread of the World, each through thread().
func TestShapesAreValidQueries(t *testing.T) {
	w := &World{Threads: []string{
		model.ThreadID(VirolaID, model.ThreadKindMessage, "1"),
		model.ThreadID(VirolaID, model.ThreadKindMessage, "2"),
		model.ThreadID(ZiikID, model.ThreadKindMessage, "3:4"),
	}}
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, shape := range shapes {
		t.Run(shape, func(t *testing.T) {
			raw, err := requestBody(w, shape)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Query     string         `json:"query"`
				Variables map[string]any `json:"variables"`
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatal(err)
			}
			doc, errs := gqlparser.LoadQuery(schema, body.Query)
			if errs != nil {
				t.Fatal(errs)
			}
			if _, err := validator.VariableValues(schema, doc.Operations[0], body.Variables); err != nil {
				t.Fatal(err)
			}
			if shape == "thread" && (strings.Count(body.Query, "thread(") != 3 || body.Variables["r2"] != "3:4" || body.Variables["k1"] != "MESSAGE") {
				t.Errorf("query %s with %v does not ask for the three threads", body.Query, body.Variables)
			}
		})
	}
	if _, err := requestBody(w, "room"); err == nil {
		t.Error("an unknown shape was accepted")
	}
}

// checkOnce finds the page's comments in either shape's answer and refuses
// an answer short of the page.
func TestCheckOnceReadsEitherShape(t *testing.T) {
	comment := `{"node":{"sender":{"name":"Ana"},"mentions":[{"user":{"name":"Bo"}},{"user":{"name":"Zoë"}}]}}`
	edges := func(n int) string {
		return `{"edges":[` + strings.TrimSuffix(strings.Repeat(comment+",", n), ",") + `]}`
	}
	for _, tc := range []struct {
		name, data string
		ok         bool
	}{
		{"timeline", `{"comments":` + edges(PageSize) + `}`, true},
		{"threads", `{"t0":{"comments":` + edges(20) + `},"t1":{"comments":` + edges(17) + `},"t2":{"comments":` + edges(13) + `}}`, true},
		{"a thread short", `{"t0":{"comments":` + edges(20) + `},"t1":{"comments":` + edges(17) + `},"t2":null}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"data":`+tc.data+`}`)
			}))
			t.Cleanup(srv.Close)
			err := newLoader(srv.URL, []byte(`{}`), 1).checkOnce(context.Background())
			if (err == nil) != tc.ok {
				t.Errorf("checkOnce = %v, want ok: %v", err, tc.ok)
			}
		})
	}
}
