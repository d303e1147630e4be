// Package model holds commentgraph's domain types. gqlgen autobinds the GraphQL
// types to these structs; fields that need a fetch (a comment's sender, a thread's
// room, …) are marked `resolver: true` in gqlgen.yml and hold only the reference
// here, so that resolvers go through the per-request loaders.
//
// Providers fill these types from upstream payloads; nothing here imports GraphQL
// or provider code.
package model

import "time"

// Provider describes one configured upstream instance.
type Provider struct {
	ID           string       `json:"id"`
	Kind         ProviderKind `json:"kind"`
	Name         string       `json:"name"`
	Capabilities []Capability `json:"capabilities"`
	// Credentials says whose upstream credential the instance acts with; the
	// gateway sets it from the config (adapters leave it empty: SERVICE).
	Credentials CredentialMode `json:"credentials"`
	// MaxBatch is the most user or room references one upstream look-up accepts;
	// loaders split larger batches. 0 means no limit.
	MaxBatch int `json:"-"`
}

// Has reports whether the provider has capability c.
func (p *Provider) Has(c Capability) bool {
	for _, have := range p.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}

// Thread is a place comments are listed in: a K-LINK room, a Virola or Ziik parent
// message, an Aelyst contact, a Ziik conversation.
type Thread struct {
	ProviderID string     `json:"provider"`
	Kind       ThreadKind `json:"kind"`
	Ref        string     `json:"ref"`
	Title      *string    `json:"title,omitempty"`
	// RoomRef is the provider's id of the room or conversation the thread lives
	// in; empty where there is none.
	RoomRef string `json:"roomRef,omitempty"`
}

// ID is the thread's global ID.
func (t *Thread) ID() string { return ThreadID(t.ProviderID, t.Kind, t.Ref) }

// Room is a chat room, conversation or contact a thread lives in.
type Room struct {
	ProviderID string  `json:"provider"`
	Ref        string  `json:"ref"`
	Name       *string `json:"name,omitempty"`
}

// ID is the room's global ID.
func (r *Room) ID() string {
	return encodeParts(string(TypeRoom), r.ProviderID, r.Ref)
}

// User is a person (or bot) of one provider instance.
type User struct {
	ProviderID string  `json:"provider"`
	Ref        string  `json:"ref"`
	Name       string  `json:"name"`
	Email      *string `json:"email,omitempty"`
	Title      *string `json:"title,omitempty"`
	Department *string `json:"department,omitempty"`
	Unit       *string `json:"unit,omitempty"`
	AvatarURL  *string `json:"avatarUrl,omitempty"`
}

// ID is the user's global ID.
func (u *User) ID() string { return UserID(u.ProviderID, u.Ref) }

// Comment is one comment, normalized. Text is plain text with mentions rendered
// as @Name; Mentions are spans of Text in Unicode code points.
type Comment struct {
	ProviderID string     `json:"provider"`
	ThreadKind ThreadKind `json:"threadKind"`
	ThreadRef  string     `json:"threadRef"`
	Ref        string     `json:"ref"`
	// ParentRef is the provider's id of the comment this one replies to; empty
	// when it replies to none.
	ParentRef string     `json:"parentRef,omitempty"`
	Text      string     `json:"text"`
	Body      string     `json:"body"`
	Markup    Markup     `json:"markup"`
	Mentions  []*Mention `json:"mentions"`
	// SenderRef is the provider's id of the author; empty where the provider
	// names none.
	SenderRef string `json:"senderRef,omitempty"`
	// SenderHint is the author as the payload named it (K-LINK's {id,name},
	// Ziik's author object). The sender resolver prefers the loader and falls
	// back to the hint, so providers with no user directory still name senders.
	SenderHint  *User          `json:"senderHint,omitempty"`
	Attachments []*Attachment  `json:"attachments"`
	Reactions   []*Reaction    `json:"reactions"`
	ReadBy      []*ReadReceipt `json:"readBy"`
	Priority    *string        `json:"priority,omitempty"`
	MessageType *string        `json:"messageType,omitempty"`
	CreatedAt   time.Time      `json:"createdAt"`
	EditedAt    *time.Time     `json:"editedAt,omitempty"`
	Deleted     bool           `json:"deleted"`
}

// ID is the comment's global ID. It carries the thread so that node() can fetch
// the comment from providers that only list comments per thread.
func (c *Comment) ID() string {
	return CommentID(c.ProviderID, c.ThreadKind, c.ThreadRef, c.Ref)
}

// ThreadID is the global ID of the thread the comment is in.
func (c *Comment) ThreadID() string { return ThreadID(c.ProviderID, c.ThreadKind, c.ThreadRef) }

// Link points the comment's attachments back at it, so their IDs can be
// resolved later. The gateway calls it on every comment a provider returns.
func (c *Comment) Link() {
	for _, a := range c.Attachments {
		if a != nil {
			a.ProviderID, a.ThreadKind, a.ThreadRef, a.CommentRef = c.ProviderID, c.ThreadKind, c.ThreadRef, c.Ref
		}
	}
}

// Mention is a span of Comment.Text that names a user.
type Mention struct {
	ProviderID string `json:"provider"`
	UserRef    string `json:"userRef"`
	// UserHint is the user as the payload named them, where it did.
	UserHint *User `json:"userHint,omitempty"`
	Offset   int   `json:"offset"`
	Length   int   `json:"length"`
}

