// Command winnow turns raw corpus directories into clean, deduplicated,
// explainable Parquet shards. This file only parses flags; the commands
// live in winnow/internal/cli.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"winnow/internal/cli"
	"winnow/pipeline"
)

const exitCodesHelp = `Exit codes:
  0  success: every input record was read
  1  internal error: the run stopped; no manifest.json was written
  2  config or command-line error: nothing was done
  3  input or output error: an input path is missing, the output directory is
     unusable, or the disk is full (or clearly too small); no manifest.json
  4  lock held: another run is using the output directory; nothing was done
  5  success, but some input records were quarantined (see out/quarantine/)
  6  interrupted (SIGINT/SIGTERM): no manifest.json; rerun the same command to finish`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal lets the run stop cleanly; once it has arrived, the
	// default handling is back and a second one ends the process at once
	// (its lock is then taken over by the next run).
	context.AfterFunc(ctx, stop)
	code := execute(ctx)
	stop()
	os.Exit(code)
}

func execute(ctx context.Context) int {
	code := cli.ExitOK
	root := &cobra.Command{
		Use:   "winnow",
		Short: "Curate training corpora into clean, deduplicated Parquet shards",
		Long: `winnow reads corpus files (JSONL, JSON, text, CSV/TSV, Parquet; gzip and zstd),
runs them through an ordered list of stages (normalize, language id, dedup,
quality filters …) and writes kept documents to shards/, dropped ones with
their reason to rejected/, unreadable input to quarantine/, and
manifest.json last.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCmd(&code), validateCmd(&code), retuneCmd(&code), explainCmd(&code), inspectCmd(&code), reportCmd(&code), benchCmd(&code), trainCmd(&code), ablateCmd(&code), planCmd(&code), statusCmd(&code), launchCmd(&code), configCmd(), catCmd(), versionCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "winnow:", err)
		if code == cli.ExitOK {
			code = cli.ExitConfig
		}
	}
	return code
}

func addRunFlags(c *cobra.Command, f *cli.RunFlags) {
	c.Flags().StringVarP(&f.ConfigPath, "config", "c", "", "pipeline config (YAML); without it the defaults apply")
	c.Flags().StringVar(&f.Recipe, "recipe", "", "start from a built-in recipe instead of a config file ("+strings.Join(pipeline.Recipes(), ", ")+")")
	c.Flags().StringSliceVarP(&f.Inputs, "input", "i", nil, "input files or directories (override input.paths; repeat or comma-separate)")
	c.Flags().StringVarP(&f.Output, "output", "o", "", "output run directory (overrides output.dir)")
	c.Flags().IntVar(&f.Workers, "workers", -1, "worker goroutines (overrides workers; 0 = one per core)")
}

func runCmd(code *int) *cobra.Command {
	f := cli.RunFlags{}
	t := cli.TaskFlags{}
	c := &cobra.Command{
		Use:   "run -c pipeline.yaml [-i corpus/ -o out/ --workers N]",
		Short: "Run a pipeline over the input and write a run directory",
		Long: `Run reads every input file in sorted order, runs the stages, and writes
out/shards/, out/rejected/, out/quarantine/, stats.json, config.yaml and,
last, manifest.json. Flags override the config. Progress goes to stderr:
a live line on a terminal, a log line every 10 s otherwise.

With --tasks N the run is one task of a distributed run over shared storage
(-o a shared path or s3://bucket/prefix?endpoint=…): task i (--task, or
WINNOW_TASK, SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX) does its share of
one pass (--pass) or of every pass in order. A finished unit is not run
again; a failed one is rerun by running the same command. See winnow plan,
winnow launch and winnow status.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if t.Tasks > 0 {
				*code = cli.RunTask(cmd.Context(), f, t, os.Stderr)
				return nil
			}
			*code = cli.Run(cmd.Context(), f, os.Stderr)
			return nil
		},
	}
	addRunFlags(c, &f)
	addTaskFlags(c, &t)
	c.Flags().IntVar(&t.Task, "task", -1, "this task's index, 0 … N-1 (default: $WINNOW_TASK, $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX)")
	c.Flags().StringVar(&t.Pass, "pass", "", "run only this pass's units of the task (winnow plan lists the passes); default: every pass in order, waiting for the others")
	c.Flags().BoolVar(&t.Wait, "wait", false, "with --pass: wait until the pass before is done instead of failing")
	c.Flags().Int64Var(&f.MaxMemory, "max-memory", -1, "memory budget in bytes, overriding the config's max_memory (default 2 GiB): the heap's soft limit, and dedup spills to disk to stay within it (0 = none)")
	c.Flags().StringVar(&f.LogFormat, "log-format", "text", "log format on stderr: text or json")
	c.Flags().StringVar(&f.LogLevel, "log-level", "info", "debug, info, warn or error")
	c.Flags().StringVar(&f.CPUProfile, "cpu-profile", "", "write a pprof CPU profile of the run to this file (go tool pprof)")
	c.Flags().BoolVar(&f.Incremental, "incremental", false, "read only input files new or changed since the last run in the output directory, deduplicate them against it, and publish OUT/runs/<run id>/ with OUT/current pointing to it (sets the config's incremental)")
	c.Flags().StringVar(&f.MetricsFile, "metrics-file", "", "when the run ends, write Prometheus text-format metrics to this file (atomically; name it *.prom in node_exporter's textfile directory)")
	return c
}

