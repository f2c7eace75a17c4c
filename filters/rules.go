package filters

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// Doc is what a signal computer sees of one document.
type Doc struct {
	Text string
	// Words are the segment stage's words when it ran before, else nil.
	Words []string
	// Lang is the langid stage's lang ("" without it).
	Lang string
	// Messages of instruction data (nil for plain records).
	Messages []pipeline.Message

	// shared holds the batch's token stream statistics, computed once per
	// document for all families (row is the document's row in the batch).
	shared *tuShared
	row    int
}

// Computer computes a family's signals for one document: out has one slot
// per signal, NaN where a signal does not apply. A Computer may keep
// scratch buffers; the stage gives each goroutine its own.
type Computer interface {
	Compute(d *Doc, out []float64)
}

// Signal names one value a family computes.
type Signal struct {
	Name string
	Doc  string
}

// Rule drops a document whose signal is past a threshold. Its key is the
// threshold's name in the config: "max_<signal>" drops above the value,
// "min_<signal>" below it.
type Rule struct {
	Key    string
	Signal string
}

// Family is a filter described by its signals, rules and default
// thresholds; NewStageInfo turns it into a stage. Keeping the decision a
// pure function of stored signals (Decide) is what lets retune re-decide a
// run without recomputing anything.
type Family struct {
	Name        string // stage name and column prefix
	Doc         string
	Signals     []Signal
	Rules       []Rule
	NewComputer func() Computer
	// Defaults per language code; "default" applies to every language
	// without its own value. A rule without a threshold is off.
	Defaults map[string]map[string]float64
}

// Thresholds are a stage's thresholds per language: lang → key → value,
// nil to switch a default off.
type Thresholds map[string]map[string]*float64

// FamilyOptions are the options of every rule-family stage.
type FamilyOptions struct {
	Thresholds Thresholds `yaml:"thresholds" retune:"threshold" doc:"per language (zh, en, …, and default for the others): rule -> threshold; max_X drops a document whose signal X is above it, min_X below; null switches a rule off"`
}

func (f *Family) defaultOptions() *FamilyOptions {
	th := Thresholds{}
	for lang, keys := range f.Defaults {
		th[lang] = map[string]*float64{}
		for k, v := range keys {
			th[lang][k] = &v
		}
	}
	return &FamilyOptions{Thresholds: th}
}

// NewStageInfo registers the family as a stage.
func (f *Family) NewStageInfo() pipeline.StageInfo {
	return pipeline.StageInfo{
		Name:     f.Name,
		Doc:      f.Doc,
		Defaults: func() any { return f.defaultOptions() },
		New: func(o any, where string) (pipeline.Stage, error) {
			th, err := f.resolve(o.(*FamilyOptions).Thresholds, where)
			if err != nil {
				return nil, err
			}
			return newFamilyStage(f, th), nil
		},
	}
}

// resolve checks a config's thresholds and fills in, for every language it
// names, the keys it left out from the defaults of that language.
func (f *Family) resolve(th Thresholds, where string) (Thresholds, error) {
	var keys []string
	for _, r := range f.Rules {
		keys = append(keys, r.Key)
	}
	out := Thresholds{}
	for lang, m := range th {
		if lang != "default" && !validLang(lang) {
			return nil, fmt.Errorf("%s: thresholds: %q is not a language code (two or three lowercase letters) or default", where, lang)
		}
		out[lang] = map[string]*float64{}
		for k, v := range m {
			if !slices.Contains(keys, k) {
				return nil, fmt.Errorf("%s: thresholds.%s: unknown rule %q; rules: %s", where, lang, k, strings.Join(keys, ", "))
			}
			if v != nil && math.IsNaN(*v) {
				return nil, fmt.Errorf("%s: thresholds.%s.%s: NaN is not a threshold", where, lang, k)
			}
			out[lang][k] = v
		}
		for k, v := range f.Defaults[lang] {
			if _, set := out[lang][k]; !set {
				out[lang][k] = &v
			}
		}
	}
	return out, nil
}

