package fastpath_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/commentgraph/commentgraph/graph/model"
)

// pageBenchProvider is newPageProvider with three threads of 50 comments
// between them, each with a known sender and two known mentions: the shape
// of bench/'s World, without its HTTP upstreams.
func pageBenchProvider() *pageProvider {
	p := newPageProvider()
	p.threads = map[string][]*model.Comment{}
	users := []string{"ana", "bo", "zoe"}
	base := p.threads
	for i := range 50 {
		th := fmt.Sprint("t", i%3)
		c := &model.Comment{ProviderID: "fake", ThreadKind: model.ThreadKindRoom, ThreadRef: th, Ref: fmt.Sprint("c", i),
			Text: fmt.Sprintf("Step %02d: ça roule 🚀 — @Bo, @Zoë please check", i), Markup: model.MarkupPlain,
			SenderRef: users[i%3], CreatedAt: newPageProvider().threads["ok"][0].CreatedAt,
			Mentions: []*model.Mention{
				{ProviderID: "fake", UserRef: users[(i+1)%3], Offset: 30, Length: 3},
				{ProviderID: "fake", UserRef: users[(i+2)%3], Offset: 35, Length: 4},
			}}
		base[th] = append(base[th], c)
	}
	return p
}

// BenchmarkPage serves bench/'s page, asked as the timeline and as each
// thread's comments, on the generated executor and on the fast path, in
// this process (no HTTP upstreams): what executing the page costs.
func BenchmarkPage(b *testing.B) {
	p := pageBenchProvider()
	sel := `edges { node { id text sender { name } mentions { offset length user { name } } } }`
	bodies := map[string]map[string]any{
		"timeline": {"query": `query($t: [ID!]!) { comments(threads: $t, first: 50) { ` + sel + ` } }`, "variables": map[string]any{"t": []string{thread("t0"), thread("t1"), thread("t2")}}},
		"thread":   {"query": `{ ` + threadField("t0", "t0") + ` { ...page } ` + threadField("t1", "t1") + ` { ...page } ` + threadField("t2", "t2") + ` { ...page } } fragment page on Thread { comments(last: 50) { ` + sel + ` } }`},
	}
	for _, shape := range []string{"timeline", "thread"} {
		for _, fast := range []bool{false, true} {
			name := shape + "/generated"
			if fast {
				name = shape + "/fast"
			}
			b.Run(name, func(b *testing.B) {
				// As the gateway, with a query cache: parsing and
				// validation happen once, not per query.
				g := newGateway(b, p, fast, func(srv *handler.Server) { srv.SetQueryCache(lru.New[*ast.QueryDocument](100)) })
				body, err := json.Marshal(bodies[shape])
				if err != nil {
					b.Fatal(err)
				}
				post := func() *httptest.ResponseRecorder {
					req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					g.srv.Config.Handler.ServeHTTP(rec, req)
					return rec
				}
				if rec := post(); rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) || bytes.Count(rec.Body.Bytes(), []byte(`"sender"`)) != 50 {
					b.Fatalf("%d %.400s", rec.Code, rec.Body.Bytes())
				}
				b.ReportAllocs()
				cpu0 := processCPU()
				b.ResetTimer()
				for range b.N {
					post()
				}
				b.StopTimer()
				b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu_ms/op")
			})
		}
	}
}

// processCPU is the CPU time this process has used, user and system: the
// page's cost wherever its goroutines ran.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
