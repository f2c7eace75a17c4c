package dist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"winnow/pipeline"
	"winnow/pipeline/storage"
)

// Options are what every task of a distributed run is given.
type Options struct {
	Config   pipeline.Config // Output.Dir: the shared output (a path or an s3:// URL)
	Registry *pipeline.Registry
	Logger   *slog.Logger
	Tasks    int
	// WorkersPerBand splits each band's link into that many hash ranges.
	WorkersPerBand int
	// Scratch is a local directory for this task's temporary files ("":
	// under the system's temporary directory).
	Scratch string
	// Wait makes a unit wait for the pass before it instead of failing;
	// Poll is how often it looks (0: 2 s).
	Wait bool
	Poll time.Duration
}

// Runner runs the units of a distributed run.
type Runner struct {
	opts    Options
	st      *storage.Store
	plan    *Plan
	globals []pipeline.Distributed
	log     *slog.Logger
}

// Open opens the run's storage and plan (making the plan if it is the
// first task there).
func Open(ctx context.Context, opts Options) (*Runner, error) {
	if opts.WorkersPerBand == 0 {
		opts.WorkersPerBand = 1
	}
	want, globals, err := MakePlan(opts.Registry, opts.Config, opts.Tasks, opts.WorkersPerBand)
	if err != nil {
		return nil, err
	}
	st, err := storage.Open(ctx, opts.Config.Output.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", pipeline.ErrOutput, err)
	}
	plan, err := loadOrCreatePlan(ctx, st, want)
	if err != nil {
		st.Close()
		return nil, err
	}
	r := &Runner{opts: opts, st: st, plan: plan, globals: globals, log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.opts.Scratch == "" {
		sum := sha256.Sum256([]byte(st.URL()))
		r.opts.Scratch = filepath.Join(os.TempDir(), "winnow-dist-"+hex.EncodeToString(sum[:6]))
	}
	if r.opts.Poll == 0 {
		r.opts.Poll = 2 * time.Second
	}
	return r, nil
}

// Plan returns the run's plan.
func (r *Runner) Plan() *Plan { return r.plan }

// Store returns the run's storage.
func (r *Runner) Store() *storage.Store { return r.st }

// Close releases the storage.
func (r *Runner) Close() error { return r.st.Close() }

// RunTask does task i's share of one pass (pass != "") or of every pass in
// order, waiting at each pass for the one before.
func (r *Runner) RunTask(ctx context.Context, task int, pass string) error {
	if task < 0 || task >= r.plan.Tasks {
		return fmt.Errorf("%w: task %d: want 0 … %d for %d tasks", pipeline.ErrConfig, task, r.plan.Tasks-1, r.plan.Tasks)
	}
	if pass != "" {
		_, i, err := r.plan.Pass(pass)
		if err != nil {
			return err
		}
		return r.runPass(ctx, task, i, r.opts.Wait)
	}
	for i := range r.plan.Passes {
		if err := r.runPass(ctx, task, i, true); err != nil {
			return err
		}
	}
	return nil
}

// runPass runs the units of pass i that are task's: u mod N == task.
// Its units share one fetcher, so a link task downloads each task's
// signatures once, not once per band.
func (r *Runner) runPass(ctx context.Context, task, i int, wait bool) error {
	ps := r.plan.Passes[i]
	f := &fetcher{st: r.st, dir: filepath.Join(r.opts.Scratch, ps.Name, fmt.Sprintf("fetch-%d", os.Getpid()))}
	defer os.RemoveAll(f.dir)
	for u := task; u < ps.Units; u += r.plan.Tasks {
		done, err := r.st.Exists(ctx, doneKey(ps.Name, u))
		if err != nil {
			return err
		}
		if done {
			r.log.Info("unit done already", "pass", ps.Name, "unit", u)
			continue
		}
		if i > 0 {
			if err := r.awaitPass(ctx, r.plan.Passes[i-1], wait); err != nil {
				return err
			}
		}
		if err := r.runUnit(ctx, ps, u, f); err != nil {
			r.recordFailure(ps.Name, u, err)
			return fmt.Errorf("pass %s unit %d: %w", ps.Name, u, err)
		}
	}
	return nil
}

// awaitPass returns once every unit of ps is done; without wait it fails
// at once if one is not.
func (r *Runner) awaitPass(ctx context.Context, ps Pass, wait bool) error {
	logged := false
	for {
		missing, err := r.missing(ctx, ps)
		if err != nil || len(missing) == 0 {
			return err
		}
		if !wait {
			return fmt.Errorf("pass %s is not done (units %v missing): run it first, or pass --wait", ps.Name, missing)
		}
		if !logged {
			r.log.Info("waiting for the pass before", "pass", ps.Name, "missing_units", len(missing))
			logged = true
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(r.opts.Poll):
		}
	}
}

// missing lists the units of ps without a done-marker.
func (r *Runner) missing(ctx context.Context, ps Pass) ([]int, error) {
	keys, err := r.st.List(ctx, root+"done/"+ps.Name+"/")
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
	}
	var miss []int
	for u := range ps.Units {
		if !have[doneKey(ps.Name, u)] {
			miss = append(miss, u)
		}
	}
	return miss, nil
}

