package stages

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"winnow/pipeline"
)

// Record presets (input.record).
const (
	recordPlain    = "plain"
	recordAlpaca   = "alpaca"
	recordShareGPT = "sharegpt"
	recordOpenAI   = "openai"
)

// valueKind is the JSON type of a field value. CSV cells are always strings;
// Parquet values are mapped to the nearest JSON type.
type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

func (k valueKind) String() string {
	return [...]string{"string", "number", "boolean", "null", "object", "array"}[k]
}

// fieldValue is one field of a record. JSON sources keep the raw token (raw)
// so nothing is decoded unless asked for; CSV and Parquet string cells carry
// the decoded string (str) and no raw token.
type fieldValue struct {
	kind valueKind
	raw  []byte
	str  string
}

func jsonValue(raw []byte) fieldValue {
	k := kindNumber
	switch raw[0] {
	case '"':
		k = kindString
	case '{':
		k = kindObject
	case '[':
		k = kindArray
	case 't', 'f':
		k = kindBool
	case 'n':
		k = kindNull
	}
	return fieldValue{kind: k, raw: raw}
}

func stringValue(s string) fieldValue { return fieldValue{kind: kindString, str: s} }

// text returns a string value with U+FEFF removed. U+FEFF inside a value is
// never content: it is a byte-order mark left by concatenating files or
// copying from an editor, and it breaks exact-duplicate hashing.
func (v fieldValue) text() string {
	if v.raw == nil {
		return stripBOMs(v.str)
	}
	if bytes.Contains(v.raw, utf8BOM) {
		return stripBOMs(unquoteJSON(v.raw))
	}
	return unquoteJSON(v.raw)
}

// display renders any value for templates and ids: strings as their text,
// numbers in decimal, null as "", objects and arrays as their JSON.
func (v fieldValue) display() string {
	switch v.kind {
	case kindString:
		return v.text()
	case kindNull:
		return ""
	case kindNumber:
		if v.raw == nil {
			return v.str
		}
		return decimalNumber(v.raw)
	}
	if v.raw == nil {
		return v.str
	}
	return string(v.raw)
}

