package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// RunDiff is what `winnow report --diff A B` found.
type RunDiff struct {
	Rules     []DiffRow // documents dropped per drop_reason
	Langs     []DiffRow // documents kept per lang
	OnlyKeptA []string  // ids kept in A, dropped (or absent) in B
	OnlyKeptB []string
	// ReasonInB / ReasonInA: why a document kept by one run was dropped by the other.
	ReasonInB, ReasonInA map[string]string
}

// DiffRow compares one count between the runs.
type DiffRow struct {
	Key  string
	A, B int64
}

// DiffRuns compares two finished runs: counts per rule and per language,
// and the documents whose status changed (by id), with the other run's
// reason. It prints up to examples ids each way.
func DiffRuns(ctx context.Context, w io.Writer, a, b string, examples int) (*RunDiff, error) {
	var sa, sb pipeline.Stats
	for _, x := range []struct {
		dir string
		st  *pipeline.Stats
	}{{a, &sa}, {b, &sb}} {
		if _, err := pipeline.ReadManifest(x.dir); err != nil {
			return nil, fmt.Errorf("%s is not a finished run: %w", x.dir, err)
		}
		data, err := os.ReadFile(filepath.Join(x.dir, "stats.json"))
		if err == nil {
			err = json.Unmarshal(data, x.st)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: stats.json: %w", x.dir, err)
		}
	}
	d := &RunDiff{Rules: diffRows(ruleCounts(&sa), ruleCounts(&sb)), Langs: diffRows(langCounts(&sa), langCounts(&sb))}
	keptA, dropA, err := runStatus(ctx, a)
	if err != nil {
		return nil, err
	}
	keptB, dropB, err := runStatus(ctx, b)
	if err != nil {
		return nil, err
	}
	d.OnlyKeptA, d.ReasonInB = onlyIn(keptA, keptB, dropB)
	d.OnlyKeptB, d.ReasonInA = onlyIn(keptB, keptA, dropA)
	printDiff(w, a, b, d, examples)
	return d, nil
}

func ruleCounts(st *pipeline.Stats) map[string]int64 {
	m := map[string]int64{}
	for _, s := range st.Stages {
		for reason, c := range s.Dropped {
			m[reason] += c.Docs
		}
	}
	return m
}

func langCounts(st *pipeline.Stats) map[string]int64 {
	m := map[string]int64{}
	for l, s := range st.ByLang {
		m[l] = s.Kept.Docs
	}
	return m
}

func diffRows(a, b map[string]int64) []DiffRow {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var rows []DiffRow
	for k := range keys {
		rows = append(rows, DiffRow{Key: k, A: a[k], B: b[k]})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	return rows
}

// runStatus reads a run's kept ids and its dropped ids with their reasons.
func runStatus(ctx context.Context, run string) (map[string]bool, map[string]string, error) {
	kept, dropped := map[string]bool{}, map[string]string{}
	for _, sub := range []string{"shards", "rejected"} {
		paths, _ := filepath.Glob(filepath.Join(run, sub, "*.parquet"))
		sort.Strings(paths)
		for _, p := range paths {
			err := pipeline.EachRecord(ctx, p, func(rec arrow.RecordBatch) error {
				ids, _ := columnOf(rec, pipeline.ColID).(*array.String)
				reasons, _ := columnOf(rec, pipeline.ColDropReason).(*array.String)
				for i := 0; ids != nil && i < ids.Len(); i++ {
					if reasons == nil {
						kept[ids.Value(i)] = true
					} else {
						dropped[ids.Value(i)] = reasons.Value(i)
					}
				}
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
		}
	}
	return kept, dropped, nil
}

// onlyIn lists the ids kept in x but not in y, with y's reason.
func onlyIn(x, y map[string]bool, dropY map[string]string) ([]string, map[string]string) {
	var ids []string
	reasons := map[string]string{}
	for id := range x {
		if !y[id] {
			ids = append(ids, id)
			if r, ok := dropY[id]; ok {
				reasons[id] = r
			} else {
				reasons[id] = "(not in this run)"
			}
		}
	}
	sort.Strings(ids)
	return ids, reasons
}

func printDiff(w io.Writer, a, b string, d *RunDiff, examples int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, part := range []struct {
		title string
		rows  []DiffRow
	}{{"dropped by rule", d.Rules}, {"kept by lang", d.Langs}} {
		fmt.Fprintf(tw, "%s\tA\tB\tB-A\n", part.title)
		for _, r := range part.rows {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%+d\n", r.Key, r.A, r.B, r.B-r.A)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "A = %s, B = %s\nkept in A only: %d; kept in B only: %d\n", a, b, len(d.OnlyKeptA), len(d.OnlyKeptB))
	for i, id := range d.OnlyKeptA {
		if i == examples {
			break
		}
		fmt.Fprintf(w, "  kept in A, in B %s: %s\n", d.ReasonInB[id], id)
	}
	for i, id := range d.OnlyKeptB {
		if i == examples {
			break
		}
		fmt.Fprintf(w, "  kept in B, in A %s: %s\n", d.ReasonInA[id], id)
	}
}
