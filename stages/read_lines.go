package stages

import (
	"bufio"
	"io"
	"unicode"
	"unicode/utf8"

	"winnow/pipeline"
)

// lineReader splits a stream into lines of any length (bufio.Scanner's
// 64 KiB token limit would fail on DRCD_dev.json, one 2.2 MB line), without
// ever holding more than max+2 bytes of one line: a longer line is streamed
// past, keeping only its first MaxQuarantineRaw bytes and its length.
type lineReader struct {
	br  *bufio.Reader
	max int64
	buf []byte // reused for lines longer than the bufio buffer
	off int64  // stream offset of the next line
	num int64  // lines returned so far
}

// textLine is one line without its line end. b is valid until the next call.
type textLine struct {
	b        []byte // the line; for a too-large line, its first MaxQuarantineRaw bytes
	num      int64  // 1-based line number
	off      int64  // byte offset of the line in the stream
	size     int64  // length without the line end
	tooLarge bool   // size > max
	eol      bool   // ended with '\n' (not: last line of the stream, or cut by a read error)
	crlf     bool   // ended with "\r\n"
}

// next returns the next line, io.EOF after the last one, or a read error
// together with the partial line read before it.
func (lr *lineReader) next() (textLine, error) {
	ln := textLine{num: lr.num + 1, off: lr.off}
	lr.buf = lr.buf[:0]
	var total int64
	var last2 [2]byte // the last two bytes seen, to spot "\r\n" after a long line
	for {
		chunk, err := lr.br.ReadSlice('\n')
		total += int64(len(chunk))
		if err == nil && total == int64(len(chunk)) && total <= lr.max+2 {
			// The common case: the whole line sits in the buffer; no copy.
			lr.finish(&ln, chunk, total, true)
			return ln, nil
		}
		switch n := len(chunk); {
		case n >= 2:
			last2 = [2]byte{chunk[n-2], chunk[n-1]}
		case n == 1:
			last2 = [2]byte{last2[1], chunk[0]}
		}
		lr.keep(&ln, chunk)
		switch err {
		case nil:
			ln.crlf = last2[0] == '\r'
			lr.finish(&ln, lr.buf, total, true)
			return ln, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if total == 0 {
				return ln, io.EOF
			}
			lr.finish(&ln, lr.buf, total, false)
			return ln, nil
		default:
			lr.finish(&ln, lr.buf, total, false)
			return ln, err
		}
	}
}

// keep appends a piece of the current line to buf, switching to streaming
// once the line is certainly longer than max.
func (lr *lineReader) keep(ln *textLine, chunk []byte) {
	if !ln.tooLarge && int64(len(lr.buf)+len(chunk)) > lr.max+2 {
		ln.tooLarge = true
		lr.buf = lr.buf[:min(len(lr.buf), pipeline.MaxQuarantineRaw)]
	}
	if !ln.tooLarge {
		lr.buf = append(lr.buf, chunk...)
		return
	}
	if room := pipeline.MaxQuarantineRaw - len(lr.buf); room > 0 {
		lr.buf = append(lr.buf, chunk[:min(room, len(chunk))]...)
	}
}

// finish strips the line end and fills in the sizes.
func (lr *lineReader) finish(ln *textLine, b []byte, total int64, eol bool) {
	lr.off += total
	lr.num++
	ln.eol = eol
	size := total
	if eol {
		size--
		if !ln.tooLarge {
			ln.crlf = len(b) >= 2 && b[len(b)-2] == '\r'
		}
		if ln.crlf {
			size--
		}
	}
	ln.size = size
	if !ln.tooLarge && size > lr.max {
		ln.tooLarge = true
		b = b[:min(len(b), pipeline.MaxQuarantineRaw)]
	}
	if ln.tooLarge {
		ln.b = b
		return
	}
	ln.b = b[:size]
}

// isBlankLine reports a line of nothing but white space (ASCII or Unicode,
// such as U+3000).
func isBlankLine(b []byte) bool {
	for len(b) > 0 {
		if c := b[0]; c < utf8.RuneSelf {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v' {
				return false
			}
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		if !unicode.IsSpace(r) {
			return false
		}
		b = b[n:]
	}
	return true
}
