// Package report turns a finished run directory into report.html: a
// self-contained page (inline CSS and SVG, no JavaScript, no external
// resource) with the document funnel, drop reasons, language mix, a
// histogram per signal with its thresholds, duplicate cluster sizes,
// sampled documents per drop reason, the config and the manifest.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// Options tune Summarize.
type Options struct {
	// SamplesPerRule is how many dropped documents are shown per drop
	// reason (and how many kept ones); 0 means 3.
	SamplesPerRule int
	// Seed drives the reservoir sampling: the same seed and run give the
	// same samples.
	Seed uint64
	// MaxTextChars truncates sample texts to this many characters; 0 means 400.
	MaxTextChars int
}

func (o Options) withDefaults() Options {
	if o.SamplesPerRule <= 0 {
		o.SamplesPerRule = 3
	}
	if o.MaxTextChars <= 0 {
		o.MaxTextChars = 400
	}
	return o
}

// Bins is the number of equal bins of every signal histogram.
const Bins = 20

// Summary is everything report.html shows, computed from a finished run
// directory (stats.json, manifest.json, config.yaml, shards/ and rejected/).
type Summary struct {
	RunID   string `json:"run_id"`
	Version string `json:"version"`
	// Funnel is documents and bytes read, after each stage, and kept.
	Funnel []FunnelStep `json:"funnel"`
	// Drops are the drop reasons of stats.json, grouped by stage in stage order.
	Drops []StageDrops `json:"drops"`
	// Languages is the lang column's mix; nil when the run has no lang column.
	Languages *Languages `json:"languages,omitempty"`
	// Signals has one histogram per numeric signal column, in column order.
	Signals []Histogram `json:"signals"`
	// Duplicates is dup_cluster_size over kept rows; nil without the column.
	Duplicates []Bucket `json:"duplicates,omitempty"`
	// Samples are dropped documents per drop reason, reasons in stage order.
	Samples []ReasonSamples `json:"samples"`
	// Kept are a few kept documents.
	Kept []Sample `json:"kept"`
	// Config is config.yaml verbatim.
	Config string `json:"config"`
	// Manifest sums up manifest.json.
	Manifest ManifestSummary `json:"manifest"`
}

// FunnelStep is the documents and bytes alive at one point of the run.
type FunnelStep struct {
	Name  string `json:"name"` // "read", a stage name, or "kept"
	Docs  int64  `json:"docs"`
	Bytes int64  `json:"bytes"`
	// Dropped is the documents the stage dropped (0 for read and kept).
	Dropped int64 `json:"dropped"`
	// DocsShare and BytesShare are Docs and Bytes as a fraction of what was read.
	DocsShare  float64 `json:"docs_share"`
	BytesShare float64 `json:"bytes_share"`
}

// StageDrops are one stage's drop reasons, most documents first.
type StageDrops struct {
	Stage   string       `json:"stage"`
	Docs    int64        `json:"docs"`
	Bytes   int64        `json:"bytes"`
	Reasons []DropReason `json:"reasons"`
}

// DropReason is one drop_reason's total; shares are of the documents
// (bytes) read.
type DropReason struct {
	Reason     string  `json:"reason"`
	Docs       int64   `json:"docs"`
	Bytes      int64   `json:"bytes"`
	Share      float64 `json:"share"`
	BytesShare float64 `json:"bytes_share"`
}

// Languages is the language mix before (kept + rejected rows) and after
// (kept rows) the run.
type Languages struct {
	Before int64     `json:"before"`
	After  int64     `json:"after"`
	Rows   []LangMix `json:"rows"` // most documents before first
}

// LangMix is one language's documents before and after.
type LangMix struct {
	Lang        string  `json:"lang"`
	Before      int64   `json:"before"`
	After       int64   `json:"after"`
	BeforeShare float64 `json:"before_share"`
	AfterShare  float64 `json:"after_share"`
}