func validLang(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// threshold returns the value of key for lang, and whether the rule is on.
func (th Thresholds) threshold(lang, key string) (float64, bool) {
	if m, ok := th[lang]; ok {
		if v, set := m[key]; set {
			return deref(v)
		}
	}
	if v, set := th["default"][key]; set {
		return deref(v)
	}
	return 0, false
}

func deref(v *float64) (float64, bool) {
	if v == nil {
		return 0, false
	}
	return *v, true
}

// Decide returns the drop reason of the first failing rule for a document
// with these signal values (in f.Signals order) and language, or "" when it
// passes. A NaN signal fails no rule.
func (f *Family) Decide(th Thresholds, lang string, values []float64) string {
	for _, r := range f.Rules {
		t, on := th.threshold(lang, r.Key)
		if !on {
			continue
		}
		v := values[f.signalIndex(r.Signal)]
		if math.IsNaN(v) {
			continue
		}
		max := strings.HasPrefix(r.Key, "max_")
		if max && v > t || !max && v < t {
			op := "<"
			if max {
				op = ">"
			}
			return f.Name + "." + r.Signal + op + strconv.FormatFloat(t, 'g', -1, 64)
		}
	}
	return ""
}

func (f *Family) signalIndex(name string) int {
	for i, s := range f.Signals {
		if s.Name == name {
			return i
		}
	}
	panic("filters: family " + f.Name + " has a rule on unknown signal " + name)
}

// Column is the column name of a signal.
func (f *Family) Column(signal string) string { return f.Name + "_" + signal }

// familyStage runs a family over batches.
type familyStage struct {
	f    *Family
	th   Thresholds
	pool sync.Pool // of Computer
}

func newFamilyStage(f *Family, th Thresholds) *familyStage {
	for _, r := range f.Rules {
		f.signalIndex(r.Signal) // a bad family fails at start, not mid-run
	}
	s := &familyStage{f: f, th: th}
	s.pool.New = func() any { return f.NewComputer() }
	return s
}

func (s *familyStage) Name() string { return s.f.Name }

// Thresholds returns the resolved thresholds (for explain and retune).
func (s *familyStage) Thresholds() Thresholds { return s.th }

// Process computes every signal for every row, dropped rows included, so
// a re-decision with other thresholds never lacks one; then it drops the
// alive rows that fail a rule.
func (s *familyStage) Process(ctx context.Context, b *pipeline.Batch) error {
	comp := s.pool.Get().(Computer)
	defer s.pool.Put(comp)
	n, nsig := b.Len(), len(s.f.Signals)
	builders := make([]*array.Float64Builder, nsig)
	for j := range builders {
		builders[j] = array.NewFloat64Builder(b.Allocator())
		defer builders[j].Release()
		builders[j].Reserve(n)
	}
	texts := b.Texts()
	langs, _ := b.Column("lang").(*array.String)
	msgs := messagesOf(b)
	shared := sharedStreamStats(b)
	values := make([]float64, nsig)
	var d Doc
	for i := 0; i < n; i++ {
		d = Doc{Text: texts.Value(i), shared: shared, row: i}
		if b.Tokens != nil {
			d.Words = b.Tokens[i]
		}
		if langs != nil && langs.IsValid(i) {
			d.Lang = langs.Value(i)
		}
		if msgs != nil {
			d.Messages = msgs(i)
		}
		for j := range values {
			values[j] = math.NaN()
		}
		comp.Compute(&d, values)
		for j, v := range values {
			if math.IsNaN(v) {
				builders[j].AppendNull()
			} else {
				builders[j].Append(v)
			}
		}
		if b.Alive(i) {
			if reason := s.f.Decide(s.th, d.Lang, values); reason != "" {
				b.Drop(i, s.f.Name, reason)
			}
		}
	}
	for j, sig := range s.f.Signals {
		if err := b.SetColumn(arrow.Field{Name: s.f.Column(sig.Name), Type: arrow.PrimitiveTypes.Float64, Nullable: true}, builders[j].NewArray()); err != nil {
			return err
		}
	}
	return nil
}

// messagesOf returns a reader of the messages column, or nil without one.
func messagesOf(b *pipeline.Batch) func(int) []pipeline.Message {
	list, ok := b.Column(pipeline.ColMessages).(*array.List)
	if !ok {
		return nil
	}
	st := list.ListValues().(*array.Struct)
	roles, contents := st.Field(0).(*array.String), st.Field(1).(*array.String)
	return func(i int) []pipeline.Message {
		if list.IsNull(i) {
			return nil
		}
		lo, hi := list.ValueOffsets(i)
		out := make([]pipeline.Message, 0, hi-lo)
		for j := lo; j < hi; j++ {
			out = append(out, pipeline.Message{Role: roles.Value(int(j)), Content: contents.Value(int(j))})
		}
		return out
	}
}

// RuleVerdict is one rule's outcome for one document, for explain.
type RuleVerdict struct {
	Key       string // the threshold's config key
	Signal    string
	Value     float64 // NaN when the signal does not apply
	Threshold float64
	On        bool // the rule has a threshold for the document's language
	Fails     bool
}

// Explain lists every rule of the family for row of b, whose signal
// columns Process has set.
func (s *familyStage) Explain(b *pipeline.Batch, row int) []RuleVerdict {
	lang := ""
	if l, ok := b.Column("lang").(*array.String); ok && l.IsValid(row) {
		lang = l.Value(row)
	}
	var out []RuleVerdict
	for _, r := range s.f.Rules {
		v := math.NaN()
		if c, ok := b.Column(s.f.Column(r.Signal)).(*array.Float64); ok && c.IsValid(row) {
			v = c.Value(row)
		}
		t, on := s.th.threshold(lang, r.Key)
		vals := make([]float64, len(s.f.Signals))
		for j := range vals {
			vals[j] = math.NaN()
		}
		vals[s.f.signalIndex(r.Signal)] = v
		one := &Family{Name: s.f.Name, Signals: s.f.Signals, Rules: []Rule{r}}
		out = append(out, RuleVerdict{Key: r.Key, Signal: r.Signal, Value: v, Threshold: t, On: on,
			Fails: on && one.Decide(s.th, lang, vals) != ""})
	}
	return out
}
