package filters

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Sentence lines for the c4 cases: five or more words, a full stop.
var (
	c4EnSentences = []string{
		"The committee met on Monday to discuss the budget.",
		"Several members asked for more time to read the report.",
		"The chair agreed and moved the vote to next week.",
		"Local newspapers covered the meeting in some detail.",
		"Residents may send their comments by post or email.",
		"A final decision is expected before the end of the month.",
	}
	c4ZhSentences = []string{
		"委员会星期一开会讨论了明年的预算。",
		"几位委员要求给更多时间阅读报告。",
		"主席同意把表决推迟到下个星期。",
		"本地报纸比较详细地报道了这次会议。",
		"居民可以通过邮件或者信件提出意见。",
		"最终决定预计在月底之前作出。",
	}
)

func c4Doc(lines ...[]string) string { return strings.Join(tuCat(lines...), "\n") }

func TestC4Rules(t *testing.T) {
	const f = "c4."
	en, zh := c4EnSentences, c4ZhSentences
	five := func(s []string) []string { return s[:5] }
	enNav := func(n int) []string { return tuRepeat("Home", n) }
	zhNav := func(n int) []string { return tuRepeat("首页", n) }
	cases := []tuRuleCase{
		// max_lorem_ipsum 0: only lines that survive C4's line rules count.
		{name: "en lorem ipsum in a removed line", lang: "en", text: c4Doc(five(en), []string{"lorem ipsum dolor sit amet"}), rule: "max_lorem_ipsum"},
		{name: "en lorem ipsum in a kept line", lang: "en", text: c4Doc(five(en), []string{"Lorem Ipsum dolor sit amet."}), rule: "max_lorem_ipsum", reason: f + "lorem_ipsum>0"},
		{name: "zh lorem ipsum in a removed line", lang: "zh", text: c4Doc(five(zh), []string{"lorem ipsum 占位文本"}), rule: "max_lorem_ipsum"},
		{name: "zh lorem ipsum in a kept line", lang: "zh", text: c4Doc(five(zh), []string{"页面里还留着 Lorem ipsum 占位文本。"}), rule: "max_lorem_ipsum", reason: f + "lorem_ipsum>0"},
		// max_curly_bracket 0.
		{name: "en { in a line of two words", lang: "en", text: c4Doc(five(en), []string{"{name} here."}), rule: "max_curly_bracket"},
		{name: "en { in a kept line", lang: "en", text: c4Doc(five(en), []string{"Write {name} in the template."}), rule: "max_curly_bracket", reason: f + "curly_bracket>0"},
		{name: "zh { in a line without a full stop", lang: "zh", text: c4Doc(five(zh), []string{"function(){return 1}"}), rule: "max_curly_bracket"},
		{name: "zh { in a kept line", lang: "zh", text: c4Doc(five(zh), []string{"在模板中写{name}作为占位符。"}), rule: "max_curly_bracket", reason: f + "curly_bracket>0"},
		// min_sentences 5.
		{name: "en 5 sentences", lang: "en", text: c4Doc(five(en)), rule: "min_sentences", near: 0.5},
		{name: "en 4 sentences", lang: "en", text: c4Doc(en[:4], []string{"Menu", "Share this"}), rule: "min_sentences", reason: f + "sentences<5", near: 1},
		{name: "zh 5 sentences in one line", lang: "zh", text: "今天下雨。我们在家。读书写字。喝茶聊天。早点休息！", rule: "min_sentences", near: 0.5},
		{name: "zh 4 sentences", lang: "zh", text: "今天下雨。我们在家。读书写字。喝茶聊天，早点休息！", rule: "min_sentences", reason: f + "sentences<5", near: 1},
		// max_removed_lines_frac 0.9.
		{name: "en 9 of 10 lines removed", lang: "en", text: c4Doc(enNav(9), []string{strings.Join(five(en), " ")}), rule: "max_removed_lines_frac", near: 0.001},
		{name: "en 10 of 11 lines removed", lang: "en", text: c4Doc(enNav(10), []string{strings.Join(five(en), " ")}), rule: "max_removed_lines_frac", reason: f + "removed_lines_frac>0.9", near: 0.01},
		{name: "zh 9 of 10 lines removed", lang: "zh", text: c4Doc(zhNav(9), []string{strings.Join(five(zh), "")}), rule: "max_removed_lines_frac", near: 0.001},
		{name: "zh 10 of 11 lines removed", lang: "zh", text: c4Doc(zhNav(10), []string{strings.Join(five(zh), "")}), rule: "max_removed_lines_frac", reason: f + "removed_lines_frac>0.9", near: 0.01},
	}
	tuCheckRuleCases(t, C4, cases, nil)
}

