package filters

import (
	"strings"
	"testing"
)

// fwLine is the i-th of many distinct lines: n filler words (English) or
// characters (Chinese), and end.
func fwLine(zh bool, i, n int, end string) string {
	if zh {
		return strings.Join(tuZhChars(i*n, n), "") + end
	}
	return strings.Join(tuEnWords(i*n, n), " ") + end
}

// fwLines makes n distinct lines of size words/characters; the first k end
// with endK, the others with end.
func fwLines(zh bool, n, size, k int, endK, end string) []string {
	var lines []string
	for i := range n {
		e := end
		if i < k {
			e = endK
		}
		lines = append(lines, fwLine(zh, i, size, e))
	}
	return lines
}

// fwShortLong makes short lines (3 words / 10 characters) then long lines
// (9 words / 35 characters), all distinct and ending a sentence.
func fwShortLong(zh bool, short, long int) string {
	stop := map[bool]string{false: ".", true: "。"}[zh]
	sizes := map[bool][2]int{false: {3, 9}, true: {10, 35}}[zh]
	var lines []string
	next := 0
	for i := range short + long {
		size := sizes[0]
		if i >= short {
			size = sizes[1]
		}
		var words []string
		if zh {
			words = tuZhChars(next, size)
		} else {
			words = tuEnWords(next, size)
		}
		next += size
		lines = append(lines, strings.Join(words, map[bool]string{false: " ", true: ""}[zh])+stop)
	}
	return strings.Join(lines, "\n")
}

// fwDup makes the short line D, p distinct lines of size words or
// characters, and D again.
func fwDup(zh bool, p, size int) string {
	stop := map[bool]string{false: ".", true: "。"}[zh]
	dup := map[bool]string{false: "Read more.", true: "阅读全文。"}[zh]
	lines := append([]string{dup}, fwLines(zh, p, size, 0, "", stop)...)
	return strings.Join(append(lines, dup), "\n")
}

// fwBlank makes 20 distinct long lines with p blank lines after the first.
func fwBlank(zh bool, p int) string {
	stop := map[bool]string{false: ".", true: "。"}[zh]
	lines := fwLines(zh, 20, map[bool]int{false: 8, true: 31}[zh], 0, "", stop)
	return lines[0] + strings.Repeat("\n", p+1) + strings.Join(lines[1:], "\n")
}

func TestFineWebRules(t *testing.T) {
	const f = "fineweb."
	j := func(lines []string) string { return strings.Join(lines, "\n") }
	cases := []tuRuleCase{
		// min_line_punct_ratio: en 0.12 (3 of 25 lines / 3 of 26), zh 0.106 (7 of 66 / 7 of 67).
		{name: "en 3 of 25 lines end a sentence", lang: "en", text: j(fwLines(false, 25, 8, 3, ".", "")), rule: "min_line_punct_ratio", near: 0.001},
		{name: "en 3 of 26 lines end a sentence", lang: "en", text: j(fwLines(false, 26, 8, 3, "?\"", " -")), rule: "min_line_punct_ratio", reason: f + "line_punct_ratio<0.12", near: 0.005},
		{name: "zh 7 of 66 lines end a sentence", lang: "zh", text: j(fwLines(true, 66, 31, 7, "。”", "，")), rule: "min_line_punct_ratio", near: 0.001},
		{name: "zh 7 of 67 lines end a sentence", lang: "zh", text: j(fwLines(true, 67, 31, 7, "！」", "")), rule: "min_line_punct_ratio", reason: f + "line_punct_ratio<0.106", near: 0.002},
		// max_short_line_ratio: en 0.67; zh 0.8 (measured; FineWeb-2 has it off).
		{name: "en 67 of 100 lines short", lang: "en", text: fwShortLong(false, 67, 33), rule: "max_short_line_ratio", near: 0.001},
		{name: "en 68 of 100 lines short", lang: "en", text: fwShortLong(false, 68, 32), rule: "max_short_line_ratio", reason: f + "short_line_ratio>0.67", near: 0.011},
		{name: "zh 80 of 100 lines short", lang: "zh", text: fwShortLong(true, 80, 20), rule: "max_short_line_ratio", near: 0.001},
		{name: "zh 81 of 100 lines short", lang: "zh", text: fwShortLong(true, 81, 19), rule: "max_short_line_ratio", reason: f + "short_line_ratio>0.8", near: 0.011},
		// max_char_duplicates_ratio: en 0.01, zh 0.1: one short line twice.
		{name: "en 10 duplicate characters in 1020", lang: "en", text: fwDup(false, 25, 8), rule: "max_char_duplicates_ratio", near: 0.001},
		{name: "en 10 duplicate characters in 980", lang: "en", text: fwDup(false, 24, 8), rule: "max_char_duplicates_ratio", reason: f + "char_duplicates_ratio>0.01", near: 0.001},
		{name: "zh 5 duplicate characters in 50", lang: "zh", text: fwDup(true, 1, 39), rule: "max_char_duplicates_ratio", near: 0.001},
		{name: "zh 5 duplicate characters in 49", lang: "zh", text: fwDup(true, 1, 38), rule: "max_char_duplicates_ratio", reason: f + "char_duplicates_ratio>0.1", near: 0.003},
		// max_new_line_ratio: en 0.3, zh 0.178: blank lines add newlines.
		{name: "en 54 newlines in 180 tokens", lang: "en", text: fwBlank(false, 35), rule: "max_new_line_ratio", near: 0.001},
		{name: "en 55 newlines in 180 tokens", lang: "en", text: fwBlank(false, 36), rule: "max_new_line_ratio", reason: f + "new_line_ratio>0.3", near: 0.006},
		{name: "zh 113 newlines in 640 tokens", lang: "zh", text: fwBlank(true, 94), rule: "max_new_line_ratio", near: 0.002},
		{name: "zh 114 newlines in 640 tokens", lang: "zh", text: fwBlank(true, 95), rule: "max_new_line_ratio", reason: f + "new_line_ratio>0.178", near: 0.001},
	}
	tuCheckRuleCases(t, FineWeb, cases, nil)
}

