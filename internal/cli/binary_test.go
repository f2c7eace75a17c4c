package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/testenv"
)

// The built winnow binary carries everything it needs: with HOME, GOPATH,
// GOMODCACHE and TMPDIR pointing at empty directories (no Go module cache,
// so no gojieba dictionaries there) it still normalizes, identifies and
// segments Chinese, names no module-cache path, and leaves nothing behind
// (the dictionaries unpacked for loading are removed).
func TestBinaryWithoutModuleCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	if modCache, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		data, err := os.ReadFile(bin)
		if mc := bytes.TrimSpace(modCache); err != nil || len(mc) > 0 && bytes.Contains(data, mc) {
			t.Errorf("the binary names the module cache %s (%v)", mc, err)
		}
	}
	env := map[string]string{}
	for _, name := range []string{"home", "gopath", "gomodcache", "tmp", "cwd"} {
		env[name] = filepath.Join(tmp, name)
		if err := os.Mkdir(env[name], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in := filepath.Join(tmp, "in.jsonl")
	os.WriteFile(in, []byte(`{"id":"a","text":"我們今天在北京大學討論中文分詞的問題。"}`+"\n"), 0o644)
	cfg := filepath.Join(tmp, "p.yaml")
	os.WriteFile(cfg, []byte("stages:\n  - normalize: {}\n  - langid: {}\n  - segment: {}\n"), 0o644)
	out := filepath.Join(tmp, "out")
	run := exec.Command(bin, "run", "-c", cfg, "-i", in, "-o", out, "--log-level", "warn")
	run.Dir = env["cwd"]
	run.Env = []string{"HOME=" + env["home"], "GOPATH=" + env["gopath"], "GOMODCACHE=" + env["gomodcache"],
		"TMPDIR=" + env["tmp"], "PATH=/usr/bin:/bin"}
	msg, err := run.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(msg), "winnow: wrote ") || strings.Count(string(msg), "\n") != 1 {
		t.Fatalf("winnow run without a module cache: %v; want only the summary line on stderr:\n%s", err, msg)
	}
	for name, dir := range env {
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Errorf("%s was written to: %v", name, left)
		}
	}
	var sb strings.Builder
	if err := Cat(context.Background(), &sb, filepath.Join(out, "shards", "part-00000.parquet"),
		CatOptions{Columns: []string{"text", "lang", "converted_t2s", "word_count"}, Format: "jsonl"}); err != nil {
		t.Fatal(err)
	}
	want := `{"text":"我们今天在北京大学讨论中文分词的问题。","lang":"zh","converted_t2s":true,"word_count":9}` + "\n"
	if sb.String() != want {
		t.Errorf("got  %s\nwant %s", sb.String(), want)
	}
}

// buildBinary builds bin/winnow as `make build` does, into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "winnow")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/winnow")
	build.Dir = testenv.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}
