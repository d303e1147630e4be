package graphqlws

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// origin is a scheme and a host (lower case, with its port unless it is the
// scheme's default): what a browser's Origin header names.
type origin struct {
	scheme, host string
}

// originPattern is one Options.AllowedOrigins entry: host is a path.Match
// pattern when wild (it has a * or ?), else compared as it is (so an IPv6
// literal's brackets are not a character class).
type originPattern struct {
	origin
	wild bool
}

func parseOriginPattern(entry string) (originPattern, error) {
	s := strings.ToLower(strings.TrimSpace(entry))
	scheme, host, ok := strings.Cut(s, "://")
	if !ok {
		scheme, host = "https", s // no scheme: https only
	}
	host = strings.TrimSuffix(host, "/")
	if scheme != "https" && scheme != "http" {
		return originPattern{}, fmt.Errorf("allowed origin %q: the scheme must be https or http", entry)
	}
	if host == "" || strings.ContainsAny(host, "/?#@") {
		return originPattern{}, fmt.Errorf("allowed origin %q: want [scheme://]host[:port], nothing more", entry)
	}
	p := originPattern{origin: origin{scheme: scheme, host: withoutDefaultPort(scheme, host)}, wild: strings.ContainsAny(host, "*?")}
	if p.wild {
		if _, err := path.Match(p.host, ""); err != nil {
			return originPattern{}, fmt.Errorf("allowed origin %q: %w", entry, err)
		}
	}
	return p, nil
}

// withoutDefaultPort drops :443 from an https host and :80 from an http one,
// as browsers do in Origin.
func withoutDefaultPort(scheme, host string) string {
	def := ":443"
	if scheme == "http" {
		def = ":80"
	}
	return strings.TrimSuffix(host, def)
}

func (p originPattern) admits(o origin) bool {
	if p.scheme != o.scheme {
		return false
	}
	if !p.wild {
		return p.host == o.host
	}
	ok, _ := path.Match(p.host, o.host)
	return ok
}

// parseOrigin reads an Origin header; false for anything but an http(s)
// origin ("null", a URL with a path, user info, …).
func parseOrigin(h string) (origin, bool) {
	u, err := url.Parse(h)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return origin{}, false
	}
	scheme := strings.ToLower(u.Scheme)
	return origin{scheme: scheme, host: withoutDefaultPort(scheme, strings.ToLower(u.Host))}, true
}

// requestOrigin is the origin the request was sent to: its Host, over https
// when it came over TLS or a proxy says so in X-Forwarded-Proto.
func requestOrigin(r *http.Request) origin {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.EqualFold(strings.TrimSpace(p), "https") {
		scheme = "https"
	}
	return origin{scheme: scheme, host: withoutDefaultPort(scheme, strings.ToLower(r.Host))}
}

// checkOrigin allows requests without Origin, same-origin ones, and those
// whose Origin an AllowedOrigins entry admits.
func (t *Transport) checkOrigin(r *http.Request) bool {
	h := r.Header.Get("Origin")
	if h == "" {
		return true
	}
	o, ok := parseOrigin(h)
	if !ok {
		return false
	}
	return o == requestOrigin(r) || t.origins.admits(o)
}

// Origins is a parsed list of allowed origins (Options.AllowedOrigins' form),
// for other checks of the same list: the gateway's CORS uses it, so both
// admit exactly the same origins.
type Origins []originPattern

// ParseOrigins reads entries as Options.AllowedOrigins does; an entry it
// cannot read is returned as an error and admits nothing.
func ParseOrigins(entries []string) (Origins, []error) {
	var out Origins
	var errs []error
	for _, e := range entries {
		p, err := parseOriginPattern(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errs
}

// Admits reports whether the Origin header value h names an origin of the
// list (scheme, host and port; "null" and anything but an http(s) origin
// never).
func (os Origins) Admits(h string) bool {
	o, ok := parseOrigin(h)
	return ok && os.admits(o)
}

func (os Origins) admits(o origin) bool {
	for _, p := range os {
		if p.admits(o) {
			return true
		}
	}
	return false
}
