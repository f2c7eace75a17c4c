package stages

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"winnow/pipeline"
)

// Tests on the shared corpora (skipped when ../shared/corpora is absent).
// Expected counts come from zh-sft/traps/README.md, zh-sft/SOURCES.md,
// zh-trad/drcd/SOURCES.md and encoding/mojibake-cases/README.md.

func alpacaCfg(c *pipeline.InputConfig)   { c.Record = "alpaca" }
func sharegptCfg(c *pipeline.InputConfig) { c.Record = "sharegpt" }

func TestTrapAlpacaTruncated(t *testing.T) {
	rec := readPath(t, testConfig(alpacaCfg), shared(t, "zh-sft/traps/alpaca-truncated.json"))
	if len(rec.docs) != 457 {
		t.Fatalf("%d docs, want 457", len(rec.docs))
	}
	for i, d := range rec.docs {
		if d.Offset != int64(i) || len(d.Messages) != 2 {
			t.Fatalf("doc %d: offset %d, %d messages", i, d.Offset, len(d.Messages))
		}
	}
	wantKinds(t, rec, pipeline.BadTruncated)
	b := rec.bads[0]
	if b.Offset != 457 || !strings.Contains(string(b.Raw), "计算边长为 10cm 的正方形的面积。") {
		t.Errorf("truncated record: offset %d raw %q", b.Offset, truncate(b.Raw, 200))
	}
	if b.Raw[len(b.Raw)-1] != 0xE7 {
		t.Errorf("raw should end with the dangling 0xE7, ends with %x", b.Raw[len(b.Raw)-1])
	}
}

func TestTrapJSONLNamedJSON(t *testing.T) {
	rec := readPath(t, testConfig(alpacaCfg), shared(t, "zh-sft/traps/jsonl-named.json"))
	wantKinds(t, rec)
	if len(rec.docs) != 300 || rec.docs[0].Offset != 1 || rec.docs[299].Offset != 300 {
		t.Fatalf("%d docs", len(rec.docs))
	}
}

func TestTrapBOMMid(t *testing.T) {
	rec := readPath(t, testConfig(alpacaCfg), shared(t, "zh-sft/traps/bom-mid.jsonl"))
	wantKinds(t, rec)
	if len(rec.docs) != 300 {
		t.Fatalf("%d docs, want 300", len(rec.docs))
	}
	for _, d := range rec.docs {
		for _, m := range d.Messages {
			if strings.ContainsRune(d.Text+m.Content, '\uFEFF') {
				t.Fatalf("doc at line %d still holds U+FEFF", d.Offset)
			}
		}
	}
	d := rec.docs[150]
	if d.Offset != 151 || d.Messages[0].Content != "反转链表。" || !strings.Contains(d.Messages[1].Content, "下一个=当前下一个\n        当前.下一个=上一个") {
		t.Errorf("line 151: %+v", d)
	}
}

func TestTrapCRLF(t *testing.T) {
	rec := readPath(t, testConfig(sharegptCfg), shared(t, "zh-sft/traps/crlf.jsonl"))
	wantKinds(t, rec)
	if len(rec.docs) != 150 {
		t.Fatalf("%d docs, want 150", len(rec.docs))
	}
	for _, d := range rec.docs {
		if strings.HasSuffix(d.Text, "\r") || d.Messages[0].Role != "user" || d.Messages[1].Role != "assistant" {
			t.Fatalf("line %d: %q %+v", d.Offset, truncate([]byte(d.Text), 40), d.Messages[:2])
		}
	}
}

