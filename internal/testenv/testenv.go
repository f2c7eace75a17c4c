// Package testenv finds the test material that lives outside the module:
// the shared corpora checked out beside the repository.
package testenv

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
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

// ProcessCPU is the user + system CPU time the process has used so far.
// Benchmarks divide bytes by it (MB/cpu-s): on a shared 2-core VM it is a
// steadier per-core figure than wall-clock MB/s.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportMBPerCPU reports bytes per iteration over cpu, the CPU time of all
// iterations, as the benchmark metric MB/cpu-s.
func ReportMBPerCPU(b *testing.B, bytes int64, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}

// AWSTestCredentials points the AWS SDK at static test credentials and
// keeps it off this machine's AWS files and the EC2 metadata service, for
// tests against an S3 server on loopback.
func AWSTestCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}
