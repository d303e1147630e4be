package providers

import "unicode/utf8"

// maxJSONDepth is encoding/json's nesting limit: a document nested deeper
// is invalid to json.Valid, so it is to validJSON.
const maxJSONDepth = 10000

// validJSON reports utf8.Valid(data) && json.Valid(data) in one pass.
//
// encoding/json's validator runs its scanner's state machine, a function
// call per byte; on the comment pages, mostly string bytes, it cost as much
// CPU as decoding them. This skips a string's plain bytes in a tight loop
// and checks UTF-8 only where a string has a non-ASCII byte (outside strings
// any such byte is invalid JSON anyway). The grammar, the escapes it accepts
// and the depth limit are encoding/json's; FuzzValidJSONAgrees holds the two
// to the same answer on arbitrary input.
func validJSON(data []byte) bool {
	n := len(data)
	var stack []byte // open containers, innermost last: '{' or '['
	i := skipSpace(data, 0)
	for {
		// A value starts at i.
		if i >= n {
			return false
		}
		switch c := data[i]; {
		case c == '{' || c == '[':
			stack = append(stack, c)
			if len(stack) > maxJSONDepth {
				return false
			}
			i = skipSpace(data, i+1)
			if i < n && data[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				i++
				stack = stack[:len(stack)-1]
				break
			}
			if c == '{' {
				var ok bool
				if i, ok = objectKey(data, i); !ok {
					return false
				}
			}
			continue
		case c == '"':
			var ok bool
			if i, ok = scanString(data, i); !ok {
				return false
			}
		case c == '-' || '0' <= c && c <= '9':
			var ok bool
			if i, ok = scanNumber(data, i); !ok {
				return false
			}
		case c == 't':
			if !hasAt(data, i, "true") {
				return false
			}
			i += 4
		case c == 'f':
			if !hasAt(data, i, "false") {
				return false
			}
			i += 5
		case c == 'n':
			if !hasAt(data, i, "null") {
				return false
			}
			i += 4
		default:
			return false
		}
		// A value ended before i: close containers until one goes on.
		for {
			i = skipSpace(data, i)
			if len(stack) == 0 {
				return i == n
			}
			if i >= n {
				return false
			}
			top := stack[len(stack)-1]
			switch data[i] {
			case ',':
				i = skipSpace(data, i+1)
				if top == '{' {
					var ok bool
					if i, ok = objectKey(data, i); !ok {
						return false
					}
				}
			case top + 2:
				i++
				stack = stack[:len(stack)-1]
				continue
			default:
				return false
			}
			break
		}
	}
}

// objectKey reads `"key" :` and the space after it, from i.
func objectKey(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return i, false
	}
	i, ok := scanString(data, i)
	if !ok {
		return i, false
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return i, false
	}
	return skipSpace(data, i+1), true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func hasAt(data []byte, i int, lit string) bool {
	return len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit
}

// plainStringByte marks the bytes a string holds as they are: printable
// ASCII other than the quote and the backslash.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString reads the string that opens at data[i] and returns the index
// after its closing quote.
func scanString(data []byte, i int) (int, bool) {
	n := len(data)
	i++
	for i < n {
		for i < n && plainStringByte[data[i]] {
			i++
		}
		if i >= n {
			return i, false
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= n {
				return i, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if n-i < 6 || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) || !isHex(data[i+5]) {
					return i, false
				}
				i += 6
			default:
				return i, false
			}
		case c < 0x20:
			return i, false
		default: // c >= 0x80
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return i, false
			}
			i += size
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanNumber reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? from i.
func scanNumber(data []byte, i int) (int, bool) {
	n := len(data)
	if data[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return i, false
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		i = skipDigits(data, i+1)
	default:
		return i, false
	}
	if i < n && data[i] == '.' {
		j := skipDigits(data, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < n && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < n && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := skipDigits(data, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}
