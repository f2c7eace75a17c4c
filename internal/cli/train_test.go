package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"winnow/internal/testenv"
	"winnow/trainer"
	"winnow/trainer/trainertest"
)

// Ctrl-C on `winnow train`: winnow forwards SIGINT to the worker, which
// finishes its step and checkpoints; winnow exits 6 and says how to resume.
// `--resume` with other settings is refused (exit 2); plain `--resume`
// finishes the run from the checkpoint.
func TestTrainBinaryInterruptAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	py := trainertest.Python(t)
	dir := t.TempDir()
	bin := buildTrainBinary(t, dir)
	shards := pipelineRun(t, "", "fixtures/demo.yaml", filepath.Join(testenv.RepoRoot(t), "fixtures", "corpus"), filepath.Join(dir, "out"))
	run := filepath.Join(dir, "run")

	cmd := exec.Command(bin, "train", "--shards", shards, "--run", run, "--python", py.Path, "--steps", "60",
		"--seq-len", "64", "--batch-size", "8", "--threads", "1", "--val-fraction", "0.05")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForStep(t, run, 3)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := exitCodeOf(err); code != ExitTrainInterrupted || !strings.Contains(stderr.String(), "--resume continues") {
		t.Fatalf("after SIGINT: exit %d (%v), want %d and a resume hint:\n%s", code, err, ExitTrainInterrupted, stderr.String())
	}
	ckpt := trainer.LatestCheckpoint(run)
	if _, err := os.Stat(filepath.Join(run, ckpt, "state.pt")); ckpt == "" || err != nil {
		t.Fatalf("no checkpoint after SIGINT (%q, %v)", ckpt, err)
	}

	out, err := exec.Command(bin, "train", "--run", run, "--resume", "--steps", "10").CombinedOutput()
	if code := exitCodeOf(err); code != ExitConfig || !strings.Contains(string(out), "drop --steps") {
		t.Errorf("--resume --steps 10: exit %d, want %d naming the flag:\n%s", code, ExitConfig, out)
	}
	out, err = exec.Command(bin, "train", "--run", run, "--resume", "--python", py.Path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "resuming") || !strings.Contains(string(out), "winnow: trained") {
		t.Fatalf("--resume: %v\n%s", err, out)
	}
}

// waitForStep polls metrics.jsonl until the worker reports step n.
func waitForStep(t *testing.T, run string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		events, _ := trainer.ReadMetrics(run)
		for _, e := range events {
			if e.Event == "step" && e.Step >= n {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no step %d in %s/metrics.jsonl after 5 minutes", n, run)
}

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// buildTrainBinary builds cmd/winnow into dir.
func buildTrainBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "winnow")
	build := exec.Command("go", "build", "-o", bin, "./cmd/winnow")
	build.Dir = testenv.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// The errors a user meets before any training map to their exit codes and
// say what to do: no interpreter (7, with the install line), a corrupt
// shard (8, naming it), a missing shard directory (3), a bad setting (2).
func TestTrainErrorExitCodes(t *testing.T) {
	dir := t.TempDir()
	shards := filepath.Join(dir, "shards")
	writeAblationFile(t, filepath.Join(shards, "part-00000.parquet"), "PAR1 this is not parquet")
	cases := []struct {
		name   string
		python bool // needs a working interpreter
		o      TrainOptions
		code   int
		want   string
	}{
		{"no interpreter", false, TrainOptions{Python: filepath.Join(dir, "nope", "python3"),
			Options: trainer.Options{Data: trainer.DataSpec{Shards: []string{shards}}}}, ExitDependency, "setup-python.sh"},
		{"corrupt shard", true, TrainOptions{Options: trainer.Options{Data: trainer.DataSpec{Shards: []string{shards}}}},
			ExitBadData, "part-00000.parquet"},
		{"missing shards", true, TrainOptions{Options: trainer.Options{Data: trainer.DataSpec{Shards: []string{filepath.Join(dir, "none")}}}},
			ExitIO, "none"},
		{"lora without model", false, TrainOptions{Options: trainer.Options{Data: trainer.DataSpec{Shards: []string{shards}},
			Job: trainer.Job{LoRA: true}}}, ExitConfig, "--lora adapts a pretrained model"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.python {
				c.o.Python = trainertest.Python(t).Path
			}
			c.o.Run = filepath.Join(dir, "run", c.name)
			stderr, err := os.Create(filepath.Join(dir, "stderr-"+string(rune('a'+i))))
			if err != nil {
				t.Fatal(err)
			}
			code := Train(context.Background(), stderr, c.o)
			msg, _ := os.ReadFile(stderr.Name())
			if code != c.code || !strings.Contains(string(msg), c.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, c.code, c.want, msg)
			}
		})
	}
}

func TestBuildTrainOptions(t *testing.T) {
	cases := []struct {
		name    string
		o       TrainOptions
		f       TrainFlags
		wantErr string
	}{
		{"no run", TrainOptions{}, TrainFlags{}, "--run DIR is required"},
		{"resume alone", TrainOptions{Options: trainer.Options{Run: "r", Resume: true}}, TrainFlags{Changed: []string{"run", "resume", "python"}}, ""},
		{"resume with settings", TrainOptions{Options: trainer.Options{Run: "r", Resume: true}},
			TrainFlags{Changed: []string{"run", "resume", "lr", "seq-len"}}, "drop --lr --seq-len"},
		{"weights", TrainOptions{Options: trainer.Options{Run: "r"}}, TrainFlags{LangWeights: "zh=1,*=0.2", SourceWeights: "web/=0.5"}, ""},
		{"bad weights", TrainOptions{Options: trainer.Options{Run: "r"}}, TrainFlags{LangWeights: "zh"}, "--lang-weights"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := BuildTrainOptions(&c.o, c.f)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, c.wantErr)
			}
			if c.name == "weights" && (c.o.Data.Sampling.LangWeights["*"] != 0.2 || c.o.Data.Sampling.SourceWeights["web/"] != 0.5) {
				t.Errorf("weights not parsed: %+v", c.o.Data.Sampling)
			}
		})
	}
}

func TestTrainExitCode(t *testing.T) {
	for kind, want := range map[trainer.Kind]int{
		trainer.KindInternal: ExitInternal, trainer.KindConfig: ExitConfig, trainer.KindIO: ExitIO,
		trainer.KindDependency: ExitDependency, trainer.KindData: ExitBadData, trainer.KindOOM: ExitOOM,
		trainer.KindInterrupted: ExitTrainInterrupted,
	} {
		if got := TrainExitCode(&trainer.Error{Kind: kind}); got != want {
			t.Errorf("%s: exit %d, want %d", kind, got, want)
		}
	}
	if got := TrainExitCode(errors.New("plain")); got != ExitInternal {
		t.Errorf("a plain error: exit %d, want %d", got, ExitInternal)
	}
}
