package graphiql_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/graphiql"
)

func get(t *testing.T, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAssetsAreServedWithTheirTypeAndCachedForAYear(t *testing.T) {
	h := graphiql.Handler(graphiql.Options{})
	for _, tc := range []struct{ path, contentType string }{
		{"react@18.2.0/umd/react.production.min.js", "text/javascript; charset=utf-8"},
		{"react-dom@18.2.0/umd/react-dom.production.min.js", "text/javascript; charset=utf-8"},
		{"graphiql@4.1.2/graphiql.min.js", "text/javascript; charset=utf-8"},
		{"graphiql@4.1.2/graphiql.min.css", "text/css; charset=utf-8"},
		{"graphiql@4.1.2/LICENSE", "text/plain; charset=utf-8"},
		{"react@18.2.0/LICENSE", "text/plain; charset=utf-8"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("assets", tc.path))
			if err != nil {
				t.Fatal(err)
			}
			resp := get(t, h, http.MethodGet, "/graphiql/"+tc.path)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, want) {
				t.Errorf("without Accept-Encoding: %d bytes encoded %q, want the file's %d", len(body), resp.Header.Get("Content-Encoding"), len(want))
			}

			etag := resp.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if resp := get(t, h, http.MethodGet, "/graphiql/"+tc.path, "If-None-Match", `"other", W/`+etag); resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
			}

			resp = get(t, h, http.MethodGet, "/graphiql/"+tc.path, "Accept-Encoding", "br;q=1, gzip;q=0.8")
			zipped := readAll(t, resp)
			if resp.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(zipped))
				if err != nil {
					t.Fatal(err)
				}
				unzipped, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(unzipped, want) {
					t.Errorf("gzipped body does not unzip to the file (err %v)", err)
				}
			} else if len(want) > 10_000 {
				t.Errorf("a %d-byte text asset was not gzipped for a client that accepts gzip", len(want))
			}
			if resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary %q", resp.Header.Get("Vary"))
			}

			resp = get(t, h, http.MethodHead, "/graphiql/"+tc.path)
			if b := readAll(t, resp); resp.StatusCode != http.StatusOK || len(b) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
				t.Errorf("HEAD: status %d, %d body bytes, Content-Length %q", resp.StatusCode, len(b), resp.Header.Get("Content-Length"))
			}
		})
	}
}

func TestUnknownAssetsAndMethodsAreRefused(t *testing.T) {
	h := graphiql.Handler(graphiql.Options{})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/graphiql/graphiql@4.1.2/graphiql.js", http.StatusNotFound},
		{http.MethodGet, "/graphiql/react@17.0.0/umd/react.production.min.js", http.StatusNotFound},
		{http.MethodGet, "/graphiql/", http.StatusNotFound},
		{http.MethodGet, "/graphiql/../pins.txt", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodPost, "/graphiql/graphiql@4.1.2/graphiql.min.js", http.StatusMethodNotAllowed},
	} {
		if resp := get(t, h, tc.method, tc.path); resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

// pageRefs are the page's script srcs and stylesheet hrefs, each with its
// integrity attribute.
func pageRefs(t *testing.T, page string) map[string]string {
	t.Helper()
	refs := map[string]string{}
	for _, m := range regexp.MustCompile(`<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"[^>]*>`).FindAllStringSubmatch(page, -1) {
		integrity := ""
		if im := regexp.MustCompile(`\bintegrity="([^"]*)"`).FindStringSubmatch(m[0]); im != nil {
			integrity = html.UnescapeString(im[1])
		}
		refs[html.UnescapeString(m[1])] = integrity
	}
	if len(refs) != 4 {
		t.Fatalf("page references %d scripts and stylesheets, want React, ReactDOM, GraphiQL's JS and CSS:\n%s", len(refs), page)
	}
	return refs
}

func sri(b []byte) string {
	sum := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestPageLoadsOnlyEmbeddedAssetsByDefault(t *testing.T) {
	h := graphiql.Handler(graphiql.Options{})
	resp := get(t, h, http.MethodGet, "/")
	page := string(readAll(t, resp))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("page Cache-Control %q: the page names the asset versions, so it must be revalidated", got)
	}
	if strings.Contains(page, `src="http`) || strings.Contains(page, `href="http`) || strings.Contains(page, "//cdn") {
		t.Errorf("page references something off the gateway:\n%s", page)
	}
	for ref, integrity := range pageRefs(t, page) {
		if !strings.HasPrefix(ref, "/graphiql/") {
			t.Errorf("%s is not under /graphiql/", ref)
			continue
		}
		resp := get(t, h, http.MethodGet, ref)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", ref, resp.StatusCode)
		}
		if integrity != sri(body) {
			t.Errorf("%s: integrity %q, the body's is %q", ref, integrity, sri(body))
		}
	}
	if !strings.Contains(page, `"endpoint":"/query"`) || !strings.Contains(page, "createFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href })") {
		t.Errorf("page does not build a fetcher for /query with subscriptions")
	}
}

