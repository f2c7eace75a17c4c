package stages

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	xunicode "golang.org/x/text/encoding/unicode"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// fixtureText returns a committed fixture file as a string.
func fixtureText(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Fixtures(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func encodeWith(t *testing.T, enc encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

// TestReadLegacyEncodings works on the committed fixtures only, so it runs
// without the shared corpora.
func TestReadLegacyEncodings(t *testing.T) {
	prose := strings.TrimRight(fixtureText(t, "corpus/zh-prose/nahan-guxiang.txt"), "\n")
	big5Doc := fixtureText(t, "broken/big5.txt")
	var trad string
	if d := readData(t, testConfig(func(c *pipeline.InputConfig) { c.Encoding = "big5" }), "b.txt", []byte(big5Doc)); len(d.docs) == 1 {
		trad = d.docs[0].Text
	} else {
		t.Fatalf("big5 fixture: %v", d.kinds())
	}
	utf16be := xunicode.UTF16(xunicode.BigEndian, xunicode.UseBOM)
	utf16le := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM)
	tests := []struct {
		name string
		enc  string
		data []byte
		want string
	}{
		{"gb18030 auto", "auto", encodeWith(t, simplifiedchinese.GB18030, prose), prose},
		{"gbk explicit", "gbk", encodeWith(t, simplifiedchinese.GBK, prose), prose},
		{"big5 auto", "auto", encodeWith(t, traditionalchinese.Big5, trad), trad},
		{"utf-16be bom", "auto", encodeWith(t, utf16be, prose), prose},
		{"utf-16le bom", "auto", encodeWith(t, utf16le, prose), prose},
		{"utf-8 bom", "auto", append([]byte("\uFEFF"), prose...), prose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := readData(t, testConfig(func(c *pipeline.InputConfig) { c.Encoding = tt.enc }), "a.txt", tt.data)
			wantKinds(t, rec)
			if len(rec.docs) != 1 || rec.docs[0].Text != tt.want {
				t.Errorf("decoded text differs")
			}
		})
	}
}

func TestReadEncodingErrors(t *testing.T) {
	lines := []string{}
	for i := range 400 {
		lines = append(lines, `{"text":"第`+strings.Repeat("中文语料清洗", 5)+string(rune('0'+i%10))+`"}`)
	}
	gb := encodeWith(t, simplifiedchinese.GB18030, strings.Join(lines, "\n")+"\n")

	t.Run("undecodable bytes in a gb18030 file", func(t *testing.T) {
		// 0xFF is never valid in GB18030: one bad byte among 12,000 Han
		// characters does not stop detection, and line 3 alone becomes
		// invalid_encoding, with no byte offset (the decoded stream's
		// offsets are not the file's).
		data := bytes.Clone(gb)
		i := bytes.IndexByte(data, '\n')
		i += bytes.IndexByte(data[i+1:], '\n') + 1
		data[i+12] = 0xFF
		rec := readData(t, testConfig(nil), "a.jsonl", data)
		wantKinds(t, rec, pipeline.BadEncoding)
		if b := rec.bads[0]; b.Offset != 3 || b.ByteOffset != -1 || !strings.Contains(b.Err, "gb18030") {
			t.Errorf("bad %+v", b)
		}
		if len(rec.docs) != 399 {
			t.Errorf("%d docs", len(rec.docs))
		}
	})
	t.Run("valid utf-8 head, gbk further on", func(t *testing.T) {
		var data []byte
		for range 2000 {
			data = append(data, `{"text":"clean ascii head line"}`+"\n"...)
		}
		data = append(data, gb[:bytes.IndexByte(gb, '\n')+1]...)
		data = append(data, "{\"text\":\"tail\"}\n"...)
		rec := readData(t, testConfig(nil), "a.jsonl", data)
		wantKinds(t, rec, pipeline.BadEncoding)
		if len(rec.docs) != 2001 || rec.bads[0].Offset != 2001 || rec.bads[0].ByteOffset != int64(2000*33) {
			t.Errorf("%d docs, bad %+v", len(rec.docs), rec.bads[0])
		}
	})
	t.Run("utf-8 with one bad byte in the head", func(t *testing.T) {
		// Chinese UTF-8 decodes as GB18030 without error (every byte pair is
		// valid), but into rare characters: detection stays with UTF-8 and
		// only the damaged record is lost.
		data := jsonlOf(2000)
		i := bytes.IndexByte(data, '\n') + 12
		data[i] = 0xFF
		rec := readData(t, testConfig(nil), "a.jsonl", data)
		wantKinds(t, rec, pipeline.BadEncoding)
		if len(rec.docs) != 1999 || rec.bads[0].Offset != 2 {
			t.Errorf("%d docs, bad at %d", len(rec.docs), rec.bads[0].Offset)
		}
	})
	t.Run("utf-8 cut at the sniff boundary", func(t *testing.T) {
		// A 3-byte character straddles byte 64 KiB: still UTF-8.
		data := []byte("ab")
		for len(data) < sniffBytes+100 {
			data = append(data, "中"...)
		}
		if (sniffBytes-2)%3 == 0 {
			t.Fatal("boundary is not mid-character")
		}
		rec := readData(t, testConfig(nil), "a.txt", data)
		wantKinds(t, rec)
	})
	t.Run("gb18030 without confidence is read as utf-8", func(t *testing.T) {
		// Too little Han text to judge: every record is invalid_encoding.
		data := encodeWith(t, simplifiedchinese.GB18030, "{\"text\":\"中\"}\n{\"text\":\"文\"}\n")
		rec := readData(t, testConfig(nil), "a.jsonl", data)
		wantKinds(t, rec, pipeline.BadEncoding, pipeline.BadEncoding)
	})
	t.Run("utf-16 needs auto", func(t *testing.T) {
		data := encodeWith(t, xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM), "hello\n")
		rec := readData(t, testConfig(func(c *pipeline.InputConfig) { c.Encoding = "utf-8" }), "a.txt", data)
		wantKinds(t, rec, pipeline.BadBinary)
	})
}

func TestTrimCutRune(t *testing.T) {
	zh := []byte("中文")
	for _, tt := range []struct {
		in   []byte
		want int
	}{
		{zh, 6}, {zh[:5], 3}, {zh[:4], 3}, {zh[:3], 3}, {[]byte("ab"), 2}, {nil, 0},
		{[]byte("a\xff"), 2}, // invalid, not cut: left for utf8.Valid to reject
	} {
		if got := len(trimCutRune(tt.in)); got != tt.want {
			t.Errorf("trimCutRune(%q) has %d bytes, want %d", tt.in, got, tt.want)
		}
	}
}