// TestC4Lines checks the per-line rules, CJK-aware words and line ends.
func TestC4Lines(t *testing.T) {
	c := C4.NewComputer()
	long := strings.Repeat("中文句子没有空格", 130) + "。" // 1041 characters, one white-space field
	tests := []struct {
		name                           string
		text                           string
		sentences, js, policy, removed float64
	}{
		{"kept sentence lines", "One two three.\nFour five six!", 2, 0, 0, 0},
		{"no sentence end, too few words, ellipsis", "One two three\nOne two.\nOne two three...\nA b c…", 0, 0, 0, 1},
		{"quotes and citations", "He said \"one two three\"\nIt is so.[1]\nAs noted [citation needed]", 2, 0, 0, 1.0 / 3},
		{"javascript and policy lines", "Please enable JavaScript to view this.\nRead our Privacy Policy first.\nThis site uses cookies today.\nA normal sentence here.", 1, 1, 2, 0.75},
		{"Chinese line ends", "他说：“走吧。”\n「好的，我们出发。」\n第一章　总则\n未完待续……\n这是一个问题？）", 3, 0, 0, 0.4},
		{"Chinese words are characters", "好的。\n走。\n你好吗？", 1, 0, 0, 2.0 / 3},
		{"a long Chinese paragraph is no long word", long, 1, 0, 0, 0},
		{"a 1001-letter word removes its line", strings.Repeat("x", 1001) + " a b.", 0, 0, 0, 1},
		{"blank lines do not count", "\n  \nOne two three.\n\u3000\n", 1, 0, 0, 0},
	}
	for _, tc := range tests {
		v := tuSignals(C4, c, &Doc{Text: tc.text})
		got := []float64{tuSignal(C4, v, "sentences"), tuSignal(C4, v, "javascript_lines"), tuSignal(C4, v, "policy_lines"), tuSignal(C4, v, "removed_lines_frac")}
		want := []float64{tc.sentences, tc.js, tc.policy, tc.removed}
		for i := range got {
			if d := got[i] - want[i]; d > 1e-12 || d < -1e-12 {
				t.Errorf("%s: signals (sentences, javascript, policy, removed) %v, want %v", tc.name, got, want)
				break
			}
		}
	}
	v := tuSignals(C4, c, &Doc{Text: ""})
	if x := tuSignal(C4, v, "removed_lines_frac"); x == x {
		t.Errorf("empty text: removed_lines_frac = %v, want NaN", x)
	}
}

func TestC4RealDocs(t *testing.T) {
	tuCheckRealDocs(t, C4, []tuRealCase{
		{"max_lorem_ipsum", "web/text-clean.jsonl", "en-mhf-f297ca438db7", "en", "forum thread with a lorem ipsum post"},
		{"max_curly_bracket", "web/text-junk.jsonl", "zh-gne-sina-3", "zh", "sina page with leftover script/CSS in its text"},
		{"min_sentences", "web/text-junk.jsonl", "zh-gne-list-netease_forum-1", "zh", "NetEase forum list page"},
		{"max_removed_lines_frac", "web/text-junk.jsonl", "zh-gne-list-163-1", "zh", "163.com news list page"},
	})
}

func TestC4Golden(t *testing.T) { tuCheckGolden(t, C4, "c4") }

