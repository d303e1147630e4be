package ziiktest

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// User is a person in the tenant. ID 0 is assigned on AddUser.
type User struct {
	ID         int
	FirstName  string
	LastName   string
	Email      string
	Reference  string
	Title      string
	Department string // "" for none
	Unit       string // "" for none
	AvatarURL  string // "" for none
	// Password lets the user log in: POST /authenticate with Email and
	// Password issues a JWT that acts as this user. "" for none (the user
	// cannot log in).
	Password string
}

// Name is the display name Ziik composes from first and last name.
func (u User) Name() string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

// Conversation is a direct or group conversation. ID 0 is assigned. Only
// participants may see it; include BotID() for the integration user to. As
// the notes say ("needs view permission"; 403 is insufficient privileges), a
// token of a user who is not a participant gets no such conversation from
// GET /conversations and 403 {"error":{"code":"forbidden",…}} on the
// conversation, its messages, and posting, editing or deleting in it; an
// unknown conversation is 404.
type Conversation struct {
	ID           int
	Title        string // group conversations only; "" for a direct one
	Participants []int
	CreatedAt    time.Time // zero: now
}

// Message is a message or reply. ID 0 is assigned; Date zero is now.
type Message struct {
	ID             int
	ConversationID int
	AuthorID       int
	ParentID       int // 0: not a reply
	Text           string
	Date           time.Time
	EditedAt       time.Time // zero: never edited
	// Deleted is a soft-deleted message: files, voice and reactions are
	// stripped, which is what the notes say a delete strips; the text stays
	// (a reader must not show it), as after DELETE.
	Deleted   bool
	Files     []File
	Voice     *Voice
	Reactions []Reaction
}

// File is an attachment. Processing marks one uploaded but still being
// processed (video transcoding, say); Uploading one whose upload has not
// finished.
type File struct {
	ID         int
	Name       string
	Mime       string
	Size       int
	Width      int
	Height     int
	Processing bool
	Uploading  bool
}

// Voice is a voice note.
type Voice struct {
	ID         int
	Duration   float64 // seconds
	Extension  string  // default "mp3"
	Processing bool
}

// Reaction is one emoji and who gave it.
type Reaction struct {
	Emoji   string
	UserIDs []int
}

type conversation struct {
	Conversation
	updated time.Time
}

type message struct {
	Message
	// pending is the text of an update not finalized yet; nil when none.
	pending *string
}

// AddUser adds a user and returns its id.
func (s *Server) AddUser(u User) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		u.ID = s.nextUser
	}
	if u.ID >= s.nextUser {
		s.nextUser = u.ID + 1
	}
	s.users[u.ID] = &u
	return u.ID
}

// AddConversation adds a conversation; every participant must exist.
func (s *Server) AddConversation(c Conversation) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range c.Participants {
		if s.users[p] == nil {
			return 0, fmt.Errorf("ziiktest: participant %d does not exist", p)
		}
	}
	if c.ID == 0 {
		c.ID = s.nextConv
	}
	if s.convs[c.ID] != nil {
		return 0, fmt.Errorf("ziiktest: conversation %d exists", c.ID)
	}
	if c.ID >= s.nextConv {
		s.nextConv = c.ID + 1
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now()
	}
	c.Participants = append([]int(nil), c.Participants...)
	s.convs[c.ID] = &conversation{Conversation: c, updated: c.CreatedAt}
	return c.ID, nil
}

// AddMessage adds a message to its conversation. The author must exist; a
// parent must be a message of the same conversation. IDs grow with each
// message, so a message added later is newer whatever its Date.
func (s *Server) AddMessage(m Message) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addMessage(m)
}

func (s *Server) addMessage(m Message) (int, error) {
	c := s.convs[m.ConversationID]
	if c == nil {
		return 0, fmt.Errorf("ziiktest: conversation %d does not exist", m.ConversationID)
	}
	if s.users[m.AuthorID] == nil {
		return 0, fmt.Errorf("ziiktest: author %d does not exist", m.AuthorID)
	}
	if m.ParentID != 0 {
		if p := s.msgs[m.ParentID]; p == nil || p.ConversationID != m.ConversationID {
			return 0, fmt.Errorf("ziiktest: parent %d is not a message of conversation %d", m.ParentID, m.ConversationID)
		}
	}
	if m.ID != 0 && m.ID < s.nextMsg {
		return 0, fmt.Errorf("ziiktest: message id %d is not newer than the newest message", m.ID)
	}
	if m.ID == 0 {
		m.ID = s.nextMsg
	}
	s.nextMsg = m.ID + 1
	if m.Date.IsZero() {
		m.Date = s.now()
	}
	m.Files = append([]File(nil), m.Files...)
	for i := range m.Files {
		if m.Files[i].ID == 0 {
			m.Files[i].ID = 300 + m.ID*10 + i
		}
	}
	if m.Voice != nil {
		v := *m.Voice
		if v.ID == 0 {
			v.ID = 700 + m.ID
		}
		if v.Extension == "" {
			v.Extension = "mp3"
		}
		m.Voice = &v
	}
	if m.Deleted {
		m.Files, m.Voice, m.Reactions = nil, nil, nil
	}
	s.msgs[m.ID] = &message{Message: m}
	if m.Date.After(c.updated) {
		c.updated = m.Date
	}
	return m.ID, nil
}

