package virolatest

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// User is a Virola user to seed.
type User struct {
	ID          int64 // 0: the next free id
	UserName    string
	DisplayName string
	IsAdmin     bool
	Status      string // Active (default), Suspended, DeletionInProgress
}

// Room is a Virola room to seed.
type Room struct {
	ID   int64 // 0: the next free id
	Name string
	Type string // Public (default) or Private
	// Members may access the room. Nil: every user. Virola rooms are
	// per user (GET /rooms lists the caller's; events are filtered to what
	// the user may access), so a Web API token of a user who is not a member
	// is answered 403 {errorText: "Access denied"} on the room, its
	// messages, comments and attachments, and gets none of its events. The
	// docs name no status for this; 403 is the fake's assumption.
	Members  []int64
	Archived bool
	Pinned   bool
	// Permissions are what every member may do in the room. Nil: everything.
	Permissions *Permissions
}

// Permissions are a room's permission flags that the fake enforces, named as
// GET /api/v1/room-permissions/{roomId} names them ("discussion" is a comment
// thread, "main thread" the room timeline). The fake does not serve that
// endpoint: the gateway does not read it.
type Permissions struct {
	// CanEditOrDeleteOwnMessagesInDiscussion lets a member delete the
	// comments they wrote.
	CanEditOrDeleteOwnMessagesInDiscussion bool
	// CanEditOrDeleteOwnMessagesInMainThread lets a member delete the room
	// messages they wrote (and with them their comments).
	CanEditOrDeleteOwnMessagesInMainThread bool
}

// allowed is every permission granted: a room's permissions when none were
// seeded.
var allowed = Permissions{CanEditOrDeleteOwnMessagesInDiscussion: true, CanEditOrDeleteOwnMessagesInMainThread: true}

// Message is a top-level room message or a comment to seed.
type Message struct {
	ID     int64 // 0: the next free id
	RoomID int64 // for AddMessage; a comment lives in its parent's room
	UserID int64 // 0: the bot
	Text   string
	Markup string // TextPlain (default), TextHtml, TextMarkdown, TextCode, TextLatex
	Type   string // Regular (default), Issue, Meeting
	// Priority is Blocker, Critical, High, Normal (default), Low or Trivial.
	Priority    string
	Created     time.Time // zero: now
	Edited      time.Time // zero: Created
	Attachments []Attachment
	ReadBy      []Read
	Issue       *IssueProperties
	Meeting     *MeetingProperties
}

// Attachment is a file on a message.
type Attachment struct {
	ID       int64 // 0: the next free id
	FileName string
	// State is a Virola attachmentState; empty: ReadyForDownloadFromServerToClient.
	State        string
	Content      []byte
	HasThumbnail bool
	Width        int // image size, 0: none given
	Height       int
}

// Read is a read receipt.
type Read struct {
	UserID int64
	At     time.Time
}

// IssueProperties are an Issue message's extras.
type IssueProperties struct {
	Type      string  `json:"type"`
	Status    string  `json:"status"`
	Assignees []int64 `json:"assignees"`
}

// MeetingProperties are a Meeting message's extras.
type MeetingProperties struct {
	TimeUtc  int64   `json:"timeUtc"`
	Duration float64 `json:"duration"`
}

// Attachment states, as the docs name them.
const (
	StateInitial              = "Initial"
	StateChecksumClient       = "ChecksumCalculationOnClientSideInProgress"
	StateChecksumClientFailed = "ChecksumCalculationOnClientSideFailed"
	StateUploading            = "UploadFromClientToServerInProgress"
	StateUploadFailed         = "UploadFromClientToServerFailed"
	StateVerifying            = "ChecksumVerificationOnServerSideInProgress"
	StateVerificationMismatch = "ChecksumVerificationOnServerSideMismatch"
	StateVerificationFailed   = "ChecksumVerificationOnServerSideFailed"
	StateReady                = "ReadyForDownloadFromServerToClient"
)

