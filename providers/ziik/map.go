package ziik

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// Ziik's wire shapes. IDs, numbers and flags are read leniently (a number, a
// numeric string or null) because the notes come from several API generations
// that disagree on such details.

// flexInt is an integer sent as a number or a numeric string; null is 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	v, err := flexNumber(b)
	if err != nil || math.Abs(v) > 1<<53 {
		return fmt.Errorf("not an integer: %.40q", b)
	}
	*f = flexInt(v)
	return nil
}

func (f flexInt) String() string { return strconv.FormatInt(int64(f), 10) }

// parseID reads a Ziik id in canonical form (positive, no sign, no leading
// zeros), so one id has one ref.
func parseID(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 15 || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// flexFloat is a number sent as a number or a numeric string; null is 0.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	v, err := flexNumber(b)
	if err != nil {
		return fmt.Errorf("not a number: %.40q", b)
	}
	*f = flexFloat(v)
	return nil
}

// flexNumber reads a JSON number, a numeric string, an empty string or null
// (the last two as 0); NaN and infinities are errors.
func flexNumber(b []byte) (float64, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return 0, nil
	}
	if len(b) > 0 && b[0] == '"' {
		s, ok := plainString(b)
		if !ok {
			if err := providers.DecodeJSON(b, &s); err != nil {
				return 0, err
			}
		}
		b = []byte(strings.TrimSpace(s))
		if len(b) == 0 {
			return 0, nil
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		err = fmt.Errorf("not finite")
	}
	return v, err
}

// plainString returns the contents of the JSON string literal b when they are
// printable ASCII without escapes, the common case of ids, cursors and URLs,
// which then need no second decode; ok is false for anything else (escapes,
// other characters, or b not a whole literal), which the caller decodes.
func plainString(b []byte) (s string, ok bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	inner := b[1 : len(b)-1]
	for _, c := range inner {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(inner), true
}

// flexBool is a flag sent as true/false, 0/1 or their strings; null is false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(string(bytes.TrimSpace(b)), `"`) {
	case "true", "1":
		*f = true
	case "false", "0", "null", "":
		*f = false
	default:
		return fmt.Errorf("not a flag: %.40q", b)
	}
	return nil
}

// flexString is a string that may come as a number (cursors, codes); null is "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if s, ok := plainString(b); ok {
			*f = flexString(s)
			return nil
		}
		var s string
		if err := providers.DecodeJSON(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := providers.DecodeJSON(b, &n); err != nil {
		return fmt.Errorf("not a string: %.40q", b)
	}
	*f = flexString(n)
	return nil
}

