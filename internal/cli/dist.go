package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"

	"winnow/dist"
)

// TaskFlags make winnow run one task of a distributed run.
type TaskFlags struct {
	Tasks          int    // N; 0: not distributed
	Task           int    // -1: from the environment
	Pass           string // "": every pass in order
	Wait           bool
	WorkersPerBand int
	Scratch        string
}

// taskEnv names the variables a task index may come from, in order.
var taskEnv = []string{"WINNOW_TASK", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"}

func (t TaskFlags) index() (int, error) {
	if t.Task >= 0 {
		return t.Task, nil
	}
	for _, name := range taskEnv {
		if v, ok := os.LookupEnv(name); ok {
			i, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("%s=%q is not a task index", name, v)
			}
			return i, nil
		}
	}
	return 0, fmt.Errorf("--tasks %d needs --task i (or %s)", t.Tasks, strings.Join(taskEnv, ", "))
}

// openRunner loads the config and opens the distributed run's plan.
func openRunner(ctx context.Context, f RunFlags, t TaskFlags, stderr io.Writer) (*dist.Runner, int, error) {
	cfg, err := LoadConfig(f)
	if err != nil {
		return nil, ExitConfig, err
	}
	format, level := cmp.Or(f.LogFormat, "text"), cmp.Or(f.LogLevel, "info")
	log, err := NewLogger(stderr, format, level)
	if err != nil {
		return nil, ExitConfig, err
	}
	r, err := dist.Open(ctx, dist.Options{Config: cfg, Registry: NewRegistry(), Logger: log, Tasks: t.Tasks,
		WorkersPerBand: t.WorkersPerBand, Scratch: t.Scratch, Wait: t.Wait})
	if err != nil {
		return nil, exitCode(ctx, err), err
	}
	return r, ExitOK, nil
}

// RunTask runs task i's share of one pass, or of all passes, and returns
// the exit code.
func RunTask(ctx context.Context, f RunFlags, t TaskFlags, stderr *os.File) int {
	say := console{w: stderr}
	i, err := t.index()
	if err != nil {
		say.error("", err)
		return ExitConfig
	}
	if f.MetricsFile != "" || f.CPUProfile != "" {
		say.warn("--metrics-file and --cpu-profile apply to one-machine runs; a distributed task writes neither")
	}
	r, code, err := openRunner(ctx, f, t, stderr)
	if err != nil {
		say.error("", err)
		return code
	}
	defer r.Close()
	if err := r.RunTask(ctx, i, t.Pass); err != nil {
		code := exitCode(ctx, err)
		say.error(fmt.Sprintf("task %d", i), err, "exit_code", code)
		return code
	}
	return ExitOK
}

// Plan writes (or checks) the plan of a distributed run and prints it.
func Plan(ctx context.Context, w io.Writer, f RunFlags, t TaskFlags) (int, error) {
	r, code, err := openRunner(ctx, f, t, io.Discard)
	if err != nil {
		return code, err
	}
	defer r.Close()
	p := r.Plan()
	files, bytes := make([]int, p.Tasks), make([]int64, p.Tasks)
	for _, pf := range p.Files {
		files[pf.Task]++
		bytes[pf.Task] += pf.Size
	}
	fmt.Fprintf(w, "plan of %d tasks over %d input files (stored in the output's .winnow/dist/plan.json)\n\n", p.Tasks, len(p.Files))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "task\tfiles\tbytes\t")
	for i := range p.Tasks {
		fmt.Fprintf(tw, "%d\t%d\t%d\t\n", i, files[i], bytes[i])
	}
	tw.Flush()
	fmt.Fprintf(w, "\npasses (each runs once the one before is done):\n")
	for _, ps := range p.Passes {
		fmt.Fprintf(w, "  %-10s %-8s %4d units on %d tasks\n", ps.Name, ps.Kind, ps.Units, ps.Tasks(p.Tasks))
	}
	return ExitOK, nil
}