func addTaskFlags(c *cobra.Command, t *cli.TaskFlags) {
	c.Flags().IntVar(&t.Tasks, "tasks", 0, "split the run into N tasks that share only the output storage (0: one ordinary run)")
	c.Flags().IntVar(&t.WorkersPerBand, "workers-per-band", 1, "distributed runs: split each dedup band's link pass into this many hash ranges")
	c.Flags().StringVar(&t.Scratch, "scratch", "", "distributed runs: local directory for a task's temporary files (default: under $TMPDIR)")
}

func addTaskLogFlags(c *cobra.Command, f *cli.RunFlags) {
	c.Flags().StringVar(&f.LogFormat, "log-format", "text", "log format on stderr: text or json")
	c.Flags().StringVar(&f.LogLevel, "log-level", "info", "debug, info, warn or error")
}

func planCmd(code *int) *cobra.Command {
	f := cli.RunFlags{MaxMemory: -1}
	t := cli.TaskFlags{}
	c := &cobra.Command{
		Use:   "plan -c pipeline.yaml -o OUT --tasks N",
		Short: "Split a run into N tasks: write the sorted input manifest and each task's files to OUT",
		Long: `Plan lists the input files in sorted order, gives each task a consecutive slice of
about equal bytes, and stores the plan in OUT/.winnow/dist/plan.json, with the
passes every task goes through (scan, link and resolve per dedup stage, then
final and publish). Tasks started with winnow run --tasks N read it; the first
task makes it if plan was not run. Planning again with another config, task
count or input is refused: use a new output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			*code, err = cli.Plan(cmd.Context(), cmd.OutOrStdout(), f, t)
			return err
		},
	}
	addRunFlags(c, &f)
	addTaskFlags(c, &t)
	addTaskLogFlags(c, &f)
	return c
}

func statusCmd(code *int) *cobra.Command {
	return &cobra.Command{
		Use:   "status OUT",
		Short: "Show which units of which pass of a distributed run are done, failed or missing",
		Long:  "Status reads the plan and the done-markers in OUT (a path or an s3:// URL). It exits 0 when every pass is done, 1 otherwise.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			*code, err = cli.Status(cmd.Context(), cmd.OutOrStdout(), args[0])
			return err
		},
	}
}

func launchCmd(code *int) *cobra.Command {
	c := &cobra.Command{
		Use:   "launch (local | slurm | k8s) -c pipeline.yaml -o OUT --tasks N",
		Short: "Run a distributed run's tasks here, or write the Slurm scripts or Kubernetes Jobs that run them",
		Long: `launch local starts the N tasks as processes on this machine and waits for them.
launch slurm writes one sbatch --array script per pass and submit.sh, which
submits them with afterok dependencies (--submit runs it). launch k8s writes one
Indexed Job per pass; every task waits for the pass before it, so all Jobs can be
applied at once. The output must be storage every node reaches: a shared path
or s3://bucket/prefix?endpoint=… (credentials from the AWS environment variables).`,
	}
	for _, kind := range []string{"local", "slurm", "k8s"} {
		f := cli.RunFlags{MaxMemory: -1}
		t := cli.TaskFlags{}
		l := cli.LaunchFlags{}
		sub := &cobra.Command{
			Use:   kind + " -c pipeline.yaml -o OUT --tasks N",
			Short: "launch " + kind,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if kind == "local" {
					*code = cli.LaunchLocal(cmd.Context(), os.Stderr, f, t)
					return nil
				}
				var err error
				*code, err = cli.Launch(cmd.Context(), cmd.OutOrStdout(), kind, f, t, l)
				return err
			},
		}
		addRunFlags(sub, &f)
		addTaskFlags(sub, &t)
		addTaskLogFlags(sub, &f)
		sub.Flags().Int64Var(&f.MaxMemory, "max-memory", -1, "memory budget of each task in bytes (overrides max_memory)")
		if kind != "local" {
			addLaunchFlags(sub, kind, &l)
		}
		c.AddCommand(sub)
	}
	return c
}

