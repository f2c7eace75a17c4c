package stages

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/pemistahl/lingua-go"

	"winnow/pipeline"
)

// LangIDOptions configure the langid stage.
type LangIDOptions struct {
	Languages     []string `yaml:"languages" doc:"languages to tell apart (ISO 639-1 codes lingua knows); text in another language gets the closest of these, or und"`
	AddLanguages  []string `yaml:"add_languages" doc:"languages added to 'languages', e.g. [vi, th], to extend the default set without repeating it"`
	MinConfidence float64  `yaml:"min_confidence" doc:"lingua confidence (0-1, relative to the other configured languages of the same script) below which lang is und; script decisions score 1; 0 = take lingua's best guess"`
	Keep          []string `yaml:"keep" doc:"keep only documents whose lang is listed (und may be listed); the others are dropped as lang_not_kept; empty = keep all"`
	SampleChars   int      `yaml:"sample_chars" doc:"lingua sees at most about this many characters of a document: its first words in the script to decide, cut at a word boundary"`
	CJKWeight     float64  `yaml:"cjk_weight" doc:"weight of one Han, kana or hangul character against one alphabetic letter when choosing lang and computing lang_mix (a translation has ~3 letters per Chinese character)"`
	Preload       bool     `yaml:"preload" doc:"load all of lingua's models for the languages at its first use (~1 s, ~245 MB) instead of each model when text first needs it (~60 MB on long documents)"`
}

// defaultLanguages is the language set of a langid stage with no languages key.
var defaultLanguages = []string{"zh", "en", "ja", "ko", "ru", "fr", "de", "es", "ar"}

// LangIDInfo registers the langid stage.
var LangIDInfo = pipeline.StageInfo{
	Name: "langid",
	Doc:  "language identification: a script pre-classifier, lingua for alphabetic text (columns lang, lang_score, lang_mix)",
	Defaults: func() any {
		return &LangIDOptions{
			Languages:     slices.Clone(defaultLanguages),
			MinConfidence: 0,
			SampleChars:   400,
			CJKWeight:     3,
		}
	},
	New: func(o any, where string) (pipeline.Stage, error) {
		return newLangID(*o.(*LangIDOptions), where)
	},
}

// LangID identifies each document's language.
//
// Most documents never reach lingua. One pass over the text counts letters
// per script (digits, punctuation, symbols and emoji are not letters), and
// a script that only one configured language writes decides by itself: Han
// is zh, kana ja, hangul ko, and with the default set Cyrillic is ru and
// Arabic ar. Han letters are attributed per segment (line or sentence):
// beside kana they are Japanese, beside hangul Korean. Only when the
// heaviest share of a document is in a script that several configured
// languages share (Latin by default; Arabic once fa or ur is configured)
// does lingua see a sample of that script's words, at most sample_chars
// characters, through one detector per language set shared by the process.
//
// Columns, null on rows dropped before the stage: lang (ISO 639-1, und when
// undetermined), lang_score (1 for a script decision, lingua's confidence
// otherwise, 0 for und without a guess) and lang_mix (the share of the
// document's letters, CJK ones weighing cjk_weight, in the top language;
// every letter of a lingua-decided script counts as that one language).
// Counters: how each document was decided (by_script, by_lingua, und_*)
// and lang_<code> per language.
type LangID struct {
	opts   LangIDOptions
	plan   langPlan
	keep   map[string]bool // nil: keep all
	lingua *sharedLingua   // nil when no script needs lingua
}

var _ pipeline.Stage = (*LangID)(nil)

// Name implements pipeline.Stage.
func (l *LangID) Name() string { return "langid" }

func newLangID(opts LangIDOptions, where string) (*LangID, error) {
	switch {
	case opts.MinConfidence < 0 || opts.MinConfidence > 1:
		return nil, fmt.Errorf("%s.min_confidence: %g is outside 0..1", where, opts.MinConfidence)
	case opts.SampleChars < 10 || opts.SampleChars > 1<<20:
		return nil, fmt.Errorf("%s.sample_chars: %d is outside 10..%d", where, opts.SampleChars, 1<<20)
	case !(opts.CJKWeight > 0 && opts.CJKWeight <= 100):
		return nil, fmt.Errorf("%s.cjk_weight: %g is outside (0, 100]", where, opts.CJKWeight)
	}
	langs, err := parseLanguages(opts.Languages, where+".languages")
	if err != nil {
		return nil, err
	}
	added, err := parseLanguages(opts.AddLanguages, where+".add_languages")
	if err != nil {
		return nil, err
	}
	langs = append(langs, added...)
	slices.Sort(langs)
	langs = slices.Compact(langs)
	if len(langs) == 0 {
		return nil, fmt.Errorf("%s.languages: the language set is empty", where)
	}
	l := &LangID{opts: opts}
	var needLingua []lingua.Language
	l.plan, needLingua = planLanguages(langs)
	if len(needLingua) > 0 {
		l.lingua = sharedDetector(needLingua, opts.Preload)
	}
	if len(opts.Keep) > 0 {
		l.keep = map[string]bool{}
		for _, k := range opts.Keep {
			k = strings.ToLower(k)
			if k != langUnd && !slices.ContainsFunc(langs, func(x lingua.Language) bool { return linguaCode(x) == k }) {
				return nil, fmt.Errorf("%s.keep: %q is not in the language set (%s) nor %q", where, k, codesOf(langs), langUnd)
			}
			l.keep[k] = true
		}
	}
	return l, nil
}

