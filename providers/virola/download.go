package virola

import (
	"context"
	"io"
	"net/http"
	"net/url"

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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, providers.TransportError(p.opts.ID, err)
	}
	req.Header.Set("Authorization", "Bearer "+p.opts.Token)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	client := p.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, providers.TransportError(p.opts.ID, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, providers.StatusError(p.opts.ID, resp.StatusCode, errorText(raw), resp.Header)
	}
	h := http.Header{}
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Content-Disposition"} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return &providers.Download{Status: resp.StatusCode, Header: h, Body: resp.Body}, nil
}

var _ providers.Downloader = (*Provider)(nil)
