package trainer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"winnow/dedup"
	"winnow/filters"
	"winnow/pipeline"
	"winnow/stages"
	"winnow/trainer"
	"winnow/trainer/trainertest"
)

// These tests run the real worker on CPU (see trainertest.Python for the
// interpreter), on shards the demo pipeline makes from fixtures/corpus.
// Runs are small (the tiny preset, 64-token sequences, one thread) so the
// package takes a few minutes under -race on two cores.

var shardDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if shardDir != "" {
		os.RemoveAll(shardDir)
	}
	os.Exit(code)
}

var buildShards = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "winnow-trainer-shards-")
	if err != nil {
		return "", err
	}
	shardDir = dir
	wd, _ := os.Getwd()
	root := filepath.Dir(wd) // the tests run in trainer/
	cfg, err := pipeline.LoadConfig(filepath.Join(root, "fixtures", "demo.yaml"))
	if err != nil {
		return "", err
	}
	cfg.Input.Paths = []string{filepath.Join(root, "fixtures", "corpus")}
	cfg.Output.Dir = filepath.Join(dir, "out")
	reg := pipeline.NewRegistry()
	stages.Register(reg)
	filters.Register(reg)
	dedup.Register(reg)
	_, err = pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: reg})
	return cfg.Output.Dir, err
})

// fixtureRun returns a winnow run directory made by fixtures/demo.yaml.
func fixtureRun(t *testing.T) string {
	t.Helper()
	out, err := buildShards()
	if err != nil {
		t.Fatalf("demo pipeline on the fixtures: %v", err)
	}
	return out
}

// tinyJob is the job the tests start from.
func tinyJob(steps int) trainer.Job {
	return trainer.Job{Preset: "tiny", SeqLen: 64, BatchSize: 8, Steps: steps, Threads: 1, LogEvery: 1, FinalEvalTokens: 16384}
}

func options(t *testing.T, py trainer.Interpreter, job trainer.Job) trainer.Options {
	return trainer.Options{
		Run:         filepath.Join(t.TempDir(), "run"),
		Data:        trainer.DataSpec{Shards: []string{fixtureRun(t)}, ValFraction: 0.05},
		Job:         job,
		Interpreter: &py,
	}
}

func train(t *testing.T, o trainer.Options) *trainer.Result {
	t.Helper()
	res, err := trainer.Train(context.Background(), o)
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	return res
}

// evals returns the held-out losses of a run by step.
func evals(t *testing.T, run string) map[int]float64 {
	t.Helper()
	events, err := trainer.ReadMetrics(run)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]float64{}
	for _, e := range events {
		if e.Event == "eval" {
			out[e.Step] = e.ValLoss
		}
	}
	return out
}

// A tiny run of 200 steps learns: the held-out loss ends well below where it
// started (ln 257 ≈ 5.55 nats for a uniform byte model), and the run
// directory has its metrics, checkpoint and final model.
func TestTinyRunLearns(t *testing.T) {
	py := trainertest.Python(t)
	o := options(t, py, tinyJob(200))
	res := train(t, o)
	ev := evals(t, o.Run)
	start, end := ev[0], ev[200]
	t.Logf("%s (torch %s): held-out loss %.3f -> %.3f (%.3f bits/byte), %d train docs, %d val docs",
		res.Ready.Arch, py.Torch, start, end, res.Done.ValBPB, res.Docs.TrainDocs, res.Docs.ValDocs)
	if start < 5 || end > 0.75*start {
		t.Errorf("held-out loss %.3f at step 0, %.3f at step 200: want a start near ln 257 and an end below 3/4 of it", start, end)
	}
	// The done event evaluates more of the held-out set than the curve's
	// 4096 tokens: 16384 here.
	if res.Done.ValTokens != 16384 || math.Abs(res.Done.ValLoss-end) > 0.5 {
		t.Errorf("done event: %d tokens, loss %.4f; want 16384 tokens and a loss near the last eval's %.4f",
			res.Done.ValTokens, res.Done.ValLoss, end)
	}
	for _, p := range []string{"ckpt/latest", "ckpt/step-0000200/state.pt", "final/model.safetensors", "final/tokenizer.json",
		"worker.log", "docs.json", "data.json", "train.bin", "val.bin"} {
		if res.Ready.Arch == "torch" && strings.HasPrefix(p, "final/model") {
			p = "final/model.pt"
		}
		if _, err := os.Stat(filepath.Join(o.Run, p)); err != nil {
			t.Errorf("run directory: %v", err)
		}
	}
}

