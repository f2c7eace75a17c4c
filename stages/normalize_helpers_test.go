package stages

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// newTestNormalizer builds a normalizer from the defaults changed by edit.
func newTestNormalizer(t testing.TB, edit func(*NormalizeOptions)) *normalizer {
	t.Helper()
	o := *NormalizeInfo.Defaults().(*NormalizeOptions)
	if edit != nil {
		edit(&o)
	}
	n, err := newNormalizer(o, "test")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// normReadJSON decodes a whole JSON file into v.
func normReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// normReadLines returns the lines of a text file, split on LF only (some
// corpus lines hold U+0085 or U+2028, which other splitters break on).
func normReadLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// normReadJSONL decodes every line of a JSON Lines file into a new T.
func normReadJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// normCorpusFiles returns the contents of the files under dir whose names end
// in ext, sorted by path.
func normCorpusFiles(t testing.TB, dir, ext string) (names, texts []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ext) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		names = append(names, rel)
		texts = append(texts, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names, texts
}

// normDRCD returns the DRCD paragraphs (Traditional Chinese).
func normDRCD(t testing.TB, corpora string) []string {
	t.Helper()
	type para struct {
		Text string `json:"text"`
	}
	var out []string
	for _, p := range normReadJSONL[para](t, filepath.Join(corpora, "zh-trad/drcd/paragraphs.jsonl")) {
		out = append(out, p.Text)
	}
	return out
}

// normLinguaMojibakeLines returns, per lingua sentence file name, the line
// numbers that lingua-in-the-wild.json lists as real mojibake.
func normLinguaMojibakeLines(t testing.TB, corpora string) map[string]map[int]bool {
	t.Helper()
	var cases []struct {
		Source string `json:"source"`
	}
	normReadJSON(t, filepath.Join(corpora, "encoding/mojibake-cases/lingua-in-the-wild.json"), &cases)
	re := regexp.MustCompile(`langid/lingua/([a-z-]+\.txt) line (\d+)`)
	out := map[string]map[int]bool{}
	for _, c := range cases {
		m := re.FindStringSubmatch(c.Source)
		if m == nil {
			t.Fatalf("lingua-in-the-wild source without a line: %q", c.Source)
		}
		n, _ := strconv.Atoi(m[2])
		if out[m[1]] == nil {
			out[m[1]] = map[int]bool{}
		}
		out[m[1]][n] = true
	}
	return out
}