func TestPageLoadsFromTheCDNWhenAsked(t *testing.T) {
	const cdn = "https://cdn.jsdelivr.net/npm"
	local := graphiql.Handler(graphiql.Options{})
	h := graphiql.Handler(graphiql.Options{CDN: cdn + "/"})
	page := string(readAll(t, get(t, h, http.MethodGet, "/")))
	for ref, integrity := range pageRefs(t, page) {
		rel, ok := strings.CutPrefix(ref, cdn+"/")
		if !ok {
			t.Errorf("%s is not on %s", ref, cdn)
			continue
		}
		// The CDN must serve exactly the embedded bytes: same path, same hash.
		body := readAll(t, get(t, local, http.MethodGet, "/graphiql/"+rel))
		if integrity != sri(body) {
			t.Errorf("%s: integrity %q, the embedded copy's is %q", ref, integrity, sri(body))
		}
	}
	if !strings.Contains(page, `crossorigin="anonymous"`) {
		t.Error("CDN scripts need crossorigin for their integrity to be checked")
	}
	// The embedded assets are still there, for a page cached before the switch.
	if resp := get(t, h, http.MethodGet, "/graphiql/graphiql@4.1.2/graphiql.min.css"); resp.StatusCode != http.StatusOK {
		t.Errorf("embedded asset in CDN mode: status %d", resp.StatusCode)
	}
}

func TestOptionsReachThePage(t *testing.T) {
	h := graphiql.Handler(graphiql.Options{
		Title:     "commentgraph",
		Endpoint:  "https://api.example.com/graphql",
		AssetPath: "static/gql",
		Headers:   map[string]string{"Authorization": "Bearer </script><script>alert(1)</script>"},
	})
	page := string(readAll(t, get(t, h, http.MethodGet, "/")))
	for _, want := range []string{
		"<title>commentgraph</title>",
		`"endpoint":"https://api.example.com/graphql"`,
		`src="/static/gql/graphiql@4.1.2/graphiql.min.js"`,
		`"headers":{"Authorization":"Bearer \u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"}`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}
	if strings.Count(page, "</script>") != 4 {
		t.Errorf("a header value closed a script element:\n%s", page)
	}
	if resp := get(t, h, http.MethodGet, "/static/gql/react@18.2.0/umd/react.production.min.js"); resp.StatusCode != http.StatusOK {
		t.Errorf("asset under AssetPath: status %d", resp.StatusCode)
	}
}

func TestValidateRefusesWhatThePageCouldNotUse(t *testing.T) {
	for _, tc := range []struct {
		opts graphiql.Options
		ok   bool
	}{
		{graphiql.Options{}, true},
		{graphiql.Options{CDN: "https://unpkg.com", Endpoint: "/query"}, true},
		{graphiql.Options{Endpoint: "http://localhost:8080/query"}, true},
		{graphiql.Options{CDN: "cdn.jsdelivr.net/npm"}, false},
		{graphiql.Options{CDN: "ftp://cdn.example.com"}, false},
		{graphiql.Options{CDN: "https://"}, false},
		{graphiql.Options{Endpoint: "query"}, false},
		{graphiql.Options{Endpoint: "ws://localhost/query"}, false},
	} {
		if err := tc.opts.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v", tc.opts, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Handler accepted a CDN Validate refuses")
		}
	}()
	graphiql.Handler(graphiql.Options{CDN: "cdn.jsdelivr.net"})
}

// TestEveryEmbeddedFileIsPinned: assets/ holds exactly the files pins.txt
// names, at the versions graphiql.go serves, so the page and
// `make graphiql-assets` cannot drift apart.
func TestEveryEmbeddedFileIsPinned(t *testing.T) {
	f, err := os.Open("pins.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pinned []string
	versions := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 4 || !strings.HasPrefix(fields[2], "sha512-") {
			t.Fatalf("pins.txt: %q: want package version sha512-… file…", sc.Text())
		}
		versions[fields[0]] = fields[1]
		for _, file := range fields[3:] {
			pinned = append(pinned, fields[0]+"@"+fields[1]+"/"+file)
		}
	}
	if versions["graphiql"] != graphiql.GraphiQLVersion || versions["react"] != graphiql.ReactVersion || versions["react-dom"] != graphiql.ReactVersion {
		t.Errorf("pins.txt pins %v; graphiql.go serves graphiql %s and react %s", versions, graphiql.GraphiQLVersion, graphiql.ReactVersion)
	}
	var embedded []string
	err = filepath.WalkDir("assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			embedded = append(embedded, filepath.ToSlash(strings.TrimPrefix(p, "assets"+string(filepath.Separator))))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pinned)
	slices.Sort(embedded)
	if !slices.Equal(pinned, embedded) {
		t.Errorf("assets/ holds %v; pins.txt names %v: run make graphiql-assets", embedded, pinned)
	}
	for _, p := range pinned {
		if pkg, _, _ := strings.Cut(p, "@"); !slices.Contains(pinned, pkg+"@"+versions[pkg]+"/LICENSE") {
			t.Errorf("%s has no LICENSE beside it", p)
		}
	}
}
