// Package trainertest is shared by the trainer's tests and the CLI's: it
// finds the Python interpreter they run the worker on, and skips or fails
// when there is none.
package trainertest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"winnow/trainer"
)

// Required reports whether a missing interpreter or package fails the test
// instead of skipping it: in CI (CI=true, or WINNOW_TRAINER_REQUIRE=1 as
// .ci/run sets), where tools/trainer/setup-python.sh built the environment.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("WINNOW_TRAINER_REQUIRE") == "1"
}

var probe = sync.OnceValues(func() (trainer.Interpreter, error) {
	cands := trainer.Candidates("", os.Getenv)
	if os.Getenv("WINNOW_PYTHON") == "" {
		if root, err := moduleRoot(); err == nil {
			cands = append([]string{filepath.Join(root, ".venv-trainer", "bin", "python")}, cands...)
		}
	}
	return trainer.FindPython(context.Background(), cands)
})

// Python returns the interpreter for the worker: $WINNOW_PYTHON, else
// .venv-trainer/bin/python in the module root, else the trainer's own
// search. Each package of need (transformers, peft, sentencepiece,
// tokenizers) must be importable too.
func Python(t testing.TB, need ...string) trainer.Interpreter {
	t.Helper()
	py, err := probe()
	if err != nil {
		missing(t, "no interpreter for the trainer: %v", err)
	}
	have := map[string]string{"transformers": py.Transformers, "peft": py.PEFT,
		"sentencepiece": py.SentencePiece, "tokenizers": py.Tokenizers}
	for _, pkg := range need {
		if have[pkg] == "" {
			missing(t, "%s (torch %s) lacks the Python package %s; %s", py.Path, py.Torch, pkg, trainer.InstallHint)
		}
	}
	return py
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// moduleRoot is the directory holding go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
