package cli

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// TestKillAndRerun kills a real `winnow run` with SIGKILL at random points
// (reading, staging, resolving dedup, writing shards, writing the
// manifest), reruns the same command, which resumes from the last
// checkpoint (a completed pass, or a completed kept shard of the last
// pass) or starts over, and checks the run directory against an
// uninterrupted run's: the same shards, rejected rows, quarantine and
// dedup index byte for byte, every kept id once.
func TestKillAndRerun(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs the binary three dozen times (make test runs it without -race)")
	}
	corpora := testenv.SharedCorpora(t)
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	in := filepath.Join(tmp, "in")
	// Law articles, one document per paragraph: 12,755 documents with the
	// near-duplicates of amended versions, so all three passes of zh-web
	// have work; small batches and shards put many checkpoints in a run.
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"刑法", "宪法", "民法典", "民法商法", "部门规章", "宪法相关法"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(corpora, "zh-laws", d), in).CombinedOutput(); err != nil {
			t.Fatalf("copy corpus: %v\n%s", err, out)
		}
	}
	common := "input: {paths: [" + in + "], text_split: paragraph, batch_docs: 256}\noutput: {shard_bytes: 16384}\n"
	plain := faultCase{
		reset: func(t *testing.T, out string) { os.RemoveAll(out) },
		result: func(t *testing.T, out string) (string, bool) {
			return out, exists(filepath.Join(out, pipeline.ManifestFile))
		},
	}
	t.Run("three passes", func(t *testing.T) {
		c := plain
		c.yml, c.trials = "recipe: zh-web\n"+strings.Replace(common, "16384", "65536", 1), 10
		if c.killAndRerun(t, bin, tmp) == 0 {
			t.Errorf("no rerun resumed from a checkpoint")
		}
	})
	t.Run("one pass", func(t *testing.T) {
		c := plain
		c.yml, c.trials = common+"stages: [{normalize: {}}, {length: {min_chars: 30}}]\n", 4
		if c.killAndRerun(t, bin, tmp) == 0 {
			t.Errorf("no rerun resumed from a checkpoint")
		}
		if exists(filepath.Join(tmp, "out", pipeline.WorkDir)) {
			t.Errorf("the work area outlived the run")
		}
	})
	t.Run("incremental", func(t *testing.T) {
		// Day 1 is published; the day-2 increment is killed and rerun.
		day := filepath.Join(tmp, "days")
		os.MkdirAll(filepath.Join(day, "day2"), 0o755)
		if out, err := exec.Command("cp", "-r", filepath.Join(in, "刑法"), filepath.Join(day, "day1")).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		yml := "recipe: zh-web\nincremental: true\ninput: {paths: [" + day + "], text_split: paragraph, batch_docs: 256}\noutput: {shard_bytes: 65536}\n"
		base := filepath.Join(tmp, "day1-out")
		cfg := filepath.Join(tmp, "day1.yaml")
		os.WriteFile(cfg, []byte(yml), 0o644)
		if msg, err := exec.Command(bin, "run", "-c", cfg, "-o", base, "--log-level", "warn").CombinedOutput(); err != nil {
			t.Fatalf("day 1: %v\n%s", err, msg)
		}
		for _, d := range []string{"宪法", "民法典", "民法商法"} {
			if out, err := exec.Command("cp", "-r", filepath.Join(in, d), filepath.Join(day, "day2")).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
		day1Run, _ := filepath.EvalSymlinks(filepath.Join(base, pipeline.CurrentLink))
		c := faultCase{yml: yml, trials: 5,
			reset: func(t *testing.T, out string) {
				os.RemoveAll(out)
				if msg, err := exec.Command("cp", "-a", base, out).CombinedOutput(); err != nil {
					t.Fatalf("%v\n%s", err, msg)
				}
			},
			result: func(t *testing.T, out string) (string, bool) {
				cur, err := filepath.EvalSymlinks(filepath.Join(out, pipeline.CurrentLink))
				if err != nil {
					t.Fatal(err)
				}
				return cur, filepath.Base(cur) != filepath.Base(day1Run)
			},
		}
		c.killAndRerun(t, bin, tmp)
	})
}

