package stages

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

func TestScriptOf(t *testing.T) {
	for _, c := range []struct {
		r    rune
		want script
	}{
		{'a', scriptLatin}, {'Z', scriptLatin}, {'é', scriptLatin}, {'ß', scriptLatin},
		{'Ａ', scriptLatin}, // full-width Latin is still Latin
		{'1', scriptNone}, {'１', scriptNone}, {' ', scriptNone}, {'，', scriptNone},
		{'。', scriptNone}, {'「', scriptNone}, {'😀', scriptNone}, {'µ', scriptNone},
		{'\u0301', scriptNone}, // combining acute: Inherited, no script's letter
		{'\u3099', scriptNone}, // combining dakuten likewise
		{'中', scriptHan}, {'國', scriptHan}, {'々', scriptHan}, {'㐀', scriptHan},
		{'\U00020000', scriptHan}, // CJK Extension B
		{'\uF900', scriptHan},     // CJK compatibility ideograph (Korean Hanja in lingua's ko data)
		{'あ', scriptKana}, {'ア', scriptKana}, {'ｱ', scriptKana}, {'ゝ', scriptKana},
		{'ー', scriptKana}, // Common script, but only Japanese writes it
		{'ʻ', scriptNone}, // a Common-script modifier letter belongs to no language
		{'한', scriptHangul}, {'ㄱ', scriptHangul},
		{'ж', scriptCyrillic}, {'ع', scriptArabic}, {'ω', scriptGreek}, {'א', scriptHebrew},
		{'क', scriptDevanagari}, {'\u093F', scriptDevanagari}, // vowel sign i: a mark, counted with its script
		{'ก', scriptThai}, {'\u0E31', scriptThai},
		{'ა', scriptGeorgian}, {'Ա', scriptArmenian},
		{'ᚠ', scriptOther}, // Runic: a letter no language here writes
		{utf8.RuneError, scriptNone},
	} {
		if got := scriptOf(c.r); got != c.want {
			t.Errorf("scriptOf(%q U+%04X) = %v, want %v", c.r, c.r, got, c.want)
		}
	}
}

func TestScanLetters(t *testing.T) {
	// One Japanese line (kana) with its Han, one Chinese line, one Korean
	// line with Hanja, and Latin letters.
	zhLine := "北京市的常住人口约为两千一百万人，是中国人口最多的城市之一。" // 28 Han letters
	sc := scanLetters("東京の人口\n" + zhLine + "\n盧武鉉 대통령\nHello, world 123")
	if sc.ja != 5 || sc.zh != 28 || sc.ko != 6 || sc.letters[scriptLatin] != 10 || sc.total != 49 {
		t.Errorf("scan = ja %d zh %d ko %d latin %d total %d; want 5 28 6 10 49", sc.ja, sc.zh, sc.ko, sc.letters[scriptLatin], sc.total)
	}
	// In a mostly Japanese document a short kana-less line is Japanese too;
	// a long one stays Chinese.
	sc = scanLetters("第１条\nすべての人間は、生まれながらにして自由である。")
	if sc.zh != 0 || sc.ja != 23 {
		t.Errorf("Japanese document: zh %d ja %d, want 0 23", sc.zh, sc.ja)
	}
	sc = scanLetters("第１条\n" + zhLine)
	if sc.zh != 30 || sc.ja != 0 {
		t.Errorf("Chinese document: zh %d ja %d, want 30 0", sc.zh, sc.ja)
	}
	// A run of letters longer than a word is junk, not English.
	sc = scanLetters("see " + strings.Repeat("x", 100) + " here")
	if sc.junk != 100 || sc.letters[scriptLatin] != 7 {
		t.Errorf("junk run: junk %d latin %d, want 100 7", sc.junk, sc.letters[scriptLatin])
	}
	if sc := scanLetters("aaaaaaa bbbb"); sc.distinct != 2 {
		t.Errorf("distinct = %d, want 2", sc.distinct)
	}
}