// AllAttachmentStates lists every attachmentState the docs name.
var AllAttachmentStates = []string{
	StateInitial, StateChecksumClient, StateChecksumClientFailed, StateUploading, StateUploadFailed,
	StateVerifying, StateVerificationMismatch, StateVerificationFailed, StateReady,
}

// Wire shapes, as the docs print them.

type wireUser struct {
	UserID          int64  `json:"userId"`
	UserName        string `json:"userName"`
	DisplayName     string `json:"displayName"`
	IsAdmin         bool   `json:"isAdmin"`
	Status          string `json:"status"`
	CreatedUtc      int64  `json:"createdUtc"`
	LastModifiedUtc int64  `json:"lastModifiedUtc"`
}

type wireLastMessage struct {
	MessageID  int64 `json:"messageId"`
	CreatedUtc int64 `json:"createdUtc"`
	UserID     int64 `json:"userId"`
}

type wireRoom struct {
	RoomID             int64            `json:"roomId"`
	DisplayName        string           `json:"displayName"`
	RoomType           string           `json:"roomType"`
	UnreadMessageCount int              `json:"unreadMessageCount"`
	IsArchived         bool             `json:"isArchived"`
	IsModerator        bool             `json:"isModerator"`
	IsPinned           bool             `json:"isPinned"`
	LastMessage        *wireLastMessage `json:"lastMessage"`
	CreatedUtc         int64            `json:"createdUtc"`
	LastModifiedUtc    int64            `json:"lastModifiedUtc"`
}

type wireSize struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

type wireAttachment struct {
	AttachmentID    int64     `json:"attachmentId"`
	AttachmentState string    `json:"attachmentState"`
	CreatedUtc      int64     `json:"createdUtc"`
	FileChecksum    string    `json:"fileChecksum"`
	FileName        string    `json:"fileName"`
	FileSize        int64     `json:"fileSize"`
	HasThumbnail    bool      `json:"hasThumbnail"`
	LastModifiedUtc int64     `json:"lastModifiedUtc"`
	RoomID          int64     `json:"roomId"`
	TextMessageID   int64     `json:"textMessageId"`
	Size            *wireSize `json:"size,omitempty"`
}

type wireRead struct {
	ReadUtc int64 `json:"readUtc"`
	UserID  int64 `json:"userId"`
}

type wireMessage struct {
	Attachments       []wireAttachment   `json:"attachments"`
	CommentCount      int                `json:"commentCount"`
	CreatedUtc        int64              `json:"createdUtc"`
	LastEditedUtc     int64              `json:"lastEditedUtc"`
	LastModifiedUtc   int64              `json:"lastModifiedUtc"`
	MarkupType        string             `json:"markupType"`
	MessageID         int64              `json:"messageId"`
	MessageType       string             `json:"messageType"`
	ParentMessageID   int64              `json:"parentMessageId"`
	Priority          string             `json:"priority"`
	RoomID            int64              `json:"roomId"`
	Text              string             `json:"text"`
	UserID            int64              `json:"userId"`
	ReadTimestamps    []wireRead         `json:"readTimestamps"`
	IssueProperties   *IssueProperties   `json:"issueProperties,omitempty"`
	MeetingProperties *MeetingProperties `json:"meetingProperties,omitempty"`
}

type storedAttachment struct {
	wire    wireAttachment
	content []byte
}

type storedRoom struct {
	wire    wireRoom
	members []int64 // nil: everyone
	perms   Permissions
}

// world is the server's data; Server.mu guards it.
type world struct {
	users     map[int64]*wireUser
	userOrder []int64
	rooms     map[int64]*storedRoom
	roomOrder []int64
	msgs      map[int64]*wireMessage
	atts      map[int64]*storedAttachment
	// children and roomMsgs hold message ids in ascending order, the order
	// every list answers in.
	children map[int64][]int64
	roomMsgs map[int64][]int64
	nextUser int64
	nextRoom int64
	nextMsg  int64
	nextAtt  int64
}

