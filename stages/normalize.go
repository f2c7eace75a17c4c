package stages

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"golang.org/x/text/unicode/norm"

	"winnow/pipeline"
)

// NormalizeOptions configure the normalize stage.
type NormalizeOptions struct {
	Form              string  `yaml:"form" doc:"Unicode normalization form: nfkc, nfc or none; full-width characters follow fullwidth_ascii and halfwidth_punct instead"`
	FullwidthASCII    bool    `yaml:"fullwidth_ascii" doc:"full-width letters and digits (Ａ１) and the ideographic space U+3000 become ASCII"`
	HalfwidthPunct    bool    `yaml:"halfwidth_punct" doc:"full-width punctuation and symbols (，！？：；（）￥) and … ‥ become their NFKC (ASCII) forms too; false keeps Chinese punctuation"`
	Whitespace        bool    `yaml:"whitespace" doc:"CRLF/CR/U+2028/U+2029 become LF, white space at line ends is removed, blank-line runs become one blank line, blank lines at both ends and the final LF are removed; indentation is kept"`
	RemoveControls    bool    `yaml:"remove_controls" doc:"remove C0/C1 controls (not tab/LF/CR), DEL, zero-width space, word joiner, BOM, soft hyphen, private-use characters and noncharacters; ZWNJ/ZWJ only outside scripts and emoji that need them"`
	T2S               string  `yaml:"t2s" doc:"Traditional to Simplified: auto (Chinese documents holding a Traditional-only character), always (every document) or off; column converted_t2s"`
	T2SMode           string  `yaml:"t2s_mode" doc:"OpenCC conversion: t2s (characters and phrases), tw2s (+ Taiwan variants), tw2sp (+ Taiwan phrases: 軟體→软件), hk2s (+ Hong Kong variants)"`
	Mojibake          string  `yaml:"mojibake" doc:"mis-decoded text: flag (score only), repair (undo Latin-1/cp1252/GBK misreadings when the bytes come back as valid UTF-8) or off; column mojibake_score"`
	MojibakeThreshold float64 `yaml:"mojibake_threshold" doc:"mojibake_score from which a document counts as mojibake (counter mojibake_flagged) and repair is tried"`
	MojibakeDrop      float64 `yaml:"mojibake_drop" doc:"drop documents whose mojibake_score (after any repair) is above this; 1 keeps all"`
}

// Option values.
const (
	t2sAuto   = "auto"
	t2sAlways = "always"
	t2sOff    = "off"

	mojiFlag   = "flag"
	mojiRepair = "repair"
	mojiOff    = "off"
)

// NormalizeInfo registers the normalize stage.
var NormalizeInfo = pipeline.StageInfo{
	Name: "normalize",
	Doc:  "Unicode form, width, controls, whitespace, Traditional→Simplified and mojibake (columns converted_t2s, mojibake_score, mojibake_repaired, normalize_changed)",
	Defaults: func() any {
		return &NormalizeOptions{
			Form:              "nfkc",
			FullwidthASCII:    true,
			HalfwidthPunct:    false,
			Whitespace:        true,
			RemoveControls:    true,
			T2S:               t2sAuto,
			T2SMode:           "t2s",
			Mojibake:          mojiRepair,
			MojibakeThreshold: 0.05,
			MojibakeDrop:      1,
		}
	},
	New: func(o any, where string) (pipeline.Stage, error) {
		n, err := newNormalizer(*o.(*NormalizeOptions), where)
		if err != nil {
			return nil, err
		}
		return &Normalize{n: n, drop: o.(*NormalizeOptions).MojibakeDrop}, nil
	},
}

