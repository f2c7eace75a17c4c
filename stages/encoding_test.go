package stages

import (
	"bufio"
	"cmp"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"winnow/internal/testenv"
)

// genCommonHan recomputes the commonHan constant from the shared corpora.
func genCommonHan(t *testing.T) string {
	t.Helper()
	root := testenv.SharedCorpora(t)
	simp := map[rune]int{}
	for _, dir := range []string{"zh-laws", "zh-prose"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "alt-edition" {
				return filepath.SkipDir
			}
			ext := filepath.Ext(p)
			if d.IsDir() || d.Name() == "SOURCES.md" || (ext != ".md" && ext != ".txt") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			countHan(simp, string(b))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	trad := map[rune]int{}
	f, err := os.Open(filepath.Join(root, "zh-trad/drcd/paragraphs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		countHan(trad, rec.Text)
	}
	set := map[rune]bool{}
	for _, r := range append(topRunes(simp, 500), topRunes(trad, 500)...) {
		set[r] = true
	}
	all := make([]rune, 0, len(set))
	for r := range set {
		all = append(all, r)
	}
	slices.Sort(all)
	var sb strings.Builder
	sb.WriteString("const commonHan = \"\" +\n")
	for i := 0; i < len(all); i += 50 {
		sb.WriteString("\t\"" + string(all[i:min(i+50, len(all))]) + "\"")
		if i+50 < len(all) {
			sb.WriteString(" +")
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

func countHan(m map[rune]int, s string) {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			m[r]++
		}
	}
}

// topRunes returns the n most frequent runes, ties broken by code point.
func topRunes(m map[rune]int, n int) []rune {
	rs := make([]rune, 0, len(m))
	for r := range m {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b rune) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return rs[:min(n, len(rs))]
}

func TestGenerateCommonHan(t *testing.T) {
	if os.Getenv("WINNOW_GEN_HAN") == "" {
		t.Skip("set WINNOW_GEN_HAN=1 to print the commonHan constant")
	}
	t.Log("\n" + genCommonHan(t))
}

func TestCommonHanUpToDate(t *testing.T) {
	want := genCommonHan(t)
	var got strings.Builder
	for _, line := range strings.Split(want, "\n")[1:] {
		if i, j := strings.IndexByte(line, '"'), strings.LastIndexByte(line, '"'); i >= 0 && j > i {
			got.WriteString(line[i+1 : j])
		}
	}
	if got.String() != commonHan {
		t.Errorf("commonHan differs from what the shared corpora give; regenerate it:\n%s", want)
	}
	if n := len([]rune(commonHan)); n < 600 || n > 1000 {
		t.Errorf("commonHan has %d characters", n)
	}
}
