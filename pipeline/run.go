package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"
)

// Error classes a caller can tell apart with errors.Is, to choose an exit code.
var (
	ErrConfig = errors.New("config error")
	ErrInput  = errors.New("input error")
	ErrOutput = errors.New("output error")
)

// WorkDir is the run directory's work area (staged rows, spill files); it
// is removed when a run succeeds.
const WorkDir = ".winnow"

// Progress is updated by a run while it goes; a display polls it.
type Progress struct {
	FilesTotal, BytesTotal atomic.Int64
	FilesDone, BytesRead   atomic.Int64
	DocsRead, Quarantined  atomic.Int64
	DocsKept, DocsRejected atomic.Int64
}

// RunOptions is everything a run needs besides its context.
type RunOptions struct {
	Config   Config
	Registry *Registry
	Logger   *slog.Logger
	Progress *Progress        // may be nil
	Alloc    memory.Allocator // nil: the Go allocator
	Task     *TaskOptions     // nil: a whole run
}

// Result is what a finished run produced.
type Result struct {
	Dir      string
	Manifest *Manifest
	Stats    *Stats
	// Unchanged is set when an incremental run found nothing new: Dir is
	// the last run, and nothing was written.
	Unchanged bool
	// Sealed is set when a task's run stopped after a pass that ends at a
	// global stage (TaskOptions): the pass's number, from 1.
	Sealed int
}

