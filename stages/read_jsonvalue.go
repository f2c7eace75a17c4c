package stages

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small strict JSON scanner. The readers use it instead of
// encoding/json for the top level of every record: it validates the record in
// one pass without allocating, remembers where each top-level member's value
// starts and ends, and lets the record builder decode only the fields it
// needs. encoding/json decodes a Chinese JSON Lines file at well under
// 100 MB/s; this scanner plus a copy of the text field runs several times
// faster. The scanner assumes its input is valid UTF-8 (the readers check
// that first, to tell invalid_encoding from malformed).

// maxJSONDepth bounds nesting, so a hostile record cannot exhaust the stack.
const maxJSONDepth = 1000

// errJSONEnd reports input that ends inside a value: the sign of a cut file.
var errJSONEnd = errors.New("unexpected end of JSON input")

// jsonSyntaxError is a syntax error at a byte offset within one record.
type jsonSyntaxError struct {
	msg string
	off int
}

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg)
}

// errNotObject reports a valid JSON value that is not an object.
type errNotObject struct{ kind string }

func (e errNotObject) Error() string {
	return "record is a JSON " + e.kind + ", not an object"
}

func syntaxErr(b []byte, i int, what string) error {
	if i >= len(b) {
		return errJSONEnd
	}
	return &jsonSyntaxError{msg: fmt.Sprintf("%s, found %q", what, rune(b[i])), off: i}
}

// jsonField is one member of a top-level object.
type jsonField struct {
	key []byte // unescaped; points into the record unless it had escapes
	val []byte // the raw value, pointing into the record
}

// jsonRecord is a parsed top-level object. It is reused from record to record
// (fields and the key cache keep their capacity).
type jsonRecord struct {
	fields []jsonField
}

// parse validates b as exactly one JSON object (surrounding whitespace
// allowed) and indexes its members. Values stay raw until asked for.
func (rec *jsonRecord) parse(b []byte) error {
	rec.fields = rec.fields[:0]
	i := skipWS(b, 0)
	if i >= len(b) {
		return errJSONEnd
	}
	if b[i] != '{' {
		end, err := skipValue(b, i, 0)
		if err != nil {
			return err
		}
		if j := skipWS(b, end); j < len(b) {
			return syntaxErr(b, j, "data after the top-level value")
		}
		return errNotObject{kind: jsonKindName(b[i])}
	}
	end, err := rec.parseMembers(b, i)
	if err != nil {
		return err
	}
	if j := skipWS(b, end); j < len(b) {
		return syntaxErr(b, j, "data after the top-level object")
	}
	return nil
}

// parseMembers parses the object starting at b[i] == '{' and records its
// members. Duplicate keys are kept; lookups take the last, like encoding/json.
func (rec *jsonRecord) parseMembers(b []byte, i int) (int, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, syntaxErr(b, i, "expected a string key")
		}
		kend, esc, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		key := rawStringKey(b[i:kend], esc)
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, syntaxErr(b, i, "expected ':' after a key")
		}
		i = skipWS(b, i+1)
		vend, err := skipValue(b, i, 1)
		if err != nil {
			return 0, err
		}
		rec.fields = append(rec.fields, jsonField{key: key, val: b[i:vend]})
		i = skipWS(b, vend)
		if i >= len(b) {
			return 0, errJSONEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, syntaxErr(b, i, "expected ',' or '}' after a value")
		}
	}
}

// get returns the raw value of the last member named key.
func (rec *jsonRecord) get(key string) ([]byte, bool) {
	for i := len(rec.fields) - 1; i >= 0; i-- {
		if string(rec.fields[i].key) == key {
			return rec.fields[i].val, true
		}
	}
	return nil, false
}

// rawStringKey returns a key's bytes: a slice of the token, so indexing a
// record allocates nothing, or a decoded copy for the rare escaped key.
func rawStringKey(tok []byte, esc bool) []byte {
	if !esc {
		return tok[1 : len(tok)-1]
	}
	return []byte(unquoteJSON(tok))
}

func jsonKindName(c byte) string {
	switch c {
	case '"':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipWS(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// skipValue validates the value starting at b[i] and returns the index just
// after it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errJSONEnd
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return 0, &jsonSyntaxError{msg: "nesting too deep", off: i}
		}
		if c == '{' {
			return skipObject(b, i, depth+1)
		}
		return skipArray(b, i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return 0, syntaxErr(b, i, "expected a value")
}

func skipObject(b []byte, i, depth int) (int, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, syntaxErr(b, i, "expected a string key")
		}
		end, _, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, syntaxErr(b, i, "expected ':' after a key")
		}
		if i, err = skipValue(b, skipWS(b, i+1), depth); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, errJSONEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, syntaxErr(b, i, "expected ',' or '}' after a value")
		}
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, errJSONEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, syntaxErr(b, i, "expected ',' or ']' after an element")
		}
	}
}

