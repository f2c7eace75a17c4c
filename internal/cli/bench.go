package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"

	"winnow/pipeline"
)

// BenchOptions are the settings of `winnow bench`.
type BenchOptions struct {
	Recipe string   // the recipe whose stages are measured
	Inputs []string // the corpus; empty: the standard one (see StandardCorpus)
	JSON   bool
	Stderr io.Writer // progress lines
	Binary string    // the winnow binary to run; "": this program
}

// BenchRow is one line of the table: a stage alone, or the whole recipe.
type BenchRow struct {
	Name          string  `json:"name"`
	InputMB       float64 `json:"input_mb"`
	Docs          int64   `json:"docs"`
	MBPerCPUSec   float64 `json:"mb_per_cpu_second"` // the stage's own CPU time; the whole process for the recipe
	DocsPerCPUSec float64 `json:"docs_per_cpu_second"`
	WallSeconds   float64 `json:"wall_seconds"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
}

// BenchReport is what `winnow bench --json` prints.
type BenchReport struct {
	Machine string     `json:"machine"`
	Corpus  []string   `json:"corpus"`
	Rows    []BenchRow `json:"rows"`
}

// StandardCorpus is the benchmark corpus: zh-laws, zh-prose, the DRCD
// paragraphs and the web junk pages from the shared corpora when present
// (about 20 MB of mostly Chinese text), else fixtures/corpus.
func StandardCorpus() []string {
	base := os.Getenv("WINNOW_SHARED")
	if base == "" {
		base = filepath.Join("..", "shared")
	}
	c := filepath.Join(base, "corpora")
	parts := []string{filepath.Join(c, "zh-laws"), filepath.Join(c, "zh-prose"),
		filepath.Join(c, "zh-trad", "drcd", "paragraphs.jsonl"), filepath.Join(c, "web", "text-junk.jsonl")}
	for _, p := range parts {
		if _, err := os.Stat(p); err != nil {
			return []string{filepath.Join("fixtures", "corpus")}
		}
	}
	return parts
}

// Bench runs each stage of a recipe alone, then the whole recipe, each as a
// child `winnow run` with one worker (so CPU time is per core and the peak
// RSS is the run's own), and prints the table.
func Bench(ctx context.Context, w io.Writer, o BenchOptions) (*BenchReport, error) {
	if len(o.Inputs) == 0 {
		o.Inputs = StandardCorpus()
	}
	cfg, err := LoadConfig(RunFlags{Recipe: o.Recipe, Workers: -1, MaxMemory: -1})
	if err != nil {
		return nil, err
	}
	self := o.Binary
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "winnow-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	text, _ := pipeline.RecipeText(o.Recipe)
	rep := &BenchReport{Machine: machine(), Corpus: o.Inputs}
	for i, spec := range append(cfg.Stages, pipeline.StageSpec{}) {
		name, stages := spec.Name, "stages:\n  - "+spec.Name+": {}\n"
		if spec.Name == "" {
			name, stages = "recipe "+o.Recipe+" (end to end)", ""
		}
		if o.Stderr != nil {
			fmt.Fprintf(o.Stderr, "winnow bench: %d/%d %s\n", i+1, len(cfg.Stages)+1, name)
		}
		row, err := benchOne(ctx, self, tmp, name, stages, string(text), cfg.Input.Record, o.Inputs)
		if err != nil {
			return nil, fmt.Errorf("bench %s: %w", name, err)
		}
		rep.Rows = append(rep.Rows, row)
	}
	if o.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return rep, enc.Encode(rep)
	}
	printBench(w, rep)
	return rep, nil
}

// benchOne runs one child and reads its stats.json. An empty stages runs
// the recipe itself.
func benchOne(ctx context.Context, self, tmp, name, stages, recipe, record string, inputs []string) (BenchRow, error) {
	cfgPath := filepath.Join(tmp, "bench.yaml")
	yml := recipe
	if stages != "" {
		yml = "input:\n  record: " + record + "\n  exclude: ['*.tsv', SOURCES.md, README.md, CATALOGUE.md]\n" + stages
	} else {
		yml = strings.Replace(recipe, "input:\n", "input:\n  exclude: ['*.tsv', SOURCES.md, README.md, CATALOGUE.md]\n", 1)
	}
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		return BenchRow{}, err
	}
	out := filepath.Join(tmp, "out")
	args := []string{"run", "-c", cfgPath, "-o", out, "--workers", "1", "--log-level", "warn"}
	for _, in := range inputs {
		args = append(args, "-i", in)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	if msg, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != ExitQuarantined {
		return BenchRow{}, fmt.Errorf("%v: %s", err, msg)
	}
	var st pipeline.Stats
	data, err := os.ReadFile(filepath.Join(out, "stats.json"))
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		return BenchRow{}, err
	}
	row := BenchRow{Name: name, InputMB: float64(st.Read.InputBytes) / 1e6, Docs: st.Read.Docs.Docs,
		WallSeconds: st.Seconds, PeakRSSMiB: float64(st.PeakRSSBytes) / (1 << 20)}
	cpu := st.CPUSeconds
	if stages != "" && len(st.Stages) == 1 {
		s := st.Stages[0]
		row.InputMB, row.Docs, cpu = float64(s.In.Bytes)/1e6, s.In.Docs, s.CPUSeconds
		if cpu == 0 {
			// Under the thread clock's tick (a fast stage on a small
			// corpus): its wall time on the one worker is the best measure.
			cpu = s.WallSeconds
		}
	}
	if cpu > 0 {
		row.MBPerCPUSec, row.DocsPerCPUSec = row.InputMB/cpu, float64(row.Docs)/cpu
	}
	return row, nil
}

func printBench(w io.Writer, rep *BenchReport) {
	fmt.Fprintf(w, "machine: %s\ncorpus: %s\n", rep.Machine, strings.Join(rep.Corpus, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stage\tMB in\tdocs\tMB/s per core\tdocs/s per core\twall s\tpeak RSS MiB\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%.1f\t%d\t%.1f\t%.0f\t%.1f\t%.0f\t\n", r.Name, r.InputMB, r.Docs, r.MBPerCPUSec, r.DocsPerCPUSec, r.WallSeconds, r.PeakRSSMiB)
	}
	tw.Flush()
	fmt.Fprintln(w, "A stage's speed is its input per second of its own CPU time, run alone (one worker);")
	fmt.Fprintln(w, "the recipe's is the input per CPU second of the whole process.")
}

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
