package graphiql_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/commentgraph/commentgraph/config"

	"github.com/commentgraph/commentgraph/demo"
	"github.com/commentgraph/commentgraph/gateway"
	"github.com/commentgraph/commentgraph/graphiql"
)

// TestBrowserRunsAQueryAndASubscription opens the page in headless Chromium,
// which can reach nothing but 127.0.0.1, against the real gateway in demo mode
// with an API key required: GraphiQL must load from the embedded assets alone,
// send the headers editor's Authorization with a query, and again in
// connection_init for a subscription over graphql-ws, through which the demo's
// trickle of comments arrives in the page.
func TestBrowserRunsAQueryAndASubscription(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	const apiKey = "browser-test-key-0123456789"
	front := startGatewayBehindPage(ctx, t, apiKey, graphiql.Options{
		Title:   "commentgraph",
		Headers: map[string]string{"Authorization": "Bearer " + apiKey},
	})

	var mu sync.Mutex
	var offsite, sockets, exceptions []string
	listen := func(ev any) { // on chromedp's reading goroutine: record and return
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if u, err := url.Parse(ev.Request.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != "127.0.0.1" {
				offsite = append(offsite, ev.Request.URL)
			}
		case *network.EventWebSocketCreated:
			sockets = append(sockets, ev.URL)
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			if d.Exception != nil {
				exceptions = append(exceptions, d.Text+" "+d.Exception.Description)
			} else {
				exceptions = append(exceptions, d.Text)
			}
		}
	}
	bctx := startBrowser(ctx, t, chromium, t.TempDir(), listen)
	defer func() {
		mu.Lock()
		off, exc := slices.Clone(offsite), slices.Clone(exceptions)
		mu.Unlock() // the listener needs it while saveFailure runs
		if len(off) > 0 {
			t.Errorf("the page asked for something off the gateway: %v", off)
		}
		for _, e := range exc {
			t.Logf("page exception: %s", e)
		}
		if t.Failed() {
			saveFailure(bctx, t)
		}
	}()

	// Each operation arrives the way a shared link brings it, in ?query=.
	run := func(operation, want string) {
		t.Helper()
		// Each step's own deadline leaves the test's for saveFailure.
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		err := chromedp.Do(ctx,
			chromedp.Navigate(front+"/?query="+url.QueryEscape(operation)),
			chromedp.WaitVisible(chromedp.CSS(`.graphiql-execute-button`)),
			chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
			chromedp.Poll[chromedp.Void](`document.querySelector('.graphiql-response')?.innerText.includes(`+jsString(want)+`)`,
				chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)),
		)
		if err != nil {
			t.Fatalf("%s: no %s in the result pane: %v", operation, want, err)
		}
	}
	run(`{ providers { id name } }`, `"id": "klink"`)
	run(`subscription { commentAdded { text sender { name } } }`, `"commentAdded"`)

	response, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`.graphiql-response`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(response, `"text"`) || strings.Contains(response, `"errors"`) {
		t.Errorf("subscription event:\n%s", response)
	}
	mu.Lock()
	opened := slices.Clone(sockets)
	mu.Unlock()
	if want := strings.Replace(front, "http:", "ws:", 1) + "/query"; !slices.Contains(opened, want) {
		t.Errorf("WebSockets opened: %v; want %s", opened, want)
	}
}

// findChromium is Chromium's path. Without one the test skips, except under
// CI=true (.ci/run installs it), where it fails.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH under CI=true: .ci/run installs Debian's chromium")
	}
	t.Skip("no chromium on PATH: apt-get install chromium to run the browser test")
	return ""
}

// startGatewayBehindPage runs the gateway in demo mode, requiring apiKey,
// with comments trickling in, and in front of it a server for the page and
// its assets that passes /query (HTTP and WebSocket) through to the gateway
// under its own Host, so the socket counts as same-origin. It returns the
// front server's URL. Everything stops when the test ends.
func startGatewayBehindPage(ctx context.Context, t *testing.T, apiKey string, opts graphiql.Options) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := demo.Start(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	w.Config.Listen = "127.0.0.1:0"
	w.Config.Auth.APIKeys = config.Keys(apiKey)
	app, err := gateway.New(w.Config, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := app.Close(ctx); err != nil {
			t.Errorf("gateway close: %v", err)
		}
	})
	w.Connect(app.Addr())
	trickleCtx, stopTrickle := context.WithCancel(ctx)
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		w.Trickle(trickleCtx, 200*time.Millisecond)
	}()
	t.Cleanup(func() { stopTrickle(); <-trickled })

	target := &url.URL{Scheme: "http", Host: app.Addr()}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	page := graphiql.Handler(opts)
	mux := http.NewServeMux()
	mux.Handle("/query", proxy)
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /graphiql/", page)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// startBrowser starts headless Chromium with a fresh profile in dir, unable
// to resolve any host but 127.0.0.1, with listen seeing the tab's events from
// its start, and stops it when the test ends.
func startBrowser(ctx context.Context, t *testing.T, chromium, dir string, listen func(any)) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithListener(listen))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return bctx
}

// saveFailure logs what the page shows and keeps a screenshot in the test's
// artifact directory (kept with go test -artifacts).
func saveFailure(bctx context.Context, t *testing.T) {
	ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if err != nil {
		t.Logf("failure capture: %v", err)
		return
	}
	t.Logf("the page's text:\n%s", text)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), "graphiql.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