func TestAppendSample(t *testing.T) {
	text := "Hello, 世界! This is a long-ish sentence " + strings.Repeat("x", 100) + " with words."
	got := string(appendSample(nil, text, scriptLatin, 1000))
	if want := "Hello This is a long ish sentence with words"; got != want {
		t.Errorf("sample = %q, want %q (runs over %d letters left out)", got, want, maxSampleWordRunes)
	}
	got = string(appendSample([]byte("keep"), "one two three four five", scriptLatin, 8))
	if got != "keepone two" {
		t.Errorf("bounded sample = %q, want %q (whole words, about 8 characters)", got, "keepone two")
	}
	// Decomposed Vietnamese (NFD, as in udhr/vi.txt) comes out composed.
	if got := string(appendSample(nil, "Đie\u0302\u0300u 1", scriptLatin, 100)); got != "Điều" {
		t.Errorf("NFD sample = %q, want %q", got, "Điều")
	}
	if got := appendSample(nil, "中文 123 !!", scriptLatin, 100); len(got) != 0 {
		t.Errorf("sample without Latin words = %q, want empty", got)
	}
}

func TestLangIDOptionErrors(t *testing.T) {
	const where = "cfg.yaml:7: stages[1].langid"
	for _, c := range []struct {
		edit func(*LangIDOptions)
		want string
	}{
		{func(o *LangIDOptions) { o.Languages = []string{"zh", "xx"} }, where + `.languages: unknown language "xx"`},
		{func(o *LangIDOptions) { o.AddLanguages = []string{"klingon"} }, where + `.add_languages: unknown language "klingon"`},
		{func(o *LangIDOptions) { o.Languages = nil }, where + ".languages: the language set is empty"},
		{func(o *LangIDOptions) { o.Keep = []string{"zh", "vi"} }, where + `.keep: "vi" is not in the language set`},
		{func(o *LangIDOptions) { o.MinConfidence = 1.5 }, where + ".min_confidence: 1.5 is outside 0..1"},
		{func(o *LangIDOptions) { o.SampleChars = 0 }, where + ".sample_chars: 0 is outside"},
		{func(o *LangIDOptions) { o.CJKWeight = 0 }, where + ".cjk_weight: 0 is outside"},
	} {
		opts := LangIDInfo.Defaults().(*LangIDOptions)
		c.edit(opts)
		_, err := LangIDInfo.New(opts, where)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("error = %v, want prefix %q", err, c.want)
		}
	}
	opts := LangIDInfo.Defaults().(*LangIDOptions)
	opts.AddLanguages = []string{"VI", "th"}
	opts.Keep = []string{"vi", "und"}
	if _, err := LangIDInfo.New(opts, where); err != nil {
		t.Errorf("add_languages vi, th with keep vi, und: %v", err)
	}
}

func TestLangIDPlan(t *testing.T) {
	def := newTestLangID(t, nil)
	p := def.plan
	if p.zh != "zh" || p.ja != "ja" || p.ko != "ko" || p.decided[scriptCyrillic] != "ru" || p.decided[scriptArabic] != "ar" ||
		!p.viaLingua[scriptLatin] || p.viaLingua[scriptCyrillic] || p.viaLingua[scriptArabic] {
		t.Errorf("default plan: %+v", p)
	}
	if got := codesOf(def.lingua.langs); got != "de en es fr" {
		t.Errorf("lingua languages = %q, want the Latin-script ones only", got)
	}
	// Persian configured: Arabic script is no longer ar by itself.
	fa := newTestLangID(t, func(o *LangIDOptions) { o.AddLanguages = []string{"fa"} })
	if fa.plan.decided[scriptArabic] != "" || !fa.plan.viaLingua[scriptArabic] {
		t.Errorf("with fa: Arabic script decided %q, via lingua %v", fa.plan.decided[scriptArabic], fa.plan.viaLingua[scriptArabic])
	}
	// One language per script: lingua is never needed, and a closed set
	// names the only candidate (lingua would answer the same).
	zhen := newTestLangID(t, func(o *LangIDOptions) { o.Languages = []string{"zh", "en"} })
	if zhen.lingua != nil {
		t.Errorf("zh+en built a lingua detector")
	}
	if res, _ := zhen.detect("Bonjour à tous, comment allez-vous ?", nil); res.lang != "en" || res.how != viaScript {
		t.Errorf("zh+en on French: %+v, want en by script", res)
	}
	// Without zh, Han text goes to ja; without ja, kana is und.
	ja := newTestLangID(t, func(o *LangIDOptions) { o.Languages = []string{"ja", "en", "fr"} })
	if res, _ := ja.detect("世界人権宣言", nil); res.lang != "ja" {
		t.Errorf("ja set on Han-only text: %+v, want ja", res)
	}
	zh := newTestLangID(t, func(o *LangIDOptions) { o.Languages = []string{"zh", "en", "fr"} })
	if res, _ := zh.detect("すべての人間は", nil); res.lang != langUnd || res.how != undScript {
		t.Errorf("zh set on kana: %+v, want und (und_script)", res)
	}
}