// faultCase is a run to kill: its config, how the output directory looks
// before it, and where (and whether) it published its run.
type faultCase struct {
	yml    string
	trials int
	reset  func(t *testing.T, out string)
	result func(t *testing.T, out string) (dir string, published bool)
}

// killAndRerun returns how many reruns resumed from a checkpoint.
func (c faultCase) killAndRerun(t *testing.T, bin, tmp string) int {
	cfg := filepath.Join(tmp, "p.yaml")
	if err := os.WriteFile(cfg, []byte(c.yml), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(out string) *exec.Cmd {
		return exec.Command(bin, "run", "-c", cfg, "-o", out, "--log-level", "info", "--workers", "2")
	}
	// Every attempt writes to the same path, which config.yaml records.
	out := filepath.Join(tmp, "out")
	c.reset(t, out)
	start := time.Now()
	if msg, err := run(out).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, msg)
	}
	full := time.Since(start)
	dir, _ := c.result(t, out)
	wantFiles := runFiles(t, dir)
	m, err := pipeline.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.Read < 5000 || m.Totals.Kept == 0 || len(wantFiles) < 10 {
		t.Fatalf("corpus too small to test: %+v, %d files", m.Totals, len(wantFiles))
	}

	rng := rand.New(rand.NewPCG(1, 2))
	resumed := 0
	for trial := range c.trials {
		c.reset(t, out)
		// Kill points spread over the whole run, the tail included.
		at := time.Duration((0.05 + 0.8*rng.Float64()) * float64(full))
		cmd := run(out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		begun := time.Now()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			// The first run read a cold page cache; later kill points
			// follow the faster warm runs.
			full = min(full, time.Since(begun))
			t.Logf("trial %d: finished before the kill at %v", trial, at)
		case <-time.After(at):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			// A published run must be whole.
			if dir, published := c.result(t, out); published {
				compareRunFiles(t, trial, wantFiles, runFiles(t, dir))
			}
		}
		msg, err := run(out).CombinedOutput()
		if err != nil {
			t.Fatalf("trial %d: rerun after kill at %v: %v\n%s", trial, at, err, msg)
		}
		if bytes.Contains(msg, []byte("resuming after a checkpoint")) {
			resumed++
		}
		dir, _ := c.result(t, out)
		compareRunFiles(t, trial, wantFiles, runFiles(t, dir))
		checkKeptOnce(t, dir, m.Totals.Kept)
	}
	t.Logf("%d of %d reruns resumed from a checkpoint", resumed, c.trials)
	return resumed
}

// runFiles reads every file of a run directory that must not depend on
// when or how often the run was attempted: all but manifest.json,
// stats.json and report.html (run id, times), the lock, and report.html's
// temporary file: the report is written after the run is published, so a
// kill at that moment leaves it behind (the next run removes it).
func runFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == pipeline.ManifestFile, rel == "stats.json", rel == "report.html", strings.HasPrefix(rel, "report.html.tmp-"), strings.HasPrefix(rel, ".winnow"):
			return nil
		}
		data, err := os.ReadFile(p)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func compareRunFiles(t *testing.T, trial int, want, got map[string][]byte) {
	t.Helper()
	for name, data := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("trial %d: %s missing after the rerun", trial, name)
		} else if !bytes.Equal(g, data) {
			t.Errorf("trial %d: %s differs from the uninterrupted run's", trial, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("trial %d: %s left over (not in the uninterrupted run)", trial, name)
		}
	}
}

func checkKeptOnce(t *testing.T, dir string, kept int64) {
	t.Helper()
	ids := keptIDs(t, dir)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("%s: id %s kept twice", dir, id)
		}
		seen[id] = true
	}
	if int64(len(ids)) != kept {
		t.Errorf("%s: %d kept ids, want %d", dir, len(ids), kept)
	}
}
