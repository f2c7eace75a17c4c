// Package dist runs a pipeline as N independent tasks that share only
// storage (a shared file system or an S3-compatible object store), the way
// datatrove runs on Slurm: every pass is an array of units, a unit writes
// only its own objects and then a done-marker created only if absent, and
// a pass starts once every unit of the pass before it is done. A crashed
// task is simply run again; a finished one does nothing.
//
// For a stage list with global stages g = 1 … G the passes are
//
//	scan-g     per task: its input files (g = 1) or the rows it staged in
//	           scan-(g-1) with resolve-(g-1)'s decisions, through the stages
//	           up to global stage g; staged rows and sealed side files
//	link-g     per band (or band × hash range): candidate links
//	resolve-g  one unit: clusters, and each task's decisions
//	final      per task: the last stages and the task's shards
//	publish    one unit: shards renumbered in task order, manifest.json last
//
// Tasks hold consecutive slices of the sorted input listing (balanced by
// size), so documents keep their run-wide order and the kept set is the
// one a single-machine run keeps, whatever the number of tasks.
package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"winnow/pipeline"
	"winnow/pipeline/storage"
)

// Pass kinds.
const (
	KindScan    = "scan"
	KindLink    = "link"
	KindResolve = "resolve"
	KindFinal   = "final"
	KindPublish = "publish"
)

// Pass is one pass of a distributed run.
type Pass struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Units is how many independent units the pass has; task i of N does
	// the units u with u mod N == i.
	Units int `json:"units"`
	// Global is the global stage (from 0) the pass works for: scan-g ends
	// at it, link-g and resolve-g resolve it; final applies the last one.
	Global int `json:"global"`
}

// Tasks is the array size a scheduler starts for the pass.
func (p Pass) Tasks(n int) int { return min(n, p.Units) }

// PlanFile is one input file and the task that reads it.
type PlanFile struct {
	Path string `json:"path"`
	Rel  string `json:"rel"`
	Size int64  `json:"size"`
	Task int    `json:"task"`
}

// Plan is the sorted input manifest, its split into tasks and the passes.
type Plan struct {
	Tasks          int    `json:"tasks"`
	WorkersPerBand int    `json:"workers_per_band"`
	ConfigSHA256   string `json:"config_sha256"`
	// Created is when the plan was made: the run's start.
	Created time.Time  `json:"created"`
	Files   []PlanFile `json:"files"`
	Passes  []Pass     `json:"passes"`
}

// Storage keys of a distributed run, relative to the output.
const (
	root    = ".winnow/dist/"
	planKey = root + "plan.json"
)

func doneKey(pass string, unit int) string {
	return fmt.Sprintf("%sdone/%s/unit-%05d.json", root, pass, unit)
}
func failedKey(pass string, unit int) string {
	return fmt.Sprintf("%sfailed/%s/unit-%05d.json", root, pass, unit)
}
func workKey(pass, unit string) string { return root + "work/" + pass + "/" + unit + "/" }
func taskUnit(i int) string            { return fmt.Sprintf("task-%04d", i) }
func linkUnit(u int) string            { return fmt.Sprintf("unit-%05d", u) }

