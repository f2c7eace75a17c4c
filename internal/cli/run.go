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
	"runtime/debug"
	"runtime/pprof"

	"golang.org/x/term"

	"winnow/dedup"
	"winnow/filters"
	"winnow/pipeline"
	"winnow/report"
	"winnow/stages"
)

// Exit codes, documented in the README and `winnow --help`.
const (
	ExitOK          = 0 // the run completed and every input record was read
	ExitInternal    = 1 // a bug or an unexpected failure mid-run; no manifest was written
	ExitConfig      = 2 // the config or the command line is wrong; nothing was done
	ExitIO          = 3 // an input path is missing or the output directory is unusable (or filled up mid-run)
	ExitQuarantined = 5 // the run completed, but some input records were quarantined
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
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("after command-line overrides: %w", err)
	}
	return cfg, nil
}

// Run runs a pipeline and returns the process exit code, having reported
// any error on stderr.
func Run(ctx context.Context, f RunFlags, stderr *os.File) int {
	log, err := NewLogger(stderr, f.LogFormat, f.LogLevel)
	if err != nil {
		fmt.Fprintln(stderr, "winnow:", err)
		return ExitConfig
	}
	cfg, err := LoadConfig(f)
	if err != nil {
		fmt.Fprintln(stderr, "winnow: config:", err)
		return ExitConfig
	}
	tuneGC(cfg.MaxMemory)
	if f.CPUProfile != "" {
		stopProfile, err := startCPUProfile(f.CPUProfile)
		if err != nil {
			fmt.Fprintln(stderr, "winnow:", err)
			return ExitIO
		}
		defer stopProfile()
	}
	progress := &pipeline.Progress{}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		showProgress(pctx, progress, stderr, term.IsTerminal(int(stderr.Fd())), log)
		close(done)
	}()
	res, err := pipeline.Run(ctx, pipeline.RunOptions{Config: cfg, Registry: NewRegistry(), Logger: log, Progress: progress})
	stop()
	<-done
	if err != nil {
		fmt.Fprintln(stderr, "winnow: run:", err)
		return exitCode(err)
	}
	// The report is derived from the finished run (its manifest included),
	// so it comes after manifest.json; `winnow report` rebuilds it.
	if err := report.Write(ctx, res.Dir, report.Options{Seed: 1}); err != nil {
		log.Warn("report.html not written", "err", err)
	}
	t := res.Manifest.Totals
	fmt.Fprintf(stderr, "winnow: wrote %s: read %d, kept %d, rejected %d, quarantined %d (%.1f MB/s)\n",
		res.Dir, t.Read, t.Kept, t.Rejected, t.Quarantined, res.Stats.MBPerSecond)
	if t.Quarantined > 0 {
		fmt.Fprintf(stderr, "winnow: %d input records could not be read; see %s/quarantine/\n", t.Quarantined, res.Dir)
		return ExitQuarantined
	}
	return ExitOK
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

func exitCode(err error) int {
	switch {
	case errors.Is(err, pipeline.ErrConfig):
		return ExitConfig
	case errors.Is(err, pipeline.ErrInput), errors.Is(err, pipeline.ErrOutput):
		return ExitIO
	}
	return ExitInternal
}
