package stages

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// expectedRow is one row of a table in fixtures/EXPECTED.md.
type expectedRow struct {
	file     string
	config   string // "default", "text_field=answer", or a record preset
	docs     int
	offsets  []int64
	badKind  string
	badOffs  []int64
	badBytes []int64 // nil when not asserted
}

// TestFixturesExpected reads every file listed in fixtures/EXPECTED.md and
// compares documents, offsets, bad kinds and bad byte offsets with the
// tables there (which fixtures/tools/check_expected.py keeps honest).
func TestFixturesExpected(t *testing.T) {
	dir := testenv.Fixtures(t)
	rows := parseExpected(t, filepath.Join(dir, "EXPECTED.md"))
	if len(rows) < 40 {
		t.Fatalf("only %d rows parsed from EXPECTED.md", len(rows))
	}
	for _, row := range rows {
		t.Run(row.file+"/"+row.config, func(t *testing.T) {
			rec := readPath(t, fixtureConfig(t, row.config), filepath.Join(dir, row.file))
			var offs []int64
			for _, d := range rec.docs {
				offs = append(offs, d.Offset)
			}
			if len(rec.docs) != row.docs || !slices.Equal(offs, row.offsets) {
				t.Errorf("docs at %v, want %d at %v", offs, row.docs, row.offsets)
			}
			var kinds []string
			var badOffs, badBytes []int64
			for _, b := range rec.bads {
				kinds = append(kinds, b.Kind)
				badOffs = append(badOffs, b.Offset)
				badBytes = append(badBytes, b.ByteOffset)
			}
			var wantKinds []string
			for range row.badOffs {
				wantKinds = append(wantKinds, row.badKind)
			}
			if !slices.Equal(kinds, wantKinds) || !slices.Equal(badOffs, row.badOffs) {
				t.Errorf("bad %v at %v, want %v at %v", kinds, badOffs, wantKinds, row.badOffs)
				for _, b := range rec.bads {
					t.Logf("  %s: %s", b.Kind, b.Err)
				}
			}
			if row.badBytes != nil && !slices.Equal(badBytes, row.badBytes) {
				t.Errorf("bad byte offsets %v, want %v", badBytes, row.badBytes)
			}
		})
	}
}

func fixtureConfig(t *testing.T, config string) pipeline.InputConfig {
	return testConfig(func(c *pipeline.InputConfig) {
		switch {
		case config == "default" || config == "text" || config == "jsonl":
		case strings.HasPrefix(config, "text_field="):
			c.TextField = strings.TrimPrefix(config, "text_field=")
		case config == "alpaca" || config == "sharegpt":
			c.Record = config
		default:
			t.Fatalf("unknown config %q in EXPECTED.md", config)
		}
	})
}

// parseExpected reads the corpus/, sft/ and broken/ tables: every table
// row whose first cell names a file with an extension.
func parseExpected(t *testing.T, path string) []expectedRow {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []expectedRow
	var header []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header == nil {
			header = cells
			continue
		}
		if len(cells) != len(header) || strings.HasPrefix(cells[0], "---") || header[0] != "file" || !slices.Contains(header, "docs") {
			continue
		}
		rows = append(rows, expectedFromCells(t, header, cells))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func expectedFromCells(t *testing.T, header, cells []string) expectedRow {
	col := map[string]string{}
	for i, h := range header {
		col[h] = cells[i]
	}
	row := expectedRow{file: col["file"], config: "default"}
	for _, k := range []string{"config", "record"} {
		if v, ok := col[k]; ok {
			row.config = v
		}
	}
	var err error
	if row.docs, err = strconv.Atoi(col["docs"]); err != nil {
		t.Fatalf("%s: docs %q", row.file, col["docs"])
	}
	row.offsets = parseRanges(t, col["doc offsets"])
	if bad := col["bad records"]; bad != "none" {
		kind, offs, ok := strings.Cut(bad, ":")
		if !ok {
			t.Fatalf("%s: bad records %q", row.file, bad)
		}
		row.badKind = strings.TrimSpace(kind)
		row.badOffs = parseRanges(t, offs)
	}
	if v, ok := col["bad byte offsets"]; ok && v != "-" {
		row.badBytes = parseRanges(t, v)
	}
	return row
}

// parseRanges parses "1-3, 5, 7-8" (and "-1", "-") into numbers.
func parseRanges(t *testing.T, s string) []int64 {
	s = strings.TrimSpace(s)
	if s == "-" || s == "" || s == "none" {
		return nil
	}
	var out []int64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part[1:], "-")
		lo = part[:1] + lo
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			t.Fatalf("range %q: %v", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil {
				t.Fatalf("range %q: %v", s, err)
			}
		}
		for v := a; v <= b; v++ {
			out = append(out, v)
		}
	}
	return out
}

// bom-fields.csv: the BOM at byte 0 and the BOMs inside fields are all
// stripped (input spec: U+FEFF is never content), so the id at line 4 is
// "udhr-zh-hans-6" and no text holds U+FEFF. fixtures/EXPECTED.md describes
// the raw file (its "id at line 4" is the raw cell "\ufeffudhr-zh-hans-6").
func TestFixtureBOMFields(t *testing.T) {
	rec := readPath(t, testConfig(nil), filepath.Join(testenv.Fixtures(t), "broken/bom-fields.csv"))
	var ids []string
	for _, d := range rec.docs {
		ids = append(ids, d.ID)
		if strings.ContainsRune(d.Text, '\uFEFF') {
			t.Errorf("line %d: text holds U+FEFF", d.Offset)
		}
	}
	want := []string{"udhr-zh-hans-3", "udhr-zh-hans-5", "udhr-zh-hans-6", "udhr-zh-hans-13", "udhr-zh-hans-16", "udhr-zh-hans-21"}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %q, want %q", ids, want)
	}
	if n := len([]rune(rec.docs[3].Text)); !strings.HasPrefix(rec.docs[3].Text, "第一条\n") || n != 47 {
		t.Errorf("multi-line record: %d chars: %q", n, rec.docs[3].Text)
	}
}
