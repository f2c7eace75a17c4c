package stages

import (
	"bufio"
	"errors"
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
	buf recordBuf // for lines longer than the bufio buffer
	off int64     // stream offset of the next line
	num int64     // lines returned so far
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
// errStopLines, returned by an eachLine callback, ends the loop without error.
var errStopLines = errors.New("stop reading lines")

// eachLine calls fn with every line of br within max_doc_bytes, in order.
// Over-large lines and a read error are quarantined here; fn's error (the
// run was cancelled) stops the loop.
func (run *fileRun) eachLine(br *bufio.Reader, fn func(ln textLine) error) error {
	lr := &lineReader{br: br, max: run.set.maxDoc, off: run.base}
	for {
		ln, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			run.streamBad(err, ln.num, ln.off, ln.b)
			return nil
		}
		if err := run.tick(); err != nil {
			return err
		}
		if ln.tooLarge {
			run.tooLarge(ln.num, ln.off, ln.size, ln.b, "line")
			continue
		}
		if err := fn(ln); err != nil {
			if err == errStopLines {
				return nil
			}
			return err
		}
	}
}

func (lr *lineReader) next() (textLine, error) {
	ln := textLine{num: lr.num + 1, off: lr.off}
	lr.buf.reset(lr.max + 2) // room for "\r\n"
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
		lr.buf.add(chunk)
		ln.tooLarge = lr.buf.tooLarge
		switch err {
		case nil:
			ln.crlf = last2[0] == '\r'
			lr.finish(&ln, lr.buf.b, total, true)
			return ln, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if total == 0 {
				return ln, io.EOF
			}
			lr.finish(&ln, lr.buf.b, total, false)
			return ln, nil
		default:
			lr.finish(&ln, lr.buf.b, total, false)
			return ln, err
		}
	}
}

// recordBuf accumulates the bytes of one record up to a limit. Past the
// limit it keeps only the first MaxQuarantineRaw bytes and counts the rest,
// so an oversized record is never held whole.
type recordBuf struct {
	b        []byte
	size     int64
	limit    int64
	tooLarge bool
}

func (r *recordBuf) reset(limit int64) {
	r.b, r.size, r.limit, r.tooLarge = r.b[:0], 0, limit, false
}

func (r *recordBuf) add(piece []byte) {
	r.size += int64(len(piece))
	if !r.tooLarge && r.size > r.limit {
		r.tooLarge = true
		r.b = r.b[:min(len(r.b), pipeline.MaxQuarantineRaw)]
	}
	if !r.tooLarge {
		r.b = appendGrow(r.b, piece, r.limit)
		return
	}
	if room := pipeline.MaxQuarantineRaw - len(r.b); room > 0 {
		r.b = append(r.b, piece[:min(room, len(piece))]...)
	}
}

// appendGrow appends, doubling the capacity when it must grow, but never
// beyond limit (which the caller keeps len(buf)+len(piece) within). append
// grows large slices by only 1.25x, which would copy a 32 MiB record about
// five times over on its way up.
func appendGrow(buf, piece []byte, limit int64) []byte {
	need := len(buf) + len(piece)
	if need > cap(buf) {
		c := int(min(max(int64(need), 2*int64(cap(buf)), 512), max(limit, int64(need))))
		nb := make([]byte, len(buf), c)
		copy(nb, buf)
		buf = nb
	}
	return append(buf, piece...)
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
	// b holds the whole line or (too large) its head; either way the line
	// end is not part of the record.
	b = b[:min(int64(len(b)), size)]
	if size > lr.max {
		ln.tooLarge = true
		b = b[:min(len(b), pipeline.MaxQuarantineRaw)]
	}
	ln.b = b
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
