package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/filters"
	"winnow/pipeline"
)

// ExplainOptions say which document to explain and with which config.
type ExplainOptions struct {
	Flags RunFlags // the config (-c or --recipe)
	Text  string   // the document itself …
	File  string   // … or a file holding it …
	ID    string   // … or the id of a document of Run
	Run   string
}

// explainer is a stage that can list its rules' verdicts for one row.
type explainer interface {
	Explain(b *pipeline.Batch, row int) []filters.RuleVerdict
}

// Explain runs every per-document stage of the config on one document and
// prints, stage by stage, the columns it set and each rule's threshold and
// verdict. Global stages (dedup) need the whole corpus and are named only.
func Explain(ctx context.Context, w io.Writer, o ExplainOptions) error {
	cfg, err := LoadConfig(o.Flags)
	if err != nil {
		return err
	}
	doc, err := explainDoc(o)
	if err != nil {
		return err
	}
	stages, _, err := NewRegistry().Build(cfg.Stages)
	if err != nil {
		return err
	}
	b := pipeline.NewBatch(memory.DefaultAllocator, 0, []pipeline.Doc{doc}, []string{"explain"}, len(doc.Messages) > 0)
	defer b.Release()
	var verdict pipeline.Drop
	for _, st := range stages {
		if _, global := st.(pipeline.GlobalStage); global {
			fmt.Fprintf(w, "%s: needs the whole corpus; not run for one document\n", st.Name())
			continue
		}
		before, text := b.ColumnNames(), b.Texts().Value(0)
		if err := st.Process(ctx, b); err != nil {
			return fmt.Errorf("stage %s: %w", st.Name(), err)
		}
		fmt.Fprintf(w, "%s:", st.Name())
		for _, f := range b.Fields() {
			changed := f.Name == pipeline.ColText && b.Texts().Value(0) != text
			if !slices.Contains(before, f.Name) || changed {
				fmt.Fprintf(w, " %s=%s", f.Name, firstCell(b, f.Name))
			}
		}
		fmt.Fprintln(w)
		if ex, ok := st.(explainer); ok {
			printVerdicts(w, ex.Explain(b, 0))
		}
		if d := b.DropOf(0); d.Stage != "" && verdict.Stage == "" {
			verdict = d
			fmt.Fprintf(w, "  => dropped here: %s (later stages run for information)\n", d.Reason)
		}
	}
	if verdict.Stage == "" {
		fmt.Fprintln(w, "=> kept")
	} else {
		fmt.Fprintf(w, "=> dropped by %s: %s\n", verdict.Stage, verdict.Reason)
	}
	return nil
}

func explainDoc(o ExplainOptions) (pipeline.Doc, error) {
	switch {
	case o.Text != "":
		return pipeline.Doc{ID: "explain", Text: o.Text}, nil
	case o.File != "":
		data, err := os.ReadFile(o.File)
		return pipeline.Doc{ID: o.File, Text: string(data)}, err
	case o.ID != "" && o.Run != "":
		return docFromRun(o.Run, o.ID)
	}
	return pipeline.Doc{}, errors.New("give --text, --file, or --id with --run")
}

// docFromRun finds a document by id in a run's shards and rejected files.
func docFromRun(run, id string) (pipeline.Doc, error) {
	for _, sub := range []string{"shards", "rejected"} {
		paths, _ := filepath.Glob(filepath.Join(run, sub, "*.parquet"))
		slices.Sort(paths)
		for _, p := range paths {
			var found *pipeline.Doc
			err := pipeline.EachRecord(context.Background(), p, func(rec arrow.RecordBatch) error {
				ids, _ := columnOf(rec, pipeline.ColID).(*array.String)
				texts, _ := columnOf(rec, pipeline.ColText).(*array.String)
				for i := 0; found == nil && ids != nil && texts != nil && i < ids.Len(); i++ {
					if ids.Value(i) == id {
						found = &pipeline.Doc{ID: id, Text: texts.Value(i)}
					}
				}
				return nil
			})
			if err != nil {
				return pipeline.Doc{}, err
			}
			if found != nil {
				return *found, nil
			}
		}
	}
	return pipeline.Doc{}, fmt.Errorf("no document with id %q in %s", id, run)
}

// firstCell renders row 0 of a column briefly: floats to 4 digits.
func firstCell(b *pipeline.Batch, name string) string {
	col := b.Column(name)
	if f, ok := col.(*array.Float64); ok && f.IsValid(0) {
		return strconv.FormatFloat(f.Value(0), 'g', 4, 64)
	}
	if col.IsNull(0) {
		return "null"
	}
	return cell(col.GetOneForMarshal(0), 40)
}

func printVerdicts(w io.Writer, vs []filters.RuleVerdict) {
	for _, v := range vs {
		val := "n/a"
		if !math.IsNaN(v.Value) {
			val = strconv.FormatFloat(v.Value, 'g', 4, 64)
		}
		switch {
		case !v.On:
			fmt.Fprintf(w, "  %-28s %-10s (off)\n", v.Key, val)
		case v.Fails:
			fmt.Fprintf(w, "  %-28s %-10s threshold %-8s FAIL\n", v.Key, val, strconv.FormatFloat(v.Threshold, 'g', -1, 64))
		default:
			fmt.Fprintf(w, "  %-28s %-10s threshold %-8s pass\n", v.Key, val, strconv.FormatFloat(v.Threshold, 'g', -1, 64))
		}
	}
}
