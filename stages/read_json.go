package stages

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"winnow/pipeline"
)

// readJSON reads a .json file (or format: json), choosing by its first
// non-space byte:
//
//   - '[': a top-level array of records, streamed element by element;
//     Offset = the 0-based element index.
//   - '{': JSON Lines under a .json name (jsonl-named.json, MedicalGPT's
//     test.json), read as JSONL with line numbers as Offset; when the first
//     line is not a complete value, the file is a pretty-printed object (or
//     several) and is read as a stream of values, Offset = value index.
//     A single object is one record: DRCD_dev.json, one 2.2 MB line holding
//     {"version", "data": [...]}, is one record without a "text" field and
//     so one missing_text; its paragraphs are in paragraphs.jsonl.
//   - anything else: a stream of values, each of which must be an object
//     (also the fallback when the first buffer holds only white space).
func (run *fileRun) readJSON(br *bufio.Reader) error {
	switch firstNonSpace(br) {
	case '[':
		return run.readJSONArray(br)
	case '{':
		return run.readJSONL(br, true)
	}
	return run.readJSONValues(br, run.base)
}

// firstNonSpace peeks at the first byte that is not JSON white space, 0 if
// the buffer's worth of input holds none.
func firstNonSpace(br *bufio.Reader) byte {
	for n := 512; ; n *= 2 {
		n = min(n, br.Size())
		b, err := br.Peek(n)
		for _, c := range b {
			if !isJSONSpace(c) {
				return c
			}
		}
		if err != nil || n == br.Size() {
			return 0
		}
	}
}

// readJSONArray streams the elements of a top-level array. The splitter
// never decodes the whole file: each element is cut out by tracking strings,
// escapes and depth, then parsed on its own, so a broken element costs only
// itself and a cut file keeps every complete element before the cut.
func (run *fileRun) readJSONArray(br *bufio.Reader) error {
	s := &valueSplitter{br: br, max: run.set.maxDoc, off: run.base}
	if c, err := s.peekNonSpace(); err != nil || c != '[' {
		return nil // readJSON saw '['; a read error here cannot happen
	}
	s.consume(1)
	var rec jsonRecord
	var idx int64
	needComma := false
	for {
		c, err := s.peekNonSpace()
		if err != nil {
			run.arrayCut(err, idx, s.off)
			return nil
		}
		switch {
		case c == ']':
			s.consume(1)
			return run.afterArray(s, idx)
		case c == ',' && needComma:
			s.consume(1)
			needComma = false
			continue
		}
		e, err := s.element()
		if err != nil {
			run.elementCut(err, idx, e)
			return nil
		}
		if err := run.tick(); err != nil {
			return err
		}
		if needComma {
			run.bad(pipeline.BadRecord{Kind: pipeline.BadMalformed, Offset: idx, ByteOffset: e.off, Raw: e.b,
				Err: "missing ',' before this array element"})
		} else if err := run.jsonElement(&rec, e, idx); err != nil {
			return err
		}
		idx++
		needComma = true
	}
}

// arrayCut reports an array that ends (or fails) between elements.
func (run *fileRun) arrayCut(err error, idx, off int64) {
	if err == io.EOF {
		run.bad(pipeline.BadRecord{Kind: pipeline.BadTruncated, Offset: idx, ByteOffset: off,
			Err: "the file ends inside the top-level array (no closing ']')"})
		return
	}
	run.streamBad(err, idx, off, nil)
}

// elementCut reports an element that the end of the stream cut short.
func (run *fileRun) elementCut(err error, idx int64, e jsonElem) {
	if err == io.EOF {
		run.bad(pipeline.BadRecord{Kind: pipeline.BadTruncated, Offset: idx, ByteOffset: e.off, Raw: e.b, Size: e.size,
			Err: fmt.Sprintf("the file ends inside element %d (%d bytes of it read)", idx, e.size)})
		return
	}
	run.streamBad(err, idx, e.off, e.b)
}

// afterArray checks that nothing but white space follows the array.
func (run *fileRun) afterArray(s *valueSplitter, idx int64) error {
	_, err := s.peekNonSpace()
	switch err {
	case io.EOF:
		return nil
	case nil:
		rest, _ := s.br.Peek(min(s.br.Buffered(), pipeline.MaxQuarantineRaw))
		run.bad(pipeline.BadRecord{Kind: pipeline.BadMalformed, Offset: idx, ByteOffset: s.off, Raw: rest,
			Err: "data after the closing ']' of the top-level array"})
	default:
		run.streamBad(err, idx, s.off, nil)
	}
	return nil
}

// readJSONValues reads a stream of whitespace-separated JSON values (one
// pretty-printed object, or several). Offset = the 0-based value index.
func (run *fileRun) readJSONValues(br *bufio.Reader, base int64) error {
	s := &valueSplitter{br: br, max: run.set.maxDoc, off: base}
	var rec jsonRecord
	for idx := int64(0); ; idx++ {
		if _, err := s.peekNonSpace(); err != nil {
			if err != io.EOF {
				run.streamBad(err, idx, s.off, nil)
			}
			return nil
		}
		e, err := s.element()
		if err != nil {
			run.elementCut(err, idx, e)
			return nil
		}
		if err := run.tick(); err != nil {
			return err
		}
		if err := run.jsonElement(&rec, e, idx); err != nil {
			return err
		}
	}
}

