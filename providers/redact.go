package providers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces a secret in upstream text that goes to a log.
const Redacted = "[REDACTED]"

// minSecret is the shortest secret Redact replaces: replacing every "ab" of
// a log line would shred it and hide nothing worth hiding.
const minSecret = 4

// redactScan is how much upstream text is redacted at most; longer text is
// cut first (the log keeps 200 bytes of it anyway).
const redactScan = 64 << 10

// secretName matches the name of a field or parameter that holds a
// credential: token, access_token, password, secret, cookie, api_key, …
const secretName = `[A-Za-z0-9_.-]*(?:token|password|passwd|secret|cookie|authorization|api[_-]?key|credential)[A-Za-z0-9_.-]*`

var (
	// "password": "…" (any value), in JSON.
	jsonSecret = regexp.MustCompile(`(?i)("` + secretName + `"\s*:\s*)("(?:[^"\\]|\\.)*"|[^\s,}\]]+)`)
	// \"password\":\"…\", JSON quoted inside a JSON string.
	quotedJSONSecret = regexp.MustCompile(`(?i)(\\"` + secretName + `\\"\s*:\s*)\\"(?:[^"\\]|\\\\)*\\"`)
	// password=… in a query string or form body.
	formSecret = regexp.MustCompile(`(?i)\b(` + secretName + `)=[^&\s"';,]+`)
	// Authorization: …, Cookie: …, as an echoed header line.
	headerSecret = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|cookie|set-cookie|x-api-key)(\s*:\s*)[^\r\n"]+`)
	// Bearer … anywhere.
	bearerToken = regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*`)
)

// Redact returns text with every secret, and what obviously is one, replaced
// by Redacted: each of secrets (at least 4 bytes long; also as it reads
// JSON-escaped and URL-encoded), the values of JSON fields and form
// parameters named like token, access_token, password, secret, cookie or
// api_key, echoed Authorization and Cookie header lines, and Bearer tokens.
// It is for upstream text on its way to a log; clients never see upstream
// text at all (StatusError).
func Redact(text string, secrets ...string) string {
	text = replaceSecrets(text, secrets)
	text = jsonSecret.ReplaceAllString(text, `${1}"`+Redacted+`"`)
	text = quotedJSONSecret.ReplaceAllString(text, `${1}\"`+Redacted+`\"`)
	text = formSecret.ReplaceAllString(text, `${1}=`+Redacted)
	text = headerSecret.ReplaceAllString(text, `${1}${2}`+Redacted)
	return bearerToken.ReplaceAllString(text, `${1} `+Redacted)
}

// replaceSecrets replaces each secret, in the forms an upstream may echo it,
// longest first so that a secret holding another goes whole.
func replaceSecrets(text string, secrets []string) string {
	if len(secrets) == 0 || text == "" {
		return text
	}
	forms := make([]string, 0, 3*len(secrets))
	for _, s := range secrets {
		if len(s) < minSecret {
			continue
		}
		forms = append(forms, s)
		if b, err := json.Marshal(s); err == nil {
			if q := string(b[1 : len(b)-1]); q != s {
				forms = append(forms, q)
			}
		}
		if q := url.QueryEscape(s); q != s {
			forms = append(forms, q)
		}
	}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, s := range forms {
		text = strings.ReplaceAll(text, s, Redacted)
	}
	return text
}

// isCredentialHeader says whether a request header carries a credential:
// Authorization, Cookie, and any header named like X-Api-Key, X-Auth-Token or
// X-Session-Id.
func isCredentialHeader(name string) bool {
	switch name {
	case "Authorization", "Proxy-Authorization", "Cookie":
		return true
	}
	l := strings.ToLower(name)
	for _, w := range []string{"auth", "token", "secret", "key", "cookie", "session", "password", "signature"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// headerSecrets lists the credentials h carries, in every form an upstream
// may echo: a header's whole value, the credential after its scheme ("Bearer
// x" → "x"), Basic credentials decoded, and each cookie's value.
func headerSecrets(h http.Header) []string {
	var out []string
	for name, vs := range h {
		if !isCredentialHeader(name) {
			continue
		}
		for _, v := range vs {
			out = append(out, v)
			if scheme, cred, ok := strings.Cut(v, " "); ok {
				cred = strings.TrimSpace(cred)
				out = append(out, cred)
				if strings.EqualFold(scheme, "basic") {
					if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
						user, pass, _ := strings.Cut(string(dec), ":")
						out = append(out, string(dec), user, pass)
					}
				}
			}
			if name == "Cookie" {
				for _, c := range strings.Split(v, ";") {
					if _, val, ok := strings.Cut(c, "="); ok {
						out = append(out, strings.TrimSpace(val))
					}
				}
			}
		}
	}
	return out
}
