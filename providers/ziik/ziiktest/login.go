package ziiktest

import (
	"crypto/hmac"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// loginLocked is the user email and password log in as: the integration
// user with the Options credentials, or a user added with a Password. s.mu
// must be held.
func (s *Server) loginLocked(email, password string) (int, bool) {
	if hmac.Equal([]byte(email), []byte(s.email)) && hmac.Equal([]byte(password), []byte(s.pass)) {
		return s.botID, true
	}
	// In id order, so that two users with one email and password log in as
	// the same one every time.
	for _, id := range slices.Sorted(maps.Keys(s.users)) {
		u := s.users[id]
		if u.Password != "" && strings.EqualFold(u.Email, email) && hmac.Equal([]byte(password), []byte(u.Password)) {
			return id, true
		}
	}
	return 0, false
}

// IssueToken returns a JWT acting as userID, as POST /authenticate would
// issue after that user logged in: it expires after Options.TokenTTL, can be
// renewed, and is refused after ExpireTokens. It is what a client that holds
// a user's Ziik JWT (rather than their password) sends as its bearer.
func (s *Server) IssueToken(userID int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[userID] == nil {
		return "", fmt.Errorf("ziiktest: user %d does not exist", userID)
	}
	jwt, _ := s.issue(userID)
	return jwt, nil
}

// SetParticipants makes userIDs the conversation's participants, the only
// users who may see it from the next request on; every one must exist.
func (s *Server) SetParticipants(conversation int, userIDs ...int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[conversation]
	if c == nil {
		return fmt.Errorf("ziiktest: conversation %d does not exist", conversation)
	}
	for _, p := range userIDs {
		if s.users[p] == nil {
			return fmt.Errorf("ziiktest: participant %d does not exist", p)
		}
	}
	c.Participants = slices.Clone(userIDs)
	return nil
}

// AddParticipant adds userID to the conversation's participants, as
// POST /conversations/{id}/participants does for a group conversation.
func (s *Server) AddParticipant(conversation, userID int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[conversation]
	switch {
	case c == nil:
		return fmt.Errorf("ziiktest: conversation %d does not exist", conversation)
	case s.users[userID] == nil:
		return fmt.Errorf("ziiktest: participant %d does not exist", userID)
	}
	if !slices.Contains(c.Participants, userID) {
		c.Participants = append(c.Participants, userID)
	}
	return nil
}
