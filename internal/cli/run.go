// Package cli implements winnow's commands; cmd/winnow only parses flags
// and calls in here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"golang.org/x/term"

	"winnow/dedup"
	"winnow/filters"
	"winnow/pipeline"
	"winnow/report"
	"winnow/stages"
)

// Exit codes, documented in the README and `winnow --help`. A cron wrapper
// can act on them: 0 and 5 published a run; 4 and 6 ask for the same
// command again later; 2 and 3 need a person; 1 is a bug.
const (
	ExitOK          = 0 // the run completed and every input record was read
	ExitInternal    = 1 // a bug or an unexpected failure mid-run; no manifest was written
	ExitConfig      = 2 // the config or the command line is wrong; nothing was done
	ExitIO          = 3 // an input path is missing, the output directory is unusable, or the disk is (or would be) full; no manifest was written
	ExitLocked      = 4 // another run holds the output directory's lock; nothing was done
	ExitQuarantined = 5 // the run completed, but some input records were quarantined
	ExitInterrupted = 6 // SIGINT or SIGTERM: the run stopped early and wrote no manifest; rerun the same command to finish
)

// NewRegistry returns the registry of every stage and the input readers.
func NewRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	stages.Register(r)
	filters.Register(r)
	dedup.Register(r)
	return r
}

// RunFlags are the command-line settings of `winnow run`; zero values leave
// the config as it is.
type RunFlags struct {
	ConfigPath string
	Recipe     string // a built-in recipe instead of a config file
	Inputs     []string
	Output     string
	Workers    int // -1: from the config
	// MaxMemory overrides the config's max_memory when ≥ 0 (0: no limit).
	MaxMemory int64
	LogFormat string
	LogLevel  string
	// CPUProfile names a file for a pprof CPU profile of the run ("": none).
	CPUProfile string
	// MetricsFile names a Prometheus text-format file written when the run
	// ends, whatever the outcome ("": none).
	MetricsFile string
	// Incremental sets the config's incremental (it cannot unset it).
	Incremental bool
}

// NewLogger builds the slog logger for --log-format and --log-level.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// LoadConfig reads the config file (or starts from the defaults when path is
// empty) and applies the command-line overrides.
func LoadConfig(f RunFlags) (pipeline.Config, error) {
	cfg := pipeline.Defaults()
	var err error
	switch {
	case f.ConfigPath != "" && f.Recipe != "":
		return cfg, fmt.Errorf("give --config or --recipe, not both (a config file may say recipe: %s)", f.Recipe)
	case f.ConfigPath != "":
		cfg, err = pipeline.LoadConfig(f.ConfigPath)
	case f.Recipe != "":
		cfg, err = pipeline.ParseConfig([]byte("recipe: "+f.Recipe+"\n"), "--recipe")
	}
	if err != nil {
		return cfg, err
	}
	if len(f.Inputs) > 0 {
		cfg.Input.Paths = f.Inputs
	}
	if f.Output != "" {
		cfg.Output.Dir = f.Output
	}
	if f.Workers >= 0 {
		cfg.Workers = f.Workers
	}
	if f.MaxMemory >= 0 {
		cfg.MaxMemory = f.MaxMemory
	}
	if f.Incremental {
		cfg.Incremental = true
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("after command-line overrides: %w", err)
	}
	return cfg, nil
}

// Run runs a pipeline and returns the process exit code, having reported
// the outcome on stderr and, with --metrics-file, in the metrics file.
func Run(ctx context.Context, f RunFlags, stderr *os.File) int {
	start := time.Now()
	say := console{w: stderr}
	log, err := NewLogger(stderr, f.LogFormat, f.LogLevel)
	var res *pipeline.Result
	code := ExitConfig
	if err != nil {
		say.error("", err)
	} else {
		if f.LogFormat == "json" {
			say.log = log
		}
		res, code = run(ctx, f, stderr, log, say)
	}
	if f.MetricsFile != "" {
		m := RunMetrics{Start: start, End: time.Now(), ExitCode: code, Result: res}
		if err := WriteMetrics(f.MetricsFile, m); err != nil {
			// The run's own outcome stands; a stale metrics file shows up
			// as an old winnow_last_success_timestamp_seconds.
			say.error("--metrics-file", err)
		}
	}
	return code
}

