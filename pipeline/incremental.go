package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// An incremental output directory holds every published run and a pointer
// to the last one:
//
//	out/runs/<run id>/   complete, standalone run directories
//	out/current          symlink to runs/<run id>, switched atomically
//
// Each run reads only the input files that are new or changed since the
// run current points to, deduplicates them against that run's index, and
// publishes a new run directory whose shards are the earlier shards
// (hard links: same files, same checksums) plus its own. Documents of input
// files that changed or disappeared are retracted: shards holding them are
// written anew without them, and the manifest lists each retraction.
const (
	RunsDir     = "runs"
	CurrentLink = "current"
)

// Retraction records an input file whose earlier documents left the run.
type Retraction struct {
	Path   string `json:"path"`
	Source string `json:"source"`
	Reason string `json:"reason"` // "changed" or "deleted"
	// Docs is how many of its documents (kept and rejected) were removed.
	Docs int64 `json:"docs"`
}

// increment is what an incremental run carries over from the last one.
type increment struct {
	root    string
	prevDir string // "" on the first run
	prev    *Manifest
	// carried are the earlier inputs that are unchanged.
	carried []InputRecord
	// todo are the input files this run reads.
	todo      []InputFile
	retracted []Retraction
	// retractedSources are the source values of retracted files.
	retractedSources map[string]bool
	// retractedIDs and retractedDocs (per source) are filled while the
	// earlier shards are carried over.
	retractedIDs  map[string]bool
	retractedDocs map[string]int64
	// retractedKept and retractedRejected split them by shard kind.
	retractedKept, retractedRejected int64
	outputs                          []OutputFile
	// nextKept and nextRejected number this run's first shards.
	nextKept, nextRejected int
}

// current returns the run directory out/current points to, or "" when
// there is none yet.
func currentRun(root string) (string, error) {
	target, err := os.Readlink(filepath.Join(root, CurrentLink))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Join(root, CurrentLink), err)
	}
	return filepath.Join(root, target), nil
}

// planIncrement compares the input listing with the last run's manifest.
func planIncrement(root string, inputs []InputFile, configHash string) (*increment, error) {
	inc := &increment{root: root, retractedSources: map[string]bool{},
		retractedIDs: map[string]bool{}, retractedDocs: map[string]int64{}}
	prevDir, err := currentRun(root)
	if err != nil || prevDir == "" {
		inc.todo = inputs
		return inc, err
	}
	if inc.prev, err = ReadManifest(prevDir); err != nil {
		return nil, fmt.Errorf("last run %s: %w", prevDir, err)
	}
	if inc.prev.ConfigSHA256 != configHash {
		return nil, fmt.Errorf("%w: the config differs from the one of the last run %s (config sha256 %.12s, now %.12s): its shards were made by other stages or thresholds; use a new output directory, or run once without --incremental",
			ErrConfig, prevDir, inc.prev.ConfigSHA256, configHash)
	}
	inc.prevDir = prevDir
	before := map[string]InputRecord{}
	for _, in := range inc.prev.Inputs {
		before[in.Path] = in
	}
	now := map[string]bool{}
	for _, f := range inputs {
		now[f.Path] = true
		old, seen := before[f.Path]
		switch {
		case !seen:
			inc.todo = append(inc.todo, f)
		case unchanged(old, f):
			inc.carried = append(inc.carried, old)
		default:
			inc.todo = append(inc.todo, f)
			inc.retract(old, "changed")
		}
	}
	for _, old := range inc.prev.Inputs {
		if !now[old.Path] {
			inc.retract(old, "deleted")
		}
	}
	return inc, nil
}

// ChangedInputs returns the files of inputs an incremental run into root
// reads: those new or changed since the run root/current points to.
func ChangedInputs(root string, inputs []InputFile) []InputFile {
	dir, err := currentRun(root)
	if err != nil || dir == "" {
		return inputs
	}
	last, err := ReadManifest(dir)
	if err != nil {
		return inputs
	}
	before := map[string]InputRecord{}
	for _, in := range last.Inputs {
		before[in.Path] = in
	}
	var todo []InputFile
	for _, f := range inputs {
		if old, seen := before[f.Path]; !seen || !unchanged(old, f) {
			todo = append(todo, f)
		}
	}
	return todo
}

