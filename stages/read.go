// Package stages holds the readers and the per-document stages.
package stages

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"winnow/pipeline"
)

// Input formats (input.format). formatJSON covers both a top-level array and
// a .json file that holds JSON Lines or a single object (see readJSON).
const (
	formatAuto    = "auto"
	formatJSONL   = "jsonl"
	formatJSON    = "json"
	formatText    = "text"
	formatCSV     = "csv"
	formatTSV     = "tsv"
	formatParquet = "parquet"
)

// Text splits (input.text_split).
const (
	splitFile      = "file"
	splitLine      = "line"
	splitParagraph = "paragraph"
)

const (
	// readBufSize is the buffer the record readers read through. Records up
	// to this size are parsed in place without a copy.
	readBufSize = 1 << 20
	// binarySniffBytes is how far a NUL byte marks a file as binary.
	binarySniffBytes = 8 << 10
	// ctxCheckEvery is how many records pass between context checks.
	ctxCheckEvery = 1024
)

var _ pipeline.FileReaderFactory = NewFileReader

// settings are the validated input options a fileReader acts on.
type settings struct {
	format    string
	encoding  string
	textSplit string
	maxDoc    int64
}

// fileReader implements pipeline.FileReader. It holds only the validated
// config and a pool of zstd decoders, so it may read files concurrently.
type fileReader struct {
	set     settings
	records *recordBuilder
	zstd    sync.Pool // of *zstd.Decoder
	bufs    bufPools
}

// bufPools reuse the per-file buffers: a run over thousands of small files
// otherwise allocates and clears more than a megabyte for each.
type bufPools struct {
	raw  sync.Pool // *bufio.Reader of 64 KiB over the raw file bytes
	head sync.Pool // *[]byte of sniffBytes for the sniffed head
	text sync.Pool // *bufio.Reader of readBufSize over the decoded text
}

func (p *bufPools) getReader(pool *sync.Pool, r io.Reader, size int) *bufio.Reader {
	if br, ok := pool.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, size)
}

// putReader returns br to pool, dropping its reference to the file.
func (p *bufPools) putReader(pool *sync.Pool, br *bufio.Reader) {
	br.Reset(nil)
	pool.Put(br)
}

// NewFileReader validates the input options and builds the reader. Empty
// options take their documented defaults (pipeline.Defaults), except
// id_field: empty means "no id field".
func NewFileReader(cfg pipeline.InputConfig) (pipeline.FileReader, error) {
	def := pipeline.Defaults().Input
	set := settings{maxDoc: cfg.MaxDocBytes}
	var err error
	if set.format, err = oneOf("format", cfg.Format, def.Format,
		formatAuto, formatJSONL, formatJSON, formatText, formatCSV, formatTSV, formatParquet); err != nil {
		return nil, err
	}
	if set.textSplit, err = oneOf("text_split", cfg.TextSplit, def.TextSplit,
		splitFile, splitLine, splitParagraph); err != nil {
		return nil, err
	}
	if set.encoding, err = normalizeEncoding(cfg.Encoding); err != nil {
		return nil, err
	}
	if set.maxDoc == 0 {
		set.maxDoc = def.MaxDocBytes
	}
	if set.maxDoc < 1 {
		return nil, fmt.Errorf("input.max_doc_bytes %d must be positive", cfg.MaxDocBytes)
	}
	rb, err := newRecordBuilder(cfg, def)
	if err != nil {
		return nil, err
	}
	return &fileReader{set: set, records: rb}, nil
}

func oneOf(key, v, def string, allowed ...string) (string, error) {
	if v == "" {
		return def, nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", fmt.Errorf("input.%s %q is not one of %s", key, v, strings.Join(allowed, ", "))
}

func newRecordBuilder(cfg pipeline.InputConfig, def pipeline.InputConfig) (*recordBuilder, error) {
	rb := &recordBuilder{textField: cfg.TextField, idField: cfg.IDField}
	var err error
	if rb.preset, err = oneOf("record", cfg.Record, def.Record,
		recordPlain, recordAlpaca, recordShareGPT, recordOpenAI); err != nil {
		return nil, err
	}
	if rb.textField == "" {
		rb.textField = def.TextField
	}
	if cfg.TextTemplate != "" {
		if rb.preset != recordPlain {
			return nil, fmt.Errorf("input.text_template applies to plain records, not to record: %s (whose text is the rendered messages)", rb.preset)
		}
		if rb.tmpl, err = parseTemplate(cfg.TextTemplate); err != nil {
			return nil, fmt.Errorf("input.%w", err)
		}
	}
	return rb, nil
}

// ReadFile reads one file: it peels off compression, rejects binary and
// empty files, settles the encoding and the format, and hands the decoded
// stream to the format's reader.
func (fr *fileReader) ReadFile(ctx context.Context, f pipeline.InputFile, r io.Reader, emit pipeline.Emitter) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	run := &fileRun{ctx: ctx, file: f, emit: emit, set: fr.set, rb: fr.records.fork()}
	if err := fr.read(run, r); err != nil {
		return fmt.Errorf("read %s: %w", f.Rel, err)
	}
	if run.docs == 0 && run.bads == 0 {
		run.badFile(pipeline.BadEmptyFile, "no documents in the file (only white space, or no records)", nil)
	}
	return nil
}