func run(ctx context.Context, f RunFlags, stderr *os.File, log *slog.Logger, say console) (*pipeline.Result, int) {
	cfg, err := LoadConfig(f)
	if err != nil {
		say.error("config", err)
		return nil, ExitConfig
	}
	if err := checkTrainConfig(cfg.Train); err != nil {
		say.error("config", err)
		return nil, ExitConfig
	}
	if err := checkDiskSpace(cfg, log); err != nil {
		say.error("", err)
		return nil, ExitIO
	}
	tuneGC(cfg.MaxMemory)
	if f.CPUProfile != "" {
		stopProfile, err := startCPUProfile(f.CPUProfile)
		if err != nil {
			say.error("", err)
			return nil, ExitIO
		}
		defer stopProfile()
	}
	stopSignalLog := context.AfterFunc(ctx, func() {
		log.Warn("stopping: the run ends after the batches in flight and publishes nothing; rerun the same command to finish (a second signal stops at once)",
			"cause", context.Cause(ctx).Error())
	})
	defer stopSignalLog()
	progress := &pipeline.Progress{}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		// The live line is for a person at a terminal; JSON logs stay JSON.
		tty := term.IsTerminal(int(stderr.Fd())) && say.log == nil
		showProgress(pctx, progress, stderr, tty, log)
		close(done)
	}()
	res, err := pipeline.Run(ctx, pipeline.RunOptions{Config: cfg, Registry: NewRegistry(), Logger: log, Progress: progress})
	stop()
	<-done
	if err != nil {
		code := exitCode(ctx, err)
		switch {
		case code == ExitInterrupted:
			say.warn(fmt.Sprintf("interrupted (%v): stopped early and wrote no manifest.json; rerun the same command to finish", context.Cause(ctx)),
				"err", err.Error(), "exit_code", code)
		case isDiskFull(err):
			say.error("run", err, "exit_code", code)
			say.warn(fmt.Sprintf("the disk holding %s is full: no manifest.json was written; free space and rerun the same command", cfg.Output.Dir))
		default:
			say.error("run", err, "exit_code", code)
		}
		return nil, code
	}
	if res.Unchanged {
		say.info(fmt.Sprintf("nothing new since %s: no run published", res.Dir), "dir", res.Dir)
		return res, ExitOK
	}
	// The report is derived from the finished run (its manifest included),
	// so it comes after manifest.json; `winnow report` rebuilds it.
	if err := report.Write(ctx, res.Dir, report.Options{Seed: 1}); err != nil {
		log.Warn("report.html not written", "err", err)
	}
	t := res.Manifest.Totals
	say.info(fmt.Sprintf("wrote %s: read %d, kept %d, rejected %d, quarantined %d (%.1f MB/s)",
		res.Dir, t.Read, t.Kept, t.Rejected, t.Quarantined, res.Stats.MBPerSecond),
		"dir", res.Dir, "read", t.Read, "kept", t.Kept, "rejected", t.Rejected, "quarantined", t.Quarantined)
	if t.Quarantined > 0 {
		say.warn(fmt.Sprintf("%d input records could not be read; see %s/quarantine/", t.Quarantined, res.Dir))
	}
	if cfg.Train.Run != "" {
		if code := Train(ctx, stderr, trainFromConfig(cfg.Train, res.Dir)); code != ExitOK {
			return res, code
		}
	}
	if t.Quarantined > 0 {
		return res, ExitQuarantined
	}
	return res, ExitOK
}

// console is what winnow tells the person (or the cron mail) reading
// stderr: "winnow: …" lines in text mode, printed whatever the log level,
// and log records in JSON mode, so that stderr stays JSON lines end to end.
type console struct {
	w   io.Writer
	log *slog.Logger // nil in text mode
}

func (c console) say(level slog.Level, msg string, args ...any) {
	if c.log != nil {
		c.log.Log(context.Background(), level, msg, args...)
		return
	}
	fmt.Fprintln(c.w, "winnow: "+msg)
}

func (c console) info(msg string, args ...any) { c.say(slog.LevelInfo, msg, args...) }
func (c console) warn(msg string, args ...any) { c.say(slog.LevelWarn, msg, args...) }

// error reports err, after what (such as "run") when not empty.
func (c console) error(what string, err error, args ...any) {
	if c.log != nil {
		if what == "" {
			what = "error"
		}
		c.log.Error(what, append([]any{"err", err.Error()}, args...)...)
		return
	}
	if what != "" {
		what += ": "
	}
	fmt.Fprintf(c.w, "winnow: %s%v\n", what, err)
}

