package stages

import (
	"bufio"
	"bytes"
	"io"

	"winnow/pipeline"
)

// readText reads a plain-text file according to input.text_split. Text is
// kept as it is, except that trailing line ends ("\n", "\r") are cut and a
// UTF-8 BOM at the start of the file is dropped; a U+FEFF further in is left
// for the normalize stage (in plain text it may be deliberate).
func (run *fileRun) readText(br *bufio.Reader) error {
	switch run.set.textSplit {
	case splitLine:
		return run.readTextLines(br)
	case splitParagraph:
		return run.readParagraphs(br)
	}
	return run.readTextFile(br)
}

// readTextFile makes the whole file one document, Offset 0. A file over
// max_doc_bytes is counted through, never held.
func (run *fileRun) readTextFile(br *bufio.Reader) error {
	var buf recordBuf
	buf.reset(run.set.maxDoc + 2) // room for a final "\r\n"
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err == io.EOF {
				break
			} else if err != nil {
				run.streamBad(err, 0, run.base, buf.b)
				return nil
			}
		}
		w, _ := br.Peek(br.Buffered())
		buf.add(w)
		br.Discard(len(w))
	}
	if buf.tooLarge {
		run.tooLarge(0, run.base, buf.size, buf.b, "text file")
		return nil
	}
	text := bytes.TrimRight(buf.b, "\r\n")
	if int64(len(text)) > run.set.maxDoc {
		run.tooLarge(0, run.base, int64(len(text)), text, "text file")
		return nil
	}
	return run.textDoc(text, 0, run.base)
}

// textDoc emits one piece of text, unless it is blank (skipped: blank
// lines and paragraphs are separators, a blank file is reported as empty).
func (run *fileRun) textDoc(text []byte, off, byteOff int64) error {
	if isBlankLine(text) {
		return nil
	}
	if msg := run.checkEncoding(text); msg != "" {
		run.bad(pipeline.BadRecord{Kind: pipeline.BadEncoding, Offset: off, ByteOffset: byteOff, Err: msg, Raw: text})
		return nil
	}
	return run.doc(pipeline.Doc{Text: string(text), Offset: off})
}

// readTextLines makes each non-blank line a document, Offset = its line number.
func (run *fileRun) readTextLines(br *bufio.Reader) error {
	return run.eachLine(br, func(ln textLine) error {
		return run.textDoc(bytes.TrimRight(ln.b, "\r"), ln.num, ln.off)
	})
}

// paragraph collects the lines of one blank-line separated paragraph.
type paragraph struct {
	buf      []byte
	num, off int64 // first line number and byte offset; num 0 = no paragraph open
	size     int64
	tooLarge bool
}

// readParagraphs makes each run of non-blank lines a document, Offset =
// the number of its first line. Inner line ends are kept as they were.
func (run *fileRun) readParagraphs(br *bufio.Reader) error {
	lr := &lineReader{br: br, max: run.set.maxDoc, off: run.base}
	var p paragraph
	for {
		ln, err := lr.next()
		if err == io.EOF {
			return run.flushParagraph(&p)
		}
		if err != nil {
			if p.num == 0 {
				p.num, p.off = ln.num, ln.off
			}
			run.streamBad(err, p.num, p.off, append(p.buf, ln.b...))
			return nil
		}
		if err := run.tick(); err != nil {
			return err
		}
		if !ln.tooLarge && isBlankLine(ln.b) {
			if err := run.flushParagraph(&p); err != nil {
				return err
			}
			continue
		}
		run.addLine(&p, ln)
	}
}

func (run *fileRun) addLine(p *paragraph, ln textLine) {
	if p.num == 0 {
		p.num, p.off = ln.num, ln.off
		p.buf = p.buf[:0]
	}
	end := ""
	switch {
	case ln.crlf:
		end = "\r\n"
	case ln.eol:
		end = "\n"
	}
	p.size += ln.size + int64(len(end))
	if !p.tooLarge && (ln.tooLarge || p.size > run.set.maxDoc+2) {
		p.tooLarge = true
	}
	if !p.tooLarge {
		limit := run.set.maxDoc + 2
		p.buf = appendGrow(appendGrow(p.buf, ln.b, limit), []byte(end), limit)
		return
	}
	if room := pipeline.MaxQuarantineRaw - len(p.buf); room > 0 {
		p.buf = append(p.buf, ln.b[:min(room, len(ln.b))]...)
	}
}

func (run *fileRun) flushParagraph(p *paragraph) error {
	if p.num == 0 {
		return nil
	}
	num, off := p.num, p.off
	p.num = 0
	text := bytes.TrimRight(p.buf, "\r\n")
	size := p.size
	p.size = 0
	if p.tooLarge || int64(len(text)) > run.set.maxDoc {
		p.tooLarge = false
		run.tooLarge(num, off, size, text, "paragraph")
		return nil
	}
	return run.textDoc(text, num, off)
}
