package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"winnow/internal/cli"
	"winnow/trainer"
)

func trainCmd(code *int) *cobra.Command {
	o := cli.TrainOptions{}
	f := cli.TrainFlags{}
	c := &cobra.Command{
		Use:   "train --shards out/ --run runs/r1 [--preset tiny|small|base | --model DIR [--lora]] [--resume]",
		Short: "Train or fine-tune a language model on a run's shards (PyTorch worker)",
		Long: `Train streams the documents of winnow shards into a run directory, split into
training and held-out sets by a stable hash of the id (or --eval-shards), and
drives the embedded PyTorch worker: byte-level, sentencepiece or the model's
tokenizer; AdamW with warm-up and cosine decay; bf16 autocast on CUDA; LoRA
with --model --lora; held-out loss and bits per byte; atomic checkpoints.
Progress (step, loss, tokens/s, ETA) goes to stderr, every event to
RUN/metrics.jsonl, the worker's own output to RUN/worker.log. Ctrl-C lets the
worker finish its step and checkpoint; --resume continues exactly where it was.

The Python interpreter is --python, else the first of $WINNOW_PYTHON, python3,
/usr/bin/python3 that imports torch (tools/trainer/setup-python.sh builds one).

` + cli.TrainExitCodes,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.Flags().Visit(func(fl *pflag.Flag) { f.Changed = append(f.Changed, fl.Name) })
			if err := cli.BuildTrainOptions(&o, f); err != nil {
				*code = cli.ExitConfig
				return err
			}
			*code = cli.Train(cmd.Context(), os.Stderr, o)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringSliceVar(&o.Data.Shards, "shards", nil, "winnow run directories, shard directories or .parquet files (repeat or comma-separate)")
	fl.StringSliceVar(&o.Data.EvalShards, "eval-shards", nil, "held-out shards: the validation set, none of whose texts is trained on")
	fl.Float64Var(&o.Data.ValFraction, "val-fraction", 0.02, "without --eval-shards: the share of documents held out, by a hash of the id")
	fl.StringVar(&o.Run, "run", "", "the run directory (created; with --resume, an existing run)")
	fl.BoolVar(&o.Resume, "resume", false, "continue --run from its last checkpoint with its own settings")
	fl.StringVar(&o.Python, "python", "", "the Python interpreter (default: $WINNOW_PYTHON, python3, /usr/bin/python3, the first that imports torch)")
	addJobFlags(c, &o.Job, &o.Tokens)
	fl.StringVar(&o.Job.Model, "model", "", "a local Hugging Face model directory to fine-tune (its tokenizer too)")
	fl.BoolVar(&o.Job.LoRA, "lora", false, "with --model: train a LoRA adapter (peft) instead of every weight")
	fl.IntVar(&o.Job.LoRAR, "lora-r", 8, "LoRA rank")
	fl.IntVar(&o.Job.LoRAAlpha, "lora-alpha", 0, "LoRA alpha (0: twice the rank)")
	fl.IntVar(&o.Job.GradAccum, "grad-accum", 1, "micro-batches per optimizer step")
	fl.IntVar(&o.Job.Warmup, "warmup", 0, "warm-up steps (0: a tenth of the run, at most 1000)")
	fl.IntVar(&o.Job.EvalEvery, "eval-every", 0, "steps between held-out evaluations (0: a tenth of the run)")
	fl.IntVar(&o.Job.CkptEvery, "ckpt-every", 0, "steps between checkpoints (0: a quarter of the run)")
	fl.StringVar(&o.Job.Device, "device", "auto", "auto, cpu, cuda or cuda:N")
	fl.BoolVar(&o.Job.GradCheckpointing, "grad-checkpointing", false, "recompute activations in the backward pass: less memory, about a third slower")
	fl.IntVar(&o.Job.Threads, "threads", 0, "CPU threads for torch (0: every core)")
	fl.StringVar(&f.LangWeights, "lang-weights", "", "sampling weights by lang, e.g. zh=1,en=0.3,*=0 (default 1)")
	fl.StringVar(&f.SourceWeights, "source-weights", "", "sampling weights by source prefix, e.g. web/=0.5,zh-laws/=2")
	fl.Float64Var(&o.Data.Sampling.QualityPower, "quality-power", 0, "weigh documents by quality_score to this power (0: off)")
	fl.BoolVar(&o.Data.Sampling.DupUpsample, "dup-upsample", false, "weigh documents by dup_cluster_size (the copies dedup removed)")
	fl.IntVar(&o.Data.Sampling.MaxRepeat, "max-repeat", 4, "most copies of one document after weighting")
	return c
}

// addJobFlags adds the flags train and ablate share.
func addJobFlags(c *cobra.Command, j *trainer.Job, tokens *int64) {
	fl := c.Flags()
	fl.StringVar(&j.Preset, "preset", "", "model size without --model: "+strings.Join(trainer.Presets, ", ")+" (default tiny)")
	fl.StringVar(&j.Arch, "arch", "auto", "preset architecture: auto (Llama-style when transformers imports), llama, torch (plain torch.nn)")
	fl.StringVar(&j.Tokenizer, "tokenizer", "", "byte or sentencepiece (trained on the training documents); --model uses its own")
	fl.IntVar(&j.VocabSize, "vocab-size", 0, "sentencepiece vocabulary (0: 4000)")
	fl.IntVar(&j.Steps, "steps", 0, "optimizer steps (0: the preset's)")
	fl.Var(tokenFlag{tokens}, "tokens", "a token budget instead of --steps, e.g. 2M, 500k")
	fl.IntVar(&j.SeqLen, "seq-len", 0, "tokens per sequence (0: the preset's)")
	fl.IntVar(&j.BatchSize, "batch-size", 0, "sequences per micro-batch (0: the preset's)")
	fl.Float64Var(&j.LR, "lr", 0, "peak learning rate (0: the preset's)")
	fl.Int64Var(&j.Seed, "seed", 1, "seed of the initialisation and the data order")
}

// tokenFlag parses counts like 2M or 500k.
type tokenFlag struct{ p *int64 }

func (t tokenFlag) String() string {
	if t.p == nil {
		return "0"
	}
	return trainer.FormatCount(*t.p)
}
func (t tokenFlag) Set(s string) (err error) { *t.p, err = trainer.ParseCount(s); return err }
func (t tokenFlag) Type() string             { return "count" }

func ablateCmd(code *int) *cobra.Command {
	o := cli.AblateOptions{}
	c := &cobra.Command{
		Use:   "ablate --raw RUN --curated RUN --eval RUN [--preset tiny --tokens 2M --seeds 3] [--json FILE]",
		Short: "Train the same model on two shard sets at equal compute and compare held-out bits per byte",
		Long: `Ablate trains the same preset with the same token budget and the same seeds on
each arm's shards (--raw, --curated), evaluates every run on the whole --eval set
(held out: a training document whose text is in it is left out), and prints the
mean ± standard deviation of held-out bits per byte per arm, with the gap. Lower
is better: curated data should beat raw data at equal compute.

` + cli.TrainExitCodes,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			*code = cli.Ablate(cmd.Context(), cmd.OutOrStdout(), os.Stderr, o)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringSliceVar(&o.Raw, "raw", nil, "the raw arm's shards (run directories, shard directories or files)")
	fl.StringSliceVar(&o.Curated, "curated", nil, "the curated arm's shards")
	fl.StringSliceVar(&o.Eval, "eval", nil, "the held-out evaluation shards, the same for both arms")
	fl.IntVar(&o.Seeds, "seeds", 3, "runs per arm, seeds 1..N")
	fl.StringVar(&o.JSON, "json", "", "also write the results as JSON to this file")
	fl.StringVar(&o.Work, "work", "", "keep the runs in this directory (default: a temporary one, removed)")
	fl.StringVar(&o.Python, "python", "", "the Python interpreter (default: $WINNOW_PYTHON, python3, /usr/bin/python3)")
	addJobFlags(c, &o.Job, &o.Tokens)
	return c
}
