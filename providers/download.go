package providers

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Downloader is the optional interface of a provider whose attachments the
// gateway can stream to clients (GET /attachments/…). Providers without it
// keep the attachment URL they map (or none).
type Downloader interface {
	// Download opens the attachment ref (its Attachment.Ref) named name (its
	// Attachment.Name) with the provider's credential. rangeHeader, when not
	// "", is the client's Range header, forwarded as is. The caller closes
	// Body. An upstream error status is an error, not a Download.
	Download(ctx context.Context, ref, name, rangeHeader string) (*Download, error)
}

// Download is an opened attachment: the upstream status (200, or 206 for a
// range) and the headers worth passing on, with the body not yet read.
type Download struct {
	Status int
	// Header holds Content-Type, Content-Length, Content-Range,
	// Accept-Ranges and Content-Disposition as the upstream sent them.
	Header http.Header
	Body   io.ReadCloser
}

// downloadHeaders are the answer headers a Download passes on.
var downloadHeaders = []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Content-Disposition"}

// OpenDownload GETs the attachment at url (whole, not under BaseURL: a file
// may be served from the upstream's origin) with c's credentials, header and
// the client's Range, and returns the answer with its body unread. The
// Client's Timeout bounds a whole call, body included, so a file would be cut
// off after it: here it bounds only the wait for the answer's headers, and
// the body streams for as long as ctx (the client's request) lasts. A status
// other than 200 or 206 is a StatusError whose text is redacted like Do's.
// The download is not a call of the request's budget nor reported to OnCall.
func (c *Caller) OpenDownload(ctx context.Context, url, rangeHeader string, header http.Header) (*Download, error) {
	client := c.Client
	if client == nil {
		client = defaultClient
	}
	wait := client.Timeout
	unbounded := *client
	unbounded.Timeout = 0
	ctx, cancel := context.WithCancel(ctx)
	var timer *time.Timer
	if wait > 0 {
		timer = time.AfterFunc(wait, cancel)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, TransportError(c.Provider, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	if c.Authorize != nil {
		if err := c.Authorize(ctx, req); err != nil {
			cancel()
			return nil, err
		}
	}
	resp, err := unbounded.Do(req)
	if timer != nil && !timer.Stop() && err == nil {
		// The wait ran out as the headers came: the body is cancelled.
		resp.Body.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		return nil, TransportError(c.Provider, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		return nil, StatusError(c.Provider, resp.StatusCode, c.errorText(req, raw), resp.Header)
	}
	h := http.Header{}
	for _, k := range downloadHeaders {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return &Download{Status: resp.StatusCode, Header: h, Body: cancelOnClose{resp.Body, cancel}}, nil
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