// unixTime converts Ziik's Unix seconds to UTC; 0 and out-of-range values are
// the zero time. Values too large for seconds are taken as milliseconds, in
// case an endpoint differs from the rest.
func unixTime(v flexFloat) time.Time {
	s := float64(v)
	if s <= 0 || s > 1e14 {
		return time.Time{}
	}
	if s > 1e11 {
		s /= 1000
	}
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

type wirePerson struct {
	ID         flexInt         `json:"id"`
	FirstName  string          `json:"first_name"`
	LastName   string          `json:"last_name"`
	Name       string          `json:"name"`
	Email      string          `json:"email"`
	Title      string          `json:"title"`
	Avatar     json.RawMessage `json:"avatar"`
	Department json.RawMessage `json:"department"`
	Unit       json.RawMessage `json:"unit"`
}

type wireFile struct {
	ID         flexInt    `json:"id"`
	Name       string     `json:"name"`
	Mime       string     `json:"mime"`
	Size       flexInt    `json:"size"`
	Type       string     `json:"type"`
	Extension  string     `json:"extension"`
	Uploaded   *flexBool  `json:"uploaded"`
	Processing flexBool   `json:"processing"`
	Height     flexInt    `json:"height"`
	Width      flexInt    `json:"width"`
	Source     flexString `json:"source"`
	URL        flexString `json:"url"`
	// CreatedAt and Date are read only to age an upload placeholder
	// (attachments), so a value of any other shape is ignored rather than
	// failing the message.
	CreatedAt json.RawMessage `json:"created_at"`
	Date      json.RawMessage `json:"date"`
}

type wireVoice struct {
	ID         flexInt    `json:"id"`
	Processing flexBool   `json:"processing"`
	Extension  string     `json:"extension"`
	Duration   flexFloat  `json:"duration"`
	URL        flexString `json:"url"`
}

type wireMessage struct {
	ID             flexInt         `json:"id"`
	ConversationID flexInt         `json:"conversationId"`
	IsReply        flexBool        `json:"is_reply"`
	Parent         json.RawMessage `json:"parent"`
	ParentID       flexInt         `json:"parent_id"`
	Deleted        flexBool        `json:"deleted"`
	Message        string          `json:"message"`
	Date           flexFloat       `json:"date"`
	EditedAt       flexFloat       `json:"edited_at"`
	Reactions      json.RawMessage `json:"reactions"`
	Author         *wirePerson     `json:"author"`
	Files          []wireFile      `json:"files"`
	Voice          *wireVoice      `json:"voice"`
	// author is Author mapped, where the page it came in mapped it (a page
	// names the same few authors on every message: each is mapped once).
	author *model.User
	// parent caches parentID, which a walk asks of every message it filters
	// and the mapping asks again; parentRead says it is set.
	parent     int64
	parentRead bool
	// asOf is the adapter's clock when the message was read, against which
	// its file placeholders are aged (attachments); zero ages none, so the
	// mapping of a message alone, as the fuzz tests do it, stays pure.
	asOf time.Time
}

// parentID is the message this one replies to: `parent.id`, a bare `parent`
// id, or `parent_id`; 0 for none.
func (m *wireMessage) parentID() int64 {
	if !m.parentRead {
		m.parent, m.parentRead = m.readParent(), true
	}
	return m.parent
}

func (m *wireMessage) readParent() int64 {
	raw := bytes.TrimSpace(m.Parent)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '{':
		if id := idObject(raw); id > 0 {
			return id
		}
		var obj struct {
			ID flexInt `json:"id"`
		}
		if providers.DecodeJSON(raw, &obj) == nil && obj.ID > 0 {
			return int64(obj.ID)
		}
	default:
		var id flexInt
		if providers.DecodeJSON(raw, &id) == nil && id > 0 {
			return int64(id)
		}
	}
	return int64(m.ParentID)
}

