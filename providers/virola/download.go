package virola

import (
	"context"
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
	return p.call.OpenDownload(ctx, u, rangeHeader, nil)
}

var _ providers.Downloader = (*Provider)(nil)