func addLaunchFlags(c *cobra.Command, kind string, l *cli.LaunchFlags) {
	s := &l.Spec
	c.Flags().StringVar(&l.Dir, "dir", "", "write the files into this directory (default: print them)")
	c.Flags().StringVar(&s.Binary, "binary", "winnow", "the winnow binary as the nodes or the image see it")
	c.Flags().StringVar(&s.JobName, "job-name", "winnow", "prefix of the job names")
	c.Flags().StringToStringVar(&s.Env, "env", nil, "extra environment of every task (NAME=value, repeatable)")
	if kind == "slurm" {
		c.Flags().BoolVar(&l.Submit, "submit", false, "run submit.sh after writing it (needs --dir and sbatch)")
		c.Flags().StringVar(&s.Partition, "partition", "", "sbatch --partition")
		c.Flags().StringVar(&s.Account, "account", "", "sbatch --account")
		c.Flags().StringVar(&s.Time, "time", "", "sbatch --time of each task")
		c.Flags().StringVar(&s.Mem, "mem", "", "sbatch --mem of each task")
		c.Flags().IntVar(&s.CPUs, "cpus", 0, "sbatch --cpus-per-task")
		c.Flags().StringVar(&s.LogDir, "log-dir", "logs", "directory of the task logs, relative to the scripts")
		c.Flags().StringArrayVar(&s.ExtraSBatch, "sbatch", nil, "extra #SBATCH option, e.g. --sbatch=--qos=low (repeatable)")
		return
	}
	c.Flags().StringVar(&s.Image, "image", "", "container image holding winnow (required)")
	c.Flags().StringVar(&s.Namespace, "namespace", "", "Kubernetes namespace")
	c.Flags().StringVar(&s.ServiceAccount, "service-account", "", "pod service account")
	c.Flags().StringVar(&s.CPURequest, "cpu", "", "CPU request of each task, e.g. 4")
	c.Flags().StringVar(&s.MemRequest, "memory", "", "memory request of each task, e.g. 8Gi")
	c.Flags().IntVar(&s.BackoffLimitPerIndex, "backoff-limit-per-index", 0, "retries of each task (0: backoffLimit 3 for the Job)")
}

func validateCmd(code *int) *cobra.Command {
	f := cli.RunFlags{MaxMemory: -1}
	c := &cobra.Command{
		Use:   "validate -c pipeline.yaml",
		Short: "Check a config strictly, as run would, without doing any work",
		Long:  "Validate decodes the config strictly (unknown keys, wrong types and out-of-range values are errors naming file:line:key), builds every stage and the reader, and lists the input files.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.Validate(cmd.OutOrStdout(), f); err != nil {
				*code = cli.ExitCodeForConfigError(err)
				return err
			}
			return nil
		},
	}
	addRunFlags(c, &f)
	return c
}

func configCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Config helpers"}
	var recipe string
	d := &cobra.Command{
		Use:   "defaults [--recipe NAME]",
		Short: "Print a complete, commented config with every default, or a built-in recipe",
		Long:  "Without --recipe: every key with its default and a comment, then every stage with its options. With --recipe: the recipe itself, whose comments justify its thresholds, as a starting config. Recipes: " + strings.Join(pipeline.Recipes(), ", ") + ".",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if recipe != "" {
				return cli.PrintRecipe(cmd.OutOrStdout(), recipe)
			}
			return cli.PrintDefaults(cmd.OutOrStdout())
		},
	}
	d.Flags().StringVar(&recipe, "recipe", "", "print this built-in recipe instead")
	c.AddCommand(d)
	return c
}

