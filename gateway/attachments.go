package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Attachment downloads through the gateway.
//
// Attachment.url is a link to this gateway,
//
//	/attachments/{provider}/{ref}/{name}?exp={unix seconds}&sig={base64url HMAC}
//
// where sig is HMAC-SHA256 (key: attachments.signingKey, or a random key per
// instance) over the provider id, the attachment ref and name, the caller's
// tenant and credential fingerprint, and exp. GET checks the signature (in
// constant time) and the expiry before any upstream call, then streams the
// upstream file with the provider's credential. The route is mounted under
// authenticate: the request presents the same API key or JWT as the query
// that made the link (so a leaked link is useless without the credential);
// with auth off both fingerprints are "".
//
// Only providers that implement providers.Downloader (Virola, Ziik) get such
// links, and only for files that did not fail to upload; the others keep the
// URL their adapter maps (or none).

// attachmentSigner makes and checks the links.
type attachmentSigner struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

func newAttachmentSigner(c config.Attachments) *attachmentSigner {
	s := &attachmentSigner{key: []byte(c.SigningKey), ttl: c.URLExpiry.D(), now: time.Now}
	if len(s.key) == 0 {
		s.key = make([]byte, 32)
		if _, err := rand.Read(s.key); err != nil {
			panic("attachments: no randomness for the signing key: " + err.Error())
		}
	}
	if s.ttl <= 0 {
		s.ttl = 15 * time.Minute
	}
	return s
}

// mac is the signature of one link. Each part is length-prefixed, so no two
// different tuples sign the same bytes.
func (s *attachmentSigner) mac(provider, ref, name, tenant, credential string, exp int64) []byte {
	m := hmac.New(sha256.New, s.key)
	var n [8]byte
	for _, part := range []string{"commentgraph attachment v1", provider, ref, name, tenant, credential} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		m.Write(n[:])
		m.Write([]byte(part))
	}
	binary.BigEndian.PutUint64(n[:], uint64(exp))
	m.Write(n[:])
	return m.Sum(nil)
}

// url is the signed link to an attachment for the caller (tenant,
// credential), valid for the configured expiry.
func (s *attachmentSigner) url(provider, ref, name, tenant, credential string) string {
	exp := s.now().Add(s.ttl).Unix()
	sig := base64.RawURLEncoding.EncodeToString(s.mac(provider, ref, name, tenant, credential, exp))
	return "/attachments/" + url.PathEscape(provider) + "/" + url.PathEscape(ref) + "/" + url.PathEscape(name) +
		"?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + sig
}

var errBadLink = errors.New("the attachment link is not valid for this caller, or has expired")

// check verifies a link's signature and expiry, in constant time for the
// signature.
func (s *attachmentSigner) check(provider, ref, name, tenant, credential, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return errBadLink
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return errBadLink
	}
	if !hmac.Equal(got, s.mac(provider, ref, name, tenant, credential, e)) {
		return errBadLink
	}
	if !s.now().Before(time.Unix(e, 0)) {
		return errBadLink
	}
	return nil
}

// downloader is the Downloader under the registry's wrappers (the cache)
// of the caller's tenant, acting for the caller, or nil.
func (a *App) downloader(ctx context.Context, id string) providers.Downloader {
	p, err := a.tenantOf(ctx).registry.Get(id)
	if err != nil {
		return nil
	}
	if p, err = providers.ForCaller(ctx, p); err != nil {
		return nil
	}
	d, _ := providers.Lifecycle[providers.Downloader](p)
	return d
}

// AttachmentURL is the link Attachment.url gives the caller of ctx: a signed
// gateway link when the provider can stream the file, else the adapter's URL.
func (a *App) attachmentURL(ctx context.Context, at *model.Attachment) *string {
	// Only a file that can be fetched now gets a link: one failed, still
	// uploading or processing (or a stand-in for one) would answer an error;
	// the comment's UPDATED event or a later read brings its link.
	if at == nil {
		return nil
	}
	if at.Ref == "" || at.Name == "" || (at.State != model.AttachmentStateReady && at.State != "") || !a.canDownload(ctx, at.ProviderID) {
		return at.URL
	}
	u := a.attachments.url(at.ProviderID, at.Ref, at.Name, tenant(ctx), credential(ctx))
	return &u
}

// canDownload says whether the gateway streams the provider's files, with
// no credential needed to tell (a userProvider answers for its kind).
func (a *App) canDownload(ctx context.Context, id string) bool {
	p, err := a.tenantOf(ctx).registry.Get(id)
	if err != nil {
		return false
	}
	if u, ok := p.(*userProvider); ok {
		p = u.kind
	}
	_, ok := providers.Lifecycle[providers.Downloader](p)
	return ok
}

// serveAttachment is GET /attachments/{provider}/{ref}/{name}.
func (a *App) serveAttachment(w http.ResponseWriter, r *http.Request) {
	provider, ref, name := r.PathValue("provider"), r.PathValue("ref"), r.PathValue("name")
	q := r.URL.Query()
	ctx := r.Context()
	if err := a.attachments.check(provider, ref, name, tenant(ctx), credential(ctx), q.Get("exp"), q.Get("sig")); err != nil {
		writeGraphQLError(w, http.StatusForbidden, model.CodeForbidden, err.Error())
		return
	}
	d := a.downloader(ctx, provider)
	if d == nil {
		writeGraphQLError(w, http.StatusNotFound, model.CodeNotFound, "this provider's attachments are not served by the gateway")
		return
	}
	dl, err := d.Download(ctx, ref, name, r.Header.Get("Range"))
	if err != nil {
		status, code := http.StatusBadGateway, model.CodeUpstreamUnavailable
		var me *model.Error
		if errors.As(err, &me) {
			switch me.Code {
			case model.CodeNotFound:
				status, code = http.StatusNotFound, me.Code
			case model.CodeBadUserInput:
				status, code = http.StatusBadRequest, me.Code
			case model.CodeUpstreamTimeout:
				status, code = http.StatusGatewayTimeout, me.Code
			}
		}
		if providers.UpstreamStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			status = http.StatusRequestedRangeNotSatisfiable
		}
		a.log.WarnContext(ctx, "attachment download", "provider", provider, "err", err)
		writeGraphQLError(w, status, code, "the attachment could not be fetched")
		return
	}
	defer dl.Body.Close()
	h := w.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges"} {
		if v := dl.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("Content-Disposition", contentDisposition(name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	status := dl.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.Copy(w, dl.Body) // streamed: io.Copy's 32 KiB buffer, never the whole file
}

// contentDisposition is "attachment" with the file name as RFC 6266 wants
// it: a quoted ASCII filename, plus filename* (RFC 8187, UTF-8) when the
// name is not plain ASCII.
func contentDisposition(name string) string {
	ascii := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
			return v
		}
	}
	var fallback strings.Builder
	for _, c := range name {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			fallback.WriteByte('_')
			continue
		}
		fallback.WriteRune(c)
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + extValue(name)
}

// extValue percent-encodes s as an RFC 8187 value: every byte but attr-char.
func extValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