// Histogram is one signal column binned into Bins equal bins over [Lo, Hi].
type Histogram struct {
	Column string `json:"column"`
	// Min and Max are the column's values over the run (nulls and NaN left out).
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Count int64   `json:"count"`
	// Kept and Rejected count the values of kept and rejected rows per bin.
	Kept     []int64 `json:"kept"`
	Rejected []int64 `json:"rejected"`
	// Thresholds are the configured rule values for this column.
	Thresholds []Threshold `json:"thresholds,omitempty"`
}

// Threshold is one configured rule value of a signal column: a document
// is dropped above a "max" value or below a "min" one.
type Threshold struct {
	Column string   `json:"column"`
	Op     string   `json:"op"` // "max" or "min"
	Value  float64  `json:"value"`
	Langs  []string `json:"langs"` // the threshold sections ("zh", "default", "all") that use it
}

// Bucket is a range of dup_cluster_size with its kept documents.
type Bucket struct {
	Label string  `json:"label"`
	Docs  int64   `json:"docs"`
	Share float64 `json:"share"`
}

// ReasonSamples are sampled documents of one drop reason.
type ReasonSamples struct {
	Stage   string   `json:"stage"`
	Reason  string   `json:"reason"`
	Docs    int64    `json:"docs"` // rejected rows with this reason
	Samples []Sample `json:"samples"`
}