// The disk-space pre-flight's estimate, per input byte, measured on
// zh-laws (11.4 MB, BENCHMARKS-style runs): a finished run's shards,
// rejected/, quarantine/ and index/ took 0.15-0.35× the input (zstd), and
// while the run goes each dedup stage stages every row in .winnow/ (peak
// 1.5× the input with one dedup stage, 3× with two). Compressed input
// (.gz, .zst) takes more per byte; the estimate is a guide, not a promise.
const (
	outputPerInputByte = 0.5
	stagedPerInputByte = 1.5 // per global (dedup) stage
)

// checkDiskSpace compares that estimate with the free space of the
// filesystem that will hold the output directory. Below the estimate it
// warns; below a quarter of it the run would surely fill the disk, and it
// refuses with an ErrOutput before any work. A config or input problem is
// left to the run to report.
func checkDiskSpace(cfg pipeline.Config, log *slog.Logger) error {
	stages, _, err := NewRegistry().Build(cfg.Stages)
	if err != nil {
		return nil
	}
	inputs, err := pipeline.ListInputs(cfg.Input, cfg.Output.Dir)
	if err != nil {
		return nil
	}
	var in int64
	for _, f := range toRead(cfg, inputs) {
		in += f.Size
	}
	global := 0
	for _, st := range stages {
		if _, ok := st.(pipeline.GlobalStage); ok {
			global++
		}
	}
	need := int64(float64(in) * (outputPerInputByte + stagedPerInputByte*float64(global)))
	free, fs, err := freeSpace(cfg.Output.Dir)
	if err != nil {
		log.Debug("free disk space unknown", "dir", cfg.Output.Dir, "err", err)
		return nil
	}
	switch {
	case free < need/4:
		return fmt.Errorf("%w: not enough disk space: %s is free on the filesystem of %s, and this run needs about %s (%s of input, %d dedup stages); free space or choose another output directory",
			pipeline.ErrOutput, humanBytes(free), fs, humanBytes(need), humanBytes(in), global)
	case free < need:
		log.Warn("the disk may fill up during the run", "free", humanBytes(free), "filesystem_of", fs,
			"estimate", humanBytes(need), "input", humanBytes(in), "dedup_stages", global)
	}
	return nil
}

// toRead is the input a run will read: for an incremental run the files
// that are new or changed since the run out/current points to.
func toRead(cfg pipeline.Config, inputs []pipeline.InputFile) []pipeline.InputFile {
	if !cfg.Incremental {
		return inputs
	}
	return pipeline.ChangedInputs(cfg.Output.Dir, inputs)
}

// freeSpace returns the bytes an unprivileged user may still write on the
// filesystem of dir, or of its nearest existing parent on a first run.
func freeSpace(dir string) (int64, string, error) {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		var st syscall.Statfs_t
		err := syscall.Statfs(d, &st)
		if err == nil {
			return int64(st.Bavail) * st.Bsize, d, nil
		}
		if !errors.Is(err, syscall.ENOENT) || filepath.Dir(d) == d {
			return 0, d, err
		}
	}
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// tuneGC trades memory for CPU: the pipeline's live heap is bounded by the
// batches in flight (60-120 MB on zh-laws with one worker, whatever the
// corpus size), so letting the heap grow to 3× live before collecting
// (GOGC=200) costs a bounded amount of memory and less GC CPU than the
// default (BENCHMARKS.md). The soft limit makes the collector work harder
// instead of going past maxMemory. GOGC or GOMEMLIMIT in the environment win.
func tuneGC(maxMemory int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" && maxMemory > 0 {
		debug.SetMemoryLimit(maxMemory)
	}
}

func exitCode(ctx context.Context, err error) int {
	switch {
	case errors.Is(err, pipeline.ErrLocked):
		return ExitLocked
	case ctx.Err() != nil:
		return ExitInterrupted
	case errors.Is(err, pipeline.ErrConfig):
		return ExitConfig
	case errors.Is(err, pipeline.ErrInput), errors.Is(err, pipeline.ErrOutput), isDiskFull(err):
		return ExitIO
	}
	return ExitInternal
}

// isDiskFull reports a full disk or an exhausted quota, wherever in the run
// it happened (a shard, a dedup spill file, stats.json).
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
