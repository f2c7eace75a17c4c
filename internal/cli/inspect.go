package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// InspectOptions say which documents of a run to show.
type InspectOptions struct {
	Run    string
	Reason string // a drop_reason, or its prefix (a stage, "stage.signal")
	Kept   bool   // survivors instead of dropped documents
	Lang   string
	Sample int
	Seed   uint64
	Width  int // characters of text shown
}

// inspected is one sampled document.
type inspected struct {
	order   int64
	id, src string
	reason  string
	lang    string
	text    string
	signals []string // "name=value" of the reason's stage and quality_score
}

// Inspect prints a reproducible sample of a run's dropped documents for one
// rule (or its kept ones), with the signals that decided them. Without a
// reason it lists the drop reasons and their counts.
func Inspect(ctx context.Context, w io.Writer, o InspectOptions) error {
	if _, err := pipeline.ReadManifest(o.Run); err != nil {
		return fmt.Errorf("%s is not a finished run: %w", o.Run, err)
	}
	sub := "rejected"
	if o.Kept {
		sub = "shards"
	}
	paths, _ := filepath.Glob(filepath.Join(o.Run, sub, "*.parquet"))
	sort.Strings(paths)
	s := &sampler{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), reasons: map[string]int{}}
	for _, p := range paths {
		if err := pipeline.EachRecord(ctx, p, s.record); err != nil {
			return err
		}
	}
	if !o.Kept && o.Reason == "" {
		return printReasons(w, s.reasons)
	}
	fmt.Fprintf(w, "%d documents match; showing %d (seed %d)\n", s.seen, len(s.picked), o.Seed)
	sort.Slice(s.picked, func(i, j int) bool { return s.picked[i].order < s.picked[j].order })
	for _, d := range s.picked {
		fmt.Fprintf(w, "\n%s  %s  lang=%s  %s\n", d.id, d.src, d.lang, d.reason)
		if len(d.signals) > 0 {
			fmt.Fprintf(w, "  %s\n", strings.Join(d.signals, "  "))
		}
		fmt.Fprintf(w, "  %s\n", clip(strings.ReplaceAll(d.text, "\n", " ⏎ "), o.Width))
	}
	return nil
}

type sampler struct {
	o       InspectOptions
	rng     *rand.Rand
	seen    int64
	picked  []inspected
	reasons map[string]int
}

// record samples the matching rows of rec with a reservoir: the same run
// and seed give the same sample.
func (s *sampler) record(rec arrow.RecordBatch) error {
	ids, _ := columnOf(rec, pipeline.ColID).(*array.String)
	texts, _ := columnOf(rec, pipeline.ColText).(*array.String)
	srcs, _ := columnOf(rec, pipeline.ColSource).(*array.String)
	reasons, _ := columnOf(rec, pipeline.ColDropReason).(*array.String)
	langs, _ := columnOf(rec, "lang").(*array.String)
	if ids == nil || texts == nil {
		return fmt.Errorf("a shard without id and text columns")
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		reason := ""
		if reasons != nil && reasons.IsValid(i) {
			reason = reasons.Value(i)
			s.reasons[reason]++
		}
		lang := ""
		if langs != nil && langs.IsValid(i) {
			lang = langs.Value(i)
		}
		if !s.matches(reason, lang) {
			continue
		}
		s.seen++
		slot := len(s.picked)
		if slot >= s.o.Sample {
			if slot = int(s.rng.Int64N(s.seen)); slot >= s.o.Sample {
				continue
			}
		}
		d := inspected{order: s.seen, id: ids.Value(i), reason: reason, lang: lang, text: texts.Value(i),
			signals: signalsOf(rec, i, reason)}
		if srcs != nil {
			d.src = srcs.Value(i)
		}
		if slot == len(s.picked) {
			s.picked = append(s.picked, d)
		} else {
			s.picked[slot] = d
		}
	}
	return nil
}

func (s *sampler) matches(reason, lang string) bool {
	if s.o.Lang != "" && lang != s.o.Lang {
		return false
	}
	if s.o.Kept || s.o.Reason == "" {
		return !s.o.Kept || reason == ""
	}
	r := s.o.Reason
	return reason == r || strings.HasPrefix(reason, r+".") || strings.HasPrefix(reason, r) && strings.ContainsAny(reason[len(r):len(r)+1], "<>")
}

// signalsOf renders the numeric columns of the stage named by reason and
// quality_score.
func signalsOf(rec arrow.RecordBatch, row int, reason string) []string {
	stage, _, _ := strings.Cut(reason, ".")
	var out []string
	for j, f := range rec.Schema().Fields() {
		if f.Name != "quality_score" && (reason == "" || !strings.HasPrefix(f.Name, stage+"_")) {
			continue
		}
		name := strings.TrimPrefix(f.Name, stage+"_")
		switch col := rec.Column(j).(type) {
		case *array.Float64:
			if col.IsValid(row) {
				out = append(out, fmt.Sprintf("%s=%.4g", name, col.Value(row)))
			}
		case *array.Int64:
			if col.IsValid(row) {
				out = append(out, fmt.Sprintf("%s=%d", name, col.Value(row)))
			}
		}
	}
	return out
}

func printReasons(w io.Writer, reasons map[string]int) error {
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if reasons[keys[i]] != reasons[keys[j]] {
			return reasons[keys[i]] > reasons[keys[j]]
		}
		return keys[i] < keys[j]
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "drop_reason\tdocuments")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%d\n", k, reasons[k])
	}
	fmt.Fprintln(tw, "(winnow inspect RUN --reason RULE shows a sample of one)")
	return tw.Flush()
}