func TestLangIDSharedDetector(t *testing.T) {
	a := newTestLangID(t, nil)
	b := newTestLangID(t, func(o *LangIDOptions) { o.Languages = []string{"ar", "es", "de", "fr", "en", "ru", "ko", "ja", "zh"} })
	c := newTestLangID(t, func(o *LangIDOptions) { o.AddLanguages = []string{"it"} })
	if a.lingua != b.lingua {
		t.Errorf("the same language set in another order got a second detector")
	}
	if a.lingua == c.lingua {
		t.Errorf("a different language set shares a detector")
	}
}

func TestLangIDBadInput(t *testing.T) {
	l := newTestLangID(t, nil)
	// 50 MB; the race detector makes one pass over that take seconds.
	size := 50 << 20
	if raceEnabled {
		size = 4 << 20
	}
	big := func(s string) string { return strings.Repeat(s, size/len(s)) }
	for _, c := range []struct {
		name, text string
		lang, how  string
	}{
		{"empty", "", langUnd, undNoLetters},
		{"white space", " \n\t\r\n ", langUnd, undNoLetters},
		{"punctuation", "!!!，。？…—「」【】()[]{}<>@#$%^&*", langUnd, undNoLetters},
		{"digits", "2024-01-01 12:34:56 +0800 3.14159", langUnd, undNoLetters},
		{"emoji", "😀😂👍🏽🇨🇳❤️‍🔥✨", langUnd, undNoLetters},
		{"invalid UTF-8 and surrogates", "\xff\xfe\xed\xa0\x80\xed\xbf\xbf\xc0\xaf", langUnd, undNoLetters},
		{"50 MB of one Han character", big("好"), langUnd, undDegenerate},
		{"50 MB of one Latin letter", big("a"), langUnd, undDegenerate},
		{"50 MB of two letters and spaces", big("ab "), langUnd, undDegenerate},
		{"short repeat is still language", "哈哈哈", "zh", viaScript},
		{"a run of one letter after a sentence", "This is an English sentence. " + big("a"), langUnd, undDegenerate},
		{"50 MB of one Cyrillic letter, spaced", big("я "), langUnd, undDegenerate},
		{"a short run in real text", "This is an English sentence about the weather today. " + strings.Repeat("z", 80) + " It will be sunny in the morning and rainy in the afternoon, as it often is in spring.", "en", viaLingua},
	} {
		start := time.Now()
		res, _ := l.detect(c.text, nil)
		took := time.Since(start)
		if res.lang != c.lang || res.how != c.how {
			t.Errorf("%s: got %s (%s), want %s (%s)", c.name, res.lang, res.how, c.lang, c.how)
		}
		// Speed is for benchmarks, not timed tests (a loaded CI machine
		// would fail them); a hang shows as the test binary's timeout.
		t.Logf("%s: %v", c.name, took.Round(time.Millisecond))
	}
}

