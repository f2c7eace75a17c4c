package pipeline

import (
	"context"
	"log/slog"
)

// GlobalStage is a stage that can decide about a document only after it has
// seen every document (exact and near-duplicate removal). The engine splits
// the stage list at each global stage into passes:
//
//  1. in the pass that reaches it, Process runs in the workers like any
//     stage and keeps per-row keys with the batch (Batch.SetSide);
//  2. that pass's ordered writer stages the surviving rows in .winnow/ and
//     hands every batch, in input order, to the stage's Collector, which
//     numbers the alive rows 0, 1, 2 … (their ordinals) and spills its side
//     files; after the last batch, Resolve decides from those files alone;
//  3. the next pass reads the staged rows back in the same order: the
//     Decider attaches each batch's decisions (in the reading goroutine,
//     so in ordinal order), and Apply, in the workers, sets the stage's
//     columns and marks the removed rows.
//
// Process and Apply must be safe for concurrent use; a Collector and a
// Decider are used by one goroutine.
type GlobalStage interface {
	Stage
	NewCollector(env GlobalEnv) (Collector, error)
	Apply(ctx context.Context, b *Batch) error
}

// GlobalEnv is what a global stage's collector may use.
type GlobalEnv struct {
	// WorkDir is a fresh directory for the stage's side files; the engine
	// removes it when the run succeeds.
	WorkDir string
	// IndexDir is where the stage writes the index a later run can
	// deduplicate against: index/<stage name> in the run directory (with a
	// suffix for a stage listed twice).
	IndexDir string
	// MemoryBudget is the run's max_memory in bytes (0: no limit); the
	// collector spills to WorkDir to stay within its share of it.
	MemoryBudget int64
	Logger       *slog.Logger
	// PriorIndexDir is the index the same stage wrote in the run an
	// incremental run continues ("" otherwise): the stage deduplicates
	// against it unless its options name another index.
	PriorIndexDir string
	// Retracted reports the ids of the prior index's documents whose input
	// files changed or vanished: they match nothing and leave the index.
	Retracted func(id string) bool
}

// Collector gathers a global stage's side data in ordinal order.
type Collector interface {
	// Add is called with every batch of the pass, in sequence order; only
	// alive rows get ordinals.
	Add(b *Batch) error
	// Resolve decides after the last Add.
	Resolve(ctx context.Context) (Decider, error)
}

// Decider hands the decisions to the next pass.
type Decider interface {
	// Attach is called with every staged batch in ordinal order; every row
	// of a staged batch is alive.
	Attach(b *Batch) error
	// Counts are the stage's run-level counters (clusters, candidate
	// pairs, spills …), added to its stats.
	Counts() map[string]int64
	Close() error
}

// step is one stage call in a pass's chain.
type step struct {
	stage   Stage
	counter int // index of the stage in the config's list, for its counters
	// A global stage is counted across two passes: documents in when it
	// signs them, documents out and drops when its decisions apply.
	countIn, countOut bool
}

// pass is one streaming pass over the documents: from the inputs or the
// previous pass's staged rows, through steps, to the final shards or, when
// global is set, to staged rows and global's collector.
type pass struct {
	steps     []step
	global    GlobalStage
	globalIdx int
}

// applyStage runs a global stage's Apply as a step of the following pass.
type applyStage struct{ GlobalStage }

func (a applyStage) Process(ctx context.Context, b *Batch) error { return a.Apply(ctx, b) }

// splitPasses cuts the stage list after each global stage.
func splitPasses(stages []Stage) []pass {
	var passes []pass
	cur := pass{}
	for i, st := range stages {
		gs, ok := st.(GlobalStage)
		if !ok {
			cur.steps = append(cur.steps, step{stage: st, counter: i, countIn: true, countOut: true})
			continue
		}
		cur.steps = append(cur.steps, step{stage: st, counter: i, countIn: true})
		cur.global, cur.globalIdx = gs, i
		passes = append(passes, cur)
		cur = pass{steps: []step{{stage: applyStage{gs}, counter: i, countOut: true}}}
	}
	return append(passes, cur)
}