func TestFineWebSignals(t *testing.T) {
	c := FineWeb.NewComputer()
	// Lines: "Hello world." (ends), "  " (blank), "abc" (short, no end),
	// "abc" (duplicate, 3 characters), "他说：“好。”\r" (ends: CR and the
	// closing quote are looked through). 4 newlines; 12 tokens; 28
	// characters without newlines.
	text := "Hello world.\n  \nabc\nabc\n他说：“好。”\r"
	v := tuSignals(FineWeb, c, &Doc{Text: text})
	for name, want := range map[string]float64{
		"line_punct_ratio": 2.0 / 4, "short_line_ratio": 4.0 / 4, "char_duplicates_ratio": 3.0 / 28, "new_line_ratio": 4.0 / 12,
	} {
		if got := tuSignal(FineWeb, v, name); got-want > 1e-12 || want-got > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// A 30-character line is short, a 31-character one is not.
	v = tuSignals(FineWeb, c, &Doc{Text: strings.Repeat("字", 30) + "\n" + strings.Repeat("字", 31)})
	if got := tuSignal(FineWeb, v, "short_line_ratio"); got != 0.5 {
		t.Errorf("short_line_ratio = %v, want 0.5", got)
	}
	v = tuSignals(FineWeb, c, &Doc{Text: "\n \n"})
	for _, name := range []string{"line_punct_ratio", "short_line_ratio", "char_duplicates_ratio", "new_line_ratio"} {
		if x := tuSignal(FineWeb, v, name); x == x {
			t.Errorf("blank text: %s = %v, want NaN", name, x)
		}
	}
}

func TestFineWebRealDocs(t *testing.T) {
	tuCheckRealDocs(t, FineWeb, []tuRealCase{
		{"min_line_punct_ratio", "web/text-junk.jsonl", "zh-gne-list-163-1", "zh", "163.com news list page"},
		{"max_short_line_ratio", "web/text-junk.jsonl", "zh-gne-list-tieba-1", "zh", "Baidu tieba thread list"},
		{"max_char_duplicates_ratio", "web/text-junk.jsonl", "zh-gne-list-163-2", "zh", "163.com news list page"},
		{"max_new_line_ratio", "web/text-junk.jsonl", "en-sh-042bb7b5feda", "en", "WSJ page: menus around a paywall teaser"},
	})
}

func TestFineWebGolden(t *testing.T) { tuCheckGolden(t, FineWeb, "fineweb") }

func TestFineWebStage(t *testing.T) {
	reasons, punct := tuStageRun(t, FineWeb, "en", []string{"One line that ends.\nAnother line that also ends here.", "menu\nlogin\nhome"})
	if reasons[0] != "" || reasons[1] != "fineweb.line_punct_ratio<0.12" {
		t.Errorf("reasons %q", reasons)
	}
	if punct[0] != 1.0 || punct[1] != 0.0 {
		t.Errorf("fineweb_line_punct_ratio column %v", punct)
	}
}
