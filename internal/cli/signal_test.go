package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"winnow/pipeline"
)

// opsRun is a corpus and config for tests that start, stop and signal real
// `winnow run` processes: 8,000 short documents in 20 files, cut into 80
// batches and about 40 shards, so a run has many commit points and takes
// long enough (about a second on a 2-core VM) for a test to catch it at work.
type opsRun struct {
	bin, cfg, out string
	docs          int64
}

func newOpsRun(t *testing.T) opsRun {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	const files, docs = 20, 400
	for f := range files {
		var b strings.Builder
		for d := range docs {
			fmt.Fprintf(&b, `{"id":"doc-%d-%d","text":"第%d个文件的第%d篇文档：人人生而自由，在尊严和权利上一律平等。Document %d of file %d: everyone is born free and equal."}`+"\n", f, d, f, d, d, f)
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("part-%03d.jsonl", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(tmp, "p.yaml")
	yml := "input: {paths: [" + in + "], batch_docs: 100}\noutput: {shard_bytes: 32768}\nstages:\n  - normalize: {}\n  - segment: {}\n"
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return opsRun{bin: buildBinary(t, tmp), cfg: cfg, out: filepath.Join(tmp, "out"), docs: files * docs}
}

// proc is a started winnow process.
type proc struct {
	cmd    *exec.Cmd
	stderr syncBuffer
	done   chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs `winnow run -c cfg -o out --workers 1` plus args; the
// process is killed when the test ends, should it still run.
func (o opsRun) start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(o.bin, append([]string{"run", "-c", o.cfg, "-o", o.out, "--workers", "1"}, args...)...)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	})
	return p
}

// wait returns the exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("winnow did not exit; stderr:\n%s", p.stderr.String())
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		t.Fatalf("wait: %v", p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) signal(t *testing.T, sigs ...syscall.Signal) {
	t.Helper()
	for _, s := range sigs {
		if err := p.cmd.Process.Signal(s); err != nil {
			t.Fatalf("signal %v: %v (the run ended first? stderr:\n%s)", s, err, p.stderr.String())
		}
	}
}

// waitUntil polls for an observable state of a running process: it fails
// if the process exits first, and gives up only after a generous time.
func (p *proc) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		select {
		case <-p.done:
			t.Fatalf("winnow exited before %s; stderr:\n%s", what, p.stderr.String())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after minutes; stderr:\n%s", what, p.stderr.String())
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// SIGTERM in the middle of a run (caught between two shards: the process
// is stopped, signalled and continued, so the signal lands at that point
// whatever the machine's load): exit 6 with a message to rerun, committed
// shards kept and readable, no manifest, no temporary file, no lock; the
// metrics say so. The same command again finishes the run.
func TestSIGTERMStopsCleanly(t *testing.T) {
	o := newOpsRun(t)
	prom := filepath.Join(filepath.Dir(o.out), "winnow.prom")
	p := o.start(t, "--metrics-file", prom)
	first := filepath.Join(o.out, "shards", "part-00000.parquet")
	p.waitUntil(t, "a committed shard", func() bool { return exists(first) })
	p.signal(t, syscall.SIGSTOP, syscall.SIGTERM, syscall.SIGCONT)
	code := p.wait(t)
	stderr := p.stderr.String()
	if code != ExitInterrupted {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, ExitInterrupted, stderr)
	}
	for _, want := range []string{"interrupted (terminated signal received)", "rerun the same command to finish"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, name := range []string{pipeline.ManifestFile, pipeline.LockFile} {
		if exists(filepath.Join(o.out, name)) {
			t.Errorf("an interrupted run left %s", name)
		}
	}
	shards, _ := filepath.Glob(filepath.Join(o.out, "shards", "*.parquet"))
	rows := readParquetGo(t, o.out)
	if len(shards) == 0 || len(rows["shards/part-00000.parquet"]) == 0 {
		t.Errorf("the committed shards are gone or empty: %v", shards)
	}
	filepath.WalkDir(o.out, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	fams := parseMetrics(t, prom)
	if value(t, fams, "winnow_run_exit_code") != ExitInterrupted || value(t, fams, "winnow_run_success") != 0 {
		t.Errorf("metrics of the interrupted run: exit %v success %v", value(t, fams, "winnow_run_exit_code"), value(t, fams, "winnow_run_success"))
	}

	p = o.start(t)
	if code := p.wait(t); code != ExitOK {
		t.Fatalf("rerun: exit code %d; stderr:\n%s", code, p.stderr.String())
	}
	m, err := pipeline.ReadManifest(o.out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.Read != o.docs || m.Totals.Kept != o.docs {
		t.Errorf("rerun totals %+v, want all %d documents read and kept", m.Totals, o.docs)
	}
	checkKeptOnce(t, o.out, o.docs)
}