// The Toyhom CSV slice: GBK bytes, 1,100 records, 7 with newlines inside
// quoted fields (data rows 1006, 1007, 1008, 1010, 1011, 1015, 1016).
func TestGB18030CSV(t *testing.T) {
	path := shared(t, "zh-sft/medical-dialogue-gb18030/样例_内科5000-6000.csv")
	for _, enc := range []string{"auto", "gb18030", "gbk"} {
		t.Run(enc, func(t *testing.T) {
			rec := readPath(t, testConfig(func(c *pipeline.InputConfig) {
				c.Encoding = enc
				c.TextTemplate = "{department}|{title}|{ask}|{answer}"
			}), path)
			wantKinds(t, rec)
			if len(rec.docs) != 1100 {
				t.Fatalf("%d docs, want 1100", len(rec.docs))
			}
			var multi []int
			for i, d := range rec.docs {
				if strings.Contains(d.Text, "\n") {
					multi = append(multi, i+1)
				}
			}
			if got := fmt.Sprint(multi); got != "[1006 1007 1008 1010 1011 1015 1016]" {
				t.Errorf("records with newlines: %s", got)
			}
			if !strings.HasPrefix(rec.docs[0].Text, "心血管科|") && !strings.HasPrefix(rec.docs[0].Text, "神经科|") {
				t.Errorf("first record: %q", truncate([]byte(rec.docs[0].Text), 60))
			}
		})
	}
	t.Run("decoded checksum", func(t *testing.T) {
		rec := readPath(t, testConfig(func(c *pipeline.InputConfig) { c.Format = "text" }), path)
		checkSHA(t, rec.docs[0].Text+"\n", "fe2d5c76dc4d9cdd0d41a425ac563020f4fa9b8c6cd58f0d905eb5f54c2ece83")
	})
	t.Run("as utf-8 every record is invalid", func(t *testing.T) {
		rec := readPath(t, testConfig(func(c *pipeline.InputConfig) { c.Encoding = "utf-8"; c.TextField = "answer" }), path)
		if len(rec.docs) != 0 || len(rec.bads) != 1100 || rec.bads[0].Kind != pipeline.BadEncoding {
			t.Errorf("%d docs, %d bad (%v)", len(rec.docs), len(rec.bads), rec.kinds()[:1])
		}
	})
}

func checkSHA(t *testing.T, text, want string) {
	t.Helper()
	sum := sha256.Sum256([]byte(text))
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("sha256 of decoded text = %s, want %s", got, want)
	}
}

func TestGB18030Text(t *testing.T) {
	path := shared(t, "zh-sft/medical-dialogue-gb18030/Data_数据/IM_内科/内科.txt")
	rec := readPath(t, testConfig(nil), path)
	wantKinds(t, rec)
	checkSHA(t, rec.docs[0].Text+"\n\n\n", "f11a05adae28e4adc1ad01f8f0f2978e6fbc813865fc1e59677813a83af81b1c")

	rec = readPath(t, testConfig(func(c *pipeline.InputConfig) { c.TextSplit = "paragraph" }), path)
	wantKinds(t, rec)
	if len(rec.docs) != 1000 {
		t.Errorf("%d paragraphs, want 1000 blocks", len(rec.docs))
	}
	if d := rec.docs[1]; d.Offset != 5 || strings.Count(d.Text, "\n") != 1 {
		t.Errorf("second block at line %d: %q", d.Offset, d.Text)
	}
	rec = readPath(t, testConfig(func(c *pipeline.InputConfig) { c.TextSplit = "line" }), path)
	if len(rec.docs) != 2000 {
		t.Errorf("%d lines, want 2000", len(rec.docs))
	}
}

