package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
)

// TaskOptions make a run one task of a distributed run (package dist): it
// reads only the input files Select picks from the listing, and every pass
// that ends at a global stage ends the run: the stage's collector is sealed
// (Sealer) and the pass checkpointed, for the stage to be resolved across
// all tasks elsewhere. Started again in the same directory, with the
// stage's decisions placed in its work directory, the run resumes with the
// next pass.
type TaskOptions struct {
	Select func(all []InputFile) ([]InputFile, error)
}

// Sealer is a collector whose stage is resolved by other processes: Seal
// finishes the side files in its work directory, and those files alone
// describe what it collected.
type Sealer interface {
	Collector
	Seal(ctx context.Context) error
}

// Distributed is a global stage that resolves across the sealed work
// directories of several tasks, in two steps that each run as independent
// units: Link finds a unit's links (a share of the candidate pairs),
// Resolve joins every unit's links into each task's decisions, which the
// stage's ReopenDecider reads.
type Distributed interface {
	Resumable
	// CheckDistributed reports options the distributed path does not
	// support, before any work.
	CheckDistributed() error
	LinkUnits(workersPerBand int) int
	// DeciderFiles names the files of a task's sealed work directory that
	// ReopenDecider reads besides Resolve's output; the others serve only
	// Link and Resolve, and the task's next pass does without them.
	DeciderFiles() []string
	Link(ctx context.Context, job LinkJob) error
	Resolve(ctx context.Context, job ResolveJob) error
}

// Fetch returns a local copy of the file name (slash-separated, relative
// to a sealed work directory) of task i.
type Fetch func(ctx context.Context, task int, name string) (string, error)

// LinkJob is one link unit of a distributed global stage.
type LinkJob struct {
	Tasks          int
	Fetch          Fetch
	Unit           int
	WorkersPerBand int
	// Out is an empty local directory for the unit's files; Scratch one for
	// temporary files; Index one for the unit's share of the stage's
	// index/ directory, which the published run holds as a one-machine
	// run does.
	Out, Scratch, Index string
}

// ResolveJob joins the link units' files (FetchLink(unit, name) gives a
// local copy of a file a unit wrote) into one directory of decisions per
// task: Out[i] receives the files task i's ReopenDecider needs.
type ResolveJob struct {
	Tasks          int
	Fetch          Fetch
	Units          int
	WorkersPerBand int
	FetchLink      func(ctx context.Context, unit int, name string) (string, error)
	Out            []string
	Scratch        string
	Index          string // as LinkJob.Index
}

// GlobalWorkDir is the work directory, relative to the run directory, of
// the global stage that ends pass p (0-based).
func GlobalWorkDir(p int, stage GlobalStage) string {
	return filepath.Join(WorkDir, fmt.Sprintf("pass-%d", p+1), stage.Name())
}

// PassDirName is the directory of pass p (0-based), relative to the run
// directory.
func PassDirName(p int) string { return filepath.Join(WorkDir, fmt.Sprintf("pass-%d", p+1)) }

// PlanStages builds cfg's stage list once and returns its global stages in
// pass order and the sha256 of the resolved config a run of it records.
func PlanStages(reg *Registry, cfg Config) ([]GlobalStage, string, error) {
	stages, resolved, err := reg.Build(cfg.Stages)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrConfig, err)
	}
	_, hash, err := ResolvedConfig(cfg, resolved)
	if err != nil {
		return nil, "", err
	}
	var gs []GlobalStage
	for _, p := range splitPasses(stages) {
		if p.global != nil {
			gs = append(gs, p.global)
		}
	}
	return gs, hash, nil
}

// sealed ends a task's run after pass Pass (1-based).
type sealed struct{ pass int }

func (s sealed) Error() string { return fmt.Sprintf("sealed after pass %d", s.pass) }

// sealPass seals pass p's collector and checkpoints the pass.
func (r *run) sealPass(ctx context.Context, p int, ps pass, coll Collector) error {
	s, ok := coll.(Sealer)
	if _, resumable := ps.global.(Resumable); !ok || !resumable {
		return fmt.Errorf("%w: stage %s cannot run as distributed tasks", ErrConfig, ps.global.Name())
	}
	if err := s.Seal(ctx); err != nil {
		return fmt.Errorf("stage %s: seal: %w", ps.global.Name(), err)
	}
	if err := r.writeCheckpoint(p); err != nil {
		return fmt.Errorf("%w: checkpoint: %w", ErrOutput, err)
	}
	return sealed{pass: p + 1}
}
