package stages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"winnow/internal/testenv"
)

// TestLangIDPeakRSS runs the detector in a child process (this test
// binary) and reports the child's peak RSS: at start, after paragraphs of
// the nine default languages (lingua sees ≥ 120 characters and loads only
// trigram models), then after single sentences (short samples load the
// 1- to 5-gram models too), with lazily loaded and with preloaded models.
// A process with the detector loaded must stay far below 1 GB.
func TestLangIDPeakRSS(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a measurement; skipped with -short and -race")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads VmHWM from /proc")
	}
	testenv.SharedCorpora(t)
	var table strings.Builder
	table.WriteString("| models | at start | after paragraphs | after single sentences |\n|---|---|---|---|\n")
	for _, mode := range []string{"lazy", "preload"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLangIDPeakRSSChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WINNOW_LANGID_RSS="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child (%s): %v\n%s", mode, err, out)
		}
		kb := map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "langid-rss" {
				kb[f[1]], _ = strconv.Atoi(f[2])
			}
		}
		if kb["short"] == 0 {
			t.Fatalf("child (%s) printed no measurement:\n%s", mode, out)
		}
		fmt.Fprintf(&table, "| %s | %d MB | %d MB | %d MB |\n", mode, kb["start"]>>10, kb["long"]>>10, kb["short"]>>10)
		if kb["short"] > 1<<20 {
			t.Errorf("%s: peak RSS %d MB, want < 1 GB", mode, kb["short"]>>10)
		}
	}
	t.Logf("peak RSS (VmHWM) of a test process detecting with the default languages:\n%s", table.String())
}

// TestLangIDPeakRSSChild is the child of TestLangIDPeakRSS.
func TestLangIDPeakRSSChild(t *testing.T) {
	mode := os.Getenv("WINNOW_LANGID_RSS")
	if mode == "" {
		t.Skip("run by TestLangIDPeakRSS")
	}
	corpora := testenv.SharedCorpora(t)
	mojibake := langidMojibake(t, corpora)
	l := newTestLangID(t, func(o *LangIDOptions) { o.Preload = mode == "preload" })
	var sentences []langidSample
	for _, lang := range defaultLanguages {
		clean, _ := langidSentences(t, corpora, lang, mojibake)
		sentences = append(sentences, clean...)
	}
	fmt.Printf("langid-rss start %d\n", langidPeakRSS(t))
	langidRun(l, langidParagraphs(sentences, 200))
	fmt.Printf("langid-rss long %d\n", langidPeakRSS(t))
	langidRun(l, sentences)
	fmt.Printf("langid-rss short %d\n", langidPeakRSS(t))
}

// langidPeakRSS returns the process's peak resident set size in KiB.
func langidPeakRSS(t *testing.T) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("VmHWM: %v", err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