// parseLanguages maps ISO 639-1 codes to lingua languages; key names the
// option in errors.
func parseLanguages(codes []string, key string) ([]lingua.Language, error) {
	out := make([]lingua.Language, 0, len(codes))
	for _, c := range codes {
		l, ok := linguaLanguage(strings.ToLower(strings.TrimSpace(c)))
		if !ok {
			return nil, fmt.Errorf("%s: unknown language %q; lingua knows the ISO 639-1 codes %s", key, c, linguaCodes())
		}
		out = append(out, l)
	}
	return out, nil
}

// codesOf lists the languages' codes, sorted, for messages.
func codesOf(langs []lingua.Language) string {
	codes := make([]string, len(langs))
	for i, l := range langs {
		codes[i] = linguaCode(l)
	}
	slices.Sort(codes)
	return strings.Join(codes, " ")
}

// planLanguages decides, per script, whether its letters name a language by
// themselves or need lingua, and returns the languages lingua must know.
func planLanguages(langs []lingua.Language) (langPlan, []lingua.Language) {
	var p langPlan
	byScript := map[script][]lingua.Language{}
	for _, l := range langs {
		switch s := linguaScript(l); s {
		case scriptHan:
			p.zh = linguaCode(l)
		case scriptKana:
			p.ja = linguaCode(l)
		case scriptHangul:
			p.ko = linguaCode(l)
		default:
			byScript[s] = append(byScript[s], l)
		}
	}
	if p.zh == "" {
		p.zh = p.ja // Han without kana is still Japanese when Chinese is not an option
	}
	var needLingua []lingua.Language
	for s, ls := range byScript {
		if len(ls) == 1 {
			p.decided[s] = linguaCode(ls[0])
			continue
		}
		p.viaLingua[s] = true
		needLingua = append(needLingua, ls...)
	}
	slices.Sort(needLingua)
	return p, needLingua
}

// Process sets lang, lang_score and lang_mix on every alive row (null on
// rows dropped before) and drops alive rows whose lang is not kept.
func (l *LangID) Process(ctx context.Context, b *pipeline.Batch) error {
	texts := b.Texts()
	mem := b.Allocator()
	langs := array.NewStringBuilder(mem)
	scores := array.NewFloat64Builder(mem)
	mixes := array.NewFloat64Builder(mem)
	defer langs.Release()
	defer scores.Release()
	defer mixes.Release()
	var sample []byte
	hows := map[string]int64{}    // how each document was decided
	perLang := map[string]int64{} // documents per lang
	for i := 0; i < b.Len(); i++ {
		if !b.Alive(i) {
			langs.AppendNull()
			scores.AppendNull()
			mixes.AppendNull()
			continue
		}
		// lingua may take a millisecond a document: notice cancellation.
		if i%32 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var res langResult
		res, sample = l.detect(texts.Value(i), sample)
		langs.Append(res.lang)
		scores.Append(res.score)
		mixes.Append(res.mix)
		hows[res.how]++
		perLang[res.lang]++
		if l.keep != nil && !l.keep[res.lang] {
			b.Drop(i, "langid", "lang_not_kept")
		}
	}
	for _, how := range slices.Sorted(maps.Keys(hows)) {
		b.AddCount(how, hows[how])
	}
	for _, lang := range slices.Sorted(maps.Keys(perLang)) {
		b.AddCount("lang_"+lang, perLang[lang])
	}
	fields := [...]arrow.Field{
		{Name: "lang", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "lang_score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "lang_mix", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}
	cols := [...]arrow.Array{langs.NewArray(), scores.NewArray(), mixes.NewArray()}
	for j, f := range fields {
		if err := b.SetColumn(f, cols[j]); err != nil {
			for _, c := range cols[j:] {
				c.Release()
			}
			return fmt.Errorf("langid: %w", err)
		}
	}
	return nil
}

// detect decides one document. sample is scratch space for lingua's
// sample, returned for reuse.
func (l *LangID) detect(text string, sample []byte) (langResult, []byte) {
	sc := scanLetters(text)
	res, s := l.plan.decide(&sc, l.opts.CJKWeight)
	if s == scriptNone {
		return res, sample
	}
	sample = appendSample(sample[:0], text, s, l.opts.SampleChars)
	code, conf, ok := l.lingua.detect(string(sample))
	return res.withLingua(code, conf, ok, l.opts.MinConfidence), sample
}