// idObject reads the {"id":123} every reply carries as its parent without a
// decode; 0 when raw has any other shape (which is then decoded). At most 15
// digits, so the value stays within what flexInt accepts.
func idObject(raw []byte) int64 {
	const prefix = `{"id":`
	if len(raw) < len(prefix)+2 || string(raw[:len(prefix)]) != prefix || raw[len(raw)-1] != '}' {
		return 0
	}
	digits := raw[len(prefix) : len(raw)-1]
	if len(digits) > 15 || digits[0] == '0' {
		return 0
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

type wireConversation struct {
	ID           flexInt      `json:"id"`
	Type         string       `json:"type"`
	Title        string       `json:"title"`
	Participants []wirePerson `json:"participants"`
}

// unwrap returns the object inside {"data": …} when the answer is wrapped that
// way, else the answer itself.
func unwrap(body []byte) []byte {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '{' && providers.DecodeJSON(b, &env) == nil {
		d := bytes.TrimSpace(env.Data)
		if len(d) > 0 && (d[0] == '{' || d[0] == '[') {
			return d
		}
	}
	return b
}

// messagePage is one answer of GET /conversations/{id}/messages.
type messagePage struct {
	items []wireMessage // oldest first
	// older and newer are the cursors to continue with; "" when there is
	// nothing more that way.
	older, newer string
}

// parseMessagePage reads a messages list: {data, meta{next_cursor,
// prev_cursor}} (cursors also accepted at the top level) or a bare array.
// Pages come newest first, so next_cursor leads to older messages.
func parseMessagePage(body []byte) (*messagePage, error) {
	b := bytes.TrimSpace(body)
	var env struct {
		Data       []wireMessage `json:"data"`
		NextCursor flexString    `json:"next_cursor"`
		PrevCursor flexString    `json:"prev_cursor"`
		Meta       struct {
			NextCursor flexString `json:"next_cursor"`
			PrevCursor flexString `json:"prev_cursor"`
		} `json:"meta"`
	}
	switch {
	case len(b) > 0 && b[0] == '[':
		if err := providers.DecodeJSON(b, &env.Data); err != nil {
			return nil, err
		}
	case len(b) > 0 && b[0] == '{':
		if err := providers.DecodeJSON(b, &env); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("answer is not a JSON object or array")
	}
	pg := &messagePage{older: string(env.Meta.NextCursor), newer: string(env.Meta.PrevCursor)}
	if pg.older == "" {
		pg.older = string(env.NextCursor)
	}
	if pg.newer == "" {
		pg.newer = string(env.PrevCursor)
	}
	seen := make(map[flexInt]bool, len(env.Data))
	for _, m := range env.Data {
		if m.ID <= 0 || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		pg.items = append(pg.items, m)
	}
	// Message ids grow with time, so they order a page whatever way it came.
	sort.Slice(pg.items, func(i, j int) bool { return pg.items[i].ID < pg.items[j].ID })
	return pg, nil
}

// parseMessage reads one message, data-wrapped or not.
func parseMessage(body []byte) (*wireMessage, error) {
	var m wireMessage
	if err := providers.DecodeJSON(unwrap(body), &m); err != nil {
		return nil, err
	}
	if m.ID <= 0 {
		return nil, errors.New("message has no id")
	}
	return &m, nil
}

// conversationPage is one answer of GET /conversations.
type conversationPage struct {
	items   []wireConversation
	hasMore bool
}

// parseConversationPage reads a Laravel-style page (or a bare array). More
// pages exist when meta says so or, failing meta, when links.next is set.
func parseConversationPage(body []byte, limit int) (*conversationPage, error) {
	b := bytes.TrimSpace(body)
	var env struct {
		Data []wireConversation `json:"data"`
		Meta struct {
			CurrentPage flexInt `json:"current_page"`
			LastPage    flexInt `json:"last_page"`
		} `json:"meta"`
		Links struct {
			Next flexString `json:"next"`
		} `json:"links"`
	}
	switch {
	case len(b) > 0 && b[0] == '[':
		if err := providers.DecodeJSON(b, &env.Data); err != nil {
			return nil, err
		}
		return &conversationPage{items: env.Data, hasMore: len(env.Data) >= limit}, nil
	case len(b) > 0 && b[0] == '{':
		if err := providers.DecodeJSON(b, &env); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("answer is not a JSON object or array")
	}
	pg := &conversationPage{items: env.Data}
	switch {
	case env.Meta.LastPage > 0:
		pg.hasMore = env.Meta.CurrentPage < env.Meta.LastPage
	default:
		pg.hasMore = env.Links.Next != ""
	}
	return pg, nil
}

// parseConversation reads one conversation, data-wrapped or not.
func parseConversation(body []byte) (*wireConversation, error) {
	var c wireConversation
	if err := providers.DecodeJSON(unwrap(body), &c); err != nil {
		return nil, err
	}
	if c.ID <= 0 {
		return nil, errors.New("conversation has no id")
	}
	return &c, nil
}

// parseUser reads one user, data-wrapped or not.
func parseUser(body []byte) (*wirePerson, error) {
	var u wirePerson
	if err := providers.DecodeJSON(unwrap(body), &u); err != nil {
		return nil, err
	}
	if u.ID <= 0 {
		return nil, errors.New("user has no id")
	}
	return &u, nil
}

// parseAuth reads the authenticate/renew answer: [{jwt, expires}] (a bare
// object or a data-wrapped one is accepted too). A missing expiry is taken as
// five minutes, so the token is renewed early rather than used past its end.
func parseAuth(body []byte, now time.Time) (string, time.Time, error) {
	type grant struct {
		JWT     string    `json:"jwt"`
		Expires flexFloat `json:"expires"`
	}
	b := unwrap(body)
	var g grant
	if len(b) > 0 && b[0] == '[' {
		var gs []grant
		if err := providers.DecodeJSON(b, &gs); err != nil {
			return "", time.Time{}, err
		}
		if len(gs) == 0 {
			return "", time.Time{}, errors.New("empty token list")
		}
		g = gs[0]
	} else if err := providers.DecodeJSON(b, &g); err != nil {
		return "", time.Time{}, err
	}
	if g.JWT == "" || strings.ContainsAny(g.JWT, " \r\n\t") {
		return "", time.Time{}, errors.New("no usable jwt in the answer")
	}
	exp := unixTime(g.Expires)
	if exp.IsZero() {
		exp = now.Add(5 * time.Minute)
	}
	return g.JWT, exp, nil
}

// orgName reads a department or unit: {id, name}, a bare name, or null.
func orgName(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
	case raw[0] == '{':
		var obj struct {
			Name string `json:"name"`
		}
		if providers.DecodeJSON(raw, &obj) == nil {
			return obj.Name
		}
	case raw[0] == '"':
		var s string
		if providers.DecodeJSON(raw, &s) == nil {
			return s
		}
	}
	return ""
}

// avatarURL reads an avatar: a URL string or an object of sizes ({url, …}).
//
// Only strings and objects are decoded: an empty object ({} for a user with
// no picture) or a missing size costs no decode and no error.
func avatarURL(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var s string
	switch {
	case len(raw) == 0 || string(raw) == "{}":
	case raw[0] == '"':
		if providers.DecodeJSON(raw, &s) == nil {
			return s
		}
	case raw[0] == '{':
		var obj map[string]json.RawMessage
		if providers.DecodeJSON(raw, &obj) != nil {
			return ""
		}
		for _, k := range []string{"url", "original", "large", "medium", "small", "thumb", "thumbnail"} {
			v := bytes.TrimSpace(obj[k])
			if len(v) > 0 && v[0] == '"' && providers.DecodeJSON(v, &s) == nil && s != "" {
				return s
			}
		}
	}
	return ""
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// user maps an author, participant or user object.
func user(provider string, w *wirePerson) *model.User {
	name := strings.TrimSpace(w.Name)
	if name == "" {
		name = strings.TrimSpace(w.FirstName + " " + w.LastName)
	}
	if name == "" {
		name = "Ziik user " + w.ID.String()
	}
	return &model.User{
		ProviderID: provider,
		Ref:        w.ID.String(),
		Name:       name,
		Email:      optional(w.Email),
		Title:      optional(strings.TrimSpace(w.Title)),
		Department: optional(orgName(w.Department)),
		Unit:       optional(orgName(w.Unit)),
		AvatarURL:  optional(avatarURL(w.Avatar)),
	}
}

// conversationName is the title, or for a direct conversation (which has
// none) its participants' names.
func conversationName(provider string, c *wireConversation) string {
	if t := strings.TrimSpace(c.Title); t != "" {
		return t
	}
	names := make([]string, 0, len(c.Participants))
	for i := range c.Participants {
		names = append(names, user(provider, &c.Participants[i]).Name)
	}
	return strings.Join(names, ", ")
}

func room(provider string, c *wireConversation) *model.Room {
	return &model.Room{ProviderID: provider, Ref: c.ID.String(), Name: optional(conversationName(provider, c))}
}

// attachmentKind classifies a file by its MIME type, which Ziik may send
// with parameters or in capitals.
func attachmentKind(mimeType string) string {
	base, _, _ := mime.ParseMediaType(mimeType)
	return providers.AttachmentKind(base)
}

func positive(n flexInt) *int {
	if n <= 0 || n > math.MaxInt32 {
		return nil
	}
	v := int(n)
	return &v
}

// voiceTypes names the MIME types of voice-note extensions; the system's
// mime.types cannot be relied on for audio.
var voiceTypes = map[string]string{
	"mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac", "ogg": "audio/ogg",
	"oga": "audio/ogg", "opus": "audio/ogg", "wav": "audio/wav", "webm": "audio/webm",
}

// uploadWindow is how long a file Ziik lists as not uploaded yet is taken to
// be on its way in, counted from the file's (else its message's) creation.
// Ziik names no failed upload state: a file announced with fileCount whose
// upload never came stays `uploaded:false` for good, so past this window it
// is FAILED rather than UPLOADING forever. The adapter uploads right after
// posting (upload.go), so an hour leaves room for a slow large file.
const uploadWindow = time.Hour

// attachments maps files and the voice note. Refs are prefixed by kind since
// file and voice ids are separate sequences.
func attachments(provider string, m *wireMessage) []*model.Attachment {
	if len(m.Files) == 0 && m.Voice == nil {
		return []*model.Attachment{}
	}
	out := make([]*model.Attachment, 0, len(m.Files)+1)
	for i := range m.Files {
		f := &m.Files[i]
		// A file announced (fileCount) but not uploaded yet is still on its
		// way in, until uploadWindow has passed; one uploaded and processing
		// is Ziik's to finish.
		state := model.AttachmentStateReady
		switch {
		case bool(f.Processing):
			state = model.AttachmentStateProcessing
		case f.Uploaded != nil && !bool(*f.Uploaded):
			state = model.AttachmentStateUploading
			if since := f.created(m); !m.asOf.IsZero() && !since.IsZero() && m.asOf.Sub(since) > uploadWindow {
				state = model.AttachmentStateFailed
			}
		}
		url := string(f.Source)
		if url == "" {
			url = string(f.URL)
		}
		name := f.Name
		if name == "" {
			name = "file-" + f.ID.String()
			if f.Extension != "" {
				name += "." + f.Extension
			}
		}
		out = append(out, &model.Attachment{
			ProviderID: provider, Ref: "file:" + f.ID.String(), Name: name,
			MimeType: optional(f.Mime), Size: positive(f.Size), URL: optional(url), State: state,
			Kind: attachmentKind(f.Mime), Width: positive(f.Width), Height: positive(f.Height),
		})
	}
	if v := m.Voice; v != nil && (v.ID > 0 || v.URL != "") {
		ext := strings.TrimPrefix(v.Extension, ".")
		if ext == "" {
			ext = "mp3"
		}
		mt := voiceTypes[strings.ToLower(ext)]
		if mt == "" {
			mt = "audio/" + ext
		}
		state := model.AttachmentStateReady
		if v.Processing {
			state = model.AttachmentStateProcessing
		}
		a := &model.Attachment{
			ProviderID: provider, Ref: "voice:" + v.ID.String(), Name: "voice-note." + ext,
			MimeType: &mt, URL: optional(string(v.URL)), State: state, Kind: "VOICE",
		}
		if v.Duration > 0 {
			d := float64(v.Duration)
			a.Duration = &d
		}
		out = append(out, a)
	}
	return out
}

// created is when f was made: its created_at, else its date, else its
// message's date; the zero time when none is readable.
func (f *wireFile) created(m *wireMessage) time.Time {
	for _, raw := range []json.RawMessage{f.CreatedAt, f.Date} {
		if len(raw) == 0 {
			continue
		}
		if v, err := flexNumber(raw); err == nil {
			if t := unixTime(flexFloat(v)); !t.IsZero() {
				return t
			}
		}
	}
	return unixTime(m.Date)
}

// reactions reads the undocumented reactions list defensively:
// [{emoji|reaction|type|name, count, users:[id|{id}]|user_ids:[id]}], or an
// object {emoji: count | [ids]}. Entries it cannot read are skipped.
func reactions(provider string, raw json.RawMessage) []*model.Reaction {
	out := []*model.Reaction{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "[]" || string(raw) == "{}" {
		return out
	}
	type entry struct {
		Emoji    flexString        `json:"emoji"`
		Reaction flexString        `json:"reaction"`
		Type     flexString        `json:"type"`
		Name     flexString        `json:"name"`
		Count    flexInt           `json:"count"`
		Users    []json.RawMessage `json:"users"`
		UserIDs  []flexInt         `json:"user_ids"`
	}
	add := func(emoji string, count int64, users []string) {
		if emoji == "" || !utf8.ValidString(emoji) {
			return
		}
		if count < int64(len(users)) {
			count = int64(len(users))
		}
		if count > math.MaxInt32 {
			count = math.MaxInt32
		}
		out = append(out, &model.Reaction{ProviderID: provider, Emoji: emoji, Count: int(count), UserRefs: users})
	}
	switch raw[0] {
	case '[':
		var list []json.RawMessage
		if providers.DecodeJSON(raw, &list) != nil {
			return out
		}
		for _, item := range list {
			var e entry
			if providers.DecodeJSON(item, &e) != nil {
				continue
			}
			emoji := string(e.Emoji)
			for _, alt := range []flexString{e.Reaction, e.Type, e.Name} {
				if emoji == "" {
					emoji = string(alt)
				}
			}
			users := []string{}
			for _, u := range e.Users {
				var obj struct {
					ID flexInt `json:"id"`
				}
				var id flexInt
				if providers.DecodeJSON(u, &id) == nil && id > 0 {
					users = append(users, id.String())
				} else if providers.DecodeJSON(u, &obj) == nil && obj.ID > 0 {
					users = append(users, obj.ID.String())
				}
			}
			for _, id := range e.UserIDs {
				if id > 0 {
					users = append(users, id.String())
				}
			}
			add(emoji, max(int64(e.Count), 0), users)
		}
	case '{':
		var byEmoji map[string]json.RawMessage
		if providers.DecodeJSON(raw, &byEmoji) != nil {
			return out
		}
		keys := make([]string, 0, len(byEmoji))
		for k := range byEmoji {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var n flexInt
			var ids []flexInt
			users := []string{}
			if providers.DecodeJSON(byEmoji[k], &ids) == nil {
				for _, id := range ids {
					if id > 0 {
						users = append(users, id.String())
					}
				}
			} else if providers.DecodeJSON(byEmoji[k], &n) != nil {
				continue
			}
			add(k, max(int64(n), 0), users)
		}
	}
	return out
}

// comment maps a message in thread th, without mentions (those need the
// names of known users; see people.detect). Deleted messages keep no text,
// as Ziik strips it.
func comment(provider string, th *model.Thread, m *wireMessage) *model.Comment {
	c := &model.Comment{
		ProviderID:  provider,
		ThreadKind:  th.Kind,
		ThreadRef:   th.Ref,
		Ref:         m.ID.String(),
		Text:        m.Message,
		Body:        m.Message,
		Markup:      model.MarkupPlain,
		Mentions:    []*model.Mention{},
		Attachments: attachments(provider, m),
		Reactions:   reactions(provider, m.Reactions),
		ReadBy:      []*model.ReadReceipt{},
		CreatedAt:   unixTime(m.Date),
		Deleted:     bool(m.Deleted),
	}
	if c.Deleted {
		c.Text, c.Body = "", ""
	}
	if pid := m.parentID(); pid > 0 {
		c.ParentRef = strconv.FormatInt(pid, 10)
	}
	if e := unixTime(m.EditedAt); !e.IsZero() {
		c.EditedAt = &e
	}
	if m.Author != nil && m.Author.ID > 0 {
		c.SenderRef = m.Author.ID.String()
		c.SenderHint = m.author
		if c.SenderHint == nil {
			c.SenderHint = user(provider, m.Author)
		}
	}
	return c
}
