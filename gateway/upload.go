package gateway

import (
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/resolvers"
)

// Uploads: createComment's attachments come as a GraphQL multipart request
// (operations, map, then the files), through gqlgen's MultipartForm
// transport. Such a body is bounded by uploadLimit rather than
// limits.maxBodyBytes, which is sized for JSON and would refuse every real
// file; each file is then checked against attachments.* by the resolver
// (resolvers/upload.go) before any upstream call.

// uploadMemory is how much of a multipart request gqlgen keeps in memory;
// a larger request is spooled to temporary files, which are seekable too.
const uploadMemory = 16 << 20

// uploadLimit is the most a multipart request may carry: every file at its
// limit (attachments.maxUploadFiles × attachments.maxUploadBytes), plus
// limits.maxBodyBytes of slack for the operations and map parts and each
// part's framing.
func (a *App) uploadLimit() int64 {
	at := a.cfg.Attachments
	files := int64(max(at.MaxUploadFiles, 0))
	per := max(at.MaxUploadBytes, 0)
	slack := a.cfg.Limits.MaxBodyBytes
	if files > 0 && per > (math.MaxInt64-slack)/files {
		return math.MaxInt64
	}
	return files*per + slack
}

// multipartTransport is gqlgen's MultipartForm with the gateway's bound.
func (a *App) multipartTransport() transport.MultipartForm {
	return transport.MultipartForm{MaxUploadSize: a.uploadLimit(), MaxMemory: min(uploadMemory, a.uploadLimit())}
}

// uploadLimits are what the resolver checks each file against.
func uploadLimits(at config.Attachments) resolvers.UploadLimits {
	return resolvers.UploadLimits{MaxBytes: at.MaxUploadBytes, MaxFiles: at.MaxUploadFiles, AllowedTypes: at.AllowedContentTypes}
}

// isMultipart reports whether r is a GraphQL multipart request.
func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// limitUpload is limitBody for a multipart request: 413 past uploadLimit,
// the body streamed to gqlgen (which spools large files to disk) rather than
// read into memory first. A browser may send multipart/form-data
// cross-origin without a preflight, so one from an origin that is neither
// this gateway's nor in auth.allowedOrigins is refused (403), as the
// WebSocket transport refuses it; clients that send no Origin (curl, servers)
// are let through to auth.
func (a *App) limitUpload(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if o := r.Header.Get("Origin"); o != "" && !a.uploadOriginAllowed(r, o) {
		writeGraphQLError(w, http.StatusForbidden, model.CodeForbidden, "uploads are not accepted from this origin")
		return
	}
	max := a.uploadLimit()
	if r.ContentLength > max {
		writeTooLarge(w, max)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	next.ServeHTTP(w, r)
}

// uploadOriginAllowed admits the gateway's own origin and those of
// auth.allowedOrigins.
func (a *App) uploadOriginAllowed(r *http.Request, o string) bool {
	if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return a.origins.Admits(o)
}
