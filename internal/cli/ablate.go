package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"golang.org/x/term"

	"winnow/trainer"
)

// AblateOptions are the settings of `winnow ablate`.
type AblateOptions struct {
	Raw, Curated, Eval []string
	Seeds              int
	JSON               string // also write the result here
	Work               string // keep the runs here ("": a temporary directory, removed)
	Python             string
	Job                trainer.Job
	Tokens             int64
}

// Ablate runs `winnow ablate`: the table goes to stdout, progress to
// stderr. It returns the exit code.
func Ablate(ctx context.Context, stdout io.Writer, stderr *os.File, o AblateOptions) int {
	if len(o.Raw) == 0 || len(o.Curated) == 0 || len(o.Eval) == 0 || o.Seeds < 1 {
		fmt.Fprintln(stderr, "winnow: ablate: --raw, --curated and --eval are required, and --seeds ≥ 1")
		return ExitConfig
	}
	work := o.Work
	if work == "" {
		dir, err := os.MkdirTemp("", "winnow-ablate-")
		if err != nil {
			fmt.Fprintln(stderr, "winnow: ablate:", err)
			return ExitIO
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := newTrainProgress(stderr, term.IsTerminal(int(stderr.Fd())), log)
	seeds := make([]int64, o.Seeds)
	for i := range seeds {
		seeds[i] = o.Job.Seed + int64(i)
	}
	res, err := trainer.Ablate(ctx, trainer.AblateOptions{
		Arms: []trainer.Arm{{Name: "raw", Shards: o.Raw}, {Name: "curated", Shards: o.Curated}},
		Eval: o.Eval, Work: work, Seeds: seeds, Job: o.Job, Tokens: o.Tokens,
		Python: trainer.Candidates(o.Python, os.Getenv), Log: log, OnEvent: p.event,
		OnRun: func(arm string, seed int64, run string) {
			p.reset()
			fmt.Fprintf(stderr, "winnow: ablate: arm %s, seed %d (%s)\n", arm, seed, run)
		},
	})
	p.finish()
	if err != nil {
		fmt.Fprintln(stderr, "winnow: ablate:", err)
		return TrainExitCode(err)
	}
	printAblation(stdout, res)
	if o.JSON != "" {
		data, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.JSON, append(data, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "winnow: ablate:", err)
			return ExitIO
		}
	}
	return ExitOK
}

func printAblation(w io.Writer, r *trainer.AblateResult) {
	fmt.Fprintf(w, "preset %s (%s), tokenizer %s, %d steps × %d tokens; eval: %d documents, %d tokens\n",
		r.Preset, r.Arch, r.Tokenizer, r.Steps, r.TokensPerStep, r.EvalDocs, r.EvalTokens)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "arm\tseeds\theld-out bits/byte\t± std\tmin\tmax\ttrain docs\ttrain MB\t")
	for _, a := range r.Arms {
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%d\t%.2f\t\n",
			a.Name, len(a.Seeds), a.Mean, a.Std, a.Min, a.Max, a.TrainDocs, float64(a.TrainBytes)/1e6)
	}
	tw.Flush()
	if len(r.Arms) == 2 {
		raw, cur := r.Arms[0], r.Arms[1]
		fmt.Fprintf(w, "gap (%s − %s): %+.4f bits/byte; largest seed std %.4f\n",
			raw.Name, cur.Name, raw.Mean-cur.Mean, max(raw.Std, cur.Std))
	}
}
