package virola

import (
	"context"
	"net/http"
	"strconv"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// epAttachments is the attach endpoint, for OnCall.
const epAttachments = "/api/v1/messages/{messageId}/attachments"

// Virola attaches files to a message that exists: CreateComment posts the
// comment and reads it back (comments.go), then attach sends every file in
// one multipart request, parts named `files` as the notes say, and reads the
// comment again for the attachments Virola made of them and their states.

// attach sends files to the new comment m under parent and returns the
// comment as Virola then holds it. The comment exists whatever happens here,
// so a failure is never an error that would hide it: a refused or broken
// upload returns the comment with those files in FAILED state, and an upload
// that went through but could not be read back returns them as PROCESSING
// (Virola has them; their state is not known yet) under stand-in refs
// ("pending-upload-<i>", unique in the comment, so clients caching by id
// keep them apart): their attachment ids are not known, and as they are not
// READY the gateway gives them no download link.
func (p *Provider) attach(ctx context.Context, parent int64, m *apiMessage, users *userList, files []providers.Upload) *model.Comment {
	body := providers.NewMultipart("files", files)
	_, err := p.call.Upload(ctx, providers.Request{Method: http.MethodPost, Endpoint: epAttachments,
		Path: "/api/v1/messages/" + ref(m.MessageID) + "/attachments"}, body)
	if err != nil {
		p.log.Warn("virola: attaching files to a new comment failed; the comment stays, its files are marked failed",
			"comment", m.MessageID, "files", len(files), "err", err)
		c := p.toComment(m, users)
		for i, f := range files {
			c.Attachments = append(c.Attachments, providers.FailedUpload(p.opts.ID, i, f))
		}
		c.Link()
		return c
	}
	held, err := p.findComments(ctx, parent, []int64{m.MessageID})
	if err == nil && held[m.MessageID] != nil {
		return p.toComment(held[m.MessageID], users)
	}
	p.log.Warn("virola: files attached but the comment could not be read again", "comment", m.MessageID, "err", err)
	c := p.toComment(m, users)
	for i, f := range files {
		a := providers.FailedUpload(p.opts.ID, i, f)
		a.Ref, a.State = "pending-upload-"+strconv.Itoa(i), model.AttachmentStateProcessing
		c.Attachments = append(c.Attachments, a)
	}
	c.Link()
	return c
}