// MakePlan lists the inputs of cfg and splits them into tasks consecutive
// slices of about equal bytes. It also returns the global stages, which
// the link and resolve passes run.
func MakePlan(reg *pipeline.Registry, cfg pipeline.Config, tasks, workersPerBand int) (*Plan, []pipeline.Distributed, error) {
	if tasks < 1 || workersPerBand < 1 {
		return nil, nil, fmt.Errorf("%w: --tasks and --workers-per-band must be at least 1", pipeline.ErrConfig)
	}
	if cfg.Incremental {
		return nil, nil, fmt.Errorf("%w: incremental runs cannot run as distributed tasks yet", pipeline.ErrConfig)
	}
	globals, hash, err := pipeline.PlanStages(reg, cfg)
	if err != nil {
		return nil, nil, err
	}
	files, err := pipeline.ListInputs(cfg.Input, localDir(cfg.Output.Dir))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", pipeline.ErrInput, err)
	}
	p := &Plan{Tasks: tasks, WorkersPerBand: workersPerBand, ConfigSHA256: hash, Created: time.Now().UTC()}
	for i, task := range splitBySize(files, tasks) {
		f := files[i]
		p.Files = append(p.Files, PlanFile{Path: f.Path, Rel: f.Rel, Size: f.Size, Task: task})
	}
	var dists []pipeline.Distributed
	for g, gs := range globals {
		d, ok := gs.(pipeline.Distributed)
		if !ok {
			return nil, nil, fmt.Errorf("%w: stage %s cannot run as distributed tasks", pipeline.ErrConfig, gs.Name())
		}
		if err := d.CheckDistributed(); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", pipeline.ErrConfig, err)
		}
		dists = append(dists, d)
		p.Passes = append(p.Passes,
			Pass{Name: fmt.Sprintf("scan-%d", g+1), Kind: KindScan, Units: tasks, Global: g},
			Pass{Name: fmt.Sprintf("link-%d", g+1), Kind: KindLink, Units: d.LinkUnits(workersPerBand), Global: g},
			Pass{Name: fmt.Sprintf("resolve-%d", g+1), Kind: KindResolve, Units: 1, Global: g})
	}
	p.Passes = append(p.Passes, Pass{Name: "final", Kind: KindFinal, Units: tasks, Global: len(globals) - 1},
		Pass{Name: "publish", Kind: KindPublish, Units: 1, Global: -1})
	return p, dists, nil
}

// splitBySize gives each file (in listing order) a task so that task t
// holds the files whose bytes start in the t-th N-th of the total.
func splitBySize(files []pipeline.InputFile, tasks int) []int {
	var total int64
	for _, f := range files {
		total += max(f.Size, 1)
	}
	out := make([]int, len(files))
	var before int64
	for i, f := range files {
		out[i] = int(before * int64(tasks) / max(total, 1))
		before += max(f.Size, 1)
	}
	return out
}

// Pass returns the named pass.
func (p *Plan) Pass(name string) (Pass, int, error) {
	for i, ps := range p.Passes {
		if ps.Name == name {
			return ps, i, nil
		}
	}
	names := make([]string, len(p.Passes))
	for i, ps := range p.Passes {
		names[i] = ps.Name
	}
	return Pass{}, 0, fmt.Errorf("%w: --pass %q: the passes of this config are %v", pipeline.ErrConfig, name, names)
}

// taskFiles returns the listing entries of task i, checking that the input
// files are still those the plan lists.
func (p *Plan) taskFiles(task int, all []pipeline.InputFile) ([]pipeline.InputFile, error) {
	if len(all) != len(p.Files) {
		return nil, fmt.Errorf("the inputs hold %d files, the plan %d: the input changed since the plan was made; plan again into a new output", len(all), len(p.Files))
	}
	var mine []pipeline.InputFile
	for i, f := range all {
		pf := p.Files[i]
		if f.Path != pf.Path || f.Size != pf.Size {
			return nil, fmt.Errorf("input %s (%d bytes) is not the plan's %s (%d bytes): the input changed since the plan was made", f.Path, f.Size, pf.Path, pf.Size)
		}
		if pf.Task == task {
			mine = append(mine, f)
		}
	}
	return mine, nil
}

// loadOrCreatePlan returns the run's plan: the stored one, which must be
// for the same config and task count, or want, stored if absent.
func loadOrCreatePlan(ctx context.Context, st *storage.Store, want *Plan) (*Plan, error) {
	data, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		return nil, err
	}
	if _, err := st.CreateIfAbsent(ctx, planKey, append(data, '\n')); err != nil {
		return nil, err
	}
	got, err := readPlan(ctx, st)
	if err != nil {
		return nil, err
	}
	if got.ConfigSHA256 != want.ConfigSHA256 || got.Tasks != want.Tasks || got.WorkersPerBand != want.WorkersPerBand ||
		!slices.Equal(got.Files, want.Files) {
		return nil, fmt.Errorf("%w: %s holds the plan of another config, task count or input; use a new output", pipeline.ErrConfig, st.URL())
	}
	return got, nil
}

func readPlan(ctx context.Context, st *storage.Store) (*Plan, error) {
	data, err := st.Get(ctx, planKey)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, fmt.Errorf("%s has no plan: no distributed run was started there (winnow plan, or winnow run --tasks N)", st.URL())
	}
	if err != nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", planKey, err)
	}
	return &p, nil
}
