package ziik

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/commentgraph/commentgraph/providers"
)

var _ providers.Downloader = (*Provider)(nil)

// Download streams a file or voice note of a message with the JWT, the
// client's Range forwarded, so the gateway serves Ziik attachments behind
// its signed links like any other. The notes give a file only a `source`
// URL; the adapter takes it to be the tenant origin's
// /files/{id}/{name} (a voice note's /voice/{id}.{extension}), which is what
// the emulator serves, and builds it from the attachment's ref and name, so
// a link signed on one gateway instance opens on another without the message
// being read again. The body is not read here; the caller streams and closes
// it.
func (p *Provider) Download(ctx context.Context, ref, name, rangeHeader string) (*providers.Download, error) {
	u, ok := p.fileURL(ref, name)
	if !ok {
		return nil, p.badInput("not an attachment of this provider")
	}
	var d *providers.Download
	err := p.authorized(ctx, func(jwt string) (err error) {
		d, err = p.caller.OpenDownload(ctx, u, rangeHeader, http.Header{"Authorization": {"Bearer " + jwt}})
		return err
	})
	return d, err
}

// fileURL is where an attachment ref ("file:<id>" or "voice:<id>") named
// name is served, or false for a ref this provider did not make.
func (p *Provider) fileURL(ref, name string) (string, bool) {
	kind, id, _ := strings.Cut(ref, ":")
	if _, ok := parseID(id); !ok || name == "" || strings.ContainsAny(name, "/\\") {
		return "", false
	}
	origin := strings.TrimSuffix(p.caller.BaseURL, "/api")
	switch kind {
	case "file":
		return origin + "/files/" + id + "/" + url.PathEscape(name), true
	case "voice":
		ext := strings.TrimPrefix(path.Ext(name), ".")
		if ext == "" || name != "voice-note."+ext {
			return "", false
		}
		return origin + "/voice/" + id + "." + url.PathEscape(ext), true
	}
	return "", false
}