// Normalize rewrites the text of every alive row into a canonical form
// (see normalizer.apply for the order of the steps) and adds four columns,
// null for rows dropped before it:
//
//   - converted_t2s (bool): Traditional → Simplified changed the text;
//   - mojibake_score (float64, 0–1): the share of non-ASCII characters
//     explained as mis-decoding (see mojibakeScore), of the repaired text
//     when repaired;
//   - mojibake_repaired (bool): a mis-decoding was undone;
//   - normalize_changed (bool): the text differs from the input.
//
// Counters (Batch.AddCount; documents, not characters): changed,
// invalid_utf8, mojibake_flagged, mojibake_repaired, controls_removed,
// fullwidth, halfwidth_punct, nfkc (or nfc: the form step changed the
// text), t2s_checked (went through the converter), t2s, whitespace.
//
// What it keeps: U+FFFD (it marks lost bytes, and removing it would hide
// them; it counts toward mojibake_score instead), CJK punctuation unless
// halfwidth_punct, indentation, bidi controls and variation selectors.
// Invalid UTF-8 (which a Go string can hold, encoded surrogates included;
// unpaired UTF-16 surrogates cannot reach it) becomes U+FFFD first. It
// drops a row only when mojibake_drop asks.
type Normalize struct {
	n    *normalizer
	drop float64
}

// Name implements pipeline.Stage.
func (*Normalize) Name() string { return "normalize" }

// NeverDrops tells retune that normalize only rewrites text.
func (*Normalize) NeverDrops() {}

func newNormalizer(o NormalizeOptions, where string) (*normalizer, error) {
	n := &normalizer{
		fullwidth:     o.FullwidthASCII,
		halfwidth:     o.HalfwidthPunct,
		controls:      o.RemoveControls,
		whitespace:    o.Whitespace,
		t2s:           o.T2S,
		mojibake:      o.Mojibake,
		mojiThreshold: o.MojibakeThreshold,
	}
	switch o.Form {
	case "nfkc":
		n.form, n.normBit = norm.NFKC, clNotNFKC
	case "nfc":
		n.form, n.normBit = norm.NFC, clNotNFC
	case "none":
	default:
		return nil, fmt.Errorf("%s.form: %q is not one of nfkc, nfc, none", where, o.Form)
	}
	n.rewriteBit = n.normBit
	if n.controls {
		n.rewriteBit |= clRemove | clJoiner
	}
	if n.fullwidth {
		n.rewriteBit |= clWidthAlnum
	}
	if n.halfwidth {
		n.rewriteBit |= clWidthPunct
	}
	switch o.T2S {
	case t2sAuto, t2sAlways:
		if !slices.Contains(t2sModes, o.T2SMode) {
			return nil, fmt.Errorf("%s.t2s_mode: %q is not one of %s", where, o.T2SMode, strings.Join(t2sModes, ", "))
		}
		conv, err := t2sFor(o.T2SMode)
		if err != nil {
			return nil, fmt.Errorf("%s.t2s_mode: %w", where, err)
		}
		n.conv = conv
		n.tab = conv.tab
	case t2sOff:
		n.tab = normTables()
	default:
		return nil, fmt.Errorf("%s.t2s: %q is not one of auto, always, off", where, o.T2S)
	}
	switch o.Mojibake {
	case mojiFlag, mojiRepair, mojiOff:
	default:
		return nil, fmt.Errorf("%s.mojibake: %q is not one of flag, repair, off", where, o.Mojibake)
	}
	if !(o.MojibakeThreshold > 0 && o.MojibakeThreshold <= 1) {
		return nil, fmt.Errorf("%s.mojibake_threshold: %g is outside (0, 1]", where, o.MojibakeThreshold)
	}
	if !(o.MojibakeDrop >= 0 && o.MojibakeDrop <= 1) {
		return nil, fmt.Errorf("%s.mojibake_drop: %g is outside [0, 1]", where, o.MojibakeDrop)
	}
	return n, nil
}

// normCounts are the per-batch step counters: documents changed by each
// step, as reported to stats.json.
type normCounts struct {
	changed, invalid, repaired, flagged, controls, fullwidth, halfwidth, form, t2sChecked, t2s, whitespace int64
}

func (c *normCounts) add(r *normResult, changed bool) {
	inc := func(p *int64, ok bool) {
		if ok {
			*p++
		}
	}
	inc(&c.changed, changed)
	inc(&c.invalid, r.steps&stInvalidUTF8 != 0)
	inc(&c.repaired, r.steps&stMojibakeRepaired != 0)
	inc(&c.flagged, r.flagged)
	inc(&c.controls, r.steps&stControls != 0)
	inc(&c.fullwidth, r.steps&stFullwidth != 0)
	inc(&c.halfwidth, r.steps&stHalfwidthPunct != 0)
	inc(&c.form, r.steps&stForm != 0)
	inc(&c.t2sChecked, r.t2sChecked)
	inc(&c.t2s, r.steps&stT2S != 0)
	inc(&c.whitespace, r.steps&stWhitespace != 0)
}