func TestEncodingSamples(t *testing.T) {
	read := func(rel string) string {
		b, err := os.ReadFile(shared(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimRight(string(b), "\n")
	}
	hans := read("langid/udhr/zh-hans.txt")
	tests := []struct {
		file string
		enc  string
		want string // "" = one invalid_encoding
	}{
		{"gb18030-sample.txt", "auto", hans},
		{"gb18030-sample.txt", "gb18030", hans},
		{"utf16le-bom.txt", "auto", hans},
		{"big5-sample.txt", "auto", read("encoding/mojibake-cases/big5-sample.utf8.txt")},
		{"big5-sample.txt", "big5", read("encoding/mojibake-cases/big5-sample.utf8.txt")},
		{"shift_jis-sample.txt", "auto", ""},
		{"euc-kr-sample.txt", "auto", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.enc, func(t *testing.T) {
			rec := readPath(t, testConfig(func(c *pipeline.InputConfig) { c.Encoding = tt.enc }),
				shared(t, filepath.Join("encoding/mojibake-cases", tt.file)))
			if tt.want == "" {
				wantKinds(t, rec, pipeline.BadEncoding)
				if !strings.Contains(rec.bads[0].Err, "neither GB18030") {
					t.Errorf("err = %q", rec.bads[0].Err)
				}
				return
			}
			wantKinds(t, rec)
			if len(rec.docs) != 1 || rec.docs[0].Text != tt.want {
				t.Errorf("decoded text differs (%d docs)", len(rec.docs))
			}
		})
	}
}

func TestDetectEncoding(t *testing.T) {
	base := shared(t, "")
	tests := []struct {
		file string
		want string
	}{
		{"encoding/mojibake-cases/gb18030-sample.txt", encGB18030},
		{"encoding/mojibake-cases/big5-sample.txt", encBig5},
		{"encoding/mojibake-cases/utf16le-bom.txt", encUTF16LE},
		{"encoding/mojibake-cases/shift_jis-sample.txt", encUTF8},
		{"encoding/mojibake-cases/euc-kr-sample.txt", encUTF8},
		{"encoding/mojibake-cases/zh-mojibake.tsv", encUTF8},
		{"zh-sft/medical-dialogue-gb18030/样例_内科5000-6000.csv", encGB18030},
		{"zh-sft/medical-dialogue-gb18030/Data_数据/IM_内科/内科.txt", encGB18030},
		{"zh-trad/drcd/paragraphs.jsonl", encUTF8},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join(base, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		// Cut the sample mid-character too: detection must not care.
		for _, n := range []int{sniffBytes, 4097, 1001} {
			got, why := detectEncoding(b[:min(n, len(b))])
			if got != tt.want {
				t.Errorf("%s (first %d bytes): %s (%s), want %s", tt.file, n, got, why, tt.want)
			}
		}
	}
}

func TestDRCD(t *testing.T) {
	rec := readPath(t, testConfig(nil), shared(t, "zh-trad/drcd/paragraphs.jsonl"))
	wantKinds(t, rec)
	if len(rec.docs) != 1000 || rec.docs[0].ID != "1147-5" || rec.docs[999].Offset != 1000 {
		t.Fatalf("%d docs, first id %q", len(rec.docs), rec.docs[0].ID)
	}
	// DRCD_dev.json is one object on one 2.2 MB line, without a "text"
	// field: one missing_text for the whole object (offset 1: it is read as
	// a one-line JSON Lines file), never a 64 KiB line-limit error.
	path := shared(t, "zh-trad/drcd/DRCD_dev.json")
	rec = readPath(t, testConfig(nil), path)
	wantKinds(t, rec, pipeline.BadMissingText)
	if b := rec.bads[0]; b.Offset != 1 || len(b.Raw) != pipeline.MaxQuarantineRaw {
		t.Errorf("bad: offset %d raw %d", b.Offset, len(b.Raw))
	}
	rec = readPath(t, testConfig(func(c *pipeline.InputConfig) { c.TextField = "version" }), path)
	if len(rec.docs) != 1 || rec.docs[0].Text != "1.3" {
		t.Errorf("docs %+v", rec.docs)
	}
	// With max_doc_bytes below its size it is too large, streamed past.
	rec = readPath(t, testConfig(func(c *pipeline.InputConfig) { c.MaxDocBytes = 1 << 20 }), path)
	wantKinds(t, rec, pipeline.BadTooLarge)
	if rec.bads[0].Size != 2184379 {
		t.Errorf("size %d", rec.bads[0].Size)
	}
}

func TestSFTCorpora(t *testing.T) {
	tests := []struct {
		file   string
		mod    func(*pipeline.InputConfig)
		docs   int
		bad    int
		checks func(t *testing.T, rec *recorder)
	}{
		{file: "zh-sft/alpaca-zh/hikariming/alpaca_data-0-3252-中文-已完成.json", mod: alpacaCfg, docs: 3247},
		{file: "zh-sft/alpaca-zh/carbonz0/zh-data-part-00.json", mod: alpacaCfg, docs: 3252},
		{file: "zh-sft/alpaca-zh/en-source/alpaca_data-0-3252-英文.json", mod: alpacaCfg, docs: 3252},
		{file: "zh-sft/sharegpt/sharegpt_zh_1K_format.jsonl", mod: sharegptCfg, docs: 465,
			checks: func(t *testing.T, rec *recorder) {
				roles := map[string]int{}
				for _, d := range rec.docs {
					for _, m := range d.Messages {
						roles[m.Role]++
					}
				}
				if roles["user"] != 2245 || roles["assistant"] != 2243 || len(roles) != 2 {
					t.Errorf("roles %v", roles)
				}
				if n := len(rec.docs[9].Messages); n != 330 {
					t.Errorf("line 10 has %d turns, want 330", n)
				}
			}},
		{file: "zh-sft/medicalgpt/data/sft/glaive_toolcall_zh_demo.jsonl", mod: sharegptCfg, docs: 300,
			checks: func(t *testing.T, rec *recorder) {
				roles := map[string]int{}
				for _, d := range rec.docs {
					for _, m := range d.Messages {
						roles[m.Role]++
					}
				}
				if roles["function_call"] == 0 || roles["observation"] == 0 {
					t.Errorf("roles %v", roles)
				}
			}},
		{file: "zh-sft/medicalgpt/data/reward/dpo_zh_500.jsonl", mod: sharegptCfg, docs: 499, // line 70 of the source was removed (SOURCES.md)
			checks: func(t *testing.T, rec *recorder) {
				n := 0
				for _, d := range rec.docs {
					if d.Messages[0].Role == "system" {
						n++
					}
				}
				if n != 84 {
					t.Errorf("%d records with a system turn, want 84", n)
				}
			}},
		{file: "zh-sft/medicalgpt/history-fab6250/data/reward/test.json", docs: 100,
			mod: func(c *pipeline.InputConfig) { c.TextTemplate = `{question}\n\n{response_chosen}` }},
		{file: "zh-sft/medicalgpt/data/rag/medical_corpus.txt", docs: 1},
		{file: "zh-sft/medicalgpt/data/rag/medical_corpus.txt", docs: 87,
			mod: func(c *pipeline.InputConfig) { c.Format = "jsonl"; c.TextTemplate = "{问}\n{答}" }},
		{file: "zh-sft/medicalgpt/data/grpo/sample.jsonl", docs: 32,
			mod: func(c *pipeline.InputConfig) { c.TextField = "question" }},
		{file: "zh-sft/medicalgpt/role_play_data/seed_nurse_role.jsonl", bad: 66},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			rec := readPath(t, testConfig(tt.mod), shared(t, tt.file))
			if len(rec.docs) != tt.docs || len(rec.bads) != tt.bad {
				t.Errorf("%d docs, %d bad (%v); want %d, %d", len(rec.docs), len(rec.bads), rec.kinds(), tt.docs, tt.bad)
			}
			if tt.checks != nil {
				tt.checks(t, rec)
			}
		})
	}
}

// Every file of the shared corpora goes through the readers without an
// error and with the invariants intact, whatever its format.
func TestSharedCorporaSmoke(t *testing.T) {
	root := shared(t, "")
	n := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		readPath(t, testConfig(nil), p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files read", n)
}
