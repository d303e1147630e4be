package ziik

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

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
	// The client's Timeout bounds a whole call, body included: a file would
	// be cut off after it. Here it bounds the wait for the answer's headers;
	// the body streams for as long as ctx (the client's request) lasts.
	c := *p.caller.Client
	wait := c.Timeout
	c.Timeout = 0
	for attempt := 0; ; attempt++ {
		jwt, err := p.token(ctx)
		if err != nil {
			return nil, err
		}
		resp, cancel, err := p.get(ctx, &c, wait, u, jwt, rangeHeader)
		if err != nil {
			return nil, providers.TransportError(p.id, err)
		}
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
			h := http.Header{}
			for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Content-Disposition"} {
				if v := resp.Header.Get(k); v != "" {
					h.Set(k, v)
				}
			}
			return &providers.Download{Status: resp.StatusCode, Header: h, Body: cancelOnClose{resp.Body, cancel}}, nil
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		// A refused token got nothing: one fresh token and one retry, as call does.
		if attempt == 0 && resp.StatusCode == http.StatusUnauthorized {
			p.invalidate(jwt)
			continue
		}
		return nil, p.statusError(providers.StatusError(p.id, resp.StatusCode, p.errorText(raw), resp.Header), resp.StatusCode)
	}
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

// get sends the GET; wait (when positive) bounds the time to the answer's
// headers. cancel ends the download's context and goes with the body.
func (p *Provider) get(ctx context.Context, c *http.Client, wait time.Duration, u, jwt, rangeHeader string) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(ctx)
	var timer *time.Timer
	if wait > 0 {
		timer = time.AfterFunc(wait, cancel)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := c.Do(req)
	if timer != nil && !timer.Stop() && err == nil {
		// The wait ran out as the headers came: the body is cancelled.
		resp.Body.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return resp, cancel, nil
}

// cancelOnClose ends the download's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
