package klinktest

import "fmt"

// K-LINK documents no way to edit or delete a comment through its API, but
// agents can in the app. EditComment and RemoveComment stand for that, so
// tests can check what a poll of the comment list sees: an edited comment
// keeps its id and creation time with a new text (the list gives no edited
// time), and a removed one is simply no longer listed.

// EditComment replaces the text of comment id in roomID, as an agent editing it
// in the app would. Its mentions are kept as they were.
func (s *Server) EditComment(roomID, id, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.comments[roomID] {
		if c.ID == id {
			c.Text = text
			return nil
		}
	}
	return fmt.Errorf("klinktest: no comment %q in room %q", id, roomID)
}

// RemoveComment takes comment id out of roomID's list, as an agent deleting it
// in the app would.
func (s *Server) RemoveComment(roomID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.comments[roomID]
	for i, c := range cs {
		if c.ID == id {
			s.comments[roomID] = append(cs[:i:i], cs[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("klinktest: no comment %q in room %q", id, roomID)
}
