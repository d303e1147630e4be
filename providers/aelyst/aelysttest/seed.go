package aelysttest

import (
	"sort"
)

// AddUser adds (or replaces) a workspace user. A zero ID gets the next free
// one; the stored user is returned.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		s.nextID++
		u.ID = s.nextID
	}
	if u.Role == "" {
		u.Role = "agent"
	}
	s.users[u.ID] = &u
	return u
}

// AddContact adds (or replaces) a contact; a zero ID gets the next free one.
// With a webhook set it delivers contact.created (contact.updated when the id
// existed).
func (s *Server) AddContact(c Contact) Contact {
	s.mu.Lock()
	if c.ID == 0 {
		s.nextID++
		c.ID = s.nextID
	}
	if c.CreatedAt == 0 {
		c.CreatedAt = s.now().Unix()
	}
	event := "contact.created"
	if _, ok := s.contacts[c.ID]; ok {
		event = "contact.updated"
	}
	s.contacts[c.ID] = &c
	var o *outgoing
	if s.hookURL != "" {
		out := s.contactEventLocked(event, &c)
		o = &out
	}
	s.mu.Unlock()
	if o != nil {
		s.enqueue(*o)
	}
	return c
}

// AddComment stores a comment as if a user had written it in Aelyst's UI
// (CreatedAt 0: now) and delivers it when a webhook is set.
func (s *Server) AddComment(c Comment) Comment {
	if c.CreatedAt == 0 {
		c.CreatedAt = s.now().Unix()
	}
	return s.store(c)
}

// store keeps c and queues its comment.created delivery when a webhook is set.
func (s *Server) store(c Comment) Comment {
	s.mu.Lock()
	stored := &c
	s.comments[c.ContactID] = append(s.comments[c.ContactID], stored)
	var o *outgoing
	if s.hookURL != "" {
		out := s.commentEventLocked(stored)
		o = &out
	}
	c = *stored
	s.mu.Unlock()
	if o != nil {
		s.enqueue(*o)
	}
	return c
}

// Comments lists what was really stored for a contact, oldest first.
func (s *Server) Comments(contactID int64) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Comment, 0, len(s.comments[contactID]))
	for _, c := range s.comments[contactID] {
		out = append(out, *c)
	}
	return out
}

// Contact returns a contact by id.
func (s *Server) Contact(id int64) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[id]
	if !ok {
		return Contact{}, false
	}
	return *c, true
}

// Contacts lists every contact as its "id:<n>" identifier, ascending: the
// thread refs demo config points at.
func (s *Server) Contacts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.contactIDsLocked() {
		out = append(out, "id:"+itoa(id))
	}
	return out
}

func (s *Server) contactIDsLocked() []int64 {
	ids := make([]int64, 0, len(s.contacts))
	for id := range s.contacts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
