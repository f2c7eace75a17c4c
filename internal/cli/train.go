package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"winnow/trainer"
)

// Exit codes of train and ablate, besides ExitOK, ExitInternal (the worker
// crashed or was killed; worker.log's tail is printed), ExitConfig and
// ExitIO (shards or the run directory missing or unusable). Documented in
// the README and `winnow train --help`.
const (
	// Ctrl-C or SIGTERM: the worker finished its step and checkpointed;
	// --resume continues. The value of run's code for an interrupted run.
	ExitTrainInterrupted = 6
	ExitDependency       = 7 // no Python interpreter that imports torch, or a missing Python package
	ExitBadData          = 8 // a shard cannot be read, or too few documents or tokens
	ExitOOM              = 9 // out of memory (a hint says what to lower)
)

// TrainExitCodes is the exit code table for --help.
const TrainExitCodes = `Exit codes:
  0  the run finished
  1  internal error: the worker crashed or was killed (the tail of RUN/worker.log is printed)
  2  config or command-line error: nothing was done
  3  shards or the run directory are missing or unusable
  6  interrupted (Ctrl-C, SIGTERM): the worker finished its step and checkpointed;
     winnow train --run RUN --resume continues
  7  no Python interpreter that imports torch, or a missing Python package (the install line is printed)
  8  bad data: a shard cannot be read, or too few documents or tokens
  9  out of memory (the hint says what to lower)`

// TrainOptions are the settings of `winnow train`.
type TrainOptions struct {
	trainer.Options
	Python string // --python ("": $WINNOW_PYTHON, python3, /usr/bin/python3)
}

// Train runs `winnow train` and returns its exit code, having reported any
// error on stderr.
func Train(ctx context.Context, stderr *os.File, o TrainOptions) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	o.Options.Python = trainer.Candidates(o.Python, os.Getenv)
	o.Log = log
	p := newTrainProgress(stderr, term.IsTerminal(int(stderr.Fd())), log)
	o.OnEvent = p.event
	res, err := trainer.Train(ctx, o.Options)
	p.finish()
	if err != nil {
		fmt.Fprintln(stderr, "winnow: train:", err)
		return TrainExitCode(err)
	}
	fmt.Fprintf(stderr, "winnow: trained %s: held-out loss %.4f, %.4f bits/byte; model in %s/%s\n",
		res.Run, res.Done.ValLoss, res.Done.ValBPB, res.Run, res.Done.Final)
	return ExitOK
}

// TrainExitCode maps a trainer error to the exit code table.
func TrainExitCode(err error) int {
	switch trainer.KindOf(err) {
	case trainer.KindConfig:
		return ExitConfig
	case trainer.KindIO:
		return ExitIO
	case trainer.KindDependency:
		return ExitDependency
	case trainer.KindData:
		return ExitBadData
	case trainer.KindOOM:
		return ExitOOM
	case trainer.KindInterrupted:
		return ExitTrainInterrupted
	}
	return ExitInternal
}

// trainProgress shows step, loss, tokens/s and ETA: a line redrawn in place
// on a terminal, a log line every 10 s otherwise.
type trainProgress struct {
	w       io.Writer
	tty     bool
	log     *slog.Logger
	steps   int
	first   int       // the first step this process saw, for the rate
	t0      time.Time // when it was seen
	lastLog time.Time
	val     string // the latest held-out loss, for the line
	drawn   bool
}

func newTrainProgress(w io.Writer, tty bool, log *slog.Logger) *trainProgress {
	return &trainProgress{w: w, tty: tty, log: log}
}

func (p *trainProgress) event(e trainer.Event) {
	switch e.Event {
	case "prepare":
		p.log.Info("tokenizing", "tokenizer", e.Tokenizer, "vocab_size", e.VocabSize)
	case "ready":
		p.steps = e.Steps
		p.log.Info("training", "arch", e.Arch, "params", e.Params, "trainable", e.Trainable, "device", e.Device,
			"dtype", e.DType, "torch", e.Torch, "steps", e.Steps, "from_step", e.StartStep, "tokens_per_step", e.TokensPerStep)
	case "resume":
		p.log.Info("resuming", "step", e.Step, "checkpoint", e.Checkpoint)
	case "eval":
		p.val = fmt.Sprintf("val %.4f (%.3f bpb)", e.ValLoss, e.ValBPB)
		if !p.tty {
			p.log.Info("eval", "step", e.Step, "val_loss", e.ValLoss, "val_bpb", e.ValBPB)
		}
	case "step":
		p.step(e)
	}
}

func (p *trainProgress) step(e trainer.Event) {
	now := time.Now()
	if p.t0.IsZero() {
		p.first, p.t0 = e.Step, now
	}
	eta := "?"
	if done := e.Step - p.first; done > 0 {
		left := time.Duration(float64(now.Sub(p.t0)) / float64(done) * float64(p.steps-e.Step))
		eta = left.Round(time.Second).String()
	}
	if p.tty {
		fmt.Fprintf(p.w, "\rstep %d/%d  loss %.4f  %s  %.0f tok/s  ETA %s\x1b[K", e.Step, p.steps, e.Loss, p.val, e.TokensPerS, eta)
		p.drawn = true
		return
	}
	if now.Sub(p.lastLog) >= 10*time.Second || e.Step == p.steps {
		p.lastLog = now
		p.log.Info("step", "step", fmt.Sprintf("%d/%d", e.Step, p.steps), "loss", fmt.Sprintf("%.4f", e.Loss),
			"tokens_per_s", int64(e.TokensPerS), "eta", eta)
	}
}

// finish ends the redrawn line so later output starts on its own line.
func (p *trainProgress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// reset finishes the line and starts over for another run.
func (p *trainProgress) reset() {
	p.finish()
	*p = trainProgress{w: p.w, tty: p.tty, log: p.log}
}

// parseWeightsFlag reads a --lang-weights style flag.
func parseWeightsFlag(name, v string) (map[string]float64, error) {
	m, err := trainer.ParseWeights(v)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", name, err)
	}
	return m, nil
}

// TrainFlags carries the flag values cmd/winnow parses for train.
type TrainFlags struct {
	LangWeights, SourceWeights string
	Changed                    []string // flags given on the command line
}

// BuildTrainOptions checks flag combinations and fills the weights.
func BuildTrainOptions(o *TrainOptions, f TrainFlags) error {
	if o.Run == "" {
		return fmt.Errorf("--run DIR is required")
	}
	if o.Resume {
		var extra []string
		for _, name := range f.Changed {
			if name != "run" && name != "resume" && name != "python" {
				extra = append(extra, "--"+name)
			}
		}
		if len(extra) > 0 {
			return fmt.Errorf("--resume continues with the settings in %s/job.json; drop %s", o.Run, strings.Join(extra, " "))
		}
		return nil
	}
	var err error
	if o.Data.Sampling.LangWeights, err = parseWeightsFlag("lang-weights", f.LangWeights); err != nil {
		return err
	}
	o.Data.Sampling.SourceWeights, err = parseWeightsFlag("source-weights", f.SourceWeights)
	return err
}