func newWorld() world {
	return world{
		users:    make(map[int64]*wireUser),
		rooms:    make(map[int64]*storedRoom),
		msgs:     make(map[int64]*wireMessage),
		atts:     make(map[int64]*storedAttachment),
		children: make(map[int64][]int64),
		roomMsgs: make(map[int64][]int64),
		nextUser: 1,
		nextRoom: 1,
		nextMsg:  2000100, // ids of the docs' size
		nextAtt:  10,
	}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func (r *storedRoom) canAccess(uid int64) bool {
	return r.members == nil || slices.Contains(r.members, uid)
}

func insertSorted(ids []int64, id int64) []int64 {
	i, found := slices.BinarySearch(ids, id)
	if found {
		return ids
	}
	return slices.Insert(ids, i, id)
}

func removeID(ids []int64, id int64) []int64 {
	if i, found := slices.BinarySearch(ids, id); found {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

// AddUser adds a user and returns it with its id and defaults filled in.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.world
	if u.ID == 0 {
		u.ID = w.nextUser
	}
	if u.ID >= w.nextUser {
		w.nextUser = u.ID + 1
	}
	if u.Status == "" {
		u.Status = "Active"
	}
	if u.DisplayName == "" {
		u.DisplayName = u.UserName
	}
	if u.UserName == "" {
		u.UserName = fmt.Sprintf("user%d", u.ID)
	}
	now := ms(s.now())
	if _, exists := w.users[u.ID]; !exists {
		w.userOrder = append(w.userOrder, u.ID)
	}
	w.users[u.ID] = &wireUser{UserID: u.ID, UserName: u.UserName, DisplayName: u.DisplayName,
		IsAdmin: u.IsAdmin, Status: u.Status, CreatedUtc: now, LastModifiedUtc: now}
	return u
}

// AddRoom adds a room, tells connected clients (RoomCreated) and returns it
// with its id and defaults filled in.
func (s *Server) AddRoom(r Room) Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.world
	if r.ID == 0 {
		r.ID = w.nextRoom
	}
	if r.ID >= w.nextRoom {
		w.nextRoom = r.ID + 1
	}
	if r.Type == "" {
		r.Type = "Public"
	}
	now := ms(s.now())
	if _, exists := w.rooms[r.ID]; !exists {
		w.roomOrder = append(w.roomOrder, r.ID)
	}
	perms := allowed
	if r.Permissions != nil {
		perms = *r.Permissions
	}
	room := &storedRoom{members: slices.Clone(r.Members), perms: perms, wire: wireRoom{
		RoomID: r.ID, DisplayName: r.Name, RoomType: r.Type, IsArchived: r.Archived,
		IsPinned: r.Pinned, CreatedUtc: now, LastModifiedUtc: now,
	}}
	w.rooms[r.ID] = room
	s.broadcastRoomLocked("RoomCreated", room)
	return r
}

// SetRoomMembers makes members the users who may access the room (nil: every
// user), from the next request and the next event on. Virola documents no way
// to list or change members through the Web API, so this is set-up only and
// tells clients nothing.
func (s *Server) SetRoomMembers(roomID int64, members []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	room, ok := s.world.rooms[roomID]
	if !ok {
		return fmt.Errorf("virolatest: no room %d", roomID)
	}
	room.members = slices.Clone(members)
	return nil
}

// AddRoomMember lets userID access a room that has members; a room open to
// every user stays open.
func (s *Server) AddRoomMember(roomID, userID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	room, ok := s.world.rooms[roomID]
	if !ok {
		return fmt.Errorf("virolatest: no room %d", roomID)
	}
	if room.members != nil && !slices.Contains(room.members, userID) {
		room.members = append(room.members, userID)
	}
	return nil
}

// RenameRoom changes a room's displayName and tells connected clients
// (RoomUpdated).
func (s *Server) RenameRoom(id int64, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	room, ok := s.world.rooms[id]
	if !ok {
		return fmt.Errorf("virolatest: no room %d", id)
	}
	room.wire.DisplayName = name
	room.wire.LastModifiedUtc = ms(s.now())
	s.broadcastRoomLocked("RoomUpdated", room)
	return nil
}

// DeleteRoom removes a room and its messages and tells the clients that could
// see it (RoomDeleted).
func (s *Server) DeleteRoom(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.world
	room, ok := w.rooms[id]
	if !ok {
		return fmt.Errorf("virolatest: no room %d", id)
	}
	s.broadcastLocked(room, "RoomDeleted", map[string]any{"roomId": id})
	for _, mid := range w.roomMsgs[id] {
		for _, cid := range w.children[mid] {
			s.dropMessageLocked(cid)
		}
		delete(w.children, mid)
		s.dropMessageLocked(mid)
	}
	delete(w.roomMsgs, id)
	delete(w.rooms, id)
	w.roomOrder = slices.DeleteFunc(w.roomOrder, func(r int64) bool { return r == id })
	return nil
}

// AddMessage adds a top-level message to m.RoomID as m.UserID, tells connected
// clients (TextMessagesCreated) and returns its id.
func (s *Server) AddMessage(m Message) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.world.rooms[m.RoomID]; !ok {
		return 0, fmt.Errorf("virolatest: no room %d", m.RoomID)
	}
	return s.addMessageLocked(0, m)
}

