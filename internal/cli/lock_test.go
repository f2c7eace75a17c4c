package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"winnow/pipeline"
)

// readLock returns the lock file's bytes and owner once it names pid.
func readLock(path string, pid int) ([]byte, *pipeline.LockOwner, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, false
	}
	var o pipeline.LockOwner
	if json.Unmarshal(data, &o) != nil || o.PID != pid {
		return nil, nil, false
	}
	return data, &o, true
}

// Two real runs on one output directory: the first holds the lock (it is
// stopped with SIGSTOP while holding it, so the overlap does not depend on
// timing), the second exits 4 naming the owner and touches nothing; the
// first then finishes normally.
func TestSecondRunExitsLocked(t *testing.T) {
	o := newOpsRun(t)
	a := o.start(t)
	lockPath := filepath.Join(o.out, pipeline.LockFile)
	var lockBytes []byte
	var owner *pipeline.LockOwner
	a.waitUntil(t, "the lock", func() bool {
		var ok bool
		lockBytes, owner, ok = readLock(lockPath, a.cmd.Process.Pid)
		return ok
	})
	a.signal(t, syscall.SIGSTOP)
	before := listTree(t, o.out)

	b := o.start(t)
	code := b.wait(t)
	stderr := b.stderr.String()
	if code != ExitLocked {
		t.Errorf("second run: exit code %d, want %d; stderr:\n%s", code, ExitLocked, stderr)
	}
	for _, want := range []string{lockPath, fmt.Sprintf("pid %d", owner.PID), "host " + owner.Host, "since " + owner.Start.Format("2006-01-02T15:04:05Z")} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the refusal does not name %q:\n%s", want, stderr)
		}
	}
	if after := listTree(t, o.out); after != before {
		t.Errorf("the refused run changed the output directory:\nbefore %s\nafter  %s", before, after)
	}
	if now, _ := os.ReadFile(lockPath); !bytes.Equal(now, lockBytes) {
		t.Errorf("the lock changed: %s, was %s", now, lockBytes)
	}

	a.signal(t, syscall.SIGCONT)
	if code := a.wait(t); code != ExitOK {
		t.Fatalf("first run: exit code %d; stderr:\n%s", code, a.stderr.String())
	}
	if m, err := pipeline.ReadManifest(o.out); err != nil || m.Totals.Kept != o.docs {
		t.Errorf("first run's manifest: %v, %+v; want %d kept", err, m, o.docs)
	}
	if exists(lockPath) {
		t.Errorf("the finished run left its lock")
	}
}

// A run killed with SIGKILL while writing shards leaves its lock; the
// next run finds the owner gone, says so in its log, takes the lock over
// and completes.
func TestKilledRunsLockTakenOver(t *testing.T) {
	o := newOpsRun(t)
	a := o.start(t)
	lockPath := filepath.Join(o.out, pipeline.LockFile)
	a.waitUntil(t, "a committed shard", func() bool { return exists(filepath.Join(o.out, "shards", "part-00000.parquet")) })
	a.signal(t, syscall.SIGKILL)
	a.wait(t)
	if _, _, ok := readLock(lockPath, a.cmd.Process.Pid); !ok {
		t.Fatalf("a killed run's lock is gone: nothing to take over")
	}

	b := o.start(t)
	if code := b.wait(t); code != ExitOK {
		t.Fatalf("run after the kill: exit code %d; stderr:\n%s", code, b.stderr.String())
	}
	stderr := b.stderr.String()
	for _, want := range []string{"took over the lock of a run that is gone", fmt.Sprintf("owner_pid=%d", a.cmd.Process.Pid)} {
		if !strings.Contains(stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
	checkKeptOnce(t, o.out, o.docs)
	if exists(lockPath) {
		t.Errorf("the run left its lock")
	}
}

// listTree names every file under dir with its size.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			fmt.Fprintf(&b, "%s:%d ", strings.TrimPrefix(p, dir), info.Size())
		}
		return nil
	})
	return b.String()
}