// Status prints which units of which pass are done, failed or missing, and
// returns ExitOK only when every pass is done.
func Status(ctx context.Context, w io.Writer, out string) (int, error) {
	plan, states, err := dist.Status(ctx, out)
	if err != nil {
		return ExitIO, err
	}
	complete := true
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "pass\tunits\tdone\tfailed\tmissing\t\n")
	var failures []string
	for _, s := range states {
		var failed, missing []string
		for _, u := range s.Units {
			switch u.State {
			case "failed":
				failed = append(failed, strconv.Itoa(u.Unit))
				failures = append(failures, fmt.Sprintf("%s unit %d on %s: %s", s.Name, u.Unit, u.Host, u.Error))
			case "missing":
				missing = append(missing, strconv.Itoa(u.Unit))
			}
		}
		complete = complete && s.Done == len(s.Units)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t\n", s.Name, len(s.Units), s.Done, list(failed), list(missing))
	}
	tw.Flush()
	for _, f := range failures {
		fmt.Fprintln(w, "failed:", f)
	}
	if !complete {
		fmt.Fprintf(w, "\n%d tasks; rerun a task's missing units with: winnow run -c CONFIG -o %s --tasks %d --task I [--pass NAME]\n", plan.Tasks, out, plan.Tasks)
		return ExitInternal, nil
	}
	fmt.Fprintln(w, "\nevery pass is done: the run is published")
	return ExitOK, nil
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	if len(s) > 8 {
		return strings.Join(s[:8], ",") + fmt.Sprintf(",… (%d)", len(s))
	}
	return strings.Join(s, ",")
}

// LaunchLocal runs the N tasks of a distributed run as processes of this
// binary and waits for them; each task's log lines are prefixed with its
// index. A task that dies leaves the others waiting for its units: it can
// be rerun by hand (the message says how) while they wait, and the launch
// succeeds once the run is published. SIGINT or SIGTERM stop every task
// cleanly.
func LaunchLocal(ctx context.Context, stderr io.Writer, f RunFlags, t TaskFlags) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "winnow:", err)
		return ExitInternal
	}
	if _, code, err := openRunner(ctx, f, t, io.Discard); err != nil { // the plan, once, before the tasks race for it
		fmt.Fprintln(stderr, "winnow:", err)
		return code
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, format, args...)
	}
	var wg sync.WaitGroup
	failed := ExitOK
	for i := range t.Tasks {
		cmd, out, err := startTask(ctx, self, append(taskArgs(f, t), "--task", strconv.Itoa(i)))
		if err != nil {
			say("winnow: task %d: %v\n", i, err)
			cancel()
			wg.Wait()
			return ExitInternal
		}
		wg.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				say("[task %d] %s\n", i, sc.Text())
			}
			if code := exitStatus(cmd.Wait()); code != ExitOK && ctx.Err() == nil {
				say("winnow: task %d %s; the other tasks wait for its units: rerun it with\n  winnow run %s --task %d\n(or stop this launch and start it again: finished units are skipped)\n",
					i, describeExit(code), strings.Join(taskArgs(f, t), " "), i)
				mu.Lock()
				failed = code
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	if failed != ExitOK {
		// A task rerun by hand may have finished the run meanwhile.
		if code, err := Status(ctx, io.Discard, abs(f.Output)); err != nil || code != ExitOK {
			return failed
		}
		say("winnow: a task failed, but its rerun finished the run: it is published\n")
	}
	return ExitOK
}