func TestC4Stage(t *testing.T) {
	reasons, sentences := tuStageRun(t, C4, "zh", []string{strings.Join(c4ZhSentences, "\n"), "首页\n新闻"})
	if reasons[0] != "" || reasons[1] != "c4.sentences<5" {
		t.Errorf("reasons %q", reasons)
	}
	if sentences[0] != 6.0 || sentences[1] != 0.0 {
		t.Errorf("c4_sentences column %v", sentences)
	}
}

func TestC4Sentences(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int
	}{
		{"", 0},
		{"。。", 0},
		{"今天天气很好。我们去公园吧！好不好？", 3},
		{"他说：“走吧。”然后走了。", 2},
		{"没有句号的一行", 1},
		{"Pi is 3.14 and U.S.A is big. Next one!", 2},
		{"Visit example.com today.", 1},
		{"What?! Really...", 2},
		{"他说「好。」", 1},
	} {
		if got := c4ScanLine(tc.line).sentences; got != tc.want {
			t.Errorf("sentences of %q = %d, want %d", tc.line, got, tc.want)
		}
	}
}

// c4ReferenceWords and c4ReferenceSentences are the two passes
// c4ScanLine makes one, written plainly.
func c4ReferenceWords(s string) (n, longest int) {
	var cjk bool
	for _, r := range s {
		cjk = cjk || tuIsCJKRune(r)
	}
	if !cjk {
		for f := range strings.FieldsFuncSeq(s, tuIsSpace) {
			n++
			longest = max(longest, utf8.RuneCountInString(f))
		}
		return n, longest
	}
	word := 0
	end := func() {
		if word > 0 {
			n++
			longest = max(longest, word)
		}
		word = 0
	}
	for _, r := range s {
		switch c := tuClass(r); {
		case c&tuCCJK != 0:
			end()
			n++
			longest = max(longest, 1)
		case c&(tuCLetter|tuCNumber|tuCMark) == 0:
			end()
		default:
			word++
		}
	}
	end()
	return n, longest
}

func c4ReferenceSentences(line string) int {
	rs := []rune(line)
	n, content := 0, false
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if !tuIsSentenceEnd(r) {
			content = content || unicode.IsLetter(r) || unicode.IsNumber(r)
			continue
		}
		if r == '.' && i+1 < len(rs) && rs[i+1] < utf8.RuneSelf && !tuIsSpace(rs[i+1]) && !tuIsCloser(rs[i+1]) && !tuIsSentenceEnd(rs[i+1]) {
			continue // 3.14, U.S.A
		}
		for i+1 < len(rs) && (tuIsSentenceEnd(rs[i+1]) || tuIsCloser(rs[i+1])) {
			i++
		}
		if content {
			n++
			content = false
		}
	}
	if content {
		n++
	}
	return n
}

// TestC4ScanLineMatchesReference checks the one-pass line scan against the
// plain passes on every line of the shared corpora and on random lines of
// sentence ends, closers, dots, digits, letters and CJK.
func TestC4ScanLineMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "Z", "1", ".", ".", "!", "?", "。", "！", "”", "」", ")", " ", "\u3000", "中", "か", "é", "\u0301", "…", "-", "#", "١"}
	var lines []string
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		lines = append(lines, tuTrim(sb.String()))
	}
	if !testing.Short() {
		for _, set := range []string{"zh-prose", "zh-laws", "text-junk", "medicalgpt"} {
			for _, d := range zhCorpus(t, set) {
				for l := range strings.SplitSeq(d.text, "\n") {
					lines = append(lines, tuTrim(l))
				}
			}
		}
	}
	for _, l := range lines {
		got := c4ScanLine(l)
		words, longest := c4ReferenceWords(l)
		ascii := strings.ContainsFunc(l, func(r rune) bool { return r < utf8.RuneSelf && unicode.IsLetter(r) })
		if want := (c4Line{words, longest, c4ReferenceSentences(l), ascii}); got != want {
			t.Fatalf("%q: %+v, reference %+v", l, got, want)
		}
	}
}