func TestLangIDMix(t *testing.T) {
	l := newTestLangID(t, nil)
	// The same UDHR article in Chinese and in English: half and half by
	// content. The English has ~3.2 letters per Chinese character, hence
	// cjk_weight 3.
	zh := "人人生而自由,在尊严和权利上一律平等。他们赋有理性和良心,并应以兄弟关系的精神相对待。"
	en := "All human beings are born free and equal in dignity and rights. They are endowed with reason and conscience and should act towards one another in a spirit of brotherhood."
	res, _ := l.detect(zh+"\n"+en, nil)
	if res.mix < 0.4 || res.mix > 0.6 {
		t.Errorf("half zh, half en: %+v, want mix ≈ 0.5", res)
	}
	// Counted letter for letter (cjk_weight 1) the English dominates.
	one := newTestLangID(t, func(o *LangIDOptions) { o.CJKWeight = 1 })
	if res, _ := one.detect(zh+"\n"+en, nil); res.lang != "en" || res.mix < 0.7 {
		t.Errorf("cjk_weight 1: %+v, want en with mix > 0.7", res)
	}
	for _, c := range []struct {
		text   string
		lang   string
		lo, hi float64
	}{
		{zh, "zh", 1, 1},
		{zh + zh + zh + "\nsee https://example.org", "zh", 0.9, 0.99},
		// A Japanese paragraph and a Chinese sentence: the Chinese line stays Chinese.
		{"東京都の人口は約1400万人で、日本の総人口の一割以上が住んでいます。\n北京市的常住人口约为两千一百万人，是中国人口最多的城市之一。", "ja", 0.5, 0.6},
		{"", langUnd, 0, 0},
	} {
		res, _ := l.detect(c.text, nil)
		if res.lang != c.lang || res.mix < c.lo || res.mix > c.hi {
			t.Errorf("%.40q: got %s mix %.3f, want %s mix in [%g, %g]", c.text, res.lang, res.mix, c.lang, c.lo, c.hi)
		}
	}
}

// TestLangIDProcess checks the columns, the nulls on rows dropped before,
// the keep drops, the counters and that every Arrow buffer is released.
func TestLangIDProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	texts := []string{
		"人人生而自由，在尊嚴和權利上一律平等。",
		"All human beings are born free and equal in dignity and rights.",
		"すべての人間は、生まれながらにして自由である。",
		"dropped before langid",
		"",
	}
	docs := make([]pipeline.Doc, len(texts))
	sources := make([]string, len(texts))
	for i, s := range texts {
		docs[i] = pipeline.Doc{Text: s, Offset: int64(i)}
		sources[i] = "test.jsonl"
	}
	b := pipeline.NewBatch(mem, 0, docs, sources, false)
	defer b.Release()
	b.Drop(3, "length", "length.chars<100")

	st, err := LangIDInfo.New(&LangIDOptions{Languages: defaultLanguages, Keep: []string{"zh", "ja"}, SampleChars: 400, CJKWeight: 3}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	langs := b.Column("lang").(*array.String)
	scores := b.Column("lang_score").(*array.Float64)
	mixes := b.Column("lang_mix").(*array.Float64)
	want := []string{"zh", "en", "ja", "", langUnd}
	for i, w := range want {
		if i == 3 {
			if !langs.IsNull(i) || !scores.IsNull(i) || !mixes.IsNull(i) {
				t.Errorf("row dropped before: columns not null")
			}
			continue
		}
		if got := langs.Value(i); got != w {
			t.Errorf("row %d: lang %s, want %s", i, got, w)
		}
	}
	if scores.Value(0) != 1 || mixes.Value(0) != 1 || scores.Value(1) <= 0.5 || scores.Value(4) != 0 || mixes.Value(4) != 0 {
		t.Errorf("scores %v, mixes %v", scores, mixes)
	}
	for i, alive := range []bool{true, false, true, false, false} {
		if b.Alive(i) != alive {
			t.Errorf("row %d alive = %v, want %v (%+v)", i, b.Alive(i), alive, b.DropOf(i))
		}
	}
	if d := b.DropOf(1); d.Stage != "langid" || d.Reason != "lang_not_kept" {
		t.Errorf("row 1 drop = %+v, want langid / lang_not_kept", d)
	}
	if d := b.DropOf(3); d.Stage != "length" {
		t.Errorf("row 3 keeps its first drop: %+v", d)
	}
	// The same stage again on the same batch: columns are replaced, not added.
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if n := len(b.Fields()); n != 7 {
		t.Errorf("%d columns after two runs, want 4 core + 3", n)
	}
}

func TestLangIDCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := pipeline.NewBatch(memory.NewGoAllocator(), 0, []pipeline.Doc{{Text: "hello"}}, []string{"x"}, false)
	defer b.Release()
	if err := newTestLangID(t, nil).Process(ctx, b); err != context.Canceled {
		t.Errorf("Process on a cancelled context = %v, want context.Canceled", err)
	}
}