func (c *normCounts) report(b *pipeline.Batch, formName string) {
	for _, kv := range []struct {
		name string
		n    int64
	}{
		{"changed", c.changed}, {"invalid_utf8", c.invalid}, {"mojibake_flagged", c.flagged},
		{"mojibake_repaired", c.repaired}, {"controls_removed", c.controls}, {"fullwidth", c.fullwidth},
		{"halfwidth_punct", c.halfwidth}, {formName, c.form}, {"t2s_checked", c.t2sChecked},
		{"t2s", c.t2s}, {"whitespace", c.whitespace},
	} {
		if kv.n > 0 {
			b.AddCount(kv.name, kv.n)
		}
	}
}

// normalizeFields are the columns the stage adds, in order.
var normalizeFields = []arrow.Field{
	{Name: "converted_t2s", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "mojibake_score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "mojibake_repaired", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "normalize_changed", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}

// Process normalizes the text of every alive row. Dropped rows keep their
// text and get nulls. The text column is rebuilt only when a row changed.
func (s *Normalize) Process(ctx context.Context, b *pipeline.Batch) error {
	texts := b.Texts()
	mem := b.Allocator()
	conv := array.NewBooleanBuilder(mem)
	score := array.NewFloat64Builder(mem)
	repaired := array.NewBooleanBuilder(mem)
	changed := array.NewBooleanBuilder(mem)
	defer conv.Release()
	defer score.Release()
	defer repaired.Release()
	defer changed.Release()
	var out []string // nil until a row changes
	var counts normCounts
	for i := 0; i < b.Len(); i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if !b.Alive(i) {
			if out != nil {
				out[i] = texts.Value(i)
			}
			conv.AppendNull()
			score.AppendNull()
			repaired.AppendNull()
			changed.AppendNull()
			continue
		}
		t := texts.Value(i)
		res := s.n.apply(t)
		diff := res.text != t
		counts.add(&res, diff)
		if diff && out == nil {
			out = make([]string, b.Len())
			for j := range i {
				out[j] = texts.Value(j)
			}
		}
		if out != nil {
			out[i] = res.text
		}
		conv.Append(res.steps&stT2S != 0)
		score.Append(res.mojibake)
		repaired.Append(res.steps&stMojibakeRepaired != 0)
		changed.Append(diff)
		if res.mojibake > s.drop && s.drop < 1 {
			b.Drop(i, "normalize", "normalize.mojibake_score>"+strconv.FormatFloat(s.drop, 'g', -1, 64))
		}
	}
	counts.report(b, formCounter(s.n))
	if out != nil {
		if err := b.SetColumn(normTextField(b), normStringColumn(b, out)); err != nil {
			return fmt.Errorf("normalize: %w", err)
		}
	}
	for k, bld := range []array.Builder{conv, score, repaired, changed} {
		if err := b.SetColumn(normalizeFields[k], bld.NewArray()); err != nil {
			return fmt.Errorf("normalize: %w", err)
		}
	}
	return nil
}

// formCounter names the form step's counter after the form.
func formCounter(n *normalizer) string {
	switch n.normBit {
	case clNotNFKC:
		return "nfkc"
	case clNotNFC:
		return "nfc"
	}
	return "form"
}

// normTextField returns the batch's own text field, so replacing the column
// keeps its type and nullability.
func normTextField(b *pipeline.Batch) arrow.Field {
	for _, f := range b.Fields() {
		if f.Name == pipeline.ColText {
			return f
		}
	}
	return arrow.Field{Name: pipeline.ColText, Type: arrow.BinaryTypes.String}
}

// normStringColumn builds a string column with its data buffer reserved once.
// Unchanged rows still point into the old column, which SetColumn releases
// only after this copy.
func normStringColumn(b *pipeline.Batch, vals []string) arrow.Array {
	total := 0
	for _, v := range vals {
		total += len(v)
	}
	sb := array.NewStringBuilder(b.Allocator())
	defer sb.Release()
	sb.Reserve(len(vals))
	sb.ReserveData(total)
	for _, v := range vals {
		sb.Append(v)
	}
	return sb.NewArray()
}