func (fr *fileReader) read(run *fileRun, r io.Reader) error {
	raw := fr.bufs.getReader(&fr.bufs.raw, &sourceReader{r: r}, 64<<10)
	defer fr.bufs.putReader(&fr.bufs.raw, raw)
	magic, err := raw.Peek(4)
	if len(magic) == 0 {
		if err == io.EOF {
			run.badFile(pipeline.BadEmptyFile, "the file has no bytes", nil)
		} else {
			run.streamBad(err, -1, 0, nil)
		}
		return nil
	}
	name := run.file.Path
	if name == "" {
		name = run.file.Rel
	}
	run.codec, name = compressionOf(name, magic)
	dec, closeDec, err := fr.decompress(run.codec, raw)
	if err != nil {
		run.streamBad(err, -1, 0, nil)
		return nil
	}
	defer closeDec()
	run.out = &countingReader{r: dec}
	headBuf, _ := fr.bufs.head.Get().(*[]byte)
	if headBuf == nil {
		b := make([]byte, sniffBytes)
		headBuf = &b
	}
	defer fr.bufs.head.Put(headBuf)
	head, headErr := readHead(run.out, *headBuf)
	if len(head) == 0 {
		if headErr == io.EOF {
			run.badFile(pipeline.BadEmptyFile, "the "+run.codec+" stream decompresses to no bytes", nil)
		} else {
			run.streamBad(headErr, -1, 0, nil)
		}
		return nil
	}
	format := fr.chooseFormat(name, head)
	if format == formatParquet {
		return run.readParquet(io.MultiReader(bytes.NewReader(head), tailReader(run.out, headErr)))
	}
	if isBinary(head, fr.set.encoding) {
		run.badFile(pipeline.BadBinary, "NUL bytes in the first 8 KiB: not a text file", head[:min(len(head), pipeline.MaxQuarantineRaw)])
		return nil
	}
	text := run.decodedStream(head, headErr)
	br := fr.bufs.getReader(&fr.bufs.text, text, readBufSize)
	defer fr.bufs.putReader(&fr.bufs.text, br)
	return run.dispatch(format, br)
}

// chooseFormat applies input.format, or for auto the file extension (after
// removing a compression extension) and then the Parquet magic. Unknown
// extensions are read as text: a .txt holding JSON Lines stays text too,
// because guessing from content would make a text corpus change meaning
// when one file happens to start with '{'.
func (fr *fileReader) chooseFormat(name string, head []byte) string {
	if fr.set.format != formatAuto {
		return fr.set.format
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson":
		return formatJSONL
	case ".json":
		return formatJSON
	case ".csv":
		return formatCSV
	case ".tsv":
		return formatTSV
	case ".parquet":
		return formatParquet
	}
	if bytes.HasPrefix(head, []byte("PAR1")) {
		return formatParquet
	}
	return formatText
}

// isBinary reports NUL bytes near the start of a file, unless a UTF-16 BOM
// explains them (and the encoding may be auto-detected).
func isBinary(head []byte, enc string) bool {
	if enc == encAuto && hasUTF16BOM(head) {
		return false
	}
	return bytes.IndexByte(head[:min(len(head), binarySniffBytes)], 0) >= 0
}

// decodedStream settles the encoding and returns the UTF-8 stream the
// format readers read, with a leading UTF-8 BOM removed.
func (run *fileRun) decodedStream(head []byte, headErr error) io.Reader {
	enc := run.set.encoding
	if enc == encAuto {
		enc, run.encWhy = detectEncoding(head)
		// Detection validated the head; when the head is the whole file
		// (and ends on a complete character), records need no second pass.
		run.validated = headErr == io.EOF && run.encWhy == whyValidUTF8 && len(trimCutRune(head)) == len(head)
	}
	run.enc = enc
	if enc == encUTF8 && bytes.HasPrefix(head, utf8BOM) {
		head = head[len(utf8BOM):]
		run.base = int64(len(utf8BOM))
	}
	var text io.Reader = io.MultiReader(bytes.NewReader(head), tailReader(run.out, headErr))
	if dec := decoderFor(enc); dec != nil {
		text = dec.Reader(text)
		run.transcoded = true
	}
	return text
}