// unchanged trusts size and modification time, as make and rsync do: a
// file rewritten with the same size within the same mtime tick is missed.
func unchanged(old InputRecord, f InputFile) bool {
	fi, err := os.Stat(f.Path)
	return err == nil && fi.Size() == old.Size && fi.ModTime().UTC().Equal(old.MTime)
}

func (inc *increment) retract(old InputRecord, reason string) {
	inc.retracted = append(inc.retracted, Retraction{Path: old.Path, Source: old.Source, Reason: reason})
	inc.retractedSources[old.Source] = true
}

// nothingToDo reports whether the last run already covers the inputs.
func (inc *increment) nothingToDo() bool {
	return inc.prev != nil && len(inc.todo) == 0 && len(inc.retracted) == 0
}

// carry brings the last run's outputs into dir: shards and quarantine
// files of unchanged inputs as hard links, shards holding retracted
// documents rewritten without them.
func (inc *increment) carry(ctx context.Context, dir string, cfg OutputConfig, meta [][2]string) error {
	if inc.prev == nil {
		return nil
	}
	rewrite := map[string]*ShardWriter{
		"shards":   NewShardWriter(dir, "shards", cfg, meta),
		"rejected": NewShardWriter(dir, "rejected", cfg, meta),
	}
	next := map[string]int{}
	for _, out := range inc.prev.Outputs {
		sub, _, _ := strings.Cut(out.Path, "/")
		if n, ok := shardNumber(out.Path); ok && n >= next[sub] {
			next[sub] = n + 1
		}
	}
	for sub, w := range rewrite {
		w.index = next[sub]
	}
	for _, out := range inc.prev.Outputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := inc.carryFile(ctx, dir, out, rewrite); err != nil {
			return err
		}
	}
	for _, sub := range []string{"shards", "rejected"} {
		w := rewrite[sub]
		if err := w.Close(); err != nil {
			return err
		}
		inc.outputs = append(inc.outputs, w.Outputs...)
	}
	inc.nextKept, inc.nextRejected = rewrite["shards"].index, rewrite["rejected"].index
	for i := range inc.retracted {
		inc.retracted[i].Docs = inc.retractedDocs[inc.retracted[i].Source]
	}
	return nil
}

func (inc *increment) carryFile(ctx context.Context, dir string, out OutputFile, rewrite map[string]*ShardWriter) error {
	sub, name, _ := strings.Cut(out.Path, "/")
	switch {
	case sub == "quarantine":
		if inc.quarantineRetracted(name) {
			return nil
		}
	case rewrite[sub] == nil:
		return nil // config.yaml, stats.json: this run writes its own
	case len(inc.retractedSources) > 0:
		held, err := inc.holdsRetracted(ctx, filepath.Join(inc.prevDir, out.Path))
		if err != nil {
			return err
		}
		if held {
			return inc.rewriteShard(ctx, filepath.Join(inc.prevDir, out.Path), rewrite[sub], sub == "shards")
		}
	}
	if err := linkFile(filepath.Join(inc.prevDir, out.Path), filepath.Join(dir, out.Path)); err != nil {
		return err
	}
	inc.outputs = append(inc.outputs, out)
	return nil
}

// shardNumber reads n from shards/part-<n>.parquet or rejected/part-<n>.parquet.
func shardNumber(path string) (int, bool) {
	var n int
	_, name, _ := strings.Cut(path, "/")
	if _, err := fmt.Sscanf(name, "part-%05d.parquet", &n); err != nil {
		return 0, false
	}
	return n, true
}

func (inc *increment) quarantineRetracted(name string) bool {
	for src := range inc.retractedSources {
		if quarantineSlug(src)+".jsonl" == name {
			return true
		}
	}
	return false
}