func retuneCmd(code *int) *cobra.Command {
	o := cli.RetuneOptions{}
	c := &cobra.Command{
		Use:   "retune RUN -c new-thresholds.yaml [--write NEW_RUN]",
		Short: "Re-decide a finished run's documents with new filter thresholds, from the stored signals",
		Long: `Retune reads every document of a finished run (kept and rejected), re-decides each
filter from the signal columns the run stored, and prints per rule how many documents
flip each way, with examples. Nothing is recomputed, so it takes seconds.

The new config must have the run's stage list, with other thresholds for the filters
(copy RUN/config.yaml and edit it). Stages that drop on their own (dedup, langid keep)
must come before the filters; their decisions stand. With --write, a new complete run
directory is written: shards, rejected, quarantine, config.yaml and manifest.json.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Run = args[0]
			if o.ConfigPath == "" {
				*code = cli.ExitConfig
				return fmt.Errorf("-c new-thresholds.yaml is required")
			}
			if _, err := cli.Retune(cmd.Context(), cmd.OutOrStdout(), o); err != nil {
				*code = cli.ExitConfig
				return err
			}
			return nil
		},
	}
	c.Flags().StringVarP(&o.ConfigPath, "config", "c", "", "config with the new thresholds")
	c.Flags().StringVar(&o.Write, "write", "", "write the re-decided run to this new directory")
	c.Flags().IntVar(&o.Examples, "examples", 3, "examples printed per rule and direction")
	return c
}

func explainCmd(code *int) *cobra.Command {
	o := cli.ExplainOptions{Flags: cli.RunFlags{Workers: -1, MaxMemory: -1}}
	c := &cobra.Command{
		Use:   "explain -c pipeline.yaml (--text TEXT | --file DOC | --id ID --run RUN)",
		Short: "Show every stage's signals for one document, each rule's threshold and verdict",
		Long: `Explain runs the config's per-document stages on one document and prints, stage by
stage, the columns it set and, for filters, every rule with its signal, the threshold
for the document's language and pass or FAIL. Dedup stages need the whole corpus and
are only named.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.Explain(cmd.Context(), cmd.OutOrStdout(), o); err != nil {
				*code = cli.ExitConfig
				return err
			}
			return nil
		},
	}
	c.Flags().StringVarP(&o.Flags.ConfigPath, "config", "c", "", "pipeline config (YAML)")
	c.Flags().StringVar(&o.Flags.Recipe, "recipe", "", "a built-in recipe instead of a config file")
	c.Flags().StringVar(&o.Text, "text", "", "the document's text")
	c.Flags().StringVar(&o.File, "file", "", "a file holding the document")
	c.Flags().StringVar(&o.ID, "id", "", "the id of a document of --run")
	c.Flags().StringVar(&o.Run, "run", "", "a finished run directory (with --id)")
	return c
}

