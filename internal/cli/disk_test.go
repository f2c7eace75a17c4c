package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"winnow/pipeline"
)

// sparseInput makes an input directory holding one sparse file of size
// bytes: its listed size drives the disk-space estimate, and it occupies
// no disk. Skips where the filesystem cannot hold a file that large.
func sparseInput(t *testing.T, size int64) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(in, "huge.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Skipf("no sparse file of %s here: %v", humanBytes(size), err)
	}
	return in
}

// The pre-flight estimate against the free space where the output goes:
// far too little refuses before any work (exit 3, both figures named,
// nothing created); somewhat too little warns and goes on (the run is
// cancelled right away here, so the huge input is never read).
func TestDiskSpacePreflight(t *testing.T) {
	free, _, err := freeSpace(t.TempDir())
	if err != nil {
		t.Skipf("statfs: %v", err)
	}
	tests := []struct {
		name  string
		input int64 // × free space; no dedup stage: the estimate is half of it
		ctx   func() context.Context
		code  int
		say   string
	}{
		{"clearly too small", 16, context.Background, ExitIO, "not enough disk space: "},
		{"maybe too small", 4, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, ExitInterrupted, "the disk may fill up during the run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sparseInput(t, tt.input*free)
			out := filepath.Join(t.TempDir(), "out")
			code, stderr := runCapture(t, tt.ctx(), RunFlags{Inputs: []string{in}, Output: out, Workers: 1, MaxMemory: -1, LogFormat: "text", LogLevel: "info"})
			if code != tt.code || !strings.Contains(string(stderr), tt.say) {
				t.Fatalf("exit code %d, want %d, and %q in:\n%s", code, tt.code, tt.say, stderr)
			}
			if code == ExitIO {
				if !strings.Contains(string(stderr), humanBytes(tt.input*free/2)) {
					t.Errorf("the refusal does not give the estimate %s:\n%s", humanBytes(tt.input*free/2), stderr)
				}
				if exists(out) {
					t.Errorf("a refused run created %s", out)
				}
			}
		})
	}
}

// A real full disk: the output goes to a 512 KiB tmpfs, the input is 2 MB
// of incompressible text. The pre-flight warns, the run fills the disk
// writing its shard and stops: exit 3, the file and "no space left on
// device" named, no manifest, no temporary file left, no lock. Mounting
// needs root (CAP_SYS_ADMIN); elsewhere the test skips, and
// pipeline.TestRunDiskFull injects the same error.
func TestDiskFillsMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	mnt := filepath.Join(tmp, "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=512k"); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, 0) })
	in := filepath.Join(tmp, "in")
	os.Mkdir(in, 0o755)
	for f := range 4 {
		var b strings.Builder
		for d := range 1000 {
			raw := make([]byte, 384)
			rand.Read(raw)
			fmt.Fprintf(&b, "{\"id\":\"r-%d-%d\",\"text\":\"%s\"}\n", f, d, base64.StdEncoding.EncodeToString(raw))
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("random-%d.jsonl", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(mnt, "out")
	msg, err := exec.Command(buildBinary(t, tmp), "run", "-i", in, "-o", out, "--workers", "1").CombinedOutput()
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != ExitIO {
		t.Fatalf("exit code %d (%v), want %d:\n%s", code, err, ExitIO, msg)
	}
	for _, want := range []string{"the disk may fill up", filepath.Join(out, "shards", "part-00000.parquet"), "no space left on device", "the disk holding " + out + " is full"} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("output lacks %q:\n%s", want, msg)
		}
	}
	for _, name := range []string{pipeline.ManifestFile, pipeline.LockFile} {
		if exists(filepath.Join(out, name)) {
			t.Errorf("a run that filled the disk left %s", name)
		}
	}
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left on the full disk: %s", p)
		}
		return nil
	})
}

// An incremental run's estimate counts only the files it will read: new
// ones and those whose size or modification time changed since the
// published run.
func TestDiskEstimateIncremental(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	var files []pipeline.InputFile
	var records []pipeline.InputRecord
	for _, name := range []string{"same.jsonl", "changed.jsonl", "new.jsonl"} {
		p := filepath.Join(in, name)
		if err := os.WriteFile(p, []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		files = append(files, pipeline.InputFile{Path: p, Rel: name, Size: fi.Size()})
		switch name {
		case "same.jsonl":
			records = append(records, pipeline.InputRecord{Path: p, Size: fi.Size(), MTime: fi.ModTime().UTC()})
		case "changed.jsonl":
			records = append(records, pipeline.InputRecord{Path: p, Size: fi.Size() - 1, MTime: fi.ModTime().UTC()})
		}
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, "runs", "r1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := pipeline.WriteJSON(filepath.Join(out, "runs", "r1", pipeline.ManifestFile), pipeline.Manifest{Inputs: records}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("runs", "r1"), filepath.Join(out, pipeline.CurrentLink)); err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Defaults()
	cfg.Output.Dir = out
	for _, tt := range []struct {
		incremental bool
		want        []string
	}{
		{false, []string{"same.jsonl", "changed.jsonl", "new.jsonl"}},
		{true, []string{"changed.jsonl", "new.jsonl"}},
	} {
		cfg.Incremental = tt.incremental
		var got []string
		for _, f := range toRead(cfg, files) {
			got = append(got, f.Rel)
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("incremental %v: estimate over %v, want %v", tt.incremental, got, tt.want)
		}
	}
}
