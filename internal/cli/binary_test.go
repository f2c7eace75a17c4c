package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/testenv"
)

// The built winnow binary carries everything it needs: with HOME, GOPATH
// and GOMODCACHE pointing at empty directories (no Go module cache, so no
// gojieba dictionaries there) it still normalizes, identifies and segments
// Chinese.
func TestBinaryWithoutModuleCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root := testenv.RepoRoot(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "winnow")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/winnow")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	empty := filepath.Join(tmp, "empty")
	os.MkdirAll(empty, 0o755)
	in := filepath.Join(tmp, "in.jsonl")
	os.WriteFile(in, []byte(`{"id":"a","text":"我們今天在北京大學討論中文分詞的問題。"}`+"\n"), 0o644)
	cfg := filepath.Join(tmp, "p.yaml")
	os.WriteFile(cfg, []byte("stages:\n  - normalize: {}\n  - langid: {}\n  - segment: {}\n"), 0o644)
	out := filepath.Join(tmp, "out")
	run := exec.Command(bin, "run", "-c", cfg, "-i", in, "-o", out, "--log-level", "warn")
	run.Dir = empty
	run.Env = []string{"HOME=" + empty, "GOPATH=" + empty, "GOMODCACHE=" + empty, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin"}
	if msg, err := run.CombinedOutput(); err != nil {
		t.Fatalf("winnow run without a module cache: %v\n%s", err, msg)
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
