package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestCat(t *testing.T) {
	out := runFixtures(t, "input: {paths: [fixtures/corpus/udhr]}\n")
	shard := filepath.Join(out, "shards", "part-00000.parquet")
	var buf bytes.Buffer
	err := Cat(context.Background(), &buf, shard, CatOptions{Limit: 2, Columns: []string{"id", "nosuch", "offset"}, Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	if !strings.HasPrefix(lines[0], `{"id":"udhr-`) || !strings.Contains(lines[0], `"nosuch":null,"offset":1}`) {
		t.Errorf("first line = %s", lines[0])
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil || m["offset"] != float64(2) {
		t.Errorf("second line = %s (%v)", lines[1], err)
	}

	buf.Reset()
	if err := Cat(context.Background(), &buf, shard, CatOptions{Limit: 1, Columns: []string{"id", "text"}, Format: "table", Width: 8}); err != nil {
		t.Fatal(err)
	}
	table := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(table) != 2 || !strings.HasPrefix(table[0], "id") || !strings.Contains(table[1], "…") {
		t.Errorf("table = %q", buf.String())
	}

	if err := Cat(context.Background(), &buf, filepath.Join(out, "manifest.json"), CatOptions{Format: "jsonl"}); err == nil || !strings.Contains(err.Error(), "not a readable Parquet file") {
		t.Errorf("cat of a non-Parquet file: %v", err)
	}
}