// AddComment adds a comment under the top-level message parentID as m.UserID,
// tells connected clients (TextMessagesCreated for it, TextMessagesUpdated for
// the parent's commentCount) and returns its id.
func (s *Server) AddComment(parentID int64, m Message) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, ok := s.world.msgs[parentID]
	if !ok {
		return 0, fmt.Errorf("virolatest: no message %d", parentID)
	}
	if parent.ParentMessageID != 0 {
		return 0, fmt.Errorf("virolatest: message %d is a comment; comments go under top-level messages", parentID)
	}
	m.RoomID = parent.RoomID
	return s.addMessageLocked(parentID, m)
}

func (s *Server) addMessageLocked(parentID int64, m Message) (int64, error) {
	w := &s.world
	if m.UserID == 0 {
		m.UserID = s.bot
	}
	if _, ok := w.users[m.UserID]; !ok {
		return 0, fmt.Errorf("virolatest: no user %d", m.UserID)
	}
	if m.ID == 0 {
		m.ID = w.nextMsg
	}
	if _, exists := w.msgs[m.ID]; exists {
		return 0, fmt.Errorf("virolatest: message %d exists", m.ID)
	}
	if m.ID >= w.nextMsg {
		w.nextMsg = m.ID + 1
	}
	now := s.now()
	if m.Created.IsZero() {
		m.Created = now
	}
	if m.Edited.IsZero() {
		m.Edited = m.Created
	}
	msg := &wireMessage{
		Attachments: []wireAttachment{}, MessageID: m.ID, ParentMessageID: parentID, RoomID: m.RoomID,
		UserID: m.UserID, Text: m.Text, MarkupType: orDefault(m.Markup, "TextPlain"),
		MessageType: orDefault(m.Type, "Regular"), Priority: orDefault(m.Priority, "Normal"),
		CreatedUtc: ms(m.Created), LastEditedUtc: ms(m.Edited), LastModifiedUtc: ms(latest(m.Edited, m.Created)),
		ReadTimestamps: []wireRead{}, IssueProperties: m.Issue, MeetingProperties: m.Meeting,
	}
	for _, a := range m.Attachments {
		if a.ID == 0 {
			a.ID = w.nextAtt
		}
		if a.ID >= w.nextAtt {
			w.nextAtt = a.ID + 1
		}
		sum := sha1.Sum(a.Content)
		wa := wireAttachment{
			AttachmentID: a.ID, AttachmentState: orDefault(a.State, StateReady), FileChecksum: hex.EncodeToString(sum[:]),
			FileName: a.FileName, FileSize: int64(len(a.Content)), HasThumbnail: a.HasThumbnail,
			LastModifiedUtc: ms(m.Created), RoomID: m.RoomID, TextMessageID: m.ID,
		}
		if a.Width > 0 && a.Height > 0 {
			wa.Size = &wireSize{Width: a.Width, Height: a.Height}
		}
		w.atts[a.ID] = &storedAttachment{wire: wa, content: slices.Clone(a.Content)}
		msg.Attachments = append(msg.Attachments, wa)
	}
	for _, r := range m.ReadBy {
		msg.ReadTimestamps = append(msg.ReadTimestamps, wireRead{UserID: r.UserID, ReadUtc: ms(r.At)})
	}
	w.msgs[m.ID] = msg
	room := w.rooms[m.RoomID]
	if parentID == 0 {
		w.roomMsgs[m.RoomID] = insertSorted(w.roomMsgs[m.RoomID], m.ID)
		room.wire.LastMessage = &wireLastMessage{MessageID: m.ID, CreatedUtc: msg.CreatedUtc, UserID: m.UserID}
		room.wire.LastModifiedUtc = ms(now)
		s.broadcastLocked(room, "TextMessagesCreated", map[string]any{"messages": []wireMessage{*msg}})
		return m.ID, nil
	}
	w.children[parentID] = insertSorted(w.children[parentID], m.ID)
	parent := w.msgs[parentID]
	parent.CommentCount = len(w.children[parentID])
	parent.LastModifiedUtc = ms(now)
	s.broadcastLocked(room, "TextMessagesCreated", map[string]any{"messages": []wireMessage{*msg}})
	s.broadcastLocked(room, "TextMessagesUpdated", map[string]any{"messages": []wireMessage{*parent}})
	return m.ID, nil
}

