package stages

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"winnow/pipeline"
)

// readJSONL reads JSON Lines: one object per line, Offset = the 1-based
// line number. Blank lines are skipped; CRLF line ends and a BOM at the start
// of any line (files concatenated with cat) are accepted.
//
// sniffObject is set for a .json file that starts with '{': such a file is
// usually JSON Lines under the wrong name, but may be one pretty-printed
// object. When its first line is not a complete value, the rest of the file
// is read as a stream of JSON values instead (see readJSONValues).
func (run *fileRun) readJSONL(br *bufio.Reader, sniffObject bool) error {
	var rec jsonRecord
	return run.eachLine(br, func(ln textLine) error {
		b := bytes.TrimPrefix(ln.b, utf8BOM)
		if isBlankLine(b) {
			return nil
		}
		if msg := run.checkEncoding(b); msg != "" {
			run.bad(pipeline.BadRecord{Kind: pipeline.BadEncoding, Offset: ln.num, ByteOffset: ln.off, Err: msg, Raw: b})
			return nil
		}
		perr := rec.parse(b)
		if perr == errJSONEnd && sniffObject && run.docs+run.bads == 0 {
			// Not JSON Lines: a multi-line value. Re-read from this line on.
			rest := io.MultiReader(bytes.NewReader(append(bytes.Clone(b), '\n')), br)
			if err := run.readJSONValues(bufio.NewReaderSize(rest, readBufSize), ln.off); err != nil {
				return err
			}
			return errStopLines
		}
		if perr != nil {
			run.badJSON(perr, ln.num, ln.off, b, !ln.eol)
			return nil
		}
		return run.record(&rec, ln.num, ln.off, b)
	})
}

// badJSON quarantines a record that does not parse. A last record that ends
// early, without a line end, is a cut file: truncated, not malformed.
func (run *fileRun) badJSON(err error, off, byteOff int64, raw []byte, atEnd bool) {
	kind := pipeline.BadMalformed
	msg := err.Error()
	if errors.Is(err, errJSONEnd) && atEnd {
		kind = pipeline.BadTruncated
		msg = "the file ends inside this record: " + msg
	}
	run.bad(pipeline.BadRecord{Kind: kind, Offset: off, ByteOffset: byteOff, Err: msg, Raw: raw})
}

// tooLarge quarantines a record over max_doc_bytes, of which only head
// (its first bytes) was kept.
func (run *fileRun) tooLarge(off, byteOff, size int64, head []byte, what string) {
	run.bad(pipeline.BadRecord{
		Kind: pipeline.BadTooLarge, Offset: off, ByteOffset: byteOff, Size: size, Raw: head,
		Err: fmt.Sprintf("%s of %d bytes exceeds max_doc_bytes (%d)", what, size, run.set.maxDoc),
	})
}

// tick is called once per record: it checks for cancellation now and then,
// so a file of nothing but bad records still stops promptly.
func (run *fileRun) tick() error {
	run.ticks++
	if run.ticks%ctxCheckEvery == 0 {
		return run.ctx.Err()
	}
	return nil
}
