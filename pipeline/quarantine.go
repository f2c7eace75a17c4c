package pipeline

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// quarantineLine is one line of quarantine/<slug>.jsonl.
type quarantineLine struct {
	File       string `json:"file"`
	Offset     int64  `json:"offset"`
	ByteOffset int64  `json:"byte_offset"`
	Kind       string `json:"kind"`
	Error      string `json:"error"`
	Size       int64  `json:"size,omitempty"`
	Raw        string `json:"raw,omitempty"`
	RawBase64  string `json:"raw_base64,omitempty"`
}

// quarantineWriter writes one input file's bad records; it is created on the
// first bad record and committed when the file is done.
type quarantineWriter struct {
	dir  string
	file *atomicFile
	rel  string
	enc  *json.Encoder
	err  error
}

func (q *quarantineWriter) add(f InputFile, b BadRecord) {
	if q.err != nil {
		return
	}
	if q.file == nil {
		q.file, q.err = createAtomic(filepath.Join(q.dir, "quarantine", quarantineSlug(f.Rel)+".jsonl"))
		if q.err != nil {
			return
		}
		q.rel = f.Rel
		q.enc = json.NewEncoder(q.file)
		q.enc.SetEscapeHTML(false)
	}
	raw := b.Raw
	if len(raw) > MaxQuarantineRaw {
		raw = raw[:MaxQuarantineRaw]
	}
	line := quarantineLine{File: f.Rel, Offset: b.Offset, ByteOffset: b.ByteOffset, Kind: b.Kind, Error: b.Err, Size: b.Size}
	if utf8.Valid(raw) {
		line.Raw = string(raw)
	} else {
		line.RawBase64 = base64.StdEncoding.EncodeToString(raw)
	}
	q.err = q.enc.Encode(line)
}

// commit renames the file into place and returns it for the manifest
// (nil when the input file had no bad record).
func (q *quarantineWriter) commit(lines int64) (*OutputFile, error) {
	if q.err != nil {
		q.abort()
		return nil, fmt.Errorf("quarantine for %s: %w", q.rel, q.err)
	}
	if q.file == nil {
		return nil, nil
	}
	n, sum, err := q.file.Commit()
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(q.dir, q.file.final)
	return &OutputFile{Path: filepath.ToSlash(rel), Rows: lines, Bytes: n, SHA256: sum}, nil
}

// abort drops what was written for a file whose reading stopped midway.
func (q *quarantineWriter) abort() {
	if q.file != nil {
		q.file.Abort()
		q.file = nil
	}
}

// quarantineSlug is a file name for an input path: readable, and made unique
// by a hash, since "a/b.txt" and "a_b.txt" flatten alike.
func quarantineSlug(rel string) string {
	var sb strings.Builder
	for _, r := range rel {
		switch {
		case r == '/' || r == '\\':
			sb.WriteString("__")
		case r < 0x20 || r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|':
			sb.WriteByte('_')
		default:
			sb.WriteRune(r)
		}
	}
	s := sb.String()
	if len(s) > 150 {
		s = s[:150]
		s = strings.ToValidUTF8(s, "")
	}
	return fmt.Sprintf("%s-%08x", s, uint32(xxhash.Sum64String(rel)))
}