func inspectCmd(code *int) *cobra.Command {
	o := cli.InspectOptions{}
	c := &cobra.Command{
		Use:   "inspect RUN [--reason RULE] [--kept] [--lang zh] [--sample 20] [--seed N]",
		Short: "Print a reproducible sample of a run's dropped (or kept) documents with their signals",
		Long: `Without --reason, inspect lists the run's drop reasons with their counts. With
--reason (a whole drop_reason such as gopher_repetition.dup_line_frac>0.287, or a
prefix: a stage, or stage.signal) it prints a sample of those documents with the
signals of that stage and quality_score; --kept samples the survivors instead. The
same run and --seed give the same sample.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Run = args[0]
			if err := cli.Inspect(cmd.Context(), cmd.OutOrStdout(), o); err != nil {
				*code = cli.ExitIO
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.Reason, "reason", "", "drop_reason or its prefix (stage, stage.signal)")
	c.Flags().BoolVar(&o.Kept, "kept", false, "sample kept documents instead")
	c.Flags().StringVar(&o.Lang, "lang", "", "only documents whose lang is this")
	c.Flags().IntVar(&o.Sample, "sample", 20, "documents to show")
	c.Flags().Uint64Var(&o.Seed, "seed", 1, "sampling seed")
	c.Flags().IntVar(&o.Width, "width", 300, "characters of text shown per document")
	return c
}

func benchCmd(code *int) *cobra.Command {
	o := cli.BenchOptions{Recipe: "zh-web"}
	c := &cobra.Command{
		Use:   "bench [--recipe zh-web] [-i corpus …] [--json]",
		Short: "Measure each stage of a recipe alone and the whole recipe: MB/s and docs/s per core, peak RSS",
		Long: `Bench runs every stage of the recipe alone, then the whole recipe, each as a separate
winnow run with one worker over a standard corpus: zh-laws, zh-prose, the DRCD paragraphs
and web/text-junk.jsonl from ../shared/corpora (or $WINNOW_SHARED/corpora) when present,
else fixtures/corpus. It prints MB/s and documents/s per core (per second of the stage's
own CPU time; for the recipe, of the whole process) and each run's peak RSS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Stderr = cmd.ErrOrStderr()
			if _, err := cli.Bench(cmd.Context(), cmd.OutOrStdout(), o); err != nil {
				*code = cli.ExitInternal
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.Recipe, "recipe", o.Recipe, "the recipe to measure")
	c.Flags().StringSliceVarP(&o.Inputs, "input", "i", nil, "corpus files or directories instead of the standard corpus")
	c.Flags().BoolVar(&o.JSON, "json", false, "print JSON instead of a table")
	return c
}

func reportCmd(code *int) *cobra.Command {
	o := cli.ReportOptions{}
	var diff bool
	var examples int
	c := &cobra.Command{
		Use:   "report RUN [--open] | report --diff RUN_A RUN_B",
		Short: "Rebuild RUN/report.html: a self-contained page of the run's funnel, drops, languages, signals and samples",
		Long: `Report writes RUN/report.html from the run's stats.json, manifest.json, config.yaml and
shards: the funnel of documents through the stages, drop reasons by rule, the language mix
before and after, a histogram of every signal with its thresholds, duplicate cluster sizes,
samples of dropped documents per rule and of kept ones, the config and the manifest. The
page loads nothing from the network. winnow run writes it at the end of every run.

With --diff it compares two runs instead: documents dropped per rule and kept per language
in each, and the documents (by id) kept by one run and not the other, with the reason.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if diff {
				if len(args) != 2 {
					*code = cli.ExitConfig
					return fmt.Errorf("--diff needs two run directories")
				}
				if _, err := cli.DiffRuns(cmd.Context(), cmd.OutOrStdout(), args[0], args[1], examples); err != nil {
					*code = cli.ExitIO
					return err
				}
				return nil
			}
			if len(args) != 1 {
				*code = cli.ExitConfig
				return fmt.Errorf("one run directory, or --diff with two")
			}
			o.Run = args[0]
			if err := cli.Report(cmd.Context(), cmd.OutOrStdout(), o); err != nil {
				*code = cli.ExitIO
				return err
			}
			return nil
		},
	}
	c.Flags().BoolVar(&o.Open, "open", false, "open the page in the desktop's browser")
	c.Flags().Uint64Var(&o.Seed, "seed", 1, "seed of the document samples")
	c.Flags().BoolVar(&diff, "diff", false, "compare two runs: counts per rule and language, documents that changed status")
	c.Flags().IntVar(&examples, "examples", 5, "with --diff: ids shown each way")
	return c
}

func catCmd() *cobra.Command {
	o := cli.CatOptions{}
	c := &cobra.Command{
		Use:   "cat SHARD.parquet [--limit N] [--columns id,text] [--format jsonl|table]",
		Short: "Print rows of a Parquet shard",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.Cat(cmd.Context(), cmd.OutOrStdout(), args[0], o)
		},
	}
	c.Flags().Int64Var(&o.Limit, "limit", 10, "rows to print; 0 = all")
	c.Flags().StringSliceVar(&o.Columns, "columns", nil, "columns to print, in order (a column the shard lacks prints as null)")
	c.Flags().StringVar(&o.Format, "format", "jsonl", "jsonl or table")
	c.Flags().IntVar(&o.Width, "width", 60, "table format: longest cell in characters")
	return c
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print winnow's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "winnow %s (%s %s/%s)\n", pipeline.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
