package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"sync"

	"github.com/commentgraph/commentgraph/graph/model"
)

// Uploads go with CreateComment (CommentInput.Attachments) to a provider
// whose Info().Capabilities has ATTACHMENTS: such an adapter sends every
// file to its upstream and returns the comment with one Attachment per file,
// each in the state the upstream gives it (FAILED for one it could not take).
// The gateway answers UNSUPPORTED, with no upstream call, for attachments to
// a provider without it, and checks count, size and content type against its
// config before any call.

// Upload is one file of a comment on its way to a provider.
type Upload struct {
	// Name is the client's file name.
	Name string
	// ContentType is the media type the client declared for the file (the
	// gateway has checked it against the file's first bytes).
	ContentType string
	// Size is the exact length of the content in bytes.
	Size int64
	// Open returns the content from its first byte. It may be called again:
	// an adapter whose upstream refused a request without reading it (an
	// expired token answered 401) sends it again, and the file must then
	// start over rather than be lost to the first attempt. A reader returned
	// earlier must no longer be read once Open is called again; Multipart
	// sees to that for its own.
	Open func() (io.Reader, error)
}

// SeekableUpload is an Upload over content the gateway holds in a seekable
// form (gqlgen keeps a multipart file in memory or in a temporary file):
// each Open seeks back to the start, so a retry re-reads what the client sent
// once, without a second copy.
func SeekableUpload(name, contentType string, size int64, content io.ReadSeeker) Upload {
	return Upload{Name: name, ContentType: contentType, Size: size, Open: func() (io.Reader, error) {
		if _, err := content.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("rewind upload %q: %w", name, err)
		}
		return io.LimitReader(content, size), nil
	}}
}

// Multipart is a multipart/form-data body of file parts, all under one field
// name, with its length known up front: the files are streamed, never held
// whole, and the upstream still gets a Content-Length (some servers refuse a
// chunked upload). It can be opened again for a retry.
type Multipart struct {
	field string
	files []Upload
	// heads[i] is what precedes file i (its boundary and part headers), and
	// tail what follows the last: the framing is fixed once the boundary is.
	heads [][]byte
	tail  []byte
	ctype string
	size  int64

	mu   sync.Mutex
	last *multipartBody // the body opened last, until it is closed
}

// NewMultipart frames files as parts named field. A file's Size must be
// exact: the body's length is computed from it.
func NewMultipart(field string, files []Upload) *Multipart {
	m := &Multipart{field: field, files: files}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range files {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, quoteEscaper.Replace(field), quoteEscaper.Replace(f.Name)))
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		_, _ = w.CreatePart(h) // writes to a bytes.Buffer: no error
		m.heads = append(m.heads, bytes.Clone(buf.Bytes()))
		m.size += int64(buf.Len()) + f.Size
		buf.Reset()
	}
	_ = w.Close()
	m.tail = bytes.Clone(buf.Bytes())
	m.size += int64(len(m.tail))
	m.ctype = w.FormDataContentType()
	return m
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")

// ContentType is the body's Content-Type, boundary included.
func (m *Multipart) ContentType() string { return m.ctype }

// Len is the body's length in bytes.
func (m *Multipart) Len() int64 { return m.size }

// Open returns the body from its start. The body opened before is closed
// first, and Open waits until nothing reads it any more: an HTTP transport
// may still be sending a request body after it has the answer, and the files
// under both are the same.
func (m *Multipart) Open() (io.ReadCloser, error) {
	m.mu.Lock()
	prev := m.last
	m.mu.Unlock()
	if prev != nil {
		prev.Close()
	}
	parts := make([]io.Reader, 0, 2*len(m.files)+1)
	for i, f := range m.files {
		if f.Open == nil {
			return nil, fmt.Errorf("upload %q has no content", f.Name)
		}
		r, err := f.Open()
		if err != nil {
			return nil, err
		}
		parts = append(parts, bytes.NewReader(m.heads[i]), exactly(r, f.Size, f.Name))
	}
	parts = append(parts, bytes.NewReader(m.tail))
	b := &multipartBody{r: io.MultiReader(parts...)}
	m.mu.Lock()
	m.last = b
	m.mu.Unlock()
	return b, nil
}

// multipartBody is one reading of a Multipart. Close stops it: a Read after
// Close, or racing with it, does not touch the files.
type multipartBody struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

func (b *multipartBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("upload body closed")
	}
	return b.r.Read(p)
}

func (b *multipartBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// exactly reads r as a file of size bytes: fewer is an error rather than a
// body shorter than its Content-Length.
func exactly(r io.Reader, size int64, name string) io.Reader {
	return &sized{r: io.LimitReader(r, size), left: size, name: name}
}

type sized struct {
	r    io.Reader
	left int64
	name string
}

func (s *sized) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.left -= int64(n)
	if err == io.EOF && s.left > 0 {
		return n, fmt.Errorf("upload %q ended %d bytes short of its size", s.name, s.left)
	}
	return n, err
}

// Upload is Do with a multipart body rather than JSON: the call is
// authorized, bounded, reported and its answer mapped like any other. Each
// call opens body afresh, so an adapter may call Upload again with the same
// body to retry.
func (c *Caller) Upload(ctx context.Context, r Request, body *Multipart) (*Response, error) {
	rc, err := body.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: open upload: %w", c.Provider, err)
	}
	req, err := c.newRequest(ctx, r, rc, body.Len(), body.ContentType())
	if err != nil {
		rc.Close()
		return nil, err
	}
	if s := scopeFrom(ctx); s != nil {
		if err := s.write(c.Provider); err != nil {
			rc.Close()
			return nil, err
		}
	}
	return c.send(ctx, req, r.Endpoint)
}

// FailedUpload is the attachment of file i of a comment that exists although
// the upstream did not take the file: it stays on the comment in FAILED
// state, so the client sees what was lost rather than a comment that
// silently has fewer files. Its ref names the upload, not an upstream file:
// there is nothing to download.
func FailedUpload(provider string, i int, f Upload) *model.Attachment {
	a := &model.Attachment{ProviderID: provider, Ref: "failed-upload-" + strconv.Itoa(i), Name: f.Name,
		State: model.AttachmentStateFailed, Kind: AttachmentKind(f.ContentType)}
	if f.ContentType != "" {
		ct := f.ContentType
		a.MimeType = &ct
	}
	if f.Size >= 0 && f.Size <= 1<<53 {
		size := int(f.Size)
		a.Size = &size
	}
	return a
}

// AttachmentKind is the schema's Attachment.kind for a media type: IMAGE,
// VIDEO, AUDIO or FILE. Adapters map their upstream's files with it too, so
// an upload and the file it becomes are of one kind.
func AttachmentKind(contentType string) string {
	switch {
	case strings.HasPrefix(contentType, "image/"):
		return "IMAGE"
	case strings.HasPrefix(contentType, "video/"):
		return "VIDEO"
	case strings.HasPrefix(contentType, "audio/"):
		return "AUDIO"
	default:
		return "FILE"
	}
}
