package stages

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSegmentWithoutModuleCache builds a program that runs the segment stage
// with -trimpath (gojieba's own dictionary paths become relative and
// useless) and runs it with an empty environment: HOME, GOPATH and
// GOMODCACHE point at empty directories and it starts in an empty one. It
// must still segment Chinese, from the dictionaries embedded in the binary,
// and leave no temporary files behind.
func TestSegmentWithoutModuleCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program (about 20 s the first time); -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "nocache")
	start := time.Now()
	build := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", bin, "./testdata/segment/nocache")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))

	modCache, err := exec.CommandContext(ctx, goTool, "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if mc := bytes.TrimSpace(modCache); len(mc) > 0 && bytes.Contains(data, mc) {
		t.Errorf("the binary names the module cache %s", mc)
	}

	env := map[string]string{}
	for _, name := range []string{"home", "gopath", "gomodcache", "tmp", "cwd"} {
		env[name] = filepath.Join(tmp, name)
		if err := os.Mkdir(env[name], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := exec.CommandContext(ctx, bin, "我来到北京清华大学", "“范爱农”说：Hello, world!", "")
	run.Dir = env["cwd"]
	run.Env = []string{
		"HOME=" + env["home"], "GOPATH=" + env["gopath"], "GOMODCACHE=" + env["gomodcache"],
		"TMPDIR=" + env["tmp"], "PATH=/usr/bin:/bin",
	}
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(stdout.String(), "\n")
	want := []string{"我/来到/北京/清华大学", "范爱农/说/Hello/world", ""}
	if len(lines) < len(want)+1 {
		t.Fatalf("output:\n%s", stdout.String())
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("document %d: %q, want %q", i, lines[i], w)
		}
	}
	t.Logf("%s; %s", lines[len(want)], lines[len(want)+1])
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	for name, dir := range env {
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Errorf("%s was written to: %v", name, left)
		}
	}
}
