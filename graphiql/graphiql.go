// Package graphiql serves GraphiQL, with its scripts and styles embedded in
// the binary so that the page works without internet. Subscriptions run over
// graphql-ws on the GraphQL endpoint itself, and the headers editor's headers
// (an Authorization, say) go with every request and, for a subscription, in
// the socket's connection_init payload.
//
// The embedded files are npm's published builds, pinned by version and
// integrity in pins.txt and refreshed with `make graphiql-assets`.
package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
)

// Versions of the embedded packages; pins.txt pins the same ones.
const (
	GraphiQLVersion = "4.1.2"
	ReactVersion    = "18.2.0"
)

// The page's files, as paths under the asset path and under a CDN base: both
// use npm's <package>@<version>/<file> layout.
var (
	reactJS     = "react@" + ReactVersion + "/umd/react.production.min.js"
	reactDOMJS  = "react-dom@" + ReactVersion + "/umd/react-dom.production.min.js"
	graphiqlJS  = "graphiql@" + GraphiQLVersion + "/graphiql.min.js"
	graphiqlCSS = "graphiql@" + GraphiQLVersion + "/graphiql.min.css"
)

// Options configure Handler. The zero value serves a page titled "GraphiQL"
// for the endpoint /query, with its assets embedded under /graphiql/.
type Options struct {
	// Title is the page's title. Default "GraphiQL".
	Title string

	// Endpoint is where the page sends operations: a path on the page's own
	// host, or an absolute http(s) URL. Subscriptions go to the same URL with
	// ws: or wss: as its scheme (wss: for https:). Default "/query".
	Endpoint string

	// AssetPath is the path prefix under which Handler serves the embedded
	// assets; the page asks for them there. Each asset's path names its
	// package's version, so responses may be cached for a year. Default
	// "/graphiql/" (a slash is added at either end when missing).
	AssetPath string

	// CDN, when set, is a base URL with npm's <package>@<version>/<file>
	// layout (https://cdn.jsdelivr.net/npm, https://unpkg.com) from which
	// the page loads the same versions instead: the page carries the
	// embedded files' hashes as subresource integrity, so a CDN serving
	// other bytes gets them refused. Handler still serves the embedded
	// assets. Default "": the page uses the embedded assets and needs no
	// network beyond the gateway.
	CDN string

	// Headers fill the headers editor when a browser has none saved, for
	// instance {"Authorization": "Bearer "} as a reminder. They are sent
	// only as the user leaves them. Default: none. Whether edited headers
	// outlive the tab is the user's choice in GraphiQL's settings (off
	// until turned on, since they may hold an API key).
	Headers map[string]string
}

// Validate reports options Handler refuses: a CDN that is not an absolute
// http(s) URL, or an Endpoint that is neither a path nor one.
func (o Options) Validate() error {
	if o.CDN != "" {
		if u, err := url.Parse(o.CDN); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("graphiql: CDN %q: want an http(s) base URL such as https://cdn.jsdelivr.net/npm", o.CDN)
		}
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme == "" && !strings.HasPrefix(o.Endpoint, "/")) || (u.Scheme != "" && u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("graphiql: endpoint %q: want a path such as /query or an http(s) URL", o.Endpoint)
		}
	}
	return nil
}

