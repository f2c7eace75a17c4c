// Package testenv finds the test material that lives outside the module:
// the shared corpora checked out beside the repository.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, walking up from the
// test's working directory (the package directory under go test).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test directory")
		}
		dir = parent
	}
}

// SharedCorpora returns the path of ../shared/corpora beside the repository
// (or $WINNOW_SHARED/corpora), and skips the test when it is absent.
func SharedCorpora(t testing.TB) string {
	t.Helper()
	base := os.Getenv("WINNOW_SHARED")
	if base == "" {
		base = filepath.Join(RepoRoot(t), "..", "shared")
	}
	dir := filepath.Join(base, "corpora")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Skipf("shared corpora not found at %s", dir)
	}
	return dir
}

// Fixtures returns the repository's fixtures/ directory.
func Fixtures(t testing.TB) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), "fixtures")
}
