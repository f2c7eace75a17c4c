package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// InstallHint says how to get an interpreter the worker runs on.
const InstallHint = `on Debian: bash tools/trainer/setup-python.sh (apt python3-torch libopenblas0-pthread, ` +
	`a venv at .venv-trainer/ with pinned transformers, peft, sentencepiece), then ` +
	`--python .venv-trainer/bin/python or WINNOW_PYTHON=.venv-trainer/bin/python; ` +
	`elsewhere: python3 -m pip install torch numpy transformers peft sentencepiece tokenizers accelerate`

// Interpreter is a Python that imports torch, with the versions of the
// packages the worker may use ("" when absent).
type Interpreter struct {
	Path          string `json:"path"`
	Executable    string `json:"executable"`
	Python        string `json:"python"`
	Torch         string `json:"torch"`
	CUDA          bool   `json:"cuda"`
	NumPy         string `json:"numpy"`
	Transformers  string `json:"transformers"`
	PEFT          string `json:"peft"`
	SentencePiece string `json:"sentencepiece"`
	Tokenizers    string `json:"tokenizers"`
}

// The probe imports torch (the test of a usable interpreter) and only looks
// up the other packages, which keeps it to the cost of importing torch.
const probeScript = `
import importlib.util, json, sys
from importlib import metadata
import torch
v = {"executable": sys.executable, "python": sys.version.split()[0], "torch": torch.__version__,
     "cuda": torch.cuda.is_available()}
for mod, dist in (("numpy", "numpy"), ("transformers", "transformers"), ("peft", "peft"),
                  ("sentencepiece", "sentencepiece"), ("tokenizers", "tokenizers")):
    if importlib.util.find_spec(mod) is not None:
        try:
            v[mod] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            v[mod] = "unknown"
print(json.dumps(v))
`

// probeTimeout bounds one interpreter's probe: importing torch takes a few
// seconds on a busy machine, a hung interpreter must not hang the run.
const probeTimeout = 2 * time.Minute

// Probe runs path and returns its versions, or why it cannot run the worker.
func Probe(ctx context.Context, path string) (Interpreter, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-c", probeScript)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if last := lastLine(stderr.String()); last != "" {
			return Interpreter{}, fmt.Errorf("%s", last)
		}
		return Interpreter{}, err
	}
	in := Interpreter{Path: path}
	if err := json.Unmarshal(stdout.Bytes(), &in); err != nil {
		return Interpreter{}, fmt.Errorf("probe output %q: %w", stdout.String(), err)
	}
	return in, nil
}

// Candidates lists the interpreters FindPython tries, in order: the
// explicit one alone when given (a --python that fails is an error, not
// skipped), else $WINNOW_PYTHON, python3 on PATH, /usr/bin/python3 (where
// Debian's python3-torch lives).
func Candidates(explicit string, getenv func(string) string) []string {
	if explicit != "" {
		return []string{explicit}
	}
	var out []string
	if env := getenv("WINNOW_PYTHON"); env != "" {
		out = append(out, env)
	}
	return append(out, "python3", "/usr/bin/python3")
}

// FindPython returns the first candidate that imports torch, or a
// KindDependency error naming every candidate tried, why it failed, and the
// install line.
func FindPython(ctx context.Context, candidates []string) (Interpreter, error) {
	var tried []string
	seen := map[string]bool{}
	for _, c := range candidates {
		path, err := exec.LookPath(c)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: not found", c))
			continue
		}
		if seen[path] {
			continue
		}
		seen[path] = true
		in, err := Probe(ctx, path)
		if err == nil {
			return in, nil
		}
		if ctx.Err() != nil {
			return Interpreter{}, ctx.Err()
		}
		tried = append(tried, fmt.Sprintf("%s: %v", c, err))
	}
	return Interpreter{}, &Error{Kind: KindDependency,
		Msg:  "no Python interpreter that imports torch; tried:\n  " + strings.Join(tried, "\n  "),
		Hint: InstallHint}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// supports checks that the interpreter has the packages a job needs, so a
// missing one is reported before the documents are written.
func (in Interpreter) supports(j Job) error {
	need := []struct {
		have, pkg, what string
	}{
		{in.NumPy, "numpy", "the worker"},
		{in.SentencePiece, "sentencepiece", "--tokenizer sentencepiece"},
		{in.Transformers, "transformers", "--model"},
		{in.Transformers, "transformers", "--arch llama"},
		{in.PEFT, "peft", "--lora"},
	}
	used := []bool{true, j.Tokenizer == "sentencepiece", j.Model != "", j.Arch == "llama", j.LoRA}
	for i, n := range need {
		if used[i] && n.have == "" {
			return &Error{Kind: KindDependency, Hint: InstallHint,
				Msg: fmt.Sprintf("%s needs the Python package %s, which %s (torch %s) lacks", n.what, n.pkg, in.Path, in.Torch)}
		}
	}
	return nil
}
