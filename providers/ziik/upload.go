package ziik

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// epFiles is the file upload endpoint, for metrics.
const epFiles = "/messages/{message}/files"

// Ziik takes files after their message: CreateComment announces them with
// fileCount (comments.go), then attachFiles uploads each with
// POST /messages/{id}/files, one multipart part named `file`, as the notes'
// older flow has it, and the comment gets the files Ziik answers with their
// states (uploaded and processing flags, map.go).

// attachFiles uploads files to the new message m and returns the comment
// with one attachment per file, in order. The message exists whatever
// happens here, so a file Ziik did not take is not an error that would hide
// it: it is on the comment in FAILED state, under the ref of the placeholder
// Ziik listed for it, and the files after it are still sent.
func (p *Provider) attachFiles(ctx context.Context, th *model.Thread, t threadRef, m *wireMessage, files []providers.Upload) *model.Comment {
	placeholders := m.Files
	got := make([]bool, len(files))
	m.Files = make([]wireFile, 0, len(files))
	for i, f := range files {
		wf, err := p.uploadFile(ctx, int64(m.ID), f)
		if err != nil {
			p.log.Warn("ziik: uploading a file of a new message failed; the message stays, the file is marked failed",
				"provider", p.id, "message", int64(m.ID), "file", i, "err", err)
			continue
		}
		got[i] = true
		m.Files = append(m.Files, *wf)
	}
	c := p.comment(th, t, m)
	mapped := c.Attachments
	c.Attachments = make([]*model.Attachment, 0, len(mapped)+len(files))
	for i, f := range files {
		if got[i] {
			c.Attachments = append(c.Attachments, mapped[0])
			mapped = mapped[1:]
			continue
		}
		a := providers.FailedUpload(p.id, i, f)
		if i < len(placeholders) && placeholders[i].ID > 0 {
			a.Ref = "file:" + placeholders[i].ID.String()
		}
		c.Attachments = append(c.Attachments, a)
	}
	c.Attachments = append(c.Attachments, mapped...) // none expected: a new message has no voice note
	c.Link()
	return c
}

// parseFile reads the file object an upload answers, data-wrapped or not.
func parseFile(body []byte) (*wireFile, error) {
	var wf wireFile
	if err := providers.DecodeJSON(unwrap(body), &wf); err != nil {
		return nil, err
	}
	if wf.ID <= 0 {
		return nil, errors.New("file has no id")
	}
	return &wf, nil
}

// uploadFile sends one file and reads the file object Ziik answers. Like
// call, a 401 gets one fresh token and one retry (authorized): the upstream
// took nothing from the refused request, and the body is opened again from
// its start.
func (p *Provider) uploadFile(ctx context.Context, msg int64, f providers.Upload) (*wireFile, error) {
	body := providers.NewMultipart("file", []providers.Upload{f})
	r := providers.Request{Method: http.MethodPost, Endpoint: epFiles, Path: "/messages/" + strconv.FormatInt(msg, 10) + "/files"}
	var resp *providers.Response
	err := p.authorized(ctx, func(jwt string) (err error) {
		r.Header = http.Header{"Authorization": {"Bearer " + jwt}}
		resp, err = p.caller.Upload(ctx, r, body)
		return err
	})
	if err != nil {
		return nil, err
	}
	wf, err := parseFile(resp.Body)
	if err != nil {
		return nil, p.garbage("POST "+epFiles, err)
	}
	return wf, nil
}
