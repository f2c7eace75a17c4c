package stages

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// langidSample is one labelled text of the shared corpora.
type langidSample struct {
	want string // ISO 639-1
	text string
	from string // file:line, for failure messages
}

// langidLines reads a corpus file as lines. It splits on \n only: the fr
// and pl files hold U+0085, which other splitters treat as a line end.
func langidLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// langidMojibake returns the lines of lingua's sentence files that are
// mis-decoded text (listed in encoding/mojibake-cases/lingua-in-the-wild.json),
// keyed "de-sentences.txt:151". They are reported apart, not counted
// against the detector.
func langidMojibake(t testing.TB, corpora string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpora, "encoding", "mojibake-cases", "lingua-in-the-wild.json"))
	if err != nil {
		t.Fatalf("read mojibake list: %v", err)
	}
	var cases []struct{ Source string }
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("parse mojibake list: %v", err)
	}
	re := regexp.MustCompile(`langid/lingua/(\S+) line (\d+)`)
	bad := map[string]bool{}
	for _, c := range cases {
		if m := re.FindStringSubmatch(c.Source); m != nil {
			bad[m[1]+":"+m[2]] = true
		}
	}
	if len(bad) < 150 {
		t.Fatalf("mojibake list: only %d lines recognised", len(bad))
	}
	return bad
}

// langidSentences returns lingua's test sentences of lang, and apart the
// mojibake ones.
func langidSentences(t testing.TB, corpora, lang string, mojibake map[string]bool) (clean, broken []langidSample) {
	t.Helper()
	name := lang + "-sentences.txt"
	for i, line := range langidLines(t, filepath.Join(corpora, "langid", "lingua", name)) {
		s := langidSample{want: lang, text: line, from: name + ":" + strconv.Itoa(i+1)}
		if mojibake[s.from] {
			broken = append(broken, s)
		} else {
			clean = append(clean, s)
		}
	}
	return clean, broken
}

// langidUDHR returns the UDHR lines of file (zh-hans, yue …) of at least
// minChars characters, labelled want: shorter lines are titles, often the
// same in several languages ("Article 2" is en and fr).
func langidUDHR(t testing.TB, corpora, file, want string, minChars int) []langidSample {
	t.Helper()
	var out []langidSample
	for i, line := range langidLines(t, filepath.Join(corpora, "langid", "udhr", file+".txt")) {
		if utf8.RuneCountInString(line) >= minChars {
			out = append(out, langidSample{want: want, text: line, from: file + ".txt:" + strconv.Itoa(i+1)})
		}
	}
	return out
}

// langidParagraphs joins consecutive samples, one per line, until each
// paragraph has at least minChars characters; a short remainder is dropped.
func langidParagraphs(lines []langidSample, minChars int) []langidSample {
	var out []langidSample
	var cur []string
	n := 0
	first := ""
	for _, s := range lines {
		if len(cur) == 0 {
			first = s.from
		}
		cur = append(cur, s.text)
		n += utf8.RuneCountInString(s.text)
		if n >= minChars {
			out = append(out, langidSample{want: s.want, text: strings.Join(cur, "\n"), from: first + "+" + strconv.Itoa(len(cur)-1)})
			cur, n = cur[:0], 0
		}
	}
	return out
}

// langidHard is one row of langid/hard/hard.tsv with its category.
type langidHard struct {
	langidSample
	category  string
	mixed     bool
	ambiguous string
}

func langidHardRows(t testing.TB, corpora string) []langidHard {
	t.Helper()
	dir := filepath.Join(corpora, "langid", "hard")
	rows := langidLines(t, filepath.Join(dir, "hard.tsv"))
	meta := langidLines(t, filepath.Join(dir, "hard.meta.tsv"))[1:] // header
	if len(rows) != len(meta) {
		t.Fatalf("hard.tsv has %d rows, hard.meta.tsv %d", len(rows), len(meta))
	}
	out := make([]langidHard, len(rows))
	for i := range rows {
		label, text, ok := strings.Cut(rows[i], "\t")
		m := strings.Split(meta[i], "\t")
		if !ok || len(m) < 5 || m[1] != label {
			t.Fatalf("hard row %d: bad row or meta", i+1)
		}
		out[i] = langidHard{
			langidSample: langidSample{want: label, text: text, from: "hard.tsv:" + strconv.Itoa(i+1)},
			category:     m[2],
			mixed:        m[3] != "",
			ambiguous:    m[4],
		}
	}
	return out
}