// decimalNumber writes a JSON number in plain decimal: integers keep their
// digits exactly (ids beyond 2^53 survive), others go through float64.
func decimalNumber(raw []byte) string {
	if bytes.IndexAny(raw, ".eE") < 0 {
		return string(raw)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return string(raw)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

var utf8BOM = []byte("\uFEFF")

func stripBOMs(s string) string {
	if strings.Contains(s, "\uFEFF") {
		return strings.ReplaceAll(s, "\uFEFF", "")
	}
	return s
}

// fieldSource gives a record's top-level fields by name.
type fieldSource interface {
	lookup(name string) (fieldValue, bool)
}

func (rec *jsonRecord) lookup(name string) (fieldValue, bool) {
	raw, ok := rec.get(name)
	if !ok {
		return fieldValue{}, false
	}
	return jsonValue(raw), true
}

// recordError is why a record could not become a document.
type recordError struct {
	kind string // a pipeline.Bad* kind
	msg  string
}

func (e *recordError) Error() string { return e.msg }

func missing(format string, args ...any) *recordError {
	return &recordError{kind: pipeline.BadMissingText, msg: fmt.Sprintf(format, args...)}
}

// recordBuilder turns records into documents according to input.text_field,
// text_template, id_field and record. It is immutable once built, except for
// the scratch object, so every file read gets its own copy (see fork).
type recordBuilder struct {
	preset    string
	textField string
	tmpl      []tmplPart // non-nil when text_template is set
	idField   string     // "" = no id field
	scratch   jsonRecord // for nested objects of presets
}

func (rb *recordBuilder) fork() *recordBuilder {
	c := *rb
	c.scratch = jsonRecord{}
	return &c
}

// needs lists the top-level fields the builder reads, for column pruning.
func (rb *recordBuilder) needs() []string {
	var names []string
	switch rb.preset {
	case recordAlpaca:
		names = []string{"instruction", "input", "output", "system", "history"}
	case recordShareGPT:
		names = []string{"conversations", "system"}
	case recordOpenAI:
		names = []string{"messages"}
	default:
		if rb.tmpl == nil {
			names = []string{rb.textField}
		}
		for _, p := range rb.tmpl {
			if p.field != "" {
				names = append(names, p.field)
			}
		}
	}
	if rb.idField != "" {
		names = append(names, rb.idField)
	}
	return names
}

// build makes the document of one record; the caller sets Offset.
func (rb *recordBuilder) build(src fieldSource) (pipeline.Doc, *recordError) {
	var d pipeline.Doc
	var rerr *recordError
	switch rb.preset {
	case recordAlpaca:
		d.Messages, rerr = rb.alpaca(src)
	case recordShareGPT:
		d.Messages, rerr = rb.shareGPT(src)
	case recordOpenAI:
		d.Messages, rerr = rb.openAI(src)
	default:
		d.Text, rerr = rb.plainText(src)
	}
	if rerr != nil {
		return d, rerr
	}
	if d.Messages != nil {
		d.Text = renderMessages(d.Messages)
	}
	if isBlank(d.Text) {
		return d, &recordError{kind: pipeline.BadEmptyText, msg: "text is empty"}
	}
	if rb.idField != "" {
		if v, ok := src.lookup(rb.idField); ok && (v.kind == kindString || v.kind == kindNumber) {
			d.ID = v.display()
		}
	}
	return d, nil
}

// isBlank reports text with nothing but Unicode white space: such a document
// is empty for every purpose downstream.
func isBlank(s string) bool {
	return strings.TrimFunc(s, unicode.IsSpace) == ""
}

func (rb *recordBuilder) plainText(src fieldSource) (string, *recordError) {
	if rb.tmpl != nil {
		return rb.render(src)
	}
	v, ok := src.lookup(rb.textField)
	if !ok {
		return "", missing("no field %q", rb.textField)
	}
	if v.kind != kindString {
		return "", missing("field %q is a %s, not a string", rb.textField, v.kind)
	}
	return v.text(), nil
}

// renderMessages is the text of an instruction record: the message contents
// in order, joined by a blank line ("\n\n"), empty contents left out. Roles
// are not written into the text (they live in the messages column), so
// filters and dedup see only what was said.
func renderMessages(msgs []pipeline.Message) string {
	n := 0
	for _, m := range msgs {
		n += len(m.Content) + 2
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, m := range msgs {
		if m.Content == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteString("\n\n")
		}
		sb.WriteString(m.Content)
	}
	return sb.String()
}

// optString returns a field that may be absent or null ("" then).
func optString(src fieldSource, name string) (string, *recordError) {
	v, ok := src.lookup(name)
	if !ok || v.kind == kindNull {
		return "", nil
	}
	if v.kind != kindString {
		return "", missing("field %q is a %s, not a string", name, v.kind)
	}
	return v.text(), nil
}

func reqString(src fieldSource, preset, name string) (string, *recordError) {
	v, ok := src.lookup(name)
	if !ok {
		return "", missing("%s record without field %q", preset, name)
	}
	if v.kind != kindString {
		return "", missing("%s record: field %q is a %s, not a string", preset, name, v.kind)
	}
	return v.text(), nil
}

// alpaca: instruction/input/output, with optional system and history.
// The user turn is the instruction, then the input after a blank line.
func (rb *recordBuilder) alpaca(src fieldSource) ([]pipeline.Message, *recordError) {
	instr, rerr := reqString(src, recordAlpaca, "instruction")
	if rerr != nil {
		return nil, rerr
	}
	output, rerr := reqString(src, recordAlpaca, "output")
	if rerr != nil {
		return nil, rerr
	}
	input, rerr := optString(src, "input")
	if rerr != nil {
		return nil, rerr
	}
	system, rerr := optString(src, "system")
	if rerr != nil {
		return nil, rerr
	}
	var msgs []pipeline.Message
	if system != "" {
		msgs = append(msgs, pipeline.Message{Role: "system", Content: system})
	}
	if msgs, rerr = appendHistory(msgs, src); rerr != nil {
		return nil, rerr
	}
	user := instr
	if input != "" {
		if user != "" {
			user += "\n\n"
		}
		user += input
	}
	return append(msgs,
		pipeline.Message{Role: "user", Content: user},
		pipeline.Message{Role: "assistant", Content: output}), nil
}

// appendHistory adds the earlier turns of an Alpaca record: a list of
// [question, answer] pairs.
func appendHistory(msgs []pipeline.Message, src fieldSource) ([]pipeline.Message, *recordError) {
	v, ok := src.lookup("history")
	if !ok || v.kind == kindNull {
		return msgs, nil
	}
	bad := &recordError{kind: pipeline.BadMalformed, msg: "alpaca history is not a list of [question, answer] pairs"}
	if v.kind != kindArray || v.raw == nil {
		return nil, bad
	}
	err := forEachElement(v.raw, func(pair []byte) error {
		var turn []string
		if pair[0] != '[' {
			return bad
		}
		_ = forEachElement(pair, func(e []byte) error {
			if e[0] == '"' {
				turn = append(turn, jsonValue(e).text())
			}
			return nil
		})
		if len(turn) != 2 {
			return bad
		}
		msgs = append(msgs,
			pipeline.Message{Role: "user", Content: turn[0]},
			pipeline.Message{Role: "assistant", Content: turn[1]})
		return nil
	})
	if err != nil {
		return nil, bad
	}
	return msgs, nil
}

// shareGPTRoles maps ShareGPT speaker names to chat roles; others are kept
// verbatim (function_call, observation, tool ...).
var shareGPTRoles = map[string]string{
	"human": "user", "user": "user",
	"gpt": "assistant", "assistant": "assistant", "bing": "assistant", "chatgpt": "assistant",
	"system": "system",
}

// shareGPT: conversations = [{from, value}], plus an optional top-level
// system prompt (LLaMA-Factory's variant).
func (rb *recordBuilder) shareGPT(src fieldSource) ([]pipeline.Message, *recordError) {
	var msgs []pipeline.Message
	system, rerr := optString(src, "system")
	if rerr != nil {
		return nil, rerr
	}
	if system != "" {
		msgs = append(msgs, pipeline.Message{Role: "system", Content: system})
	}
	return rb.turns(src, msgs, recordShareGPT, "conversations", "from", "value")
}

// openAI: messages = [{role, content}], content a string or a list of parts.
func (rb *recordBuilder) openAI(src fieldSource) ([]pipeline.Message, *recordError) {
	return rb.turns(src, nil, recordOpenAI, "messages", "role", "content")
}

// turns decodes a list of {roleKey, contentKey} objects.
func (rb *recordBuilder) turns(src fieldSource, msgs []pipeline.Message, preset, listKey, roleKey, contentKey string) ([]pipeline.Message, *recordError) {
	v, ok := src.lookup(listKey)
	if !ok {
		return nil, missing("%s record without field %q", preset, listKey)
	}
	if v.kind != kindArray || v.raw == nil {
		return nil, missing("%s record: field %q is a %s, not a list", preset, listKey, v.kind)
	}
	n := len(msgs)
	var rerr *recordError
	err := forEachElement(v.raw, func(e []byte) error {
		var m pipeline.Message
		if m, rerr = rb.turn(e, preset, listKey, roleKey, contentKey); rerr != nil {
			return errStop
		}
		msgs = append(msgs, m)
		return nil
	})
	if rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, &recordError{kind: pipeline.BadMalformed, msg: err.Error()}
	}
	if len(msgs) == n {
		return nil, missing("%s record: %q is empty", preset, listKey)
	}
	return msgs, nil
}

// errStop ends a forEachElement walk early.
var errStop = errors.New("stop")

func (rb *recordBuilder) turn(e []byte, preset, listKey, roleKey, contentKey string) (pipeline.Message, *recordError) {
	var m pipeline.Message
	if e[0] != '{' {
		return m, missing("%s record: an element of %q is not an object", preset, listKey)
	}
	obj := &rb.scratch
	if err := objectFields(e, obj); err != nil {
		return m, &recordError{kind: pipeline.BadMalformed, msg: err.Error()}
	}
	role, ok := obj.lookup(roleKey)
	if !ok || role.kind != kindString {
		return m, missing("%s record: a turn without a string %q", preset, roleKey)
	}
	m.Role = role.text()
	if preset == recordShareGPT {
		if r, ok := shareGPTRoles[strings.ToLower(m.Role)]; ok {
			m.Role = r
		}
	}
	content, ok := obj.lookup(contentKey)
	switch {
	case !ok || content.kind == kindNull:
	case content.kind == kindString:
		m.Content = content.text()
	case content.kind == kindArray && preset == recordOpenAI:
		m.Content = textParts(content.raw)
	default:
		return m, missing("%s record: %q of a turn is a %s, not a string", preset, contentKey, content.kind)
	}
	return m, nil
}

// textParts joins the text parts of an OpenAI content list with "\n"; parts
// of other types (images, audio) carry no text and are skipped. Bare strings
// in the list are taken as text too.
func textParts(arr []byte) string {
	var parts []string
	var part jsonRecord
	_ = forEachElement(arr, func(e []byte) error {
		switch e[0] {
		case '"':
			parts = append(parts, jsonValue(e).text())
		case '{':
			if objectFields(e, &part) != nil {
				return nil
			}
			t, _ := part.lookup("type")
			if t.kind == kindString && t.text() != "text" {
				return nil
			}
			if v, ok := part.lookup("text"); ok && v.kind == kindString {
				parts = append(parts, v.text())
			}
		}
		return nil
	})
	return strings.Join(parts, "\n")
}

// tmplPart is a literal or a {field} placeholder of text_template.
type tmplPart struct {
	lit   string
	field string // non-empty for a placeholder
}

// parseTemplate compiles text_template. Syntax: {name} is replaced by the
// field's value; \n, \t, \r, \\, \{ and \} are escapes (YAML single-quoted
// and plain scalars keep backslashes literally, so they arrive here); any
// other use of '{', '}' or '\' is an error, so a Python-style "{x:>10}" or a
// Jinja "{{x}}" fails at config time instead of rendering garbage.
func parseTemplate(s string) ([]tmplPart, error) {
	var parts []tmplPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("text_template %q: trailing backslash", s)
			}
			esc, ok := tmplEscapes[s[i+1]]
			if !ok {
				return nil, fmt.Errorf("text_template %q: unknown escape \\%c at byte %d (allowed: \\n \\t \\r \\\\ \\{ \\})", s, s[i+1], i)
			}
			lit.WriteByte(esc)
			i++
		case '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("text_template %q: '{' at byte %d is not closed", s, i)
			}
			name := s[i+1 : i+1+end]
			if err := checkPlaceholder(name); err != nil {
				return nil, fmt.Errorf("text_template %q: placeholder at byte %d: %w", s, i, err)
			}
			flush()
			parts = append(parts, tmplPart{field: name})
			i += end + 1
		case '}':
			return nil, fmt.Errorf("text_template %q: '}' at byte %d without '{' (write \\} for a literal brace)", s, i)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	for _, p := range parts {
		if p.field != "" {
			return parts, nil
		}
	}
	return nil, fmt.Errorf("text_template %q has no {field} placeholder", s)
}

var tmplEscapes = map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '{': '{', '}': '}'}

// checkPlaceholder accepts any field name (CSV headers hold spaces and
// Chinese) except the characters of other template languages' syntax.
func checkPlaceholder(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("empty field name")
	}
	for _, r := range name {
		if strings.ContainsRune("{:!|[]%", r) || unicode.IsControl(r) {
			return fmt.Errorf("unsupported syntax %q in {%s}: only {field} is allowed", r, name)
		}
	}
	return nil
}

// render fills the template. A missing field renders as ""; a record with
// none of the template's fields has no text at all.
func (rb *recordBuilder) render(src fieldSource) (string, *recordError) {
	var sb strings.Builder
	found := false
	for _, p := range rb.tmpl {
		if p.field == "" {
			sb.WriteString(p.lit)
			continue
		}
		if v, ok := src.lookup(p.field); ok {
			found = true
			sb.WriteString(v.display())
		}
	}
	if !found {
		return "", missing("none of the text_template fields is present")
	}
	return sb.String(), nil
}