// Message returns a copy of message id as the tenant holds it now (an
// update not yet finalized is not applied), and whether it exists.
func (s *Server) Message(id int) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs[id]
	if m == nil {
		return Message{}, false
	}
	out := m.Message
	out.Files = append([]File(nil), m.Files...)
	out.Reactions = append([]Reaction(nil), m.Reactions...)
	if m.Voice != nil {
		v := *m.Voice
		out.Voice = &v
	}
	return out, true
}

// convMessages lists a conversation's message ids oldest first; s.mu held.
func (s *Server) convMessages(conv int) []int {
	var ids []int
	for id, m := range s.msgs {
		if m.ConversationID == conv {
			ids = append(ids, id)
		}
	}
	return sortedInts(ids)
}

func sortedInts(ids []int) []int {
	out := append([]int(nil), ids...)
	sort.Ints(out)
	return out
}

// Wire shapes: field names as the notes and the captured page give them.

type wireRef struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type wireAuthor struct {
	ID              int            `json:"id"`
	FirstName       string         `json:"first_name"`
	LastName        string         `json:"last_name"`
	Name            string         `json:"name"`
	Title           string         `json:"title"`
	Active          bool           `json:"active"`
	Avatar          map[string]any `json:"avatar"`
	ArchivedAt      *int64         `json:"archived_at"`
	ParticipantType string         `json:"participant_type"`
	Subtext         string         `json:"subtext"`
	Department      *wireRef       `json:"department"`
	Unit            *wireRef       `json:"unit"`
}

type wireUser struct {
	ID         int            `json:"id"`
	Reference  string         `json:"reference"`
	FirstName  string         `json:"first_name"`
	LastName   string         `json:"last_name"`
	Name       string         `json:"name"`
	Email      string         `json:"email"`
	Title      string         `json:"title"`
	Active     bool           `json:"active"`
	Admin      bool           `json:"admin"`
	Avatar     map[string]any `json:"avatar"`
	Subtext    string         `json:"subtext"`
	Department *wireRef       `json:"department"`
	Unit       *wireRef       `json:"unit"`
	Settings   map[string]any `json:"settings"`
}

type wireFile struct {
	ID               int            `json:"id"`
	Name             string         `json:"name"`
	Mime             string         `json:"mime"`
	Size             int            `json:"size"`
	Type             string         `json:"type"`
	Extension        string         `json:"extension"`
	Uploaded         bool           `json:"uploaded"`
	Processing       bool           `json:"processing"`
	Height           *int           `json:"height"`
	Width            *int           `json:"width"`
	Source           string         `json:"source"`
	Stream           *string        `json:"stream"`
	Versions         map[string]any `json:"versions"`
	Screenshot       *string        `json:"screenshot"`
	Date             int64          `json:"date"`
	CreatedAt        int64          `json:"created_at"`
	UpdatedAt        int64          `json:"updated_at"`
	CreatedFormatted string         `json:"created_formatted"`
	UpdatedFormatted string         `json:"updated_formatted"`
}

type wireVoice struct {
	ID         int     `json:"id"`
	Processing bool    `json:"processing"`
	Extension  string  `json:"extension"`
	Duration   float64 `json:"duration"`
	URL        string  `json:"url"`
}

type wireReaction struct {
	Reaction string `json:"reaction"`
	Count    int    `json:"count"`
	UserIDs  []int  `json:"user_ids"`
}

type wireParent struct {
	ID int `json:"id"`
}

type wireMessage struct {
	ID             int            `json:"id"`
	Type           string         `json:"type"`
	ConversationID int            `json:"conversationId"`
	IsReply        bool           `json:"is_reply"`
	Parent         *wireParent    `json:"parent"`
	Deleted        bool           `json:"deleted"`
	Message        string         `json:"message"`
	Date           int64          `json:"date"`
	EditedAt       *int64         `json:"edited_at"`
	Reactions      []wireReaction `json:"reactions"`
	Author         wireAuthor     `json:"author"`
	Files          []wireFile     `json:"files"`
	Voice          *wireVoice     `json:"voice"`
}

type wireConversation struct {
	ID            int          `json:"id"`
	Type          string       `json:"type"`
	Title         string       `json:"title"`
	CreatedAt     int64        `json:"created_at"`
	UpdatedAt     int64        `json:"updated_at"`
	LatestMessage *wireMessage `json:"latest_message"`
	MuteRuleID    *int         `json:"mute_rule_id"`
	Participants  []wireAuthor `json:"participants"`
	ArchivedAt    *int64       `json:"archived_at"`
}

// orgID gives a department or unit a stable id from its name.
func orgID(name string) int {
	h := 0
	for _, r := range name {
		h = (h*31 + int(r)) % 997
	}
	return h + 1
}