// Sample is one document as the report shows it.
type Sample struct {
	ID        string `json:"id"`
	Source    string `json:"source"`
	Text      string `json:"text"` // at most MaxTextChars characters
	Truncated bool   `json:"truncated"`
	Stage     string `json:"stage,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// Signals are the drop stage's columns (for kept samples: lang and
	// quality columns), values formatted.
	Signals []Signal `json:"signals,omitempty"`
}

// Signal is a named, formatted column value.
type Signal struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ManifestSummary sums up manifest.json and stats.json's reading counters.
type ManifestSummary struct {
	RunID        string           `json:"run_id"`
	Start        string           `json:"start"`
	End          string           `json:"end"`
	Seconds      float64          `json:"seconds"`
	Version      string           `json:"version"`
	ConfigSHA256 string           `json:"config_sha256"`
	Totals       pipeline.Totals  `json:"totals"`
	InputFiles   int64            `json:"input_files"`
	InputBytes   int64            `json:"input_bytes"`
	OutputFiles  int64            `json:"output_files"`
	OutputBytes  int64            `json:"output_bytes"`
	OutputRows   int64            `json:"output_rows"`
	Quarantined  []QuarantineKind `json:"quarantined,omitempty"`
}

// QuarantineKind is a kind of unreadable record with its count.
type QuarantineKind struct {
	Kind  string `json:"kind"`
	Count int64  `json:"count"`
}

// Summarize reads a finished run directory and computes its Summary.
func Summarize(ctx context.Context, runDir string, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	man, err := pipeline.ReadManifest(runDir)
	if err != nil {
		return nil, err
	}
	var st pipeline.Stats
	data, err := os.ReadFile(filepath.Join(runDir, "stats.json"))
	if err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("parse stats.json: %w", err)
	}
	cfg, err := os.ReadFile(filepath.Join(runDir, "config.yaml"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read config: %w", err)
	}
	ths, err := ParseThresholds(cfg)
	if err != nil {
		return nil, fmt.Errorf("config.yaml: %w", err)
	}
	s := &Summary{RunID: man.RunID, Version: man.Version, Config: string(cfg)}
	s.Funnel = funnel(&st)
	s.Drops = drops(&st)
	s.Manifest = manifestSummary(man, &st)

	kept, _ := filepath.Glob(filepath.Join(runDir, "shards", "*.parquet"))
	rejected, _ := filepath.Glob(filepath.Join(runDir, "rejected", "*.parquet"))
	sort.Strings(kept)
	sort.Strings(rejected)
	stageNames := make([]string, len(st.Stages))
	for i, sg := range st.Stages {
		stageNames[i] = sg.Name
	}
	sc := newScanner(opts, stageNames)
	// Pass 1: everything but the histograms' bins, which need each
	// column's range over the whole run first.
	type part struct {
		files []string
		kept  bool
	}
	parts := []part{{kept, true}, {rejected, false}}
	for _, pt := range parts {
		for _, p := range pt.files {
			if err := pipeline.EachRecord(ctx, p, func(rec arrow.RecordBatch) error { sc.pass1(rec, pt.kept); return nil }); err != nil {
				return nil, err
			}
		}
	}
	sc.startPass2()
	if len(sc.hists) > 0 {
		for _, pt := range parts {
			for _, p := range pt.files {
				if err := pipeline.EachRecord(ctx, p, func(rec arrow.RecordBatch) error { sc.pass2(rec, pt.kept); return nil }); err != nil {
					return nil, err
				}
			}
		}
	}
	s.Languages = sc.languages()
	s.Duplicates = sc.duplicates()
	s.Signals = sc.histograms(ths)
	s.Samples = sc.samples(s.Drops)
	s.Kept = sc.kept.items
	return s, nil
}

func share(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func funnel(st *pipeline.Stats) []FunnelStep {
	read := st.Read.Docs
	steps := []FunnelStep{{Name: "read", Docs: read.Docs, Bytes: read.Bytes}}
	for _, sg := range st.Stages {
		var d int64
		for _, c := range sg.Dropped {
			d += c.Docs
		}
		steps = append(steps, FunnelStep{Name: sg.Name, Docs: sg.Out.Docs, Bytes: sg.Out.Bytes, Dropped: d})
	}
	steps = append(steps, FunnelStep{Name: "kept", Docs: st.Kept.Docs, Bytes: st.Kept.Bytes})
	for i := range steps {
		steps[i].DocsShare = share(steps[i].Docs, read.Docs)
		steps[i].BytesShare = share(steps[i].Bytes, read.Bytes)
	}
	return steps
}

func drops(st *pipeline.Stats) []StageDrops {
	var out []StageDrops
	for _, sg := range st.Stages {
		if len(sg.Dropped) == 0 {
			continue
		}
		sd := StageDrops{Stage: sg.Name}
		for r, c := range sg.Dropped {
			sd.Docs += c.Docs
			sd.Bytes += c.Bytes
			sd.Reasons = append(sd.Reasons, DropReason{Reason: r, Docs: c.Docs, Bytes: c.Bytes,
				Share: share(c.Docs, st.Read.Docs.Docs), BytesShare: share(c.Bytes, st.Read.Docs.Bytes)})
		}
		sort.Slice(sd.Reasons, func(i, j int) bool {
			a, b := sd.Reasons[i], sd.Reasons[j]
			if a.Docs != b.Docs {
				return a.Docs > b.Docs
			}
			return a.Reason < b.Reason
		})
		out = append(out, sd)
	}
	return out
}

func manifestSummary(m *pipeline.Manifest, st *pipeline.Stats) ManifestSummary {
	ms := ManifestSummary{RunID: m.RunID, Version: m.Version, ConfigSHA256: m.ConfigSHA256, Totals: m.Totals,
		Seconds: st.Seconds, InputFiles: int64(len(m.Inputs)), OutputFiles: int64(len(m.Outputs))}
	if !m.Start.IsZero() {
		ms.Start = m.Start.UTC().Format("2006-01-02 15:04:05 MST")
	}
	if !m.End.IsZero() {
		ms.End = m.End.UTC().Format("2006-01-02 15:04:05 MST")
	}
	for _, in := range m.Inputs {
		ms.InputBytes += in.Size
	}
	for _, o := range m.Outputs {
		ms.OutputBytes += o.Bytes
		ms.OutputRows += o.Rows
	}
	for k, n := range st.Read.Quarantined {
		ms.Quarantined = append(ms.Quarantined, QuarantineKind{Kind: k, Count: n})
	}
	sort.Slice(ms.Quarantined, func(i, j int) bool { return ms.Quarantined[i].Kind < ms.Quarantined[j].Kind })
	return ms
}

// numAt is pipeline.NumberAt without infinities, which no bin can hold.
func numAt(col arrow.Array, i int) (float64, bool) {
	v, ok := pipeline.NumberAt(col, i)
	return v, ok && !math.IsInf(v, 0)
}

func strAt(col arrow.Array, i int) (string, bool) {
	if col == nil || col.IsNull(i) {
		return "", false
	}
	switch c := col.(type) {
	case *array.String:
		return c.Value(i), true
	case *array.LargeString:
		return c.Value(i), true
	case *array.Dictionary:
		if d, ok := c.Dictionary().(*array.String); ok {
			return d.Value(c.GetValueIndex(i)), true
		}
	}
	return "", false
}

// isSignal says whether a column is drawn as a histogram: every float
// column, and integer columns named <stage>_… (length_chars, …).
func isSignal(f arrow.Field, stages []string) bool {
	switch f.Name {
	case "offset", "dup_cluster_size":
		return false
	}
	switch f.Type.ID() {
	case arrow.FLOAT64, arrow.FLOAT32:
		return true
	case arrow.INT64, arrow.INT32:
		for _, s := range stages {
			if strings.HasPrefix(f.Name, s+"_") {
				return true
			}
		}
	}
	return false
}

type colStat struct {
	name       string
	min, max   float64
	n          int64
	lo, hi     float64
	kept, rej  []int64
	firstOrder int
}

type reservoir struct {
	k     int
	n     int64
	items []Sample
}

func (r *reservoir) offer(rng *rand.Rand, mk func() Sample) {
	r.n++
	if len(r.items) < r.k {
		r.items = append(r.items, mk())
		return
	}
	if j := rng.Int64N(r.n); j < int64(r.k) {
		r.items[j] = mk()
	}
}

type scanner struct {
	opts      Options
	stages    []string
	rng       *rand.Rand
	hists     map[string]*colStat
	order     []string
	hasLang   bool
	langAll   map[string]int64
	langKept  map[string]int64
	hasDup    bool
	dupSizes  []int64 // per bucket
	reasons   map[string]*reservoir
	reasonStg map[string]string
	kept      reservoir
}

func newScanner(opts Options, stages []string) *scanner {
	return &scanner{opts: opts, stages: stages, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		hists: map[string]*colStat{}, langAll: map[string]int64{}, langKept: map[string]int64{},
		dupSizes: make([]int64, len(dupBuckets)), reasons: map[string]*reservoir{}, reasonStg: map[string]string{},
		kept: reservoir{k: opts.SamplesPerRule}}
}

var dupBuckets = []struct {
	label  string
	lo, hi int64
}{{"1", 1, 1}, {"2", 2, 2}, {"3–5", 3, 5}, {"6–10", 6, 10}, {"11–100", 11, 100}, {">100", 101, math.MaxInt64}}

func dupBucket(n int64) int {
	for i, b := range dupBuckets {
		if n >= b.lo && n <= b.hi {
			return i
		}
	}
	return 0 // null or < 1: the document stands for itself
}

func colIndex(rec arrow.RecordBatch, name string) arrow.Array {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil
	}
	return rec.Column(idx[0])
}

func (s *scanner) pass1(rec arrow.RecordBatch, isKept bool) {
	n := int(rec.NumRows())
	fields := rec.Schema().Fields()
	for c, f := range fields {
		if !isSignal(f, s.stages) {
			continue
		}
		cs := s.hists[f.Name]
		if cs == nil {
			cs = &colStat{name: f.Name, min: math.Inf(1), max: math.Inf(-1), firstOrder: len(s.order)}
			s.hists[f.Name] = cs
			s.order = append(s.order, f.Name)
		}
		col := rec.Column(c)
		for i := 0; i < n; i++ {
			if v, ok := numAt(col, i); ok {
				cs.n++
				cs.min = math.Min(cs.min, v)
				cs.max = math.Max(cs.max, v)
			}
		}
	}
	if lang := colIndex(rec, "lang"); lang != nil {
		s.hasLang = true
		for i := 0; i < n; i++ {
			l, ok := strAt(lang, i)
			if !ok || l == "" {
				l = "(none)"
			}
			s.langAll[l]++
			if isKept {
				s.langKept[l]++
			}
		}
	}
	if dup := colIndex(rec, "dup_cluster_size"); dup != nil && isKept {
		s.hasDup = true
		for i := 0; i < n; i++ {
			v, _ := numAt(dup, i)
			s.dupSizes[dupBucket(int64(v))]++
		}
	}
	ids, texts, srcs := colIndex(rec, pipeline.ColID), colIndex(rec, pipeline.ColText), colIndex(rec, pipeline.ColSource)
	sample := func(i int, stage, reason string, cols []int) Sample {
		id, _ := strAt(ids, i)
		src, _ := strAt(srcs, i)
		text, _ := strAt(texts, i)
		t, trunc := truncate(text, s.opts.MaxTextChars)
		sm := Sample{ID: strings.Clone(id), Source: strings.Clone(src), Text: t, Truncated: trunc, Stage: strings.Clone(stage), Reason: strings.Clone(reason)}
		for _, c := range cols {
			col := rec.Column(c)
			if v, ok := numAt(col, i); ok {
				sm.Signals = append(sm.Signals, Signal{Name: fields[c].Name, Value: formatNum(v)})
			} else if v, ok := strAt(col, i); ok {
				sm.Signals = append(sm.Signals, Signal{Name: fields[c].Name, Value: strings.Clone(v)})
			}
		}
		return sm
	}
	if isKept {
		var cols []int
		for c, f := range fields {
			switch f.Name {
			case "lang", "lang_score", "quality_score", "dup_cluster_size", "length_chars":
				cols = append(cols, c)
			}
		}
		for i := 0; i < n; i++ {
			s.kept.offer(s.rng, func() Sample { return sample(i, "", "", cols) })
		}
		return
	}
	stages, reasons := colIndex(rec, pipeline.ColDropStage), colIndex(rec, pipeline.ColDropReason)
	colsOf := map[string][]int{}
	for i := 0; i < n; i++ {
		stage, _ := strAt(stages, i)
		reason, ok := strAt(reasons, i)
		if !ok || reason == "" {
			reason = "(no reason)"
		}
		r := s.reasons[reason]
		if r == nil {
			r = &reservoir{k: s.opts.SamplesPerRule}
			s.reasons[reason] = r
			s.reasonStg[reason] = strings.Clone(stage)
		}
		cols, ok := colsOf[stage]
		if !ok {
			for c, f := range fields {
				if (stage != "" && strings.HasPrefix(f.Name, stage+"_")) || f.Name == "dup_of" && strings.Contains(stage, "dedup") {
					cols = append(cols, c)
				}
			}
			colsOf[stage] = cols
		}
		r.offer(s.rng, func() Sample { return sample(i, stage, reason, cols) })
	}
}

// truncate cuts text to at most max characters (runes).
func truncate(text string, max int) (string, bool) {
	if utf8.RuneCountInString(text) <= max {
		return strings.Clone(text), false
	}
	i, n := 0, 0
	for i < len(text) && n < max {
		_, w := utf8.DecodeRuneInString(text[i:])
		i += w
		n++
	}
	return strings.Clone(text[:i]), true
}

func formatNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// binRange is the range a histogram's bins cover: [0, 1] when every value
// lies in it, else the values' own range (widened when it is one point).
func binRange(min, max float64) (lo, hi float64) {
	if min >= 0 && max <= 1 {
		return 0, 1
	}
	if min == max {
		return min - 0.5, max + 0.5
	}
	return min, max
}

// binOf is the bin of v among n equal bins over [lo, hi]; hi falls in the
// last bin, values outside are clamped.
func binOf(v, lo, hi float64, n int) int {
	if hi <= lo {
		return 0
	}
	b := int(math.Floor((v - lo) / (hi - lo) * float64(n)))
	if b < 0 {
		return 0
	}
	if b >= n {
		return n - 1
	}
	return b
}

func (s *scanner) startPass2() {
	for _, cs := range s.hists {
		if cs.n == 0 {
			continue
		}
		cs.lo, cs.hi = binRange(cs.min, cs.max)
		cs.kept, cs.rej = make([]int64, Bins), make([]int64, Bins)
	}
}

func (s *scanner) pass2(rec arrow.RecordBatch, isKept bool) {
	n := int(rec.NumRows())
	for c, f := range rec.Schema().Fields() {
		cs := s.hists[f.Name]
		if cs == nil || cs.n == 0 {
			continue
		}
		col := rec.Column(c)
		bins := cs.rej
		if isKept {
			bins = cs.kept
		}
		for i := 0; i < n; i++ {
			if v, ok := numAt(col, i); ok {
				bins[binOf(v, cs.lo, cs.hi, Bins)]++
			}
		}
	}
}

func (s *scanner) histograms(ths []Threshold) []Histogram {
	byCol := map[string][]Threshold{}
	for _, t := range ths {
		byCol[t.Column] = append(byCol[t.Column], t)
	}
	var out []Histogram
	for _, name := range s.order {
		cs := s.hists[name]
		if cs.n == 0 {
			continue
		}
		out = append(out, Histogram{Column: name, Min: cs.min, Max: cs.max, Lo: cs.lo, Hi: cs.hi, Count: cs.n,
			Kept: cs.kept, Rejected: cs.rej, Thresholds: byCol[name]})
	}
	return out
}

func (s *scanner) languages() *Languages {
	if !s.hasLang {
		return nil
	}
	l := &Languages{}
	for k, n := range s.langAll {
		l.Before += n
		l.After += s.langKept[k]
		l.Rows = append(l.Rows, LangMix{Lang: k, Before: n, After: s.langKept[k]})
	}
	for i := range l.Rows {
		l.Rows[i].BeforeShare = share(l.Rows[i].Before, l.Before)
		l.Rows[i].AfterShare = share(l.Rows[i].After, l.After)
	}
	sort.Slice(l.Rows, func(i, j int) bool {
		a, b := l.Rows[i], l.Rows[j]
		if a.Before != b.Before {
			return a.Before > b.Before
		}
		return a.Lang < b.Lang
	})
	return l
}

func (s *scanner) duplicates() []Bucket {
	if !s.hasDup {
		return nil
	}
	var total int64
	for _, n := range s.dupSizes {
		total += n
	}
	out := make([]Bucket, len(dupBuckets))
	for i, b := range dupBuckets {
		out[i] = Bucket{Label: b.label, Docs: s.dupSizes[i], Share: share(s.dupSizes[i], total)}
	}
	return out
}

// samples orders the sampled reasons as the drop table does (stage order,
// most documents first), then any reason stats.json does not list.
func (s *scanner) samples(drops []StageDrops) []ReasonSamples {
	var out []ReasonSamples
	seen := map[string]bool{}
	add := func(reason string) {
		r := s.reasons[reason]
		if r == nil || seen[reason] {
			return
		}
		seen[reason] = true
		out = append(out, ReasonSamples{Stage: s.reasonStg[reason], Reason: reason, Docs: r.n, Samples: r.items})
	}
	for _, sd := range drops {
		for _, r := range sd.Reasons {
			add(r.Reason)
		}
	}
	var rest []string
	for r := range s.reasons {
		if !seen[r] {
			rest = append(rest, r)
		}
	}
	sort.Strings(rest)
	for _, r := range rest {
		add(r)
	}
	return out
}