// EditMessage changes a message's text, as its author would in the desktop
// client (the Web API has no edit endpoint), and tells connected clients
// (TextMessagesUpdated).
func (s *Server) EditMessage(id int64, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, ok := s.world.msgs[id]
	if !ok {
		return fmt.Errorf("virolatest: no message %d", id)
	}
	now := ms(s.now())
	msg.Text = text
	msg.LastEditedUtc = max(now, msg.CreatedUtc+1)
	msg.LastModifiedUtc = msg.LastEditedUtc
	s.broadcastLocked(s.world.rooms[msg.RoomID], "TextMessagesUpdated", map[string]any{"messages": []wireMessage{*msg}})
	return nil
}

// DeleteMessage removes a message as DELETE /api/v1/messages/{id} does, with
// no permission check, and tells connected clients (see deleteMessageLocked).
func (s *Server) DeleteMessage(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.world.msgs[id]; !ok {
		return fmt.Errorf("virolatest: no message %d", id)
	}
	s.deleteMessageLocked(id)
	return nil
}

// deleteMessageLocked removes a message for good: it is gone from every list
// and later calls on its id are 404. The docs say neither whether a delete
// is hard or soft nor what becomes of a room message's discussion.
// Assumption: hard, and deleting a room message deletes its comments (and
// every attachment) with it, telling clients with one TextMessageDeleted
// (parentMessageId 0) — not one per comment. Deleting a comment tells
// clients TextMessageDeleted (parentMessageId its parent), then
// TextMessagesUpdated for the parent, whose commentCount fell, as posting a
// comment does for the count that rose.
func (s *Server) deleteMessageLocked(id int64) {
	w := &s.world
	msg := w.msgs[id]
	room := w.rooms[msg.RoomID]
	for _, cid := range w.children[id] {
		s.dropMessageLocked(cid)
	}
	delete(w.children, id)
	s.dropMessageLocked(id)
	now := ms(s.now())
	var parent *wireMessage
	if msg.ParentMessageID == 0 {
		ids := removeID(w.roomMsgs[msg.RoomID], id)
		w.roomMsgs[msg.RoomID] = ids
		if last := room.wire.LastMessage; last != nil && last.MessageID == id {
			room.wire.LastMessage = nil
			if len(ids) > 0 {
				m := w.msgs[ids[len(ids)-1]]
				room.wire.LastMessage = &wireLastMessage{MessageID: m.MessageID, CreatedUtc: m.CreatedUtc, UserID: m.UserID}
			}
			room.wire.LastModifiedUtc = now
		}
	} else if p, ok := w.msgs[msg.ParentMessageID]; ok {
		w.children[p.MessageID] = removeID(w.children[p.MessageID], id)
		p.CommentCount = len(w.children[p.MessageID])
		p.LastModifiedUtc = max(now, p.LastModifiedUtc)
		parent = p
	}
	s.broadcastLocked(room, "TextMessageDeleted", map[string]any{
		"messageId": id, "roomId": msg.RoomID, "parentMessageId": msg.ParentMessageID,
	})
	if parent != nil {
		s.broadcastLocked(room, "TextMessagesUpdated", map[string]any{"messages": []wireMessage{*parent}})
	}
}

