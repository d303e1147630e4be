package graphqlws

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
)

// Subprotocols, in the order the server prefers them.
const (
	// TransportWS is graphql-transport-ws
	// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
	TransportWS = "graphql-transport-ws"
	// LegacyWS is Apollo's subscriptions-transport-ws protocol, named
	// graphql-ws. A client that asks for no subprotocol gets it, as gqlgen's
	// own transport does.
	LegacyWS = "graphql-ws"
)

// protocol holds what differs between the two subprotocols, with each
// server message's fixed bytes built once: a frame is those bytes around the
// member's id and the shared payload, never a re-marshalled struct.
type protocol struct {
	legacy    bool
	subscribe string // the client's message that starts an operation
	stop      string // the client's message that ends one
	// heads follow `{"id":<id>` and precede the payload (or the closing brace).
	next, errors, complete []byte
	ack, keepAlive, pong   []byte
}

var (
	transportWS = &protocol{
		subscribe: "subscribe", stop: "complete",
		next:      []byte(`,"type":"next","payload":`),
		errors:    []byte(`,"type":"error","payload":`),
		complete:  []byte(`,"type":"complete"`),
		ack:       []byte(`{"type":"connection_ack"}`),
		keepAlive: []byte(`{"type":"ping"}`),
		pong:      []byte(`{"type":"pong"}`),
	}
	legacyWS = &protocol{
		legacy: true, subscribe: "start", stop: "stop",
		next:      []byte(`,"type":"data","payload":`),
		errors:    []byte(`,"type":"error","payload":`),
		complete:  []byte(`,"type":"complete"`),
		ack:       []byte(`{"type":"connection_ack"}`),
		keepAlive: []byte(`{"type":"ka"}`),
		pong:      []byte(`{"type":"pong"}`),
	}
)

func protocolFor(subprotocol string) *protocol {
	if subprotocol == TransportWS {
		return transportWS
	}
	return legacyWS
}

// message is one client message of either protocol.
type message struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

var errInvalidMessage = errors.New("invalid message")

// parseMessage reads one client frame. Anything that is not a JSON object
// with a string type is invalid.
func parseMessage(data []byte) (message, error) {
	var m message
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		return message{}, errInvalidMessage
	}
	return m, nil
}

// parseInitPayload reads connection_init's payload: absent, null or an object.
func parseInitPayload(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, errInvalidMessage
	}
	return p, nil
}

// parseRequest reads a subscribe/start payload as a GraphQL request. Numbers
// stay json.Number, as gqlgen's own transports decode them, so variables
// coerce the same way and re-encode to the text the client sent.
func parseRequest(raw json.RawMessage) (*graphql.RawParams, error) {
	p := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(p); err != nil || dec.More() {
		return nil, errInvalidMessage
	}
	return p, nil
}

// frameKind says how a queued frame is written.
type frameKind uint8

const (
	frameOp    frameKind = iota // {"id":<id><head><payload>}
	frameRaw                    // payload as it is
	frameClose                  // a close control frame with code and reason
)

// frame is one message queued for a socket. payload is shared by every
// member of a broadcast and never modified.
type frame struct {
	kind    frameKind
	head    []byte
	id      []byte // the member's id, JSON-encoded
	payload []byte
	code    int
	reason  string
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// closeReason fits a reason into a close frame (at most 123 bytes).
func closeReason(s string) string {
	const maxReason = 123
	if len(s) <= maxReason {
		return s
	}
	s = s[:maxReason]
	for !utf8.ValidString(s) { // do not cut a UTF-8 sequence in two
		s = s[:len(s)-1]
	}
	return s
}