// Run executes the pipeline: it checks the config and the output directory
// before any work, streams every input through the stage chain, and writes
// shards, quarantine files, stats.json, config.yaml and, last, manifest.json.
func Run(ctx context.Context, opts RunOptions) (*Result, error) {
	if err := opts.Config.Validate(); err != nil { // before the lock creates output.dir
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	lock, err := AcquireLock(opts.Config.Output.Dir)
	if errors.Is(err, ErrLocked) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	defer lock.Release() // a lock left behind is taken over by the next run
	if lock.Stale != nil && opts.Logger != nil {
		opts.Logger.Warn("took over the lock of a run that is gone", "lock", lock.Path(), "owner_pid", lock.Stale.PID,
			"owner_host", lock.Stale.Host, "owner_start", lock.Stale.Start, "why", lock.StaleWhy)
	}
	if opts.Config.Incremental {
		return runIncremental(ctx, opts)
	}
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	if err := r.execute(ctx); err != nil {
		r.abort()
		var s sealed
		if errors.As(err, &s) {
			return &Result{Dir: r.dir, Sealed: s.pass}, nil
		}
		return nil, err
	}
	return r.finish()
}

type run struct {
	opts       RunOptions
	cfg        Config
	log        *slog.Logger
	dir        string
	stages     []Stage
	reader     FileReader
	inputs     []InputFile
	configYAML []byte
	configHash string
	workers    int
	progress   *Progress
	mem        memory.Allocator

	id    string
	start time.Time
	inc   *increment // nil unless the run is incremental
	// resume is the checkpoint of an earlier attempt this run continues.
	resume *checkpoint
	// resumeFinal is the last pass's checkpoint of an earlier attempt,
	// resumePartial one inside the pass this run starts with.
	resumeFinal   *finalCheckpoint
	resumePartial *partialCheckpoint
	inputsKey     string
	// finalPass is the index of the last pass; keptCheckpointed the kept
	// shard count at its last checkpoint.
	finalPass, keptCheckpointed int
	listing                     []InputFile // every input file, of which an incremental run reads some
	manifest                    Manifest
	stats                       Stats
	counters                    []stageCounter // merged from the batches, in order
	columns                     columnStats    // breakdowns of the final pass's batches
	kept                        *ShardWriter
	rejected                    *ShardWriter
	quarOut                     []OutputFile
}

func newRun(opts RunOptions) (*run, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	stages, resolved, err := opts.Registry.Build(cfg.Stages)
	if err == nil {
		err = CheckInput(stages, cfg.Input)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	reader, err := opts.Registry.NewReader(cfg.Input)
	if err != nil {
		return nil, fmt.Errorf("%w: input: %w", ErrConfig, err)
	}
	yml, hash, err := ResolvedConfig(cfg, resolved)
	if err != nil {
		return nil, err
	}
	r := &run{opts: opts, cfg: cfg, log: opts.Logger, dir: cfg.Output.Dir, stages: stages, reader: reader,
		configYAML: yml, configHash: hash, progress: opts.Progress, mem: opts.Alloc}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.progress == nil {
		r.progress = &Progress{}
	}
	if r.mem == nil {
		r.mem = memory.DefaultAllocator
	}
	r.start = time.Now()
	r.id = newRunID(r.start)
	r.workers = cfg.Workers
	if r.workers == 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	r.inputs, err = ListInputs(cfg.Input, cfg.Output.Dir)
	if err == nil && opts.Task != nil {
		r.inputs, err = opts.Task.Select(r.inputs)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	if cfg.Incremental {
		return r, nil // the run directory is a new one under runs/
	}
	if err := r.prepareDir(inputsKey(r.inputs)); err != nil {
		return nil, err
	}
	return r, nil
}

// prepareDir finds the checkpoints an earlier attempt at this run left
// (valid for the inputs keyed by key) and prepares the run directory,
// keeping what they need.
func (r *run) prepareDir(key string) error {
	r.inputsKey = key
	passes := splitPasses(r.stages)
	r.resume = r.lastCheckpoint(passes)
	r.resumeFinal = r.lastFinalCheckpoint(passes)
	r.resumePartial = r.lastPartialCheckpoint(passes)
	if err := prepareOutputDir(r.dir, r.keepForResume()); err != nil {
		return fmt.Errorf("%w: %w", ErrOutput, err)
	}
	return nil
}

// shardMeta is the key/value metadata of every shard of the run.
func (r *run) shardMeta() [][2]string {
	return [][2]string{{"winnow.version", Version}, {"winnow.config_sha256", r.configHash}}
}

// prepareOutputDir makes sure dir is writable before any work and clears a
// previous run in it, manifest first, so the directory never looks complete
// while it holds a mix of two runs. keep (nil: nothing) names what a
// resumed run keeps: top-level entries, and files under shards/ and
// rejected/ (relative paths), the others there being removed.
func prepareOutputDir(dir string, keep func(rel string) bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".winnow-probe-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	entries = withoutLockFiles(entries) // the run's own lock stays
	ours := map[string]bool{ManifestFile: true, "stats.json": true, "config.yaml": true, "report.html": true,
		"shards": true, "rejected": true, "quarantine": true, "index": true, WorkDir: true}
	for _, e := range entries {
		// A run killed mid-write leaves its temporary files (name.tmp-*).
		name, _, _ := strings.Cut(e.Name(), ".tmp-")
		if !ours[name] && !strings.HasPrefix(name, ".winnow-probe-") {
			return fmt.Errorf("output directory %s holds %s, which is not part of a winnow run; choose an empty or new directory", dir, e.Name())
		}
	}
	if err := os.Remove(filepath.Join(dir, ManifestFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove previous manifest: %w", err)
	}
	if err := SyncPath(dir); err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if keep != nil && keep(e.Name()) {
			if err := pruneShards(dir, e.Name(), keep); err != nil {
				return err
			}
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove previous run's %s: %w", e.Name(), err)
		}
	}
	return nil
}

func (r *run) execute(ctx context.Context) error {
	r.manifest = Manifest{RunID: r.id, Start: r.start.UTC(), Version: Version, ConfigSHA256: r.configHash}
	var total int64
	for _, f := range r.inputs {
		total += f.Size
	}
	r.progress.FilesTotal.Store(int64(len(r.inputs)))
	r.progress.BytesTotal.Store(total)
	r.log.Info("run started", "run_id", r.manifest.RunID, "files", len(r.inputs), "bytes", total, "workers", r.workers, "stages", len(r.stages), "output", r.dir)

	meta := r.shardMeta()
	r.kept = NewShardWriter(r.dir, "shards", r.cfg.Output, meta)
	if r.cfg.Output.KeepRejected {
		r.rejected = NewShardWriter(r.dir, "rejected", r.cfg.Output, meta)
	}
	if r.inc != nil {
		r.kept.index = r.inc.nextKept
		r.rejected.index = r.inc.nextRejected
	}
	r.counters = make([]stageCounter, len(r.stages))
	if err := r.runPasses(ctx, splitPasses(r.stages)); err != nil {
		return err
	}
	if err := r.kept.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if r.rejected != nil {
		if err := r.rejected.Close(); err != nil {
			return fmt.Errorf("%w: %w", ErrOutput, err)
		}
	}
	return nil
}

// runPasses runs the passes in order; each pass after the first reads the
// rows its predecessor staged, with the decisions of the global stage that
// ended it.
func (r *run) runPasses(ctx context.Context, passes []pass) error {
	var dec Decider
	var staged string
	prevGlobal := -1
	defer func() {
		if dec != nil {
			dec.Close()
		}
	}()
	start := 0
	r.finalPass = len(passes) - 1
	if cp := r.resume; cp != nil {
		r.restore(cp)
		p := cp.Pass - 1
		ps := passes[p]
		var err error
		if dec, err = ps.global.(Resumable).ReopenDecider(r.globalEnv(filepath.Join(passDir(r.dir, p), ps.global.Name()), ps.globalIdx)); err != nil {
			return fmt.Errorf("stage %s: resume: %w", ps.global.Name(), err)
		}
		staged, prevGlobal, start = passDir(r.dir, p), ps.globalIdx, p+1
	}
	for p := start; p < len(passes); p++ {
		ps := passes[p]
		out := passOutput{final: p == len(passes)-1, pass: p}
		if cp := r.resumePartial; cp != nil && cp.Pass == p+1 {
			if err := r.resumePass(cp, p, ps, &out); err != nil {
				return err
			}
		} else if !out.final {
			dir := passDir(r.dir, p)
			gdir := filepath.Join(dir, ps.global.Name())
			if err := os.RemoveAll(dir); err != nil { // an interrupted attempt's
				return fmt.Errorf("%w: %w", ErrOutput, err)
			}
			if err := os.MkdirAll(gdir, 0o755); err != nil {
				return fmt.Errorf("%w: %w", ErrOutput, err)
			}
			out.staged = newStagedWriter(dir, r.mem)
			coll, err := ps.global.NewCollector(r.globalEnv(gdir, ps.globalIdx))
			if err != nil {
				return fmt.Errorf("stage %s: %w", ps.global.Name(), err)
			}
			out.collect = coll
		}
		r.log.Info("pass started", "pass", p+1, "of", len(passes))
		if out.final && r.resumeFinal != nil {
			r.restoreFinal(r.resumeFinal)
			out.first = r.resumeFinal.Seq + 1
		}
		skip := out.first - 1 // batches already written by an earlier attempt
		read := func(ctx context.Context, work chan<- rawBatch) error {
			if p == 0 {
				return r.readAll(ctx, work, skip)
			}
			return r.readStaged(ctx, staged, dec, work, skip)
		}
		if err := r.runPass(ctx, ps, read, out); err != nil {
			return err
		}
		if dec != nil {
			r.counters[prevGlobal].addCounts(dec.Counts())
			if err := dec.Close(); err != nil {
				dec = nil
				return fmt.Errorf("stage %s: %w", r.stages[prevGlobal].Name(), err)
			}
			dec = nil
		}
		if out.final {
			return nil
		}
		if err := out.staged.Close(); err != nil {
			return fmt.Errorf("%w: %w", ErrOutput, err)
		}
		var err error
		// Resolve renames the collector's files: its partial checkpoint
		// would name files that are gone.
		if err := os.Remove(filepath.Join(passDir(r.dir, p), partialCheckpointFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %w", ErrOutput, err)
		}
		if r.opts.Task != nil {
			return r.sealPass(ctx, p, ps, out.collect)
		}
		if dec, err = out.collect.Resolve(ctx); err != nil {
			return fmt.Errorf("stage %s: %w", ps.global.Name(), err)
		}
		if _, ok := ps.global.(Resumable); ok {
			if err := r.writeCheckpoint(p); err != nil {
				return fmt.Errorf("%w: checkpoint: %w", ErrOutput, err)
			}
		}
		staged, prevGlobal = out.staged.dir, ps.globalIdx
	}
	return nil
}

func (r *run) globalEnv(workDir string, stage int) GlobalEnv {
	env := GlobalEnv{WorkDir: workDir, IndexDir: filepath.Join(r.dir, r.indexDir(stage)), MemoryBudget: r.cfg.MaxMemory, Logger: r.log}
	if r.inc != nil && r.inc.prevDir != "" {
		env.PriorIndexDir = filepath.Join(r.inc.prevDir, r.indexDir(stage))
		env.Retracted = func(id string) bool { return r.inc.retractedIDs[id] }
	}
	return env
}

// indexDir is index/<name> for the stage at position i, or
// index/<name>-<k> for its k-th appearance in the stage list, relative to
// the run directory.
func (r *run) indexDir(i int) string {
	name, k := r.stages[i].Name(), 1
	for _, st := range r.stages[:i] {
		if st.Name() == name {
			k++
		}
	}
	if k > 1 {
		name = fmt.Sprintf("%s-%d", name, k)
	}
	return filepath.Join("index", name)
}

// runPass streams one pass: a reader goroutine, the workers running the
// pass's steps, and the writer putting batches back in sequence order.
func (r *run) runPass(ctx context.Context, ps pass, read func(context.Context, chan<- rawBatch) error, out passOutput) error {
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan rawBatch, r.workers)
	done := make(chan *Batch, r.workers)
	g.Go(func() error {
		defer close(work)
		return read(gctx, work)
	})
	var wg errgroup.Group
	for range r.workers {
		wg.Go(func() error { return r.work(gctx, ps.steps, work, done) })
	}
	g.Go(func() error {
		err := wg.Wait()
		close(done)
		return err
	})
	g.Go(func() error { return r.writeOrdered(gctx, done, out) })
	return g.Wait()
}

func (r *run) abort() {
	if r.kept != nil {
		r.kept.Abort()
	}
	if r.rejected != nil {
		r.rejected.Abort()
	}
}

func newRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
