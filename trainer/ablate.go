package trainer

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
)

// Arm is one side of an ablation: a name and its shards.
type Arm struct {
	Name   string   `json:"name"`
	Shards []string `json:"shards"`
}

// AblateOptions configure an ablation: every arm is trained with the same
// job (preset, token budget) and the same seeds, and evaluated on the same
// held-out shards, so the only difference between arms is their data.
type AblateOptions struct {
	Arms   []Arm
	Eval   []string // held-out shards, the same for every arm
	Work   string   // run directories go here, one per arm and seed
	Seeds  []int64
	Job    Job
	Tokens int64

	Python  []string
	OnRun   func(arm string, seed int64, run string) // before each run
	OnEvent func(Event)
	Log     *slog.Logger
}

// ArmResult is one arm's held-out bits per byte over the seeds.
type ArmResult struct {
	Arm
	Seeds          []int64   `json:"seeds"`
	BPB            []float64 `json:"val_bpb"`
	ValLoss        []float64 `json:"val_loss"`
	Mean           float64   `json:"mean_bpb"`
	Std            float64   `json:"std_bpb"` // sample standard deviation over seeds
	Min            float64   `json:"min_bpb"`
	Max            float64   `json:"max_bpb"`
	TrainDocs      int64     `json:"train_docs"`
	TrainBytes     int64     `json:"train_bytes"`
	Decontaminated int64     `json:"decontaminated"`
}

// AblateResult is what `winnow ablate` prints and writes as JSON.
type AblateResult struct {
	Preset        string      `json:"preset"`
	Arch          string      `json:"arch"`
	Tokenizer     string      `json:"tokenizer"`
	Steps         int         `json:"steps"`
	TokensPerStep int64       `json:"tokens_per_step"`
	Eval          []string    `json:"eval"`
	EvalDocs      int64       `json:"eval_docs"`
	EvalTokens    int64       `json:"eval_tokens"`
	Python        Interpreter `json:"python"`
	Arms          []ArmResult `json:"arms"`
}

// Ablate trains every arm with every seed (seed-major, so an interrupted
// ablation has both arms at its first seeds) and collects the final
// held-out bits per byte. The final evaluation covers the whole eval set.
func Ablate(ctx context.Context, o AblateOptions) (*AblateResult, error) {
	if len(o.Arms) < 2 || len(o.Eval) == 0 || len(o.Seeds) == 0 {
		return nil, errorf(KindConfig, nil, "an ablation needs two arms, eval shards and at least one seed")
	}
	py, err := FindPython(ctx, o.Python)
	if err != nil {
		return nil, err
	}
	job := o.Job.WithDefaults(o.Tokens)
	// One evaluation at the start and one of the whole eval set at the end:
	// the comparison needs only the last, and evaluations cost compute.
	job.EvalEvery, job.CkptEvery, job.FinalEvalTokens = job.Steps, job.Steps, math.MaxInt64/2
	res := &AblateResult{Preset: job.Preset, Tokenizer: job.Tokenizer, Steps: job.Steps,
		TokensPerStep: job.TokensPerStep(), Eval: o.Eval, Python: py}
	res.Arms = make([]ArmResult, len(o.Arms))
	for i, a := range o.Arms {
		res.Arms[i].Arm = a
	}
	for _, seed := range o.Seeds {
		for i, a := range o.Arms {
			run := filepath.Join(o.Work, fmt.Sprintf("%s-seed%d", a.Name, seed))
			if o.OnRun != nil {
				o.OnRun(a.Name, seed, run)
			}
			j := job
			j.Seed = seed
			r, err := Train(ctx, Options{Run: run, Job: j, Interpreter: &py, OnEvent: o.OnEvent, Log: o.Log,
				Data: DataSpec{Shards: a.Shards, EvalShards: o.Eval}})
			if err != nil {
				return res, fmt.Errorf("arm %s, seed %d: %w", a.Name, seed, err)
			}
			ar := &res.Arms[i]
			ar.Seeds = append(ar.Seeds, seed)
			ar.BPB = append(ar.BPB, r.Done.ValBPB)
			ar.ValLoss = append(ar.ValLoss, r.Done.ValLoss)
			ar.TrainDocs, ar.TrainBytes, ar.Decontaminated = r.Docs.TrainDocs, r.Docs.TrainBytes, r.Docs.Decontaminated
			res.EvalDocs, res.EvalTokens, res.Arch = r.Docs.ValDocs, r.Done.ValTokens, r.Ready.Arch
		}
	}
	for i := range res.Arms {
		res.Arms[i].summarise()
	}
	return res, nil
}

func (a *ArmResult) summarise() {
	n := float64(len(a.BPB))
	a.Min, a.Max = math.Inf(1), math.Inf(-1)
	for _, v := range a.BPB {
		a.Mean += v / n
		a.Min, a.Max = math.Min(a.Min, v), math.Max(a.Max, v)
	}
	if len(a.BPB) > 1 {
		var ss float64
		for _, v := range a.BPB {
			ss += (v - a.Mean) * (v - a.Mean)
		}
		a.Std = math.Sqrt(ss / (n - 1))
	}
}
