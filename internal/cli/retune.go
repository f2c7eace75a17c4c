package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/filters"
	"winnow/pipeline"
	"winnow/report"
)

// RetuneOptions are the settings of `winnow retune`.
type RetuneOptions struct {
	Run        string // the finished run directory
	ConfigPath string // the config with the new thresholds
	Write      string // "": report only; else a new run directory
	Examples   int    // examples printed per rule and direction
}

// RetuneResult is what a re-decision found.
type RetuneResult struct {
	Kept  []string // ids kept under the new thresholds, in the run's order
	Flips []RuleFlips
}

// RuleFlips counts one rule's changes.
type RuleFlips struct {
	Rule              string
	NowDropped        int // kept before, dropped by this rule now
	NowKept           int // dropped by this rule before, kept now
	Moved             int // dropped by another rule before, by this one now
	NowDroppedExample []string
	NowKeptExample    []string
}

// Retune re-decides every document of a run from its stored signals with
// the thresholds of another config, reports what flips, and with Write
// produces a complete run directory.
func Retune(ctx context.Context, w io.Writer, o RetuneOptions) (*RetuneResult, error) {
	m, err := pipeline.ReadManifest(o.Run)
	if err != nil {
		return nil, fmt.Errorf("%s is not a finished run: %w", o.Run, err)
	}
	oldCfg, err := pipeline.LoadConfig(filepath.Join(o.Run, "config.yaml"))
	if err != nil {
		return nil, err
	}
	newCfg, err := pipeline.LoadConfig(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	reg := NewRegistry()
	oldStages, oldOpts, err := reg.Build(oldCfg.Stages)
	if err != nil {
		return nil, fmt.Errorf("the run's config: %w", err)
	}
	newStages, newOpts, err := reg.Build(newCfg.Stages)
	if err != nil {
		return nil, err
	}
	rt, err := filters.NewRetuner(oldStages, newStages, oldOpts, newOpts)
	if err != nil {
		return nil, fmt.Errorf("retune %s with %s: %w", o.Run, o.ConfigPath, err)
	}
	rd := &retuneRun{opts: o, rt: rt, flips: map[string]*RuleFlips{}, res: &RetuneResult{}, dropped: map[string]map[string]pipeline.Count{}}
	if o.Write != "" {
		if err := rd.openWriters(newCfg, newOpts); err != nil {
			return nil, err
		}
	}
	for _, sub := range []string{"shards", "rejected"} {
		paths, _ := filepath.Glob(filepath.Join(o.Run, sub, "*.parquet"))
		sort.Strings(paths)
		for _, p := range paths {
			if err := rd.file(ctx, p); err != nil {
				rd.abort()
				return nil, err
			}
		}
	}
	for _, f := range rd.flips {
		rd.res.Flips = append(rd.res.Flips, *f)
	}
	sort.Slice(rd.res.Flips, func(i, j int) bool { return rd.res.Flips[i].Rule < rd.res.Flips[j].Rule })
	printFlips(w, rd.res, o.Examples)
	if o.Write != "" {
		if err := rd.finish(m, newCfg, newOpts); err != nil {
			return nil, err
		}
		// As after a run: the report of the re-decided run, derived from it.
		return rd.res, report.Write(ctx, o.Write, report.Options{Seed: 1})
	}
	return rd.res, nil
}

type retuneRun struct {
	opts           RetuneOptions
	rt             *filters.Retuner
	flips          map[string]*RuleFlips
	res            *RetuneResult
	kept, rejected *pipeline.ShardWriter
	nKept, nRej    int64
	stats          pipeline.Stats
	dropped        map[string]map[string]pipeline.Count // stage → reason → documents and bytes
}

func (r *retuneRun) file(ctx context.Context, path string) error {
	return pipeline.EachRecord(ctx, path, func(rec arrow.RecordBatch) error {
		if err := r.batch(ctx, rec); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
}

// batch re-decides one record's rows, tallies the flips and writes them.
func (r *retuneRun) batch(ctx context.Context, rec arrow.RecordBatch) error {
	decide, err := r.rt.Bind(rec)
	if err != nil {
		return err
	}
	ids := columnOf(rec, pipeline.ColID).(*array.String)
	texts := columnOf(rec, pipeline.ColText).(*array.String)
	oldStage, _ := columnOf(rec, pipeline.ColDropStage).(*array.String)
	oldReason, _ := columnOf(rec, pipeline.ColDropReason).(*array.String)
	drops := make([]pipeline.Drop, rec.NumRows())
	for i := range drops {
		var was pipeline.Drop
		if oldStage != nil && oldStage.IsValid(i) {
			was = pipeline.Drop{Stage: oldStage.Value(i), Reason: oldReason.Value(i)}
		}
		now := decide(i, was.Stage)
		if now.Stage == was.Stage && now.Reason == "" {
			now.Reason = was.Reason // decided before the filters: stands
		}
		drops[i] = now
		r.tally(was, now, ids.Value(i)+"  "+clip(texts.Value(i), 60))
		r.count(now, int64(texts.ValueLen(i)))
		if now.Stage == "" {
			r.res.Kept = append(r.res.Kept, ids.Value(i))
		}
	}
	if r.kept == nil {
		return nil
	}
	return r.write(ctx, rec, drops)
}

// count adds a document to the stats of the re-decided run.
func (r *retuneRun) count(d pipeline.Drop, bytes int64) {
	if d.Stage == "" {
		r.stats.Kept.Docs++
		r.stats.Kept.Bytes += bytes
		return
	}
	r.stats.Rejected.Docs++
	r.stats.Rejected.Bytes += bytes
	if r.dropped[d.Stage] == nil {
		r.dropped[d.Stage] = map[string]pipeline.Count{}
	}
	c := r.dropped[d.Stage][d.Reason]
	c.Docs++
	c.Bytes += bytes
	r.dropped[d.Stage][d.Reason] = c
}

func (r *retuneRun) tally(was, now pipeline.Drop, example string) {
	if was == now {
		return
	}
	get := func(rule string) *RuleFlips {
		if r.flips[rule] == nil {
			r.flips[rule] = &RuleFlips{Rule: rule}
		}
		return r.flips[rule]
	}
	switch {
	case was.Stage != "" && now.Stage != "":
		get(now.Reason).Moved++
	case now.Stage != "":
		f := get(now.Reason)
		f.NowDropped++
		if len(f.NowDroppedExample) < r.opts.Examples {
			f.NowDroppedExample = append(f.NowDroppedExample, example)
		}
	default:
		f := get(was.Reason)
		f.NowKept++
		if len(f.NowKeptExample) < r.opts.Examples {
			f.NowKeptExample = append(f.NowKeptExample, example)
		}
	}
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func columnOf(rec arrow.RecordBatch, name string) arrow.Array {
	for i, f := range rec.Schema().Fields() {
		if f.Name == name {
			return rec.Column(i)
		}
	}
	return nil
}

func printFlips(w io.Writer, res *RetuneResult, examples int) {
	fmt.Fprintf(w, "kept under the new thresholds: %d documents\n", len(res.Kept))
	if len(res.Flips) == 0 {
		fmt.Fprintln(w, "no document changes status")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rule\tkept -> dropped\tdropped -> kept\tfrom another rule")
	for _, f := range res.Flips {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", f.Rule, f.NowDropped, f.NowKept, f.Moved)
	}
	tw.Flush()
	for _, f := range res.Flips {
		for _, e := range f.NowDroppedExample {
			fmt.Fprintf(w, "  now dropped by %s: %s\n", f.Rule, e)
		}
		for _, e := range f.NowKeptExample {
			fmt.Fprintf(w, "  now kept (was %s): %s\n", f.Rule, e)
		}
	}
}

func (r *retuneRun) openWriters(cfg pipeline.Config, opts []any) error {
	if _, err := os.Stat(r.opts.Write); err == nil {
		return fmt.Errorf("--write %s exists; give a new directory", r.opts.Write)
	}
	if err := os.MkdirAll(r.opts.Write, 0o755); err != nil {
		return err
	}
	_, hash, err := pipeline.ResolvedConfig(cfg, opts)
	if err != nil {
		return err
	}
	meta := [][2]string{{"winnow.version", pipeline.Version}, {"winnow.config_sha256", hash}}
	r.kept = pipeline.NewShardWriter(r.opts.Write, "shards", cfg.Output, meta)
	r.rejected = pipeline.NewShardWriter(r.opts.Write, "rejected", cfg.Output, meta)
	return nil
}

func (r *retuneRun) abort() {
	if r.kept != nil {
		r.kept.Abort()
		r.rejected.Abort()
	}
}

// write splits rec into kept rows (without drop columns) and dropped rows
// (with the new drop_stage and drop_reason).
func (r *retuneRun) write(ctx context.Context, rec arrow.RecordBatch, drops []pipeline.Drop) error {
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range rec.Schema().Fields() {
		if f.Name != pipeline.ColDropStage && f.Name != pipeline.ColDropReason {
			fields, cols = append(fields, f), append(cols, rec.Column(i))
		}
	}
	base := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	defer base.Release()
	mem := memory.DefaultAllocator
	keep, drop := array.NewBooleanBuilder(mem), array.NewBooleanBuilder(mem)
	stage, reason := array.NewStringBuilder(mem), array.NewStringBuilder(mem)
	defer keep.Release()
	defer drop.Release()
	defer stage.Release()
	defer reason.Release()
	for _, d := range drops {
		keep.Append(d.Stage == "")
		drop.Append(d.Stage != "")
		if d.Stage == "" {
			stage.AppendNull()
			reason.AppendNull()
		} else {
			stage.Append(d.Stage)
			reason.Append(d.Reason)
		}
	}
	mask, notMask, sa, ra := keep.NewBooleanArray(), drop.NewBooleanArray(), stage.NewArray(), reason.NewArray()
	defer mask.Release()
	defer notMask.Release()
	defer sa.Release()
	defer ra.Release()
	kept, err := compute.FilterRecordBatch(ctx, base, mask, compute.DefaultFilterOptions())
	if err != nil {
		return err
	}
	defer kept.Release()
	r.nKept += kept.NumRows()
	if err := r.kept.Write(kept); err != nil {
		return err
	}
	withDrops := array.NewRecordBatch(arrow.NewSchema(append(fields,
		arrow.Field{Name: pipeline.ColDropStage, Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: pipeline.ColDropReason, Type: arrow.BinaryTypes.String, Nullable: true}), nil),
		append(cols, sa, ra), rec.NumRows())
	defer withDrops.Release()
	dropped, err := compute.FilterRecordBatch(ctx, withDrops, notMask, compute.DefaultFilterOptions())
	if err != nil {
		return err
	}
	defer dropped.Release()
	r.nRej += dropped.NumRows()
	return r.rejected.Write(dropped)
}

// finish closes the shards and writes config.yaml, the quarantine files
// and, last, manifest.json.
func (r *retuneRun) finish(old *pipeline.Manifest, cfg pipeline.Config, opts []any) error {
	dir := r.opts.Write
	if err := r.kept.Close(); err != nil {
		return err
	}
	if err := r.rejected.Close(); err != nil {
		return err
	}
	yml, hash, err := pipeline.ResolvedConfig(cfg, opts)
	if err != nil {
		return err
	}
	if err := pipeline.WriteFileAtomic(filepath.Join(dir, "config.yaml"), yml); err != nil {
		return err
	}
	// stats.json: the counts of the re-decision; the run's throughput and
	// stage times stay those of the run that computed the signals.
	r.stats.RunID, r.stats.Version = "retune-"+old.RunID, pipeline.Version
	// Documents in and out of each stage follow from the drops in order.
	left := pipeline.Count{Docs: r.stats.Kept.Docs + r.stats.Rejected.Docs, Bytes: r.stats.Kept.Bytes + r.stats.Rejected.Bytes}
	r.stats.Read.Docs = left
	for _, name := range r.rt.StageNames() {
		st := pipeline.StageStats{Name: name, In: left, Dropped: r.dropped[name]}
		if st.Dropped == nil {
			st.Dropped = map[string]pipeline.Count{}
		}
		for _, c := range st.Dropped {
			left.Docs, left.Bytes = left.Docs-c.Docs, left.Bytes-c.Bytes
		}
		st.Out = left
		r.dropped[name] = nil // a stage listed twice counts its drops once
		r.stats.Stages = append(r.stats.Stages, st)
	}
	if err := pipeline.WriteJSON(filepath.Join(dir, "stats.json"), &r.stats); err != nil {
		return err
	}
	m := *old
	m.RunID, m.Start, m.End, m.ConfigSHA256 = "retune-"+old.RunID, time.Now().UTC(), time.Now().UTC(), hash
	m.Outputs = append(append([]pipeline.OutputFile{}, r.kept.Outputs...), r.rejected.Outputs...)
	for _, name := range []string{"config.yaml", "stats.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		m.Outputs = append(m.Outputs, pipeline.OutputFile{Path: name, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	}
	for _, o := range old.Outputs {
		if strings.HasPrefix(o.Path, "quarantine/") {
			data, err := os.ReadFile(filepath.Join(r.opts.Run, o.Path))
			if err == nil {
				os.MkdirAll(filepath.Join(dir, "quarantine"), 0o755)
				err = pipeline.WriteFileAtomic(filepath.Join(dir, o.Path), data)
			}
			if err != nil {
				return fmt.Errorf("copy %s: %w", o.Path, err)
			}
			m.Outputs = append(m.Outputs, o)
		}
	}
	m.Totals.Kept, m.Totals.Rejected = r.nKept, r.nRej
	if m.Totals.Kept+m.Totals.Rejected+m.Totals.Quarantined != m.Totals.Read {
		return fmt.Errorf("internal error: %d kept + %d rejected + %d quarantined != %d read", r.nKept, r.nRej, m.Totals.Quarantined, m.Totals.Read)
	}
	return pipeline.WriteJSON(filepath.Join(dir, pipeline.ManifestFile), &m)
}
