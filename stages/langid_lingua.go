package stages

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pemistahl/lingua-go"
)

// linguaLanguage returns lingua's language for a lowercase ISO 639-1 code.
func linguaLanguage(code string) (lingua.Language, bool) {
	iso := lingua.GetIsoCode639_1FromValue(code)
	if iso == lingua.UnknownIsoCode639_1 {
		return lingua.Unknown, false
	}
	l := lingua.GetLanguageFromIsoCode639_1(iso)
	return l, l != lingua.Unknown
}

// linguaCode is the lowercase ISO 639-1 code of l, the form of the lang column.
func linguaCode(l lingua.Language) string {
	return strings.ToLower(l.IsoCode639_1().String())
}

// linguaCodes lists every ISO 639-1 code lingua knows, for error messages.
func linguaCodes() string {
	all := lingua.AllLanguages()
	codes := make([]string, len(all))
	for i, l := range all {
		codes[i] = linguaCode(l)
	}
	slices.Sort(codes)
	return strings.Join(codes, " ")
}

// linguaScript returns the script lingua's models of l are written in.
// Japanese is filed under kana: its Han letters are told from Chinese by the
// kana beside them, never by a model.
func linguaScript(l lingua.Language) script {
	switch l {
	case lingua.Chinese:
		return scriptHan
	case lingua.Japanese:
		return scriptKana
	case lingua.Korean:
		return scriptHangul
	case lingua.Greek:
		return scriptGreek
	case lingua.Hebrew:
		return scriptHebrew
	case lingua.Bengali:
		return scriptBengali
	case lingua.Punjabi:
		return scriptGurmukhi
	case lingua.Gujarati:
		return scriptGujarati
	case lingua.Tamil:
		return scriptTamil
	case lingua.Telugu:
		return scriptTelugu
	case lingua.Thai:
		return scriptThai
	case lingua.Georgian:
		return scriptGeorgian
	case lingua.Armenian:
		return scriptArmenian
	}
	for _, g := range []struct {
		s     script
		langs []lingua.Language
	}{
		{scriptLatin, lingua.AllLanguagesWithLatinScript()},
		{scriptCyrillic, lingua.AllLanguagesWithCyrillicScript()},
		{scriptArabic, lingua.AllLanguagesWithArabicScript()},
		{scriptDevanagari, lingua.AllLanguagesWithDevanagariScript()},
	} {
		if slices.Contains(g.langs, l) {
			return g.s
		}
	}
	return scriptOther
}

// sharedLingua is one lingua detector, built on first use and then only
// read: lingua keeps its n-gram models in package-level maps that fill
// once, so any number of goroutines may detect with it at the same time
// (shopspring/decimal ≥ v1.6.0 is what makes lingua's long-text path
// race-free).
type sharedLingua struct {
	langs   []lingua.Language
	preload bool
	once    sync.Once
	det     lingua.LanguageDetector
}

// linguaDetectors holds the process's detectors, one per language set (and
// preload choice), so that two langid stages with different sets each get
// theirs and workers never build one twice. Values are *sharedLingua.
var linguaDetectors sync.Map

// sharedDetector returns the detector for langs, shared process-wide. It
// builds nothing yet: models load when the first document needs lingua.
func sharedDetector(langs []lingua.Language, preload bool) *sharedLingua {
	codes := make([]string, len(langs))
	for i, l := range langs {
		codes[i] = linguaCode(l)
	}
	slices.Sort(codes)
	key := fmt.Sprintf("%s preload=%t", strings.Join(codes, ","), preload)
	v, _ := linguaDetectors.LoadOrStore(key, &sharedLingua{langs: langs, preload: preload})
	return v.(*sharedLingua)
}

// detector builds the detector once and returns it.
func (s *sharedLingua) detector() lingua.LanguageDetector {
	s.once.Do(func() {
		b := lingua.NewLanguageDetectorBuilder().FromLanguages(s.langs...)
		if s.preload {
			b = b.WithPreloadedLanguageModels()
		}
		s.det = b.Build()
	})
	return s.det
}

// detect returns lingua's most likely language for sample and its
// confidence, or ok=false when lingua cannot tell (no letters it knows, or a
// tie between the top two).
func (s *sharedLingua) detect(sample string) (code string, confidence float64, ok bool) {
	values := s.detector().ComputeLanguageConfidenceValues(sample)
	if len(values) == 0 || values[0].Value() == 0 {
		return "", 0, false
	}
	if len(values) > 1 && values[1].Value() == values[0].Value() {
		return "", 0, false
	}
	return linguaCode(values[0].Language()), values[0].Value(), true
}
