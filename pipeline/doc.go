package pipeline

import (
	"context"
	"io"
)

// Message is one turn of an instruction record (Alpaca, ShareGPT, OpenAI),
// kept in the output's messages column beside the rendered text.
type Message struct {
	Role    string `json:"role" parquet:"role"`
	Content string `json:"content" parquet:"content"`
}

// Doc is one document as a reader produces it, before it becomes a row of a Batch.
type Doc struct {
	// ID comes from the configured id field; empty means the engine derives a
	// stable id from the source path and Offset.
	ID string
	// Text is valid UTF-8: what every filter reads.
	Text string
	// Offset is the 1-based line number for line formats (JSONL, text by line,
	// CSV), the 0-based record index otherwise (JSON array, Parquet, one text file).
	Offset int64
	// Messages is set for instruction records and nil for plain ones.
	Messages []Message
}

// Kinds of input that cannot become a document. Each is counted per run and
// written to quarantine/ with the file, offset and raw bytes.
const (
	BadMalformed   = "malformed"        // a record that does not parse (JSON syntax, CSV field count)
	BadEncoding    = "invalid_encoding" // bytes that are not valid in the file's encoding
	BadTooLarge    = "too_large"        // a record over max_doc_bytes; never held whole
	BadTruncated   = "truncated"        // a file or compressed stream that ends mid-record
	BadEmptyFile   = "empty_file"       // a file with no bytes, or no records at all
	BadBinary      = "binary_file"      // a file that is not text (NUL bytes, unknown magic)
	BadMissingText = "missing_text"     // a record without the text field, or with a non-string one
	BadEmptyText   = "empty_text"       // a record whose text is empty after rendering
	BadVanished    = "vanished"         // a listed file that could not be opened any more
	BadIO          = "io_error"         // any other read error
)

// BadRecord is something a reader could not turn into a document.
type BadRecord struct {
	Kind string
	// Offset uses the same unit as Doc.Offset (line number or record index);
	// -1 when the problem concerns the whole file.
	Offset int64
	// ByteOffset is where the bad bytes start in the (decompressed) stream, -1 if unknown.
	ByteOffset int64
	Err        string
	// Raw is a capped copy of the offending bytes (MaxQuarantineRaw).
	Raw []byte
	// Size is the full size in bytes of the bad record when known (too_large), else 0.
	Size int64
}

// MaxQuarantineRaw caps the raw bytes kept for one bad record, so a 200 MB
// broken line costs 4 KiB in quarantine/.
const MaxQuarantineRaw = 4 << 10

// Emitter receives a reader's output, in input order.
type Emitter interface {
	// Doc hands over one document. A non-nil error (the run was cancelled)
	// must make the reader stop and return it.
	Doc(d Doc) error
	// Bad records something that could not be read; the reader goes on.
	Bad(b BadRecord)
}

// InputFile is one file of the sorted input listing.
type InputFile struct {
	Path string // path to open, as found by the listing
	Rel  string // path relative to its input root: the source column
	Size int64
}

// FileReader turns one input file into documents. It is built once per run
// from the input config and shared by the reading goroutine.
type FileReader interface {
	// ReadFile reads f's content from r (the raw file bytes, maybe compressed;
	// the engine hashes what is read). Every problem with the content goes to
	// emit.Bad and reading goes on where it can; a non-nil error means the run
	// must stop (context cancelled, Emitter error).
	ReadFile(ctx context.Context, f InputFile, r io.Reader, emit Emitter) error
}

// FileReaderFactory builds the FileReader for a run's input config.
type FileReaderFactory func(cfg InputConfig) (FileReader, error)
