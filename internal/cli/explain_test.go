package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("stages:\n  - normalize: {}\n  - langid: {}\n  - exact_dedup: {}\n  - length: {min_chars: 30}\n  - quality_score: {}\n"), 0o644)
	var out bytes.Buffer
	err := Explain(context.Background(), &out, ExplainOptions{Flags: RunFlags{ConfigPath: cfg, Workers: -1, MaxMemory: -1}, Text: "網易新聞 更多>>"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"normalize: text=网易新闻 更多>> converted_t2s=true",
		"langid: lang=zh lang_score=1",
		"exact_dedup: needs the whole corpus",
		"length: length_chars=9 length_lines=1\n  => dropped here: length.chars<30",
		"=> dropped by length: length.chars<30\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain output lacks %q:\n%s", want, out.String())
		}
	}
	if err := Explain(context.Background(), &out, ExplainOptions{Flags: RunFlags{ConfigPath: cfg, Workers: -1, MaxMemory: -1}}); err == nil || !strings.Contains(err.Error(), "give --text, --file, or --id with --run") {
		t.Errorf("no document: err = %v", err)
	}
}