// A worker killed with SIGKILL at step 25 loses the steps after its last
// checkpoint (20); --resume replays them and reaches exactly the losses of
// an uninterrupted run: same batches (the order is a function of seed and
// step), same RNG, model and optimizer state. Compared exactly: the same
// float32 kernels on the same machine and thread count are deterministic,
// so any difference would be a resume bug, not noise. This runs the plain
// torch.nn model (--arch torch).
func TestKillResumeMatchesUninterrupted(t *testing.T) {
	py := trainertest.Python(t)
	job := tinyJob(40)
	job.Arch, job.CkptEvery, job.EvalEvery = "torch", 10, 10
	whole := options(t, py, job)
	train(t, whole)

	killed := options(t, py, job)
	killed.OnEvent = killAt(t, 25)
	_, err := trainer.Train(context.Background(), killed)
	if trainer.KindOf(err) != trainer.KindInternal || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("killed worker: got %v, want an internal error saying it was killed", err)
	}
	if got := trainer.LatestCheckpoint(killed.Run); got != "ckpt/step-0000020" {
		t.Fatalf("latest checkpoint after the kill: %q, want ckpt/step-0000020", got)
	}
	killed.Resume, killed.OnEvent = true, nil
	train(t, killed)

	if ev := evals(t, whole.Run); ev[0] > 6 || ev[40] > ev[0]-0.5 {
		t.Errorf("torch.nn model: held-out loss %.3f -> %.3f; want a start near ln 257 ≈ 5.55 and a clear drop", ev[0], ev[40])
	}
	a, b := curve(t, whole.Run), curve(t, killed.Run)
	if len(a) != 40+5 || len(b) != len(a) {
		t.Fatalf("curves have %d and %d points, want 40 steps and 5 evals each", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("point %d: uninterrupted %s, resumed %s", i, a[i], b[i])
		}
	}
}

// killAt returns an event hook that SIGKILLs the worker once it reports step n.
func killAt(t *testing.T, n int) func(trainer.Event) {
	pid := 0
	return func(e trainer.Event) {
		switch {
		case e.Event == "ready":
			pid = e.PID
		case e.Event == "step" && e.Step == n:
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill worker %d: %v", pid, err)
			}
		}
	}
}

// curve lists a run's step and eval events as comparable strings, without
// the timing fields.
func curve(t *testing.T, run string) []string {
	t.Helper()
	events, err := trainer.ReadMetrics(run)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		switch e.Event {
		case "step":
			out = append(out, fmt.Sprintf("step %d loss %v lr %v grad %v tokens %d", e.Step, e.Loss, e.LR, e.GradNorm, e.Tokens))
		case "eval":
			out = append(out, fmt.Sprintf("eval %d loss %v bpb %v", e.Step, e.ValLoss, e.ValBPB))
		}
	}
	return out
}