// startTask starts one task process; a cancelled launch sends it SIGTERM,
// which stops it after the batches in flight.
func startTask(ctx context.Context, self string, args []string) (*exec.Cmd, io.Reader, error) {
	cmd := exec.CommandContext(ctx, self, append([]string{"run"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	out, err := cmd.StderrPipe()
	if err == nil {
		err = cmd.Start()
	}
	return cmd, out, err
}

// exitStatus is a finished task's exit code; -1 when a signal killed it.
func exitStatus(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return ExitInternal
}

func describeExit(code int) string {
	if code < 0 {
		return "was killed by a signal"
	}
	return fmt.Sprintf("exited with %d", code)
}

// taskArgs are the command-line arguments of every task of a launch.
func taskArgs(f RunFlags, t TaskFlags) []string {
	var a []string
	if f.ConfigPath != "" {
		a = append(a, "-c", abs(f.ConfigPath))
	}
	if f.Recipe != "" {
		a = append(a, "--recipe", f.Recipe)
	}
	if f.Output != "" {
		a = append(a, "-o", abs(f.Output))
	}
	a = append(a, overrideArgs(f)...)
	a = append(a, "--log-format", cmp.Or(f.LogFormat, "text"), "--log-level", cmp.Or(f.LogLevel, "info"), "--tasks", strconv.Itoa(t.Tasks),
		"--workers-per-band", strconv.Itoa(t.WorkersPerBand))
	if t.Scratch != "" {
		a = append(a, "--scratch", abs(t.Scratch))
	}
	return a
}

// overrideArgs are the command-line overrides of the config a launch hands
// on to its tasks, so that every task reads the same config.
func overrideArgs(f RunFlags) []string {
	var a []string
	for _, in := range f.Inputs {
		a = append(a, "-i", abs(in))
	}
	if f.Workers >= 0 {
		a = append(a, "--workers", strconv.Itoa(f.Workers))
	}
	if f.MaxMemory >= 0 {
		a = append(a, "--max-memory", strconv.FormatInt(f.MaxMemory, 10))
	}
	return a
}

// abs makes a local path absolute, so tasks started elsewhere find it;
// URLs stay as they are.
func abs(p string) string {
	if strings.Contains(p, "://") {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// LaunchFlags are the scheduler settings of winnow launch slurm|k8s.
type LaunchFlags struct {
	Spec   dist.LaunchSpec
	Dir    string // write the files here ("": print them)
	Submit bool
}

// Launch renders the Slurm scripts or Kubernetes manifests of a run.
func Launch(ctx context.Context, w io.Writer, kind string, f RunFlags, t TaskFlags, l LaunchFlags) (int, error) {
	if f.ConfigPath == "" || f.Output == "" {
		return ExitConfig, fmt.Errorf("launch %s needs -c CONFIG and -o OUT: every task reads the same config file and shares the output", kind)
	}
	r, code, err := openRunner(ctx, f, t, io.Discard)
	if err != nil {
		return code, err
	}
	plan := r.Plan()
	r.Close()
	spec := l.Spec
	spec.Tasks, spec.Config, spec.Output = plan.Tasks, abs(f.ConfigPath), abs(f.Output)
	// The tasks must make the same plan; the paths are the launching
	// machine's, which the nodes are expected to share.
	spec.TaskArgs = append([]string{"--workers-per-band", strconv.Itoa(plan.WorkersPerBand)}, overrideArgs(f)...)
	for _, ps := range plan.Passes {
		spec.Passes = append(spec.Passes, dist.LaunchPass{Name: ps.Name, Tasks: ps.Tasks(plan.Tasks)})
	}
	var files []dist.File
	switch kind {
	case "slurm":
		files, err = dist.RenderSlurm(spec)
	case "k8s":
		var yml []byte
		yml, err = dist.RenderK8s(spec)
		files = []dist.File{{Name: "winnow-jobs.yaml", Text: string(yml), Mode: 0o644}}
	default:
		return ExitConfig, fmt.Errorf("launch %s: want slurm, k8s or local", kind)
	}
	if err != nil {
		return ExitConfig, err
	}
	if l.Dir == "" {
		for _, file := range files {
			fmt.Fprintf(w, "# ==== %s ====\n%s\n", file.Name, file.Text)
		}
		return ExitOK, nil
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return ExitIO, err
	}
	for _, file := range files {
		if err := os.WriteFile(filepath.Join(l.Dir, file.Name), []byte(file.Text), file.Mode); err != nil {
			return ExitIO, err
		}
		fmt.Fprintln(w, "wrote", filepath.Join(l.Dir, file.Name))
	}
	if l.Submit && kind == "slurm" {
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(l.Dir, "submit.sh"))
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Run(); err != nil {
			return ExitInternal, fmt.Errorf("submit: %w", err)
		}
	}
	return ExitOK, nil
}
