package virola

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Download streams an attachment: GET /api/v1/attachments/{id}/{fileName}
// with the token, the client's Range forwarded. The body is not read here;
// the caller streams and closes it.
func (p *Provider) Download(ctx context.Context, attachment, name, rangeHeader string) (*providers.Download, error) {
	id, ok := parseRef(attachment)
	if !ok || name == "" {
		return nil, &model.Error{Code: model.CodeBadUserInput, Provider: p.opts.ID, Message: "not an attachment of this provider"}
	}
	u := p.opts.BaseURL + "/api/v1/attachments/" + ref(id) + "/" + url.PathEscape(name)
	client := http.DefaultClient
	if p.client != nil {
		client = p.client
	}
	// The client's Timeout bounds a whole call, body included: a file would be
	// cut off after it. Here it bounds the wait for the answer's headers; the
	// body streams for as long as ctx (the client's request) lasts.
	wait := client.Timeout
	c := *client
	c.Timeout = 0
	ctx, cancel := context.WithCancel(ctx)
	var timer *time.Timer
	if wait > 0 {
		timer = time.AfterFunc(wait, cancel)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, providers.TransportError(p.opts.ID, err)
	}
	req.Header.Set("Authorization", "Bearer "+p.opts.Token)
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
		return nil, providers.TransportError(p.opts.ID, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		return nil, providers.StatusError(p.opts.ID, resp.StatusCode, errorText(raw), resp.Header)
	}
	h := http.Header{}
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Content-Disposition"} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return &providers.Download{Status: resp.StatusCode, Header: h, Body: cancelOnClose{resp.Body, cancel}}, nil
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

var _ providers.Downloader = (*Provider)(nil)