// scanString validates the string starting at b[i] == '"' and returns the
// index after its closing quote and whether it holds escapes. The search for
// the closing quote uses bytes.IndexByte (vectorised), which is what makes
// long Chinese strings cheap.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	q := -1 // the next '"' at or after j; found once, not once per escape
	for {
		if q < j {
			k := bytes.IndexByte(b[j:], '"')
			if k < 0 {
				return 0, false, errJSONEnd
			}
			q = j + k
		}
		seg := b[j:q]
		bs := bytes.IndexByte(seg, '\\')
		if bs < 0 {
			if k := indexControl(seg); k >= 0 {
				return 0, false, &jsonSyntaxError{msg: "control character in string", off: j + k}
			}
			return q + 1, escaped, nil
		}
		if k := indexControl(seg[:bs]); k >= 0 {
			return 0, false, &jsonSyntaxError{msg: "control character in string", off: j + k}
		}
		escaped = true
		j += bs
		n, err := checkEscape(b, j)
		if err != nil {
			return 0, false, err
		}
		j += n
	}
}

// indexControl finds a raw control character, which JSON forbids in
// strings. It tests eight bytes at a time (the classic "has a byte less
// than n" bit trick, exact for n <= 128), since it runs over every byte of
// every string.
func indexControl(s []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		if (x-lo*0x20)&^x&hi != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 {
			return i
		}
	}
	return -1
}

// checkEscape validates the escape at b[j] == '\\' and returns its length.
func checkEscape(b []byte, j int) (int, error) {
	if j+1 >= len(b) {
		return 0, errJSONEnd
	}
	switch b[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		if j+6 > len(b) {
			return 0, errJSONEnd
		}
		for _, c := range b[j+2 : j+6] {
			if !isHex(c) {
				return 0, &jsonSyntaxError{msg: "bad \\u escape", off: j}
			}
		}
		return 6, nil
	}
	return 0, &jsonSyntaxError{msg: "bad escape", off: j}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber validates a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, errJSONEnd
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, syntaxErr(b, i, "expected a digit")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) {
			return 0, errJSONEnd
		}
		if !isDigit(b[i]) {
			return 0, syntaxErr(b, i, "expected a digit after '.'")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return 0, errJSONEnd
		}
		if !isDigit(b[i]) {
			return 0, syntaxErr(b, i, "expected a digit in the exponent")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) {
			return 0, errJSONEnd
		}
		if b[i+k] != lit[k] {
			return 0, syntaxErr(b, i+k, "bad literal (want "+lit+")")
		}
	}
	return i + len(lit), nil
}

// unquoteJSON decodes a validated string token (quotes included). Lone
// surrogates become U+FFFD, as in encoding/json, so the result is always
// valid UTF-8 when the token was.
func unquoteJSON(tok []byte) string {
	s := tok[1 : len(tok)-1]
	first := bytes.IndexByte(s, '\\')
	if first < 0 {
		return string(s)
	}
	var sb strings.Builder
	sb.Grow(len(s))
	sb.Write(s[:first])
	for i := first; i < len(s); {
		c := s[i]
		if c != '\\' {
			next := bytes.IndexByte(s[i:], '\\')
			if next < 0 {
				sb.Write(s[i:])
				break
			}
			sb.Write(s[i : i+next])
			i += next
			continue
		}
		i += writeEscape(&sb, s, i)
	}
	return sb.String()
}

// writeEscape writes the character of the escape at s[i] and returns the
// number of bytes consumed.
func writeEscape(sb *strings.Builder, s []byte, i int) int {
	switch s[i+1] {
	case 'b':
		sb.WriteByte('\b')
	case 'f':
		sb.WriteByte('\f')
	case 'n':
		sb.WriteByte('\n')
	case 'r':
		sb.WriteByte('\r')
	case 't':
		sb.WriteByte('\t')
	case 'u':
		r := hex4(s[i+2 : i+6])
		if utf16.IsSurrogate(r) {
			if i+12 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
				if dec := utf16.DecodeRune(r, hex4(s[i+8:i+12])); dec != utf8.RuneError {
					sb.WriteRune(dec)
					return 12
				}
			}
			r = utf8.RuneError
		}
		sb.WriteRune(r)
		return 6
	default: // '"', '\\', '/'
		sb.WriteByte(s[i+1])
	}
	return 2
}

// hex4 decodes four validated hex digits.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// forEachElement calls fn with each element of a validated JSON array.
func forEachElement(arr []byte, fn func(elem []byte) error) error {
	i := skipWS(arr, 1)
	if i < len(arr) && arr[i] == ']' {
		return nil
	}
	for i < len(arr) {
		end, err := skipValue(arr, i, 0)
		if err != nil {
			return err
		}
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = skipWS(arr, end)
		if i >= len(arr) || arr[i] == ']' {
			return nil
		}
		i = skipWS(arr, i+1) // the ','
	}
	return nil
}

// objectFields indexes a validated JSON object into rec.
func objectFields(obj []byte, rec *jsonRecord) error {
	rec.fields = rec.fields[:0]
	_, err := rec.parseMembers(obj, 0)
	return err
}
