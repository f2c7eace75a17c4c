package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// The disk fills while a run writes one of its files: the run stops with
// an output error naming that file and the cause, publishes no manifest,
// leaves no temporary file and releases its lock.
func TestRunDiskFull(t *testing.T) {
	in := writeCorpus(t, 6, 400)
	tests := []struct {
		name  string
		file  string // the write to this output path (prefix) fails
		after int64  // … after this many writes to it succeeded
	}{
		{"first shard write", "shards/part-00000.parquet", 0},
		// The failing write flushes a row group: pqarrow's unchecked
		// NewBufferedRowGroup panicked there.
		{"later shard, at a row-group boundary", "shards/part-00002.parquet", 3},
		{"quarantine", "quarantine/", 0},
		{"rejected shard, at a row-group boundary", "rejected/", 1},
		{"stats.json", "stats.json", 0},
		{"manifest.json", ManifestFile, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			var writes atomic.Int64
			testHookWrite = func(final string) error {
				rel, _ := filepath.Rel(out, final)
				if strings.HasPrefix(filepath.ToSlash(rel), tt.file) && writes.Add(1) > tt.after {
					return syscall.ENOSPC
				}
				return nil
			}
			defer func() { testHookWrite = nil }()
			_, err := Run(context.Background(), RunOptions{Config: testConfig(in, out, 3), Registry: testRegistry()})
			if err == nil {
				t.Fatalf("the run succeeded with %s failing (%d writes)", tt.file, writes.Load())
			}
			if !errors.Is(err, ErrOutput) || !errors.Is(err, syscall.ENOSPC) ||
				!strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), filepath.Join(out, tt.file)) {
				t.Errorf("err = %v; want ErrOutput and ENOSPC naming %s", err, filepath.Join(out, tt.file))
			}
			for _, name := range []string{ManifestFile, LockFile} {
				if _, err := os.Stat(filepath.Join(out, name)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s after a full disk: %v", name, err)
				}
			}
			assertNoTempFiles(t, out)
		})
	}
}
