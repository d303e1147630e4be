package virola

import (
	"html"
	"mime"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Wire shapes of the Virola Web API, as its docs print them.

type apiUser struct {
	UserID      int64  `json:"userId"`
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName"`
	Status      string `json:"status"`
}

type apiRoom struct {
	RoomID          int64  `json:"roomId"`
	DisplayName     string `json:"displayName"`
	RoomType        string `json:"roomType"`
	LastModifiedUtc int64  `json:"lastModifiedUtc"`
	LastMessage     *struct {
		MessageID  int64 `json:"messageId"`
		CreatedUtc int64 `json:"createdUtc"`
	} `json:"lastMessage"`
}

type apiAttachment struct {
	AttachmentID    int64  `json:"attachmentId"`
	AttachmentState string `json:"attachmentState"`
	FileName        string `json:"fileName"`
	FileSize        int64  `json:"fileSize"`
	Size            *struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"size"`
}

type apiRead struct {
	UserID  int64 `json:"userId"`
	ReadUtc int64 `json:"readUtc"`
}

type apiMessage struct {
	MessageID       int64           `json:"messageId"`
	ParentMessageID int64           `json:"parentMessageId"`
	RoomID          int64           `json:"roomId"`
	UserID          int64           `json:"userId"`
	Text            string          `json:"text"`
	MarkupType      string          `json:"markupType"`
	MessageType     string          `json:"messageType"`
	Priority        string          `json:"priority"`
	CreatedUtc      int64           `json:"createdUtc"`
	LastEditedUtc   int64           `json:"lastEditedUtc"`
	LastModifiedUtc int64           `json:"lastModifiedUtc"`
	CommentCount    int             `json:"commentCount"`
	Attachments     []apiAttachment `json:"attachments"`
	ReadTimestamps  []apiRead       `json:"readTimestamps"`
}

// fromMillis turns Virola's Unix milliseconds into UTC time.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func ref(id int64) string { return strconv.FormatInt(id, 10) }

// parseRef reads a positive integer id (a messageId, userId, roomId). Virola
// ids fit in a JSON number, so larger ones are refused too.
func parseRef(s string) (int64, bool) {
	if s == "" || len(s) > 16 || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0 && n <= 1<<53
}

var markups = map[string]model.Markup{
	"TextPlain":    model.MarkupPlain,
	"TextHtml":     model.MarkupHTML,
	"TextMarkdown": model.MarkupMarkdown,
	"TextCode":     model.MarkupCode,
	"TextLatex":    model.MarkupLatex,
}

// attachmentState maps Virola's upload pipeline states: only the last one is
// downloadable, the failed and mismatched ones are final, those before the
// server has the whole file are still uploading, the rest are on their way.
func attachmentState(s string) model.AttachmentState {
	switch {
	case s == "ReadyForDownloadFromServerToClient":
		return model.AttachmentStateReady
	case strings.HasSuffix(s, "Failed"), strings.HasSuffix(s, "Mismatch"):
		return model.AttachmentStateFailed
	case s == "Initial", s == "ChecksumCalculationOnClientSideInProgress", s == "UploadFromClientToServerInProgress":
		return model.AttachmentStateUploading
	default:
		return model.AttachmentStateProcessing
	}
}

// commentAndEnums is a comment with the strings its Priority and MessageType
// point at, allocated together (toComment).
type commentAndEnums struct {
	comment               model.Comment
	priority, messageType string
}

// upperEnums are the schema's spellings of the priorities and message types
// Virola documents, so the common values cost no allocation.
var upperEnums = map[string]string{
	"Blocker": "BLOCKER", "Critical": "CRITICAL", "High": "HIGH", "Normal": "NORMAL", "Low": "LOW", "Trivial": "TRIVIAL",
	"Regular": "REGULAR", "Issue": "ISSUE", "Meeting": "MEETING",
}

// upperEnum is strings.ToUpper(s), from upperEnums when s is a documented
// value.
func upperEnum(s string) string {
	if u, ok := upperEnums[s]; ok {
		return u
	}
	return strings.ToUpper(s)
}

// toComment maps a Virola message under a parent to a comment. users names
// the mentions found in its text.
func (p *Provider) toComment(m *apiMessage, users *userList) *model.Comment {
	markup, ok := markups[m.MarkupType]
	if !ok {
		markup = model.MarkupPlain
	}
	text := m.Text
	if markup == model.MarkupHTML {
		text = htmlToText(m.Text)
	}
	// The comment and its two optional enum strings are one allocation.
	cs := &commentAndEnums{}
	c := &cs.comment
	*c = model.Comment{
		ProviderID:  p.opts.ID,
		ThreadKind:  model.ThreadKindMessage,
		ThreadRef:   ref(m.ParentMessageID),
		Ref:         ref(m.MessageID),
		Text:        text,
		Body:        m.Text,
		Markup:      markup,
		Mentions:    []*model.Mention{},
		Attachments: []*model.Attachment{},
		Reactions:   []*model.Reaction{},
		ReadBy:      []*model.ReadReceipt{},
		CreatedAt:   fromMillis(m.CreatedUtc),
	}
	if users != nil {
		c.Mentions = users.names.detect(p.opts.ID, text)
	}
	if m.UserID > 0 {
		c.SenderRef = ref(m.UserID)
	}
	if m.LastEditedUtc > m.CreatedUtc {
		t := fromMillis(m.LastEditedUtc)
		c.EditedAt = &t
	}
	if m.Priority != "" {
		cs.priority = upperEnum(m.Priority)
		c.Priority = &cs.priority
	}
	if m.MessageType != "" {
		cs.messageType = upperEnum(m.MessageType)
		c.MessageType = &cs.messageType
	}
	for i := range m.Attachments {
		c.Attachments = append(c.Attachments, p.toAttachment(&m.Attachments[i]))
	}
	for _, r := range m.ReadTimestamps {
		if r.UserID > 0 {
			c.ReadBy = append(c.ReadBy, &model.ReadReceipt{ProviderID: p.opts.ID, UserRef: ref(r.UserID), ReadAt: fromMillis(r.ReadUtc)})
		}
	}
	c.Link()
	return c
}

func (p *Provider) toAttachment(a *apiAttachment) *model.Attachment {
	out := &model.Attachment{
		ProviderID: p.opts.ID,
		Ref:        ref(a.AttachmentID),
		Name:       a.FileName,
		State:      attachmentState(a.AttachmentState),
	}
	mt := mime.TypeByExtension(strings.ToLower(path.Ext(a.FileName)))
	if mt != "" {
		out.MimeType = &mt
	}
	out.Kind = providers.AttachmentKind(mt) // Virola sends no content type: mt is the extension's
	if a.FileSize > 0 && a.FileSize <= 1<<53 {
		size := int(a.FileSize)
		out.Size = &size
	}
	if a.FileName != "" && a.AttachmentID > 0 {
		u := p.opts.BaseURL + "/api/v1/attachments/" + ref(a.AttachmentID) + "/" + url.PathEscape(a.FileName)
		out.URL = &u
	}
	if a.Size != nil && a.Size.Width > 0 && a.Size.Height > 0 {
		w, h := a.Size.Width, a.Size.Height
		out.Width, out.Height = &w, &h
	}
	return out
}

func (p *Provider) toUser(u *apiUser) *model.User {
	name := u.DisplayName
	if name == "" {
		name = u.UserName
	}
	return &model.User{ProviderID: p.opts.ID, Ref: ref(u.UserID), Name: name}
}

func (p *Provider) toRoom(r *apiRoom) *model.Room {
	out := &model.Room{ProviderID: p.opts.ID, Ref: ref(r.RoomID)}
	if r.DisplayName != "" {
		name := r.DisplayName
		out.Name = &name
	}
	return out
}

// mapUsers builds the user list and its mention index.
func (p *Provider) mapUsers(us []apiUser) *userList {
	l := &userList{fetched: p.opts.Now(), byRef: make(map[string]*model.User, len(us))}
	var named []*model.User
	for i := range us {
		if us[i].UserID <= 0 {
			continue
		}
		u := p.toUser(&us[i])
		if _, dup := l.byRef[u.Ref]; dup {
			continue
		}
		l.byRef[u.Ref] = u
		named = append(named, u)
	}
	l.names = newNameIndex(named)
	return l
}

// title is a parent message's first line, bounded, for Thread.Title.
func title(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(line)
	const max = 120
	if utf8.RuneCountInString(line) > max {
		r := []rune(line)
		line = string(r[:max]) + "…"
	}
	return line
}

var (
	htmlBreak = regexp.MustCompile(`(?i)<br\s*/?>|</p\s*>|</div\s*>|</li\s*>`)
	htmlTag   = regexp.MustCompile(`<[^>]*>`)
)

// htmlToText makes the plain text of a TextHtml body: line breaks for block
// ends, tags dropped, entities decoded. Mentions are then found in it like in
// any other text.
func htmlToText(s string) string {
	s = htmlBreak.ReplaceAllString(s, "\n")
	s = htmlTag.ReplaceAllString(s, "")
	return strings.TrimRight(html.UnescapeString(s), "\n")
}