// Ctrl-C (the context ending) reaches the worker as SIGINT: it finishes its
// step, writes a checkpoint and exits as interrupted; the error names the
// checkpoint, which is on disk.
func TestInterruptLeavesCheckpoint(t *testing.T) {
	py := trainertest.Python(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := options(t, py, tinyJob(5000))
	o.OnEvent = func(e trainer.Event) {
		if e.Event == "step" && e.Step == 3 {
			cancel()
		}
	}
	_, err := trainer.Train(ctx, o)
	var te *trainer.Error
	if !errors.As(err, &te) || te.Kind != trainer.KindInterrupted || te.Checkpoint == "" {
		t.Fatalf("got %v, want an interrupted error with a checkpoint", err)
	}
	if _, err := os.Stat(filepath.Join(o.Run, te.Checkpoint, "state.pt")); err != nil {
		t.Errorf("checkpoint %s: %v", te.Checkpoint, err)
	}
	if got := trainer.LatestCheckpoint(o.Run); got != te.Checkpoint {
		t.Errorf("ckpt/latest = %q, want %q", got, te.Checkpoint)
	}
}

// A shard that is not Parquet stops the run before any training, as bad
// data naming the file.
func TestCorruptShard(t *testing.T) {
	py := trainertest.Python(t)
	dir := t.TempDir()
	good, err := os.ReadFile(filepath.Join(fixtureRun(t), "shards", "part-00000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "part-00000.parquet"), good, 0o644)
	os.WriteFile(filepath.Join(dir, "part-00001.parquet"), good[:len(good)/2], 0o644)
	o := options(t, py, tinyJob(10))
	o.Data.Shards = []string{dir}
	_, err = trainer.Train(context.Background(), o)
	if trainer.KindOf(err) != trainer.KindData || !strings.Contains(err.Error(), "part-00001.parquet") {
		t.Fatalf("got %v, want a data error naming part-00001.parquet", err)
	}
	if _, err := os.Stat(filepath.Join(o.Run, "job.json")); err == nil {
		t.Error("job.json written for a run whose data failed")
	}
}

// Without an interpreter that imports torch, the error names every
// candidate with its reason and the install line.
func TestMissingInterpreter(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "python3")
	os.WriteFile(fake, []byte("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n"), 0o755)
	_, err := trainer.Train(context.Background(), trainer.Options{
		Run: filepath.Join(dir, "run"), Job: tinyJob(10),
		Data:   trainer.DataSpec{Shards: []string{filepath.Join(dir, "none")}},
		Python: []string{filepath.Join(dir, "missing", "python3"), fake},
	})
	if trainer.KindOf(err) != trainer.KindDependency {
		t.Fatalf("got %v, want a dependency error", err)
	}
	for _, want := range []string{"missing/python3: not found", fake + ": ModuleNotFoundError: No module named 'torch'", "setup-python.sh", "pip install torch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); err == nil {
		t.Error("the run directory was created though no interpreter was found")
	}
}

// The sentencepiece tokenizer is trained on the training documents, saved
// with the run and used for the token files; the model still learns.
func TestSentencePieceTokenizer(t *testing.T) {
	py := trainertest.Python(t, "sentencepiece")
	job := tinyJob(20)
	job.Tokenizer, job.VocabSize = "sentencepiece", 2000
	o := options(t, py, job)
	res := train(t, o)
	var data struct {
		Tokenizer string `json:"tokenizer"`
		VocabSize int    `json:"vocab_size"`
		Train     struct{ Tokens, Bytes int64 }
	}
	readJSON(t, filepath.Join(o.Run, "data.json"), &data)
	if data.Tokenizer != "sentencepiece" || data.VocabSize < 500 || data.VocabSize > 2000 {
		t.Errorf("data.json: tokenizer %q, vocabulary %d; want sentencepiece, ≤ 2000", data.Tokenizer, data.VocabSize)
	}
	// A Chinese character is 3 UTF-8 bytes; subword pieces cover more.
	if bpt := float64(data.Train.Bytes) / float64(data.Train.Tokens); bpt < 2 {
		t.Errorf("%.2f bytes per token: the sentencepiece model does not merge much", bpt)
	}
	for _, p := range []string{"tokenizer/sp.model", "final/sp.model"} {
		if _, err := os.Stat(filepath.Join(o.Run, p)); err != nil {
			t.Error(err)
		}
	}
	ev := evals(t, o.Run)
	if ev[20] >= ev[0] {
		t.Errorf("held-out loss %.3f -> %.3f: no learning", ev[0], ev[20])
	}
	t.Logf("sentencepiece: %d pieces, %.2f bytes/token, held-out loss %.3f -> %.3f, %.3f bits/byte",
		data.VocabSize, float64(data.Train.Bytes)/float64(data.Train.Tokens), ev[0], ev[20], res.Done.ValBPB)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		t.Fatal(err)
	}
}
