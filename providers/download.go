package providers

import (
	"context"
	"io"
	"net/http"
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