// Handler serves the GraphiQL page, and the embedded assets under
// opts.AssetPath. Mount it on the page's path and on the asset path:
//
//	h := graphiql.Handler(graphiql.Options{Endpoint: "/query"})
//	mux.Handle("GET /{$}", h)
//	mux.Handle("GET /graphiql/", h)
//
// A request under AssetPath gets the asset or 404; any other request gets the
// page. Only GET and HEAD are answered. Responses are gzipped for clients
// that accept it. Handler panics on options that Validate refuses.
func Handler(opts Options) http.Handler {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	if opts.Title == "" {
		opts.Title = "GraphiQL"
	}
	if opts.Endpoint == "" {
		opts.Endpoint = "/query"
	}
	if opts.AssetPath == "" {
		opts.AssetPath = "/graphiql/"
	}
	if !strings.HasPrefix(opts.AssetPath, "/") {
		opts.AssetPath = "/" + opts.AssetPath
	}
	if !strings.HasSuffix(opts.AssetPath, "/") {
		opts.AssetPath += "/"
	}
	assets := embedded()
	base := opts.AssetPath
	if opts.CDN != "" {
		base = strings.TrimSuffix(opts.CDN, "/") + "/"
	}
	src := func(name string) pageAsset {
		return pageAsset{URL: base + name, Integrity: assets[name].integrity}
	}
	data := pageData{
		Title: opts.Title, CDN: opts.CDN != "",
		React: src(reactJS), ReactDOM: src(reactDOMJS), JS: src(graphiqlJS), CSS: src(graphiqlCSS),
		Config: pageConfig{Endpoint: opts.Endpoint},
	}
	if len(opts.Headers) > 0 {
		data.Config.Headers = opts.Headers
	}
	var page bytes.Buffer
	if err := pageTemplate.Execute(&page, data); err != nil {
		panic(fmt.Errorf("graphiql: page: %w", err))
	}
	return &handler{
		assetPath: opts.AssetPath,
		assets:    assets,
		page:      newFile(page.Bytes(), "text/html; charset=utf-8"),
	}
}

type handler struct {
	assetPath string
	assets    map[string]*file
	page      *file
}

// Assets never change under a path: the path names the version.
const (
	immutable = "public, max-age=31536000, immutable"
	// The page is small and names the assets: revalidate it every time, so
	// a new version's page is seen at once.
	revalidate = "no-cache"
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, h.assetPath); ok {
		f := h.assets[name]
		if f == nil {
			http.NotFound(w, r)
			return
		}
		f.serve(w, r, immutable)
		return
	}
	// The page's URL holds the query being edited: tell no other site, the
	// CDN included, about it.
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'self'")
	h.page.serve(w, r, revalidate)
}

// file is one response body, with what its headers need.
type file struct {
	body        []byte
	contentType string
	etag        string
	integrity   string // sha384, for the page's integrity attributes

	gzipOnce sync.Once
	gzipped  []byte // nil when gzip would not make it smaller
}

func newFile(body []byte, contentType string) *file {
	sum := sha256.Sum256(body)
	sri := sha512.Sum384(body)
	return &file{
		body:        body,
		contentType: contentType,
		etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
		integrity:   "sha384-" + base64.StdEncoding.EncodeToString(sri[:]),
	}
}

func (f *file) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Cache-Control", cacheControl)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Vary", "Accept-Encoding")
	hdr.Set("ETag", f.etag)
	if etagMatches(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz := f.gzip(); gz != nil {
			body = gz
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// gzip compresses the body on first use, so a gateway whose page nobody
// opens spends nothing on it.
func (f *file) gzip() []byte {
	f.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(f.body)
		_ = zw.Close()
		if buf.Len() < len(f.body) {
			f.gzipped = buf.Bytes()
		}
	})
	return f.gzipped
}

// etagMatches reads If-None-Match: "*" or a list of (possibly weak) tags.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip (or *) listed without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}

//go:embed assets
var assetFS embed.FS

// embedded reads every file under assets/ once: the page's scripts and
// styles and each package's LICENSE, which is served beside them.
var embedded = sync.OnceValue(func() map[string]*file {
	out := map[string]*file{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		out[strings.TrimPrefix(p, "assets/")] = newFile(body, contentType(p))
		return nil
	})
	if err != nil {
		panic(fmt.Errorf("graphiql: embedded assets: %w", err))
	}
	for _, name := range []string{reactJS, reactDOMJS, graphiqlJS, graphiqlCSS} {
		if out[name] == nil {
			panic(fmt.Errorf("graphiql: %s is not embedded: run make graphiql-assets", name))
		}
	}
	return out
})

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default: // LICENSE
		return "text/plain; charset=utf-8"
	}
}

type pageAsset struct {
	URL       string
	Integrity string
}

type pageData struct {
	Title                    string
	CDN                      bool
	React, ReactDOM, JS, CSS pageAsset
	Config                   pageConfig
}

// pageConfig reaches the page's script as JSON.
type pageConfig struct {
	Endpoint string            `json:"endpoint"`
	Headers  map[string]string `json:"headers,omitempty"`
}

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))