// marker is a done-marker's content.
type marker struct {
	Pass     string    `json:"pass"`
	Unit     int       `json:"unit"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`
	Error    string    `json:"error,omitempty"`
}

func (r *Runner) newMarker(pass string, unit int, start time.Time) []byte {
	host, _ := os.Hostname()
	m := marker{Pass: pass, Unit: unit, Host: host, PID: os.Getpid(), Finished: time.Now().UTC(), Seconds: time.Since(start).Seconds()}
	data, _ := json.Marshal(m)
	return data
}

// recordFailure leaves a note for winnow status; a later success wins.
func (r *Runner) recordFailure(pass string, unit int, cause error) {
	if errors.Is(cause, context.Canceled) {
		return
	}
	host, _ := os.Hostname()
	data, _ := json.Marshal(marker{Pass: pass, Unit: unit, Host: host, PID: os.Getpid(), Finished: time.Now().UTC(), Error: cause.Error()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.st.Put(ctx, failedKey(pass, unit), bytesReader(data)); err != nil {
		r.log.Warn("could not record the failure", "pass", pass, "unit", unit, "err", err)
	}
}

// runUnit runs one unit in a fresh scratch directory and marks it done.
func (r *Runner) runUnit(ctx context.Context, ps Pass, u int, f *fetcher) error {
	start := time.Now()
	scratch := filepath.Join(r.opts.Scratch, ps.Name, linkUnit(u))
	if err := os.RemoveAll(scratch); err != nil {
		return err
	}
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return err
	}
	r.log.Info("unit started", "pass", ps.Name, "unit", u)
	var err error
	switch ps.Kind {
	case KindScan, KindFinal:
		err = r.scan(ctx, ps, u, scratch)
	case KindLink:
		err = r.link(ctx, ps, u, scratch, f)
	case KindResolve:
		err = r.resolve(ctx, ps, scratch, f)
	case KindPublish:
		err = r.publish(ctx, scratch)
	default:
		err = fmt.Errorf("unknown pass kind %q", ps.Kind)
	}
	if err != nil {
		return err
	}
	if _, err := r.st.CreateIfAbsent(ctx, doneKey(ps.Name, u), r.newMarker(ps.Name, u, start)); err != nil {
		return err
	}
	r.log.Info("unit done", "pass", ps.Name, "unit", u, "seconds", fmt.Sprintf("%.2f", time.Since(start).Seconds()))
	return os.RemoveAll(scratch)
}

// scan runs the engine for task: from its inputs (scan-1) or from what
// its previous scan staged plus the decisions resolved since, to the next
// global stage (sealed) or to its shards (final).
func (r *Runner) scan(ctx context.Context, ps Pass, task int, scratch string) error {
	dir := filepath.Join(scratch, "run")
	g := ps.Global // the global stage this pass ends at (scan) or applies last (final)
	prev := g      // the global stage whose decisions this pass applies
	if ps.Kind == KindScan {
		prev = g - 1
	}
	if prev >= 0 {
		// The sealed side files stay behind but for what the decider reads:
		// signatures and band runs are most of the bytes.
		work := filepath.ToSlash(pipeline.GlobalWorkDir(prev, r.globals[prev])) + "/"
		decider := r.globals[prev].DeciderFiles()
		keep := func(rel string) bool {
			name, inWork := strings.CutPrefix(rel, work)
			return !inWork || slices.Contains(decider, name)
		}
		if err := downloadTree(ctx, r.st, workKey(fmt.Sprintf("scan-%d", prev+1), taskUnit(task)), dir, keep); err != nil {
			return err
		}
		resolved := workKey(fmt.Sprintf("resolve-%d", prev+1), taskUnit(task))
		if err := downloadTree(ctx, r.st, resolved, filepath.Join(dir, filepath.FromSlash(work)), nil); err != nil {
			return err
		}
	}
	cfg := r.opts.Config
	cfg.Output.Dir = dir
	opts := pipeline.RunOptions{Config: cfg, Registry: r.opts.Registry, Logger: r.log.With("task", task),
		Task: &pipeline.TaskOptions{Select: func(all []pipeline.InputFile) ([]pipeline.InputFile, error) {
			return r.plan.taskFiles(task, all)
		}}}
	res, err := pipeline.Run(ctx, opts)
	if err != nil {
		return err
	}
	want := 0
	if ps.Kind == KindScan {
		want = g + 1
	}
	if res.Sealed != want {
		return fmt.Errorf("internal error: task run stopped after pass %d, want %d", res.Sealed, want)
	}
	return uploadTree(ctx, r.st, dir, workKey(ps.Name, taskUnit(task)), taskFileKept(res.Sealed))
}

// sealedFetch fetches the files of global stage g's sealed work directory
// of each task from scan-(g+1).
func (r *Runner) sealedFetch(g int, f *fetcher) pipeline.Fetch {
	work := filepath.ToSlash(pipeline.GlobalWorkDir(g, r.globals[g]))
	return func(ctx context.Context, task int, name string) (string, error) {
		return f.get(ctx, workKey(fmt.Sprintf("scan-%d", g+1), taskUnit(task))+work+"/"+name)
	}
}

func (r *Runner) link(ctx context.Context, ps Pass, u int, scratch string, f *fetcher) error {
	out := filepath.Join(scratch, "out")
	tmp := filepath.Join(scratch, "tmp")
	index := filepath.Join(out, "index")
	for _, d := range []string{out, tmp, index} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	job := pipeline.LinkJob{Tasks: r.plan.Tasks, Fetch: r.sealedFetch(ps.Global, f), Unit: u,
		WorkersPerBand: r.plan.WorkersPerBand, Out: out, Scratch: tmp, Index: index}
	if err := r.globals[ps.Global].Link(ctx, job); err != nil {
		return fmt.Errorf("stage %s: %w", r.globals[ps.Global].Name(), err)
	}
	return uploadTree(ctx, r.st, out, workKey(ps.Name, linkUnit(u)), func(string) bool { return true })
}

func (r *Runner) resolve(ctx context.Context, ps Pass, scratch string, f *fetcher) error {
	g := ps.Global
	link := r.plan.Passes[r.passIndex(ps.Name)-1]
	job := pipeline.ResolveJob{Tasks: r.plan.Tasks, Fetch: r.sealedFetch(g, f), Units: link.Units,
		WorkersPerBand: r.plan.WorkersPerBand, Scratch: filepath.Join(scratch, "tmp"), Index: filepath.Join(scratch, "index"),
		FetchLink: func(ctx context.Context, unit int, name string) (string, error) {
			return f.get(ctx, workKey(link.Name, linkUnit(unit))+name)
		}}
	for i := range r.plan.Tasks {
		job.Out = append(job.Out, filepath.Join(scratch, "out", taskUnit(i)))
	}
	for _, d := range append([]string{job.Scratch, job.Index}, job.Out...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := r.globals[g].Resolve(ctx, job); err != nil {
		return fmt.Errorf("stage %s: %w", r.globals[g].Name(), err)
	}
	for i, out := range job.Out {
		if err := uploadTree(ctx, r.st, out, workKey(ps.Name, taskUnit(i)), func(string) bool { return true }); err != nil {
			return err
		}
	}
	return uploadTree(ctx, r.st, job.Index, workKey(ps.Name, "index"), func(string) bool { return true })
}

func (r *Runner) passIndex(name string) int {
	_, i, _ := r.plan.Pass(name)
	return i
}
