package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gopkg.in/yaml.v3"

	"winnow/dist"
	"winnow/internal/testenv"
	"winnow/pipeline"
)

// distConfig is zh-web over law articles, one document per paragraph: the
// amended versions of a law are near-duplicates of each other, and
// repeated boilerplate paragraphs exact duplicates.
func distConfig(t *testing.T, dirs ...string) pipeline.Config {
	t.Helper()
	corpora := testenv.SharedCorpora(t)
	var paths []string
	for _, d := range dirs {
		paths = append(paths, filepath.Join(corpora, "zh-laws", d))
	}
	quoted, _ := json.Marshal(paths)
	yml := "recipe: zh-web\ninput: {paths: " + string(quoted) + ", text_split: paragraph, batch_docs: 256}\noutput: {shard_bytes: 65536}\n"
	cfg, err := pipeline.ParseConfig([]byte(yml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runTasks runs the n tasks of a distributed run as goroutines, each with
// its own Runner, as separate processes would.
func runTasks(t *testing.T, cfg pipeline.Config, out string, n, perBand int) {
	t.Helper()
	cfg.Output.Dir = out
	errs := make(chan error, n)
	for i := range n {
		go func() {
			r, err := dist.Open(context.Background(), dist.Options{Config: cfg, Registry: NewRegistry(), Tasks: n,
				WorkersPerBand: perBand, Scratch: filepath.Join(t.TempDir(), "scratch"), Poll: 20 * time.Millisecond})
			if err != nil {
				errs <- err
				return
			}
			defer r.Close()
			errs <- r.RunTask(context.Background(), i, "")
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("%d tasks: %v", n, err)
		}
	}
}

// runRows is every kept and rejected row of a run as JSON, sorted.
func runRows(t *testing.T, dir string) (kept, rejected []string) {
	t.Helper()
	for sub, dst := range map[string]*[]string{"shards": &kept, "rejected": &rejected} {
		for _, r := range testenv.ReadRows(t, filepath.Join(dir, sub)) {
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			*dst = append(*dst, string(data))
		}
		slices.Sort(*dst)
	}
	return kept, rejected
}

func compareRows(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			t.Errorf("%s: first differing row:\n got %.300s\nwant %.300s", what, got[i], want[i])
			return
		}
	}
}

func TestDistributedEquivalence(t *testing.T) {
	dirs := []string{"刑法", "宪法", "民法典", "民法商法", "部门规章", "宪法相关法"}
	if raceEnabled {
		dirs = []string{"宪法", "民法典", "部门规章"}
	}
	cfg := distConfig(t, dirs...)
	tmp := t.TempDir()
	cfg.Output.Dir = filepath.Join(tmp, "one-machine")
	if _, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()}); err != nil {
		t.Fatal(err)
	}
	wantKept, wantRejected := runRows(t, cfg.Output.Dir)
	removed := map[string]int{}
	for _, r := range wantRejected {
		for _, reason := range []string{"exact_duplicate", "near_duplicate"} {
			if strings.Contains(r, `"drop_reason":"`+reason+`"`) {
				removed[reason]++
			}
		}
	}
	if removed["exact_duplicate"] == 0 || removed["near_duplicate"] == 0 || len(wantKept) == 0 {
		t.Fatalf("the corpus must have kept documents and both kinds of duplicates: %d kept, removed %v", len(wantKept), removed)
	}
	t.Logf("one machine: %d kept, %d rejected, removed %v", len(wantKept), len(wantRejected), removed)
	wantManifest := readManifest(t, cfg.Output.Dir)
	wantIndex := runFiles(t, filepath.Join(cfg.Output.Dir, "index"))
	if len(wantIndex) == 0 {
		t.Fatal("the one-machine run wrote no index")
	}
	for _, c := range []struct{ tasks, perBand int }{{1, 1}, {3, 1}, {7, 1}, {3, 3}} {
		t.Run(fmt.Sprintf("%d tasks, %d workers per band", c.tasks, c.perBand), func(t *testing.T) {
			out := filepath.Join(tmp, fmt.Sprintf("n%d-w%d", c.tasks, c.perBand))
			runTasks(t, cfg, out, c.tasks, c.perBand)
			kept, rejected := runRows(t, out)
			compareRows(t, "kept", wantKept, kept)
			compareRows(t, "rejected", wantRejected, rejected)
			m := readManifest(t, out)
			if m.Totals != wantManifest.Totals {
				t.Errorf("totals %+v, want %+v", m.Totals, wantManifest.Totals)
			}
			if len(m.Inputs) != len(wantManifest.Inputs) {
				t.Fatalf("%d inputs, want %d", len(m.Inputs), len(wantManifest.Inputs))
			}
			for i, in := range m.Inputs {
				if w := wantManifest.Inputs[i]; in.Path != w.Path || in.SHA256 != w.SHA256 || in.Docs != w.Docs {
					t.Errorf("input %d: %s %s %d docs, want %s %s %d", i, in.Path, in.SHA256, in.Docs, w.Path, w.SHA256, w.Docs)
				}
			}
			index := runFiles(t, filepath.Join(out, "index"))
			if !maps.EqualFunc(index, wantIndex, bytes.Equal) {
				t.Errorf("index/ differs from the one-machine run's: %d files, want %d (%v)", len(index), len(wantIndex), slices.Sorted(maps.Keys(index)))
			}
			if c.tasks == 1 && !slices.Equal(shardSums(*m), shardSums(*wantManifest)) {
				t.Errorf("one task: shards differ from the one-machine run's")
			}
			if code, err := Status(context.Background(), io.Discard, out); code != ExitOK || err != nil {
				t.Errorf("status of a published run: exit %d, %v", code, err)
			}
		})
	}
}

