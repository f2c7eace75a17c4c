package stages

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"winnow/pipeline"
)

// readCSV reads CSV or TSV with a header row. Records are cut from the
// stream by a quote-aware splitter (so an oversized record is streamed past,
// never held) and each is parsed by encoding/csv with LazyQuotes off and the
// header's field count enforced. Offset = the line the record starts on
// (the header is line 1), as csv.Reader.FieldPos would give.
func (run *fileRun) readCSV(br *bufio.Reader, sep byte) error {
	sp := &csvSplitter{br: br, max: run.set.maxDoc, sep: sep, off: run.base}
	p := &csvParser{sep: rune(sep)}
	hdr, err := sp.next()
	if err != nil {
		if err != io.EOF {
			run.streamBad(err, hdr.line, hdr.off, hdr.b)
		}
		return nil
	}
	cols, ok := run.csvHeader(p, hdr)
	if !ok {
		return nil
	}
	rec := &csvRecord{cols: cols}
	p.fields = len(cols.names)
	for {
		r, err := sp.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			run.streamBad(err, r.line, r.off, r.b)
			return nil
		}
		if err := run.tick(); err != nil {
			return err
		}
		if err := run.csvRecord(p, rec, r); err != nil {
			return err
		}
	}
}

// csvColumns maps header names to column indexes (the first of duplicates).
type csvColumns struct {
	names []string
	index map[string]int
}

// csvHeader parses the header. A header without the configured text column
// is not checked here: every row then becomes its own missing_text, as for
// JSON records without the field, so the counts mean the same everywhere.
func (run *fileRun) csvHeader(p *csvParser, hdr csvRaw) (csvColumns, bool) {
	if hdr.tooLarge {
		run.tooLarge(hdr.line, hdr.off, hdr.size, hdr.b, "header row")
		return csvColumns{}, false
	}
	if msg := run.checkEncoding(hdr.b); msg != "" {
		run.bad(pipeline.BadRecord{Kind: pipeline.BadEncoding, Offset: hdr.line, ByteOffset: hdr.off, Err: "header: " + msg, Raw: hdr.b})
		return csvColumns{}, false
	}
	names, err := p.parse(hdr.b)
	if err != nil {
		run.bad(pipeline.BadRecord{Kind: pipeline.BadMalformed, Offset: hdr.line, ByteOffset: hdr.off, Err: "header: " + err.Error(), Raw: hdr.b})
		return csvColumns{}, false
	}
	cols := csvColumns{names: make([]string, len(names)), index: make(map[string]int, len(names))}
	for i, n := range names {
		n = stripBOMs(n)
		cols.names[i] = n
		if _, dup := cols.index[n]; !dup {
			cols.index[n] = i
		}
	}
	return cols, true
}

func (run *fileRun) csvRecord(p *csvParser, rec *csvRecord, r csvRaw) error {
	if r.tooLarge {
		run.tooLarge(r.line, r.off, r.size, r.b, "record")
		return nil
	}
	// raw, for quarantine, is the record without its line end.
	raw := bytes.TrimSuffix(bytes.TrimSuffix(r.b, []byte("\n")), []byte("\r"))
	if msg := run.checkEncoding(r.b); msg != "" {
		run.bad(pipeline.BadRecord{Kind: pipeline.BadEncoding, Offset: r.line, ByteOffset: r.off, Err: msg, Raw: raw})
		return nil
	}
	fields, err := p.parse(r.b)
	if err != nil {
		kind := pipeline.BadMalformed
		if r.cut {
			kind = pipeline.BadTruncated
			err = fmt.Errorf("the file ends inside a quoted field: %w", err)
		}
		run.bad(pipeline.BadRecord{Kind: kind, Offset: r.line, ByteOffset: r.off, Err: err.Error(), Raw: raw})
		return nil
	}
	rec.fields = fields
	return run.record(rec, r.line, r.off, raw)
}

// csvRecord is a parsed row as a fieldSource.
type csvRecord struct {
	cols   csvColumns
	fields []string
}

func (c *csvRecord) lookup(name string) (fieldValue, bool) {
	i, ok := c.cols.index[name]
	if !ok || i >= len(c.fields) {
		return fieldValue{}, false
	}
	// Clone: csv.Reader slices all fields of a row out of one string, which
	// the document would otherwise keep alive whole.
	return stringValue(strings.Clone(c.fields[i])), true
}