func (run *fileRun) dispatch(format string, br *bufio.Reader) error {
	switch format {
	case formatJSONL:
		return run.readJSONL(br, false)
	case formatJSON:
		return run.readJSON(br)
	case formatCSV:
		return run.readCSV(br, ',')
	case formatTSV:
		return run.readCSV(br, '\t')
	}
	return run.readText(br)
}

// fileRun is the state of reading one file.
type fileRun struct {
	ctx        context.Context
	file       pipeline.InputFile
	emit       pipeline.Emitter
	set        settings
	rb         *recordBuilder
	codec      string          // "", "gzip" or "zstd"
	out        *countingReader // the decompressed stream
	enc        string          // the encoding in use
	encWhy     string          // why auto-detection chose it
	transcoded bool            // byte offsets of the original are unknown
	validated  bool            // the whole file is known to be valid UTF-8
	base       int64           // bytes skipped before the record stream (a BOM)
	docs, bads int64
	ticks      int64 // records seen, for cancellation checks
}

// doc emits a document; its error (the run was cancelled) stops the file.
func (run *fileRun) doc(d pipeline.Doc) error {
	run.docs++
	return run.emit.Doc(d)
}

// bad emits a bad record, copying its raw bytes (capped): the readers'
// buffers are reused.
func (run *fileRun) bad(b pipeline.BadRecord) {
	if len(b.Raw) > pipeline.MaxQuarantineRaw {
		b.Raw = b.Raw[:pipeline.MaxQuarantineRaw]
	}
	b.Raw = bytes.Clone(b.Raw)
	if run.transcoded {
		b.ByteOffset = -1
	}
	run.bads++
	run.emit.Bad(b)
}

// badFile emits a problem of the whole file.
func (run *fileRun) badFile(kind, msg string, raw []byte) {
	run.bad(pipeline.BadRecord{Kind: kind, Offset: -1, ByteOffset: -1, Err: msg, Raw: raw})
}

// streamBad reports a read error of the stream: a cut compressed stream is
// truncated, a corrupt one malformed, a failing file an I/O error. off and
// byteOff locate the record that was being read (partial holds its bytes).
func (run *fileRun) streamBad(err error, off, byteOff int64, partial []byte) {
	var src *sourceError
	var kind, msg string
	var delivered int64
	if run.out != nil {
		delivered = run.out.n
	}
	switch {
	case errors.As(err, &src):
		kind, msg = pipeline.BadIO, "read file: "+src.err.Error()
	case run.codec != "" && errors.Is(err, io.ErrUnexpectedEOF):
		kind = pipeline.BadTruncated
		msg = fmt.Sprintf("%s stream ends early, after %d decompressed bytes: %v", run.codec, delivered, err)
	case run.codec != "":
		kind = pipeline.BadMalformed
		msg = fmt.Sprintf("corrupt %s stream after %d decompressed bytes: %v", run.codec, delivered, err)
	default:
		kind, msg = pipeline.BadIO, err.Error()
	}
	run.bad(pipeline.BadRecord{Kind: kind, Offset: off, ByteOffset: byteOff, Err: msg, Raw: partial})
}

// checkEncoding returns why raw is not clean text in the file's encoding:
// invalid UTF-8, or U+FFFD written by a legacy decoder for bytes it could
// not decode. "" when it is fine.
func (run *fileRun) checkEncoding(raw []byte) string {
	if run.transcoded {
		if i := bytes.Index(raw, []byte("\uFFFD")); i >= 0 {
			return fmt.Sprintf("bytes not valid in %s (decoded as U+FFFD at byte %d of the decoded record)", run.enc, i)
		}
		return ""
	}
	if run.validated || utf8.Valid(raw) {
		return ""
	}
	i := invalidUTF8At(raw)
	msg := fmt.Sprintf("invalid UTF-8 at byte %d of the record", i)
	if strings.HasPrefix(run.encWhy, "not UTF-8") {
		msg += " (encoding auto: " + run.encWhy + ")"
	}
	return msg
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// record turns one parsed record into a document or a bad record.
func (run *fileRun) record(src fieldSource, off, byteOff int64, raw []byte) error {
	d, rerr := run.rb.build(src)
	if rerr != nil {
		run.bad(pipeline.BadRecord{Kind: rerr.kind, Offset: off, ByteOffset: byteOff, Err: rerr.msg, Raw: raw})
		return nil
	}
	d.Offset = off
	return run.doc(d)
}
