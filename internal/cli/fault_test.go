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
	if testing.Short() {
		t.Skip("runs the binary three dozen times")
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
	t.Run("three passes", func(t *testing.T) {
		// Kill points before the first checkpoint must occur too.
		if resumed := killAndRerun(t, bin, tmp, "recipe: zh-web\n"+common, 10); resumed == 10 {
			t.Errorf("every rerun resumed: the kill points missed the time before the first checkpoint")
		}
	})
	t.Run("one pass", func(t *testing.T) {
		killAndRerun(t, bin, tmp, common+"stages: [{normalize: {}}, {length: {min_chars: 30}}]\n", 6)
		if _, err := os.Stat(filepath.Join(tmp, "out", pipeline.WorkDir)); !os.IsNotExist(err) {
			t.Errorf("the work area outlived the run: %v", err)
		}
	})
}

// killAndRerun returns how many reruns resumed from a checkpoint.
func killAndRerun(t *testing.T, bin, tmp, yml string, trials int) int {
	cfg := filepath.Join(tmp, "p.yaml")
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(out string) *exec.Cmd {
		return exec.Command(bin, "run", "-c", cfg, "-o", out, "--log-level", "info", "--workers", "2")
	}
	// Every attempt writes to the same path, which config.yaml records.
	out := filepath.Join(tmp, "out")
	os.RemoveAll(out)
	start := time.Now()
	if msg, err := run(out).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, msg)
	}
	full := time.Since(start)
	wantFiles := runFiles(t, out)
	m, err := pipeline.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.Read < 10000 || m.Totals.Kept == 0 || len(wantFiles) < 10 {
		t.Fatalf("corpus too small to test: %+v, %d files", m.Totals, len(wantFiles))
	}

	rng := rand.New(rand.NewPCG(1, 2))
	resumed := 0
	for trial := range trials {
		if err := os.RemoveAll(out); err != nil {
			t.Fatal(err)
		}
		// Kill points spread over the whole run, the tail included.
		at := time.Duration((0.05 + 0.8*rng.Float64()) * float64(full))
		cmd := run(out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			t.Logf("trial %d: finished before the kill at %v", trial, at)
		case <-time.After(at):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			// A directory with a manifest is a published run: it must be whole.
			if _, err := os.Stat(filepath.Join(out, pipeline.ManifestFile)); err == nil {
				compareRunFiles(t, trial, wantFiles, runFiles(t, out))
			}
		}
		msg, err := run(out).CombinedOutput()
		if err != nil {
			t.Fatalf("trial %d: rerun after kill at %v: %v\n%s", trial, at, err, msg)
		}
		if bytes.Contains(msg, []byte("resuming after a checkpoint")) {
			resumed++
		}
		compareRunFiles(t, trial, wantFiles, runFiles(t, out))
		checkKeptOnce(t, out, m.Totals.Kept)
	}
	t.Logf("%d of %d reruns resumed from a checkpoint", resumed, trials)
	if resumed == 0 {
		t.Errorf("no rerun resumed from a checkpoint")
	}
	return resumed
}

// runFiles reads every file of a run directory that must not depend on
// when or how often the run was attempted: all but manifest.json,
// stats.json and report.html (run id, times), and the lock.
func runFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == pipeline.ManifestFile, rel == "stats.json", rel == "report.html", strings.HasPrefix(rel, ".winnow"):
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