func orgRef(name string) *wireRef {
	if name == "" {
		return nil
	}
	return &wireRef{ID: orgID(name), Name: name}
}

func subtext(u *User) string {
	var b strings.Builder
	b.WriteString(u.Title)
	if u.Unit != "" {
		if b.Len() > 0 {
			b.WriteString(" - ")
		}
		b.WriteString(u.Unit)
	}
	if u.Department != "" {
		fmt.Fprintf(&b, " (%s)", u.Department)
	}
	return strings.TrimSpace(b.String())
}

func avatar(u *User) map[string]any {
	if u.AvatarURL == "" {
		return map[string]any{}
	}
	return map[string]any{"url": u.AvatarURL, "thumb": u.AvatarURL + "?size=64"}
}

func (s *Server) authorJSON(id int, participantType string) wireAuthor {
	u := s.users[id]
	if u == nil {
		return wireAuthor{ID: id, Avatar: map[string]any{}}
	}
	return wireAuthor{
		ID: u.ID, FirstName: u.FirstName, LastName: u.LastName, Name: u.Name(), Title: u.Title,
		Active: true, Avatar: avatar(u), ParticipantType: participantType, Subtext: subtext(u),
		Department: orgRef(u.Department), Unit: orgRef(u.Unit),
	}
}

func (s *Server) userJSON(u *User) wireUser {
	return wireUser{
		ID: u.ID, Reference: u.Reference, FirstName: u.FirstName, LastName: u.LastName, Name: u.Name(),
		Email: u.Email, Title: u.Title, Active: true, Avatar: avatar(u), Subtext: subtext(u),
		Department: orgRef(u.Department), Unit: orgRef(u.Unit),
		Settings: map[string]any{"timezone": "Europe/Copenhagen", "language": "en"},
	}
}

// messageJSON renders m; s.mu held.
func (s *Server) messageJSON(m *message) wireMessage {
	w := wireMessage{
		ID: m.ID, Type: "normal", ConversationID: m.ConversationID, IsReply: m.ParentID != 0,
		Deleted: m.Deleted, Message: m.Text, Date: m.Date.Unix(),
		Reactions: []wireReaction{}, Files: []wireFile{},
		Author: s.authorJSON(m.AuthorID, "member"),
	}
	if m.ParentID != 0 {
		w.Parent = &wireParent{ID: m.ParentID}
	}
	if !m.EditedAt.IsZero() {
		e := m.EditedAt.Unix()
		w.EditedAt = &e
	}
	for _, r := range m.Reactions {
		w.Reactions = append(w.Reactions, wireReaction{Reaction: r.Emoji, Count: len(r.UserIDs), UserIDs: append([]int{}, r.UserIDs...)})
	}
	for _, f := range m.Files {
		ext := ""
		if i := strings.LastIndexByte(f.Name, '.'); i >= 0 {
			ext = f.Name[i+1:]
		}
		wf := wireFile{
			ID: f.ID, Name: f.Name, Mime: f.Mime, Size: f.Size, Type: "file", Extension: ext,
			Uploaded: !f.Uploading, Processing: f.Processing,
			Source:   fmt.Sprintf("%s/files/%d/%s", s.srv.URL, f.ID, f.Name),
			Versions: map[string]any{}, Date: m.Date.Unix(), CreatedAt: m.Date.Unix(), UpdatedAt: m.Date.Unix(),
			CreatedFormatted: m.Date.UTC().Format("02.01.2006 15:04"), UpdatedFormatted: m.Date.UTC().Format("02.01.2006 15:04"),
		}
		if f.Width > 0 && f.Height > 0 {
			wd, ht := f.Width, f.Height
			wf.Width, wf.Height = &wd, &ht
		}
		if strings.HasPrefix(f.Mime, "video/") && !f.Processing {
			stream := wf.Source + "/stream.m3u8"
			wf.Stream = &stream
		}
		w.Files = append(w.Files, wf)
	}
	if v := m.Voice; v != nil {
		w.Voice = &wireVoice{ID: v.ID, Processing: v.Processing, Extension: v.Extension, Duration: v.Duration,
			URL: fmt.Sprintf("%s/voice/%d.%s", s.srv.URL, v.ID, v.Extension)}
	}
	return w
}

// conversationJSON renders c; s.mu held.
func (s *Server) conversationJSON(c *conversation) wireConversation {
	w := wireConversation{
		ID: c.ID, Type: "direct", Title: "", CreatedAt: c.CreatedAt.Unix(), UpdatedAt: c.updated.Unix(),
		Participants: []wireAuthor{},
	}
	if c.Title != "" || len(c.Participants) > 2 {
		w.Type, w.Title = "group", c.Title
	}
	for i, p := range c.Participants {
		kind := "member"
		if i == 0 && w.Type == "group" {
			kind = "admin"
		}
		w.Participants = append(w.Participants, s.authorJSON(p, kind))
	}
	if ids := s.convMessages(c.ID); len(ids) > 0 {
		latest := s.messageJSON(s.msgs[ids[len(ids)-1]])
		w.LatestMessage = &latest
	}
	return w
}
