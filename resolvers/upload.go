package resolvers

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// UploadLimits bound createComment's attachments (config attachments.*).
// Everything here is checked before any upstream call.
type UploadLimits struct {
	// MaxBytes bounds each file. 0: 10 MiB.
	MaxBytes int64
	// MaxFiles bounds the files of one comment. 0: 10.
	MaxFiles int
	// AllowedTypes are the media types a file may have; "image/*" allows a
	// family. Nil: image/png, image/jpeg, image/gif, image/webp,
	// application/pdf, text/plain.
	AllowedTypes []string
}

func (l UploadLimits) withDefaults() UploadLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 10 << 20
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10
	}
	if l.AllowedTypes == nil {
		l.AllowedTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
	}
	return l
}

// sniffLen is how much of a file http.DetectContentType looks at.
const sniffLen = 512

// uploads checks a comment's files against the provider and the limits and
// hands them on as providers.Uploads: UNSUPPORTED for a provider without
// ATTACHMENTS, BAD_USER_INPUT naming the file and the limit for too many,
// too big, a type not allowed, or content whose first bytes are not of the
// declared type's family (a script declared as an image). No file reaches a
// provider unless all pass.
func (r *Resolver) uploads(info *model.Provider, files []*graphql.Upload) ([]providers.Upload, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if !info.Has(model.CapabilityAttachments) {
		return nil, providers.Unsupported(info.ID, "attaching files")
	}
	l := r.Uploads.withDefaults()
	if len(files) > l.MaxFiles {
		return nil, model.Errorf(model.CodeBadUserInput, "%d files attached; at most %d are allowed (attachments.maxUploadFiles)", len(files), l.MaxFiles)
	}
	out := make([]providers.Upload, 0, len(files))
	for i, f := range files {
		if f == nil || f.File == nil {
			return nil, model.Errorf(model.CodeBadUserInput, "attachment %d has no file", i)
		}
		name := f.Filename
		if name == "" {
			return nil, model.Errorf(model.CodeBadUserInput, "attachment %d has no file name", i)
		}
		if f.Size > l.MaxBytes {
			return nil, model.Errorf(model.CodeBadUserInput, "attachment %q is %d bytes; the limit is %d bytes (attachments.maxUploadBytes)", name, f.Size, l.MaxBytes)
		}
		declared, _, err := mime.ParseMediaType(f.ContentType)
		if err != nil {
			return nil, model.Errorf(model.CodeBadUserInput, "attachment %q has no valid Content-Type", name)
		}
		if !typeAllowed(declared, l.AllowedTypes) {
			return nil, model.Errorf(model.CodeBadUserInput, "attachment %q is %s, which is not allowed (attachments.allowedContentTypes: %s)",
				name, declared, strings.Join(l.AllowedTypes, ", "))
		}
		sniffed, err := sniff(f.File)
		if err != nil {
			return nil, fmt.Errorf("read attachment %q: %w", name, err)
		}
		if family(sniffed) != family(declared) {
			return nil, model.Errorf(model.CodeBadUserInput, "attachment %q is declared %s but its content is %s", name, declared, sniffed)
		}
		out = append(out, providers.SeekableUpload(name, declared, f.Size, f.File))
	}
	return out, nil
}

// typeAllowed matches a media type against the allow-list, where "type/*"
// allows the whole family.
func typeAllowed(mt string, allowed []string) bool {
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == mt || (strings.HasSuffix(a, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

// sniff is the media type of a file's first bytes, rewinding it after.
func sniff(f io.ReadSeeker) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(head[:n]))
	return mt, nil
}

// family is a media type's top-level type, with textual application types
// (JSON, XML, JavaScript), which the sniffer calls text, counted as text.
func family(mt string) string {
	top, sub, _ := strings.Cut(mt, "/")
	if top == "application" && (sub == "json" || sub == "xml" || sub == "javascript" || strings.HasSuffix(sub, "+json") || strings.HasSuffix(sub, "+xml")) {
		return "text"
	}
	return top
}

// flagFailedUploads reports, beside the created comment, each file the
// provider did not take: the comment exists and is returned, and its FAILED
// attachments are a partial failure the client must not miss.
func flagFailedUploads(ctx context.Context, c *model.Comment) {
	for _, a := range c.Attachments {
		if a != nil && a.State == model.AttachmentStateFailed {
			graphql.AddError(ctx, &model.Error{Code: model.CodeUpstreamUnavailable, Provider: c.ProviderID,
				Message: fmt.Sprintf("the comment was created, but attachment %q could not be uploaded (its state is FAILED)", a.Name)})
		}
	}
}