// linkFile hard-links src to dst (the same file, not a copy), creating
// dst's directory and replacing what an interrupted attempt left there.
func linkFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("carry %s: %w", src, err)
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("carry %s: %w", src, err)
	}
	if err := os.Link(src, dst); err != nil {
		return fmt.Errorf("carry %s: %w", src, err)
	}
	return nil
}

// holdsRetracted reports whether a shard has a row of a retracted source.
func (inc *increment) holdsRetracted(ctx context.Context, path string) (bool, error) {
	held := false
	err := EachRecord(ctx, path, func(rec arrow.RecordBatch) error {
		sources, _, err := sourceAndID(rec, path)
		if err != nil {
			return err
		}
		for i := 0; i < sources.Len() && !held; i++ {
			held = inc.retractedSources[sources.Value(i)]
		}
		return nil
	})
	return held, err
}

// rewriteShard copies a shard's rows of unretracted sources to w, in
// order, and notes the ids it leaves out.
func (inc *increment) rewriteShard(ctx context.Context, path string, w *ShardWriter, kept bool) error {
	return EachRecord(ctx, path, func(rec arrow.RecordBatch) error {
		sources, ids, err := sourceAndID(rec, path)
		if err != nil {
			return err
		}
		from := 0
		flush := func(to int) error {
			if to > from {
				part := rec.NewSlice(int64(from), int64(to))
				defer part.Release()
				return w.Write(part)
			}
			return nil
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			src := sources.Value(i)
			if !inc.retractedSources[src] {
				continue
			}
			if err := flush(i); err != nil {
				return err
			}
			from = i + 1
			inc.retractedIDs[ids.Value(i)] = true
			inc.retractedDocs[src]++
			if kept {
				inc.retractedKept++
			} else {
				inc.retractedRejected++
			}
		}
		return flush(int(rec.NumRows()))
	})
}

func sourceAndID(rec arrow.RecordBatch, path string) (*array.String, *array.String, error) {
	var cols [2]*array.String
	for k, name := range []string{ColSource, ColID} {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 1 {
			cols[k], _ = rec.Column(idx[0]).(*array.String)
		}
		if cols[k] == nil {
			return nil, nil, fmt.Errorf("%s: no string column %q", path, name)
		}
	}
	return cols[0], cols[1], nil
}

// runIncremental runs on the files that changed since the last run and
// publishes a new run directory under runs/.
func runIncremental(ctx context.Context, opts RunOptions) (*Result, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	root := r.dir
	if err := os.MkdirAll(filepath.Join(root, RunsDir), 0o755); err != nil {
		return nil, fmt.Errorf("%w: output directory %s: %w", ErrOutput, root, err)
	}
	if err := adoptFinished(root, r.log); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	inc, err := planIncrement(root, r.inputs, r.configHash)
	if err != nil {
		return nil, err
	}
	if inc.nothingToDo() {
		r.log.Info("nothing new since the last run", "run", inc.prevDir, "files", len(inc.carried))
		return previousResult(inc.prevDir, inc.prev)
	}
	unfinished, err := sweepUnpublished(root, inc.prevDir, r.log)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if unfinished != "" {
		r.id = unfinished // its checkpoints may carry this increment on
	}
	r.listing, r.inputs, r.inc = r.inputs, inc.todo, inc
	r.dir = filepath.Join(root, RunsDir, r.id)
	r.log.Info("incremental run", "previous", inc.prevDir, "new_or_changed", len(inc.todo),
		"unchanged", len(inc.carried), "retracted", len(inc.retracted))
	prevID := ""
	if inc.prev != nil {
		prevID = inc.prev.RunID
	}
	if err := r.prepareDir(inputsKey(r.inputs) + "+" + prevID); err != nil {
		return nil, err
	}
	if err := inc.carry(ctx, r.dir, r.cfg.Output, r.shardMeta()); err != nil {
		return nil, fmt.Errorf("carry over %s: %w", inc.prevDir, err)
	}
	if err := r.execute(ctx); err != nil {
		r.abort()
		return nil, err
	}
	res, err := r.finish()
	if err != nil {
		return nil, err
	}
	if err := publish(root, r.id); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	return res, nil
}