func (s *Server) dropMessageLocked(id int64) {
	if msg, ok := s.world.msgs[id]; ok {
		for _, a := range msg.Attachments {
			delete(s.world.atts, a.AttachmentID)
		}
		delete(s.world.msgs, id)
	}
}

// MarkRead records that userID read message id, as
// POST /api/v1/messages/{id}/read does, and tells connected clients
// (TextMessagesUpdated) when that is news.
func (s *Server) MarkRead(id, userID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, ok := s.world.msgs[id]
	if !ok {
		return fmt.Errorf("virolatest: no message %d", id)
	}
	s.markReadLocked(msg, userID)
	return nil
}

// markReadLocked adds userID's read receipt to msg. Assumption (the docs say
// only that readTimestamps are per-reader receipts): a receipt records the
// first read, so reading again changes nothing and tells no one.
func (s *Server) markReadLocked(msg *wireMessage, userID int64) {
	if slices.ContainsFunc(msg.ReadTimestamps, func(r wireRead) bool { return r.UserID == userID }) {
		return
	}
	now := ms(s.now())
	msg.ReadTimestamps = append(msg.ReadTimestamps, wireRead{UserID: userID, ReadUtc: now})
	msg.LastModifiedUtc = max(now, msg.LastModifiedUtc)
	s.broadcastLocked(s.world.rooms[msg.RoomID], "TextMessagesUpdated", map[string]any{"messages": []wireMessage{*msg}})
}

// ReadBy lists who read message id and when, as stored: what a test checks
// a mark-read against. Nil for an unknown id.
func (s *Server) ReadBy(id int64) []Read {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, ok := s.world.msgs[id]
	if !ok {
		return nil
	}
	out := make([]Read, 0, len(msg.ReadTimestamps))
	for _, r := range msg.ReadTimestamps {
		out = append(out, Read{UserID: r.UserID, At: time.UnixMilli(r.ReadUtc).UTC()})
	}
	return out
}

// Comments lists the comments under parentID as stored, oldest first, with
// their text and author: what a test checks a write against.
func (s *Server) Comments(parentID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, id := range s.world.children[parentID] {
		m := s.world.msgs[id]
		out = append(out, Message{
			ID: m.MessageID, RoomID: m.RoomID, UserID: m.UserID, Text: m.Text, Markup: m.MarkupType,
			Type: m.MessageType, Priority: m.Priority,
			Created: time.UnixMilli(m.CreatedUtc).UTC(), Edited: time.UnixMilli(m.LastEditedUtc).UTC(),
		})
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