// startFakeS3 serves an in-memory S3 on loopback and returns the URL of
// s3://winnow/prefix on it.
func startFakeS3(t *testing.T, prefix string) string {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket("winnow"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	testenv.AWSTestCredentials(t)
	return "s3://winnow/" + prefix + "?endpoint=" + srv.URL + "&region=us-east-1&use_path_style=true"
}

// TestDistributedS3 runs three tasks against an S3-compatible server: the
// published shards are those of the same run on a local directory, and a
// rerun of a finished task does nothing (its done-markers exist).
func TestDistributedS3(t *testing.T) {
	cfg := distConfig(t, "宪法", "民法典")
	local := filepath.Join(t.TempDir(), "local")
	runTasks(t, cfg, local, 3, 1)
	url := startFakeS3(t, "runs/r1")
	runTasks(t, cfg, url, 3, 1)

	ctx := context.Background()
	var s3m pipeline.Manifest
	getJSON := func(key string, v any) []byte {
		t.Helper()
		r, err := dist.Open(ctx, dist.Options{Config: withOutput(cfg, url), Registry: NewRegistry(), Tasks: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		data, err := r.Store().Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if v != nil {
			if err := json.Unmarshal(data, v); err != nil {
				t.Fatal(err)
			}
		}
		return data
	}
	getJSON(pipeline.ManifestFile, &s3m)
	if want := readManifest(t, local); !slices.Equal(shardSums(s3m), shardSums(*want)) || s3m.Totals != want.Totals {
		t.Errorf("S3 run: shards %v totals %+v; local run: %v %+v", shardSums(s3m), s3m.Totals, shardSums(*want), want.Totals)
	}
	marker := getJSON(".winnow/dist/done/scan-1/unit-00001.json", nil)
	runTasks(t, cfg, url, 3, 1)
	if again := getJSON(".winnow/dist/done/scan-1/unit-00001.json", nil); !bytes.Equal(again, marker) {
		t.Errorf("a rerun of a finished task rewrote its done-marker:\n%s\n%s", marker, again)
	}
	var again pipeline.Manifest
	if getJSON(pipeline.ManifestFile, &again); again.RunID != s3m.RunID {
		t.Errorf("a rerun of finished tasks published again: run %s, then %s", s3m.RunID, again.RunID)
	}
	if code, err := Status(ctx, io.Discard, url); code != ExitOK || err != nil {
		t.Errorf("status: exit %d, %v", code, err)
	}
}

func withOutput(cfg pipeline.Config, out string) pipeline.Config {
	cfg.Output.Dir = out
	return cfg
}

// TestDistributedKillOneTask kills one task process of a winnow launch
// local run at a random point, reruns only that task while the others
// wait, and checks the launch then succeeds with the shards an
// uninterrupted run publishes.
func TestDistributedKillOneTask(t *testing.T) {
	if raceEnabled {
		t.Skip("kills the plain binary; runs in the plain pass of make test")
	}
	corpora := testenv.SharedCorpora(t)
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	cfgPath := filepath.Join(tmp, "p.yaml")
	var paths []string
	for _, d := range []string{"刑法", "宪法", "民法典", "民法商法", "部门规章", "宪法相关法"} {
		paths = append(paths, filepath.Join(corpora, "zh-laws", d))
	}
	quoted, _ := json.Marshal(paths)
	yml := "recipe: zh-web\ninput: {paths: " + string(quoted) + ", text_split: paragraph, batch_docs: 256}\noutput: {shard_bytes: 65536}\n"
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 3
	args := func(out string) []string {
		return []string{"-c", cfgPath, "-o", out, "--tasks", fmt.Sprint(n), "--scratch", filepath.Join(tmp, "scratch", filepath.Base(out)),
			"--log-level", "warn", "--workers", "2"}
	}
	launch := func(out string) *exec.Cmd {
		return exec.Command(bin, append([]string{"launch", "local"}, args(out)...)...)
	}
	ref := filepath.Join(tmp, "ref")
	start := time.Now()
	if msg, err := launch(ref).CombinedOutput(); err != nil {
		t.Fatalf("launch local: %v\n%s", err, msg)
	}
	full := time.Since(start)
	want := readManifest(t, ref)
	wantKept, _ := runRows(t, ref)

	rng := rand.New(rand.NewPCG(3, 4))
	killed := 0
	for trial := range 3 {
		out := filepath.Join(tmp, fmt.Sprintf("trial-%d", trial))
		victim := rng.IntN(n)
		at := time.Duration((0.1 + 0.7*rng.Float64()) * float64(full))
		l := launch(out)
		var logs bytes.Buffer
		l.Stderr = &logs
		if err := l.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(at)
		pid := taskPID(l.Process.Pid, victim)
		killedNow := pid > 0 && syscall.Kill(pid, syscall.SIGKILL) == nil
		if killedNow {
			killed++
			// The others wait for the victim's units; rerun it alone.
			rerun := exec.Command(bin, append([]string{"run"}, append(args(out), "--task", fmt.Sprint(victim))...)...)
			if msg, err := rerun.CombinedOutput(); err != nil {
				t.Fatalf("trial %d: rerun of task %d: %v\n%s", trial, victim, err, msg)
			}
		} else {
			t.Logf("trial %d: task %d was gone before the kill at %v", trial, victim, at)
		}
		if err := l.Wait(); err != nil {
			t.Fatalf("trial %d: launch local after task %d was killed at %v and rerun: %v\n%s", trial, victim, at, err, logs.String())
		}
		if msg := fmt.Sprintf("task %d was killed by a signal", victim); killedNow && !strings.Contains(logs.String(), msg) {
			t.Errorf("trial %d: launch local did not say %q:\n%s", trial, msg, logs.String())
		}
		got := readManifest(t, out)
		if !slices.Equal(shardSums(*got), shardSums(*want)) || got.Totals != want.Totals {
			t.Errorf("trial %d (task %d killed at %v): shards or totals differ from the uninterrupted run's", trial, victim, at)
		}
		kept, _ := runRows(t, out)
		compareRows(t, fmt.Sprintf("trial %d kept", trial), wantKept, kept)
		// A rerun of a finished launch is a no-op.
		if msg, err := launch(out).CombinedOutput(); err != nil {
			t.Fatalf("trial %d: launch again: %v\n%s", trial, err, msg)
		}
		if again := readManifest(t, out); again.RunID != got.RunID {
			t.Errorf("trial %d: launching a finished run published again", trial)
		}
	}
	if killed == 0 {
		t.Errorf("no trial killed a task mid-run")
	}
}

// taskPID finds the child of launch that runs --task i (0: none).
func taskPID(launch, i int) int {
	threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", launch))
	for _, th := range threads {
		data, _ := os.ReadFile(th)
		for _, f := range strings.Fields(string(data)) {
			var pid int
			fmt.Sscan(f, &pid)
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if strings.HasSuffix(string(cmdline), fmt.Sprintf("\x00--task\x00%d\x00", i)) {
				return pid
			}
		}
	}
	return 0
}

// TestLaunchRendersEveryPass checks winnow launch k8s and slurm name every
// pass of the plan with its task count.
func TestLaunchRendersEveryPass(t *testing.T) {
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in")
	os.MkdirAll(in, 0o755)
	for i := range 5 {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("%d.txt", i)), []byte(strings.Repeat("一段中文文本。\n", 50+i)), 0o644)
	}
	cfg := filepath.Join(tmp, "p.yaml")
	os.WriteFile(cfg, []byte("recipe: zh-web\n"), 0o644)
	f := RunFlags{ConfigPath: cfg, Inputs: []string{in}, Output: filepath.Join(tmp, "out"), Workers: -1, MaxMemory: -1}
	tf := TaskFlags{Tasks: 4, WorkersPerBand: 2}
	var buf bytes.Buffer
	if code, err := Launch(context.Background(), &buf, "k8s", f, tf, LaunchFlags{Spec: dist.LaunchSpec{Binary: "winnow", Image: "winnow:test"}}); err != nil {
		t.Fatalf("exit %d: %v", code, err)
	}
	text := buf.String()
	dec := yaml.NewDecoder(&buf)
	got := map[string]int{}
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Completions int `yaml:"completions"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got[doc.Metadata.Labels["winnow.dev/pass"]] = doc.Spec.Completions
	}
	if !strings.Contains(text, "- --workers-per-band\n") || !strings.Contains(text, "- \"2\"\n") {
		t.Errorf("k8s: the tasks are not given --workers-per-band, so they would make another plan")
	}
	want := map[string]int{"scan-1": 4, "link-1": 2, "resolve-1": 1, "scan-2": 4, "link-2": 4, "resolve-2": 1, "final": 4, "publish": 1}
	for pass, tasks := range want {
		if got[pass] != tasks {
			t.Errorf("k8s: pass %s has %d completions, want %d (all: %v)", pass, got[pass], tasks, got)
		}
	}
	dir := filepath.Join(tmp, "slurm")
	if _, err := Launch(context.Background(), io.Discard, "slurm", f, tf, LaunchFlags{Spec: dist.LaunchSpec{Binary: "winnow"}, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob(filepath.Join(dir, "*.sbatch"))
	if len(scripts) != len(want) {
		t.Errorf("%d sbatch scripts, want %d", len(scripts), len(want))
	}
	if msg, err := exec.Command("bash", "-n", filepath.Join(dir, "submit.sh")).CombinedOutput(); err != nil {
		t.Errorf("submit.sh: %v\n%s", err, msg)
	}
}

// TestDistributedFailureAndRerun makes a link unit fail on a missing
// object: the pass is refused before its predecessor is done, the failure
// shows in winnow status, and once the object is back a rerun finishes.
func TestDistributedFailureAndRerun(t *testing.T) {
	cfg := withOutput(distConfig(t, "宪法"), filepath.Join(t.TempDir(), "out"))
	ctx := context.Background()
	open := func() *dist.Runner {
		r, err := dist.Open(ctx, dist.Options{Config: cfg, Registry: NewRegistry(), Tasks: 2, Scratch: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	r := open()
	if err := r.RunTask(ctx, 0, "link-1"); err == nil || !strings.Contains(err.Error(), "scan-1 is not done") {
		t.Fatalf("link-1 before scan-1: %v", err)
	}
	for i := range 2 {
		if err := r.RunTask(ctx, i, "scan-1"); err != nil {
			t.Fatal(err)
		}
	}
	key := ".winnow/dist/work/scan-1/task-0001/.winnow/pass-1/exact_dedup/sealed.json"
	sealed, err := r.Store().Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Store().Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := open().RunTask(ctx, 0, "link-1"); err == nil {
		t.Fatal("link-1 ran without task 1's sealed.json")
	}
	var status bytes.Buffer
	if code, err := Status(ctx, &status, cfg.Output.Dir); code == ExitOK || err != nil {
		t.Errorf("status after a failure: exit %d, %v", code, err)
	}
	if !strings.Contains(status.String(), "failed: link-1 unit 0") || !strings.Contains(status.String(), "sealed.json") {
		t.Errorf("status does not name the failed unit and its cause:\n%s", status.String())
	}
	if err := r.Store().Put(ctx, key, bytes.NewReader(sealed)); err != nil {
		t.Fatal(err)
	}
	runTasks(t, cfg, cfg.Output.Dir, 2, 1)
	status.Reset()
	if code, err := Status(ctx, &status, cfg.Output.Dir); code != ExitOK || err != nil {
		t.Errorf("status after the rerun: exit %d, %v\n%s", code, err, status.String())
	}
}

// TestDistributedClusterPolicyIndependentOfTasks checks keep: longest,
// which clusters instead of linking to the earliest copy, keeps the same
// rows with 1 and 4 tasks and 2 workers per band.
func TestDistributedClusterPolicyIndependentOfTasks(t *testing.T) {
	corpora := testenv.SharedCorpora(t)
	yml := fmt.Sprintf(`input: {paths: [%q, %q], text_split: paragraph, batch_docs: 256}
stages:
  - normalize: {}
  - exact_dedup: {keep: longest}
  - minhash_dedup: {keep: longest}
`, filepath.Join(corpora, "zh-laws", "宪法"), filepath.Join(corpora, "zh-laws", "民法典"))
	cfg, err := pipeline.ParseConfig([]byte(yml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	runTasks(t, cfg, filepath.Join(tmp, "n1"), 1, 1)
	runTasks(t, cfg, filepath.Join(tmp, "n4"), 4, 2)
	k1, r1 := runRows(t, filepath.Join(tmp, "n1"))
	k4, r4 := runRows(t, filepath.Join(tmp, "n4"))
	if len(r1) == 0 {
		t.Fatal("nothing removed: the corpus has no duplicates to cluster")
	}
	compareRows(t, "kept", k1, k4)
	compareRows(t, "rejected", r1, r4)
}