// previousResult describes the last run when there is nothing to add.
func previousResult(dir string, m *Manifest) (*Result, error) {
	var st Stats
	data, err := os.ReadFile(filepath.Join(dir, "stats.json"))
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: last run's stats: %w", ErrOutput, err)
	}
	return &Result{Dir: dir, Manifest: m, Stats: &st, Unchanged: true}, nil
}

// sweepUnpublished tidies runs/ after an interrupted run: of the
// directories without a manifest, the newest is returned (its checkpoints
// may let this run resume) and the others are removed.
func sweepUnpublished(root, current string, log *slog.Logger) (string, error) {
	entries, err := os.ReadDir(filepath.Join(root, RunsDir))
	if err != nil {
		return "", err
	}
	var unfinished []string // sorted: run ids start with their time
	for _, e := range entries {
		dir := filepath.Join(root, RunsDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, ManifestFile)); dir != current && errors.Is(err, os.ErrNotExist) {
			unfinished = append(unfinished, e.Name())
		}
	}
	if len(unfinished) == 0 {
		return "", nil
	}
	for _, name := range unfinished[:len(unfinished)-1] {
		log.Info("removing an unfinished run", "dir", filepath.Join(root, RunsDir, name))
		if err := os.RemoveAll(filepath.Join(root, RunsDir, name)); err != nil {
			return "", fmt.Errorf("remove unfinished run %s: %w", name, err)
		}
	}
	return unfinished[len(unfinished)-1], nil
}

// adoptFinished publishes a run that was complete but killed before it
// could switch current: its manifest continues the current run.
func adoptFinished(root string, log *slog.Logger) error {
	cur, err := currentRun(root)
	if err != nil {
		return err
	}
	curID := ""
	if cur != "" {
		curID = filepath.Base(cur)
	}
	entries, err := os.ReadDir(filepath.Join(root, RunsDir))
	if err != nil {
		return err
	}
	for i := len(entries) - 1; i >= 0; i-- { // newest first
		name := entries[i].Name()
		if name <= curID {
			return nil
		}
		m, err := ReadManifest(filepath.Join(root, RunsDir, name))
		if err == nil && m.PreviousRun == curID {
			log.Info("publishing a finished run that was not published", "run", name)
			return publish(root, name)
		}
	}
	return nil
}

// publish points root/current at runs/<id>: a new symlink renamed over
// the old one, so a reader sees either run, never neither.
func publish(root, id string) error {
	tmp := filepath.Join(root, fmt.Sprintf(".%s.%d", CurrentLink, os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join(RunsDir, id), tmp); err != nil {
		return fmt.Errorf("publish run %s: %w", id, err)
	}
	if err := os.Rename(tmp, filepath.Join(root, CurrentLink)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("publish run %s: %w", id, err)
	}
	return SyncPath(root)
}

// mergeManifest makes this run's manifest describe the whole published
// run: every input in listing order, the carried outputs and totals.
func (inc *increment) mergeManifest(m *Manifest, listing []InputFile, runID string) {
	read := map[string]InputRecord{}
	for _, in := range inc.carried {
		read[in.Path] = in
	}
	for _, in := range m.Inputs {
		in.Run = runID
		read[in.Path] = in
	}
	m.Inputs = m.Inputs[:0]
	for _, f := range listing {
		if in, ok := read[f.Path]; ok {
			m.Inputs = append(m.Inputs, in)
		}
	}
	m.Outputs = append(inc.outputs, m.Outputs...)
	m.Retracted = inc.retracted
	if inc.prev != nil {
		m.PreviousRun = inc.prev.RunID
		m.Totals.Kept += inc.prev.Totals.Kept - inc.retractedKept
		m.Totals.Rejected += inc.prev.Totals.Rejected - inc.retractedRejected
	}
	m.Totals.Read, m.Totals.Quarantined = 0, 0
	for _, in := range m.Inputs {
		m.Totals.Read += in.Docs + in.Quarantined
		m.Totals.Quarantined += in.Quarantined
	}
}