func langidSmokeRows(t *testing.T) []langidSample {
	t.Helper()
	path := filepath.Join("testdata", "langid", "smoke.tsv")
	var rows []langidSample
	for i, line := range langidLines(t, path) {
		label, text, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s:%d: no tab", path, i+1)
		}
		rows = append(rows, langidSample{want: label, text: text, from: "smoke.tsv:" + strconv.Itoa(i+1)})
	}
	return rows
}

// TestLangIDSmokeAccuracy is the small accuracy test that also runs under
// -race: UDHR lines in the nine default languages, and eight goroutines
// sharing one detector on long English texts, the case where lingua uses
// shopspring/decimal's shared cache (which raced before decimal v1.6.0).
func TestLangIDSmokeAccuracy(t *testing.T) {
	rows := langidSmokeRows(t)
	l := newTestLangID(t, func(o *LangIDOptions) { o.SampleChars = 2000 })
	if got := langidRun(l, rows); got.ok != got.n {
		t.Errorf("smoke rows: %v; first failures: %v", got, got.first)
	}
	var long []langidSample
	for _, r := range rows {
		if r.want == "en" && utf8.RuneCountInString(r.text) >= 500 {
			long = append(long, r)
		}
	}
	if len(long) < 4 {
		t.Fatalf("only %d long English rows", len(long))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Go(func() {
			var buf []byte
			for k := range 3 {
				r := long[(g+k)%len(long)]
				var res langResult
				res, buf = l.detect(r.text, buf)
				if res.lang != "en" || res.how != viaLingua {
					errs <- r.from + ": " + res.lang + " (" + res.how + ")"
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent detection: %s", e)
	}
}

// TestLangIDDeterministic: the same text gives the same verdict every time,
// though lingua adds its log-probabilities in map order (lang_score is
// rounded for that).
func TestLangIDDeterministic(t *testing.T) {
	l := newTestLangID(t, nil)
	for _, r := range langidSmokeRows(t) {
		first, _ := l.detect(r.text, nil)
		for range 5 {
			if again, _ := l.detect(r.text, nil); again != first {
				t.Fatalf("%s: %+v then %+v", r.from, first, again)
			}
		}
	}
}

// TestLangIDWebPages labels the shared corpora's raw web pages (Chinese and
// English news pages with their navigation and footers) by their id prefix.
func TestLangIDWebPages(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under -race")
	}
	corpora := testenv.SharedCorpora(t)
	l := newTestLangID(t, nil)
	for _, file := range []string{"text-junk.jsonl", "text-clean.jsonl"} {
		var tally langidTally
		for _, doc := range langidJSONL(t, filepath.Join(corpora, "web", file), "") {
			want, _, _ := strings.Cut(strings.TrimPrefix(doc.from, file+" "), "-") // ids are zh-… and en-…
			res, _ := l.detect(doc.text, nil)
			doc.want = want
			tally.add(doc, res.lang)
		}
		t.Logf("web/%s: %v", file, tally)
		langidCheck(t, "web/"+file, tally, 99)
	}
}

// TestLangIDConfig builds the stage from YAML as a run does: options over
// the defaults, and errors that name the file, line and key.
func TestLangIDConfig(t *testing.T) {
	reg := pipeline.NewRegistry()
	reg.Register(LangIDInfo)
	cfg, err := pipeline.ParseConfig([]byte("stages:\n  - langid: {keep: [zh, en], add_languages: [vi]}\n  - langid\n"), "ok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stages, resolved, err := reg.Build(cfg.Stages)
	if err != nil || len(stages) != 2 {
		t.Fatalf("build: %v", err)
	}
	got := resolved[0].(*LangIDOptions)
	if len(got.Languages) != len(defaultLanguages) || got.SampleChars != 400 || got.AddLanguages[0] != "vi" {
		t.Errorf("resolved options %+v: defaults not kept under the config's keys", got)
	}
	if !stages[0].(*LangID).plan.viaLingua[scriptLatin] || stages[1].(*LangID).keep != nil {
		t.Errorf("built stages differ from their options")
	}
	cfg, err = pipeline.ParseConfig([]byte("stages:\n  - length\n  - langid:\n      languages: [zh, english]\n"), "bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = reg.Build(cfg.Stages)
	if want := `bad.yaml:3: stages[1].langid.languages: unknown language "english"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to contain %q", err, want)
	}
}