// csvParser parses one record at a time with a single csv.Reader, fed
// through a resettable bytes.Reader (a csv.Reader per row would allocate a
// 4 KiB buffer per row). After an error the csv.Reader may have stopped
// mid-record, so it is replaced.
type csvParser struct {
	sep    rune
	fields int // expected fields per record; 0 for the header
	src    bytes.Reader
	r      *csv.Reader
	fed    int64
}

func (p *csvParser) parse(rec []byte) ([]string, error) {
	if p.r == nil || p.r.InputOffset() != p.fed {
		p.src.Reset(nil)
		p.r = csv.NewReader(&p.src)
		p.r.Comma = p.sep
		p.r.ReuseRecord = true
		p.fed = 0
	}
	p.r.FieldsPerRecord = p.fields
	if p.fields == 0 {
		p.r.FieldsPerRecord = -1
	}
	p.src.Reset(rec)
	p.fed += int64(len(rec))
	fields, err := p.r.Read()
	var pe *csv.ParseError
	switch {
	case err == nil:
		return fields, nil
	case errors.As(err, &pe) && pe.Err == csv.ErrFieldCount:
		return nil, fmt.Errorf("record has %d fields, the header has %d", len(fields), p.fields)
	case errors.As(err, &pe):
		return nil, fmt.Errorf("column %d: %w", pe.Column, pe.Err)
	case err == io.EOF:
		return nil, errors.New("empty record")
	}
	return nil, err
}

// csvSplitter cuts CSV records (which may span lines inside quoted fields)
// from the stream.
type csvSplitter struct {
	br   *bufio.Reader
	max  int64
	sep  byte
	buf  recordBuf
	off  int64 // stream offset of the next record
	line int64 // lines consumed so far
}

// csvRaw is one record's bytes; b is valid until the next call.
type csvRaw struct {
	b        []byte
	line     int64 // its first line, 1-based
	off      int64
	size     int64
	tooLarge bool
	cut      bool // the stream ended inside a quoted field
}

// csvScan is the splitter's position inside a record.
type csvScan struct {
	inQuote    bool // inside a quoted field
	afterQuote bool // just after a '"' that closed (or half of "") a quoted field
	fieldStart bool // at the start of a field, where '"' opens quoting
	lines      int64
}

// next returns the next non-blank record, io.EOF at the end, or a read
// error with the partial record.
func (sp *csvSplitter) next() (csvRaw, error) {
	for {
		r, err := sp.record()
		if err != nil || !isBlankLine(r.b) || r.tooLarge {
			return r, err
		}
	}
}

func (sp *csvSplitter) record() (csvRaw, error) {
	r := csvRaw{line: sp.line + 1, off: sp.off}
	sp.buf.reset(sp.max + 2)
	st := csvScan{fieldStart: true}
	for {
		if sp.br.Buffered() == 0 {
			if _, err := sp.br.Peek(1); err != nil {
				sp.line += st.lines
				sp.finish(&r)
				r.cut = st.inQuote
				if err == io.EOF && r.size > 0 {
					if !r.cut {
						sp.line++ // a last line without '\n'
					}
					return r, nil
				}
				return r, err
			}
		}
		w, _ := sp.br.Peek(sp.br.Buffered())
		n, done := st.scan(w, sp.sep)
		sp.buf.add(w[:n])
		d, _ := sp.br.Discard(n)
		sp.off += int64(d)
		if done {
			sp.line += st.lines
			sp.finish(&r)
			return r, nil
		}
	}
}

func (sp *csvSplitter) finish(r *csvRaw) {
	r.b, r.size, r.tooLarge = sp.buf.b, sp.buf.size, sp.buf.tooLarge
}

// scan consumes bytes of the current record, through its final '\n'.
// Quoting follows encoding/csv: a '"' opens a quoted field only at the start
// of a field, and "" inside one is an escaped quote.
func (st *csvScan) scan(b []byte, sep byte) (int, bool) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if st.inQuote {
			k := bytes.IndexByte(b[i:], '"')
			if k < 0 {
				st.lines += int64(bytes.Count(b[i:], []byte{'\n'}))
				return len(b), false
			}
			st.lines += int64(bytes.Count(b[i:i+k], []byte{'\n'}))
			i += k
			st.inQuote, st.afterQuote = false, true
			continue
		}
		if st.afterQuote && c == '"' {
			st.inQuote, st.afterQuote = true, false
			continue
		}
		st.afterQuote = false
		switch c {
		case '\n':
			st.lines++
			return i + 1, true
		case sep:
			st.fieldStart = true
			continue
		case '"':
			if st.fieldStart {
				st.inQuote = true
			}
		}
		st.fieldStart = false
	}
	return len(b), false
}