// Attachment is a file, image or voice note on a comment.
type Attachment struct {
	ProviderID string `json:"provider"`
	// ThreadKind, ThreadRef and CommentRef locate the comment the attachment
	// hangs on (no provider can fetch an attachment on its own); Comment.Link
	// sets them.
	ThreadKind ThreadKind      `json:"threadKind"`
	ThreadRef  string          `json:"threadRef"`
	CommentRef string          `json:"commentRef"`
	Ref        string          `json:"ref"`
	Name       string          `json:"name"`
	MimeType   *string         `json:"mimeType,omitempty"`
	Size       *int            `json:"size,omitempty"`
	URL        *string         `json:"url,omitempty"`
	State      AttachmentState `json:"state"`
	Kind       string          `json:"kind"`
	Width      *int            `json:"width,omitempty"`
	Height     *int            `json:"height,omitempty"`
	Duration   *float64        `json:"duration,omitempty"`
}

// ID is the attachment's global ID.
func (a *Attachment) ID() string {
	return encodeParts(string(TypeAttachment), a.ProviderID, string(a.ThreadKind), a.ThreadRef, a.CommentRef, a.Ref)
}

// Reaction is one emoji on a comment and who gave it.
type Reaction struct {
	ProviderID string   `json:"provider"`
	Emoji      string   `json:"emoji"`
	Count      int      `json:"count"`
	UserRefs   []string `json:"userRefs"`
}

// ReadReceipt says who read a comment, and when.
type ReadReceipt struct {
	ProviderID string    `json:"provider"`
	UserRef    string    `json:"userRef"`
	ReadAt     time.Time `json:"readAt"`
}

// PageInfo is Relay's page info.
type PageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

// CommentEdge is one comment of a connection and its cursor.
type CommentEdge struct {
	Node *Comment `json:"node"`
	// cursor is the edge's cursor, or "" when lazy makes it.
	cursor string
	// lazy makes the cursor (lazy.CursorAt(index)) when it is asked for: a
	// timeline's cursor is an encoding of every thread's position, worth
	// making only for the edges whose cursor a query selects.
	lazy  CursorSource
	index int
}

// CursorSource makes the cursors of a page's edges when they are asked for.
// CursorAt must be safe to call from several goroutines.
type CursorSource interface {
	CursorAt(i int) string
}

// NewCommentEdge is an edge with its cursor.
func NewCommentEdge(cursor string, node *Comment) *CommentEdge {
	return &CommentEdge{cursor: cursor, Node: node}
}

// LazyCommentEdge is the i-th edge of a page whose cursors src makes when
// first asked for. It is a value so that a page's edges can be allocated
// together.
func LazyCommentEdge(src CursorSource, i int, node *Comment) CommentEdge {
	return CommentEdge{lazy: src, index: i, Node: node}
}

// Cursor is where a page that starts after this edge begins.
func (e *CommentEdge) Cursor() string {
	if e.lazy != nil {
		return e.lazy.CursorAt(e.index)
	}
	return e.cursor
}

// CommentConnection is a Relay connection of comments.
type CommentConnection struct {
	Edges    []*CommentEdge `json:"edges"`
	PageInfo *PageInfo      `json:"pageInfo"`
}

// Nodes lists the connection's comments without their cursors.
func (c *CommentConnection) Nodes() []*Comment {
	out := make([]*Comment, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

// ThreadEdge is one thread of a connection and its cursor.
type ThreadEdge struct {
	Cursor string  `json:"cursor"`
	Node   *Thread `json:"node"`
}

// ThreadConnection is a Relay connection of threads.
type ThreadConnection struct {
	Edges    []*ThreadEdge `json:"edges"`
	PageInfo *PageInfo     `json:"pageInfo"`
}

// Nodes lists the connection's threads without their cursors.
func (c *ThreadConnection) Nodes() []*Thread {
	out := make([]*Thread, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

// IsNode marks the types that implement the GraphQL Node interface.
func (*Thread) IsNode()     {}
func (*Room) IsNode()       {}
func (*User) IsNode()       {}
func (*Comment) IsNode()    {}
func (*Attachment) IsNode() {}

// CommentEvent is something that happened to a comment, as commentEvents
// delivers it. Subject is the comment as it now is; for DELETED only its
// ProviderID, ThreadKind, ThreadRef and Ref are known (see Tombstone).
type CommentEvent struct {
	Type    CommentEventType
	Subject *Comment
}

// CommentID is the global ID of the comment the event is about.
func (e *CommentEvent) CommentID() string { return e.Subject.ID() }

// Comment is the comment as it now is; nil for DELETED.
func (e *CommentEvent) Comment() *Comment {
	if e.Type == CommentEventTypeDeleted {
		return nil
	}
	return e.Subject
}

// Tombstone is what is left of a deleted comment: where it was.
func Tombstone(provider string, kind ThreadKind, threadRef, ref string) *Comment {
	return &Comment{ProviderID: provider, ThreadKind: kind, ThreadRef: threadRef, Ref: ref, Markup: MarkupPlain, Deleted: true}
}
