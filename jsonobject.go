package dcr

// isJSONObject reports whether body is exactly one JSON object (RFC 8259),
// with optional white space around it. It accepts what json.Valid accepts
// when the first byte that is not white space is '{', nesting included
// (FuzzIsJSONObject compares the two), in a fraction of json.Valid's time:
// it runs on every registration and update.
func isJSONObject(body []byte) bool {
	p := jsonParser{data: body}
	p.skipSpace()
	if !p.next('{') || !p.object(1) {
		return false
	}
	p.skipSpace()
	return p.i == len(p.data)
}

// maxJSONDepth is encoding/json's limit on nesting.
const maxJSONDepth = 10000

// jsonParser checks JSON syntax without building anything. Its methods
// advance i past what they accept and report whether it was well-formed.
type jsonParser struct {
	data []byte
	i    int
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next reports whether the next byte is c.
func (p *jsonParser) next(c byte) bool {
	return p.i < len(p.data) && p.data[p.i] == c
}

func (p *jsonParser) value(depth int) bool {
	if p.i >= len(p.data) {
		return false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return false
}

// object accepts an object; p.i is at its '{'.
func (p *jsonParser) object(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	p.i++
	p.skipSpace()
	if p.next('}') {
		p.i++
		return true
	}
	for {
		p.skipSpace()
		if !p.next('"') || !p.string() {
			return false
		}
		p.skipSpace()
		if !p.next(':') {
			return false
		}
		p.i++
		p.skipSpace()
		if !p.value(depth) {
			return false
		}
		p.skipSpace()
		switch {
		case p.next(','):
			p.i++
		case p.next('}'):
			p.i++
			return true
		default:
			return false
		}
	}
}

// array accepts an array; p.i is at its '['.
func (p *jsonParser) array(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	p.i++
	p.skipSpace()
	if p.next(']') {
		p.i++
		return true
	}
	for {
		p.skipSpace()
		if !p.value(depth) {
			return false
		}
		p.skipSpace()
		switch {
		case p.next(','):
			p.i++
		case p.next(']'):
			p.i++
			return true
		default:
			return false
		}
	}
}

// plain marks the bytes that stand for themselves inside a string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// string accepts a string; p.i is at its opening quote. Like json.Valid,
// it does not check that the bytes are UTF-8.
func (p *jsonParser) string() bool {
	p.i++
	for p.i < len(p.data) {
		if plain[p.data[p.i]] {
			p.i++
			continue
		}
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			p.i++
			if p.i >= len(p.data) {
				return false
			}
			switch p.data[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if p.i+4 >= len(p.data) {
					return false
				}
				for _, h := range p.data[p.i+1 : p.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				p.i += 5
			default:
				return false
			}
		}
	}
	return false
}

// number accepts -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *jsonParser) number() bool {
	if p.next('-') {
		p.i++
	}
	switch {
	case p.next('0'):
		p.i++
	case p.digits() == 0:
		return false
	}
	if p.next('.') {
		p.i++
		if p.digits() == 0 {
			return false
		}
	}
	if p.next('e') || p.next('E') {
		p.i++
		if p.next('+') || p.next('-') {
			p.i++
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

// digits skips decimal digits and says how many there were.
func (p *jsonParser) digits() int {
	start := p.i
	for p.i < len(p.data) && '0' <= p.data[p.i] && p.data[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

func (p *jsonParser) literal(word string) bool {
	if len(p.data)-p.i < len(word) || string(p.data[p.i:p.i+len(word)]) != word {
		return false
	}
	p.i += len(word)
	return true
}