// jsonElement turns one cut-out value into a document or a bad record.
func (run *fileRun) jsonElement(rec *jsonRecord, e jsonElem, idx int64) error {
	if e.tooLarge {
		run.tooLarge(idx, e.off, e.size, e.b, "element")
		return nil
	}
	if msg := run.checkEncoding(e.b); msg != "" {
		run.bad(pipeline.BadRecord{Kind: pipeline.BadEncoding, Offset: idx, ByteOffset: e.off, Err: msg, Raw: e.b})
		return nil
	}
	if err := rec.parse(e.b); err != nil {
		run.badJSON(err, idx, e.off, e.b, false)
		return nil
	}
	return run.record(rec, idx, e.off, e.b)
}

// valueSplitter cuts JSON values out of a stream without parsing them.
type valueSplitter struct {
	br  *bufio.Reader
	max int64
	buf recordBuf // the current element
	off int64     // stream offset of the next unread byte
}

// jsonElem is one value cut from the stream; b is valid until the next call.
type jsonElem struct {
	b        []byte
	off      int64 // stream offset of its first byte
	size     int64 // its full length
	tooLarge bool  // size > max; b holds only the first bytes
}

func (s *valueSplitter) consume(n int) {
	d, _ := s.br.Discard(n)
	s.off += int64(d)
}

// window returns the buffered input, reading more when none is buffered.
func (s *valueSplitter) window() ([]byte, error) {
	if s.br.Buffered() == 0 {
		if _, err := s.br.Peek(1); err != nil {
			return nil, err
		}
	}
	return s.br.Peek(s.br.Buffered())
}

// peekNonSpace skips white space and returns the next byte, unread.
func (s *valueSplitter) peekNonSpace() (byte, error) {
	for {
		w, err := s.window()
		if err != nil {
			return 0, err
		}
		i := skipWS(w, 0)
		s.consume(i)
		if i < len(w) {
			return w[i], nil
		}
	}
}

// element cuts the value starting at the next byte. At the end of the
// stream inside the value it returns io.EOF with the partial element.
func (s *valueSplitter) element() (jsonElem, error) {
	e := jsonElem{off: s.off}
	s.buf.reset(s.max)
	var st splitState
	for {
		w, err := s.window()
		if err != nil {
			s.finish(&e)
			return e, err
		}
		n, done := st.scan(w)
		s.buf.add(w[:n])
		s.consume(n)
		if done {
			s.finish(&e)
			return e, nil
		}
	}
}

func (s *valueSplitter) finish(e *jsonElem) {
	e.b, e.size, e.tooLarge = s.buf.b, s.buf.size, s.buf.tooLarge
}

// splitState tracks where the splitter is inside a value.
type splitState struct {
	depth   int
	inStr   bool
	esc     bool
	started bool
}

// scan consumes bytes of the current value from b and reports how many
// belong to it and whether the value ended. A value ends after the bracket
// that closes it, after the closing quote of a top-level string, or (for
// numbers and literals) before the white space, ',' or bracket that follows.
// A stray ',', ']' or '}' where a value should start becomes a one-byte
// value, which the parser then rejects.
func (st *splitState) scan(b []byte) (int, bool) {
	q := -1 // the next '"' at or after i, found once per string run
	for i := 0; i < len(b); {
		if st.inStr {
			var done bool
			if i, done = st.inString(b, i, &q); done {
				return i, true
			}
			continue
		}
		switch b[i] {
		case '"':
			st.inStr, st.started = true, true
		case '{', '[':
			st.depth++
			st.started = true
		case '}', ']', ',':
			if st.depth == 0 {
				if !st.started {
					return i + 1, true
				}
				return i, true
			}
			if b[i] != ',' {
				st.depth--
				if st.depth == 0 {
					return i + 1, true
				}
			}
		case ' ', '\t', '\n', '\r':
			if st.depth == 0 && st.started {
				return i, true
			}
		default:
			st.started = true
		}
		i++
	}
	return len(b), false
}

// inString advances through string content from b[i]: past one escape, or
// to just after the closing quote (done when that ends a top-level string),
// or to the end of b. *q caches the next quote's index across calls, so a
// string with many escapes is not searched again for every one of them.
func (st *splitState) inString(b []byte, i int, q *int) (int, bool) {
	if st.esc {
		st.esc = false
		return i + 1, false
	}
	if *q < i {
		if k := bytes.IndexByte(b[i:], '"'); k >= 0 {
			*q = i + k
		} else {
			*q = len(b)
		}
	}
	if k := bytes.IndexByte(b[i:*q], '\\'); k >= 0 {
		st.esc = true
		return i + k + 1, false
	}
	if *q == len(b) {
		return len(b), false
	}
	st.inStr = false
	return *q + 1, st.depth == 0
}
