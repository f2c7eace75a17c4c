package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestLockExcludesSecondOwner(t *testing.T) {
	dir := t.TempDir()
	l, err := AcquireLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(dir)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second AcquireLock: %v, want a LockedError", err)
	}
	host, _ := os.Hostname()
	if le.Owner == nil || le.Owner.PID != os.Getpid() || le.Owner.Host != host {
		t.Errorf("owner %+v, want pid %d on %s", le.Owner, os.Getpid(), host)
	}
	for _, want := range []string{fmt.Sprintf("pid %d", os.Getpid()), "host " + host, "since 20", "it is running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind after Release: %v", left)
	}
	l, err = AcquireLock(dir)
	if err != nil {
		t.Fatalf("AcquireLock after Release: %v", err)
	}
	l.Release()
}

// Many goroutines, each with its own open file (flock treats those as
// different owners, as it does processes), race for one directory.
func TestLockConcurrentAcquire(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	locks := make([]*Lock, n)
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			locks[i], errs[i] = AcquireLock(dir)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait() // winners hold their lock until every goroutine has tried
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			locks[i].Release()
		case !errors.Is(err, ErrLocked):
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d goroutines got the lock, want exactly 1", won)
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestLockStaleOrNot(t *testing.T) {
	me := currentOwner()
	if me.ProcStart == 0 || me.BootID == "" {
		t.Skip("no /proc: the pid-reuse and reboot guards need it")
	}
	dead := deadPID(t)
	with := func(f func(o *LockOwner)) string {
		o := me
		o.Start = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
		f(&o)
		b, _ := json.Marshal(o)
		return string(b)
	}
	tests := []struct {
		name    string
		content string
		stale   bool
		why     string // in StaleWhy, or in the error
	}{
		// ProcStart 1 is no real process's: should the dead pid have been
		// reused meanwhile, the pid-reuse guard still calls it stale.
		{"dead pid", with(func(o *LockOwner) { o.PID, o.ProcStart = dead, 1 }), true, ""},
		{"pid reused", with(func(o *LockOwner) { o.ProcStart++ }), true, "now another process"},
		{"rebooted", with(func(o *LockOwner) { o.BootID = "another-boot" }), true, "rebooted"},
		{"live owner without flock", with(func(o *LockOwner) {}), false, "still running"},
		{"other host", with(func(o *LockOwner) { o.Host = "elsewhere.example"; o.PID = dead }), false, "never takes over a lock from another host"},
		{"garbage", "not json at all", false, "remove"},
		{"empty", "", false, "remove"},
		{"pid zero", `{"pid":0,"host":"` + me.Host + `"}`, false, "does not name an owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, LockFile)
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := AcquireLock(dir)
			if !tt.stale {
				if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want ErrLocked naming %s and saying %q", err, path, tt.why)
				}
				if got, _ := os.ReadFile(path); string(got) != tt.content {
					t.Errorf("a refused lock was changed: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("stale lock not taken over: %v", err)
			}
			defer l.Release()
			if l.Stale == nil || !strings.Contains(l.StaleWhy, tt.why) {
				t.Errorf("Stale = %+v, why %q; want the old owner, why containing %q", l.Stale, l.StaleWhy, tt.why)
			}
			var now LockOwner
			if data, err := os.ReadFile(path); err != nil || json.Unmarshal(data, &now) != nil || now.PID != os.Getpid() || now.ProcStart != me.ProcStart {
				t.Errorf("lock file after takeover: %+v (%v)", now, err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %v, want only the lock", entries)
			}
		})
	}
}

// Goroutines that find the same stale lock: one takes it over, the others
// see it held.
func TestLockConcurrentTakeover(t *testing.T) {
	dir := t.TempDir()
	stale := currentOwner()
	stale.PID, stale.ProcStart = deadPID(t), 1
	data, _ := json.Marshal(stale)
	if err := os.WriteFile(filepath.Join(dir, LockFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	locks := make([]*Lock, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			locks[i], errs[i] = AcquireLock(dir)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			if locks[i].Stale == nil || locks[i].Stale.PID != stale.PID {
				t.Errorf("winner's Stale = %+v, want pid %d", locks[i].Stale, stale.PID)
			}
			locks[i].Release()
		} else if !errors.Is(err, ErrLocked) {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d goroutines took the stale lock over, want exactly 1", won)
	}
}

// TestLockHelperProcess is not a test: it is the process the next test
// starts, holding the lock in $WINNOW_LOCK_HELPER until its stdin closes.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("WINNOW_LOCK_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	l, err := AcquireLock(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n')
	l.Release()
	os.Exit(0)
}

// A real process holds the lock and is killed with SIGKILL: it releases
// nothing, yet the next run sees the lock as stale (the kernel dropped the
// flock, the pid is gone) and takes it over.
func TestLockOwnerKilled(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "WINNOW_LOCK_HELPER="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q", line)
	}
	_, err := AcquireLock(dir)
	var le *LockedError
	if !errors.As(err, &le) || le.Owner == nil || le.Owner.PID != cmd.Process.Pid {
		t.Fatalf("while the helper runs: %v, want locked by pid %d", err, cmd.Process.Pid)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	l, err := AcquireLock(dir)
	if err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	defer l.Release()
	if l.Stale == nil || l.Stale.PID != cmd.Process.Pid {
		t.Errorf("Stale = %+v, want the killed pid %d", l.Stale, cmd.Process.Pid)
	}
}

func TestLockCreatesAndRemovesEmptyDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "out")
	l, err := AcquireLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a directory the lock created and nothing used survives: %v", err)
	}
	l, err = AcquireLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "stats.json"), []byte("{}"), 0o644)
	l.Release()
	if _, err := os.Stat(filepath.Join(dir, "stats.json")); err != nil {
		t.Errorf("a used directory was removed: %v", err)
	}
	if _, err := AcquireLock(filepath.Join(dir, "stats.json")); err == nil || errors.Is(err, ErrLocked) {
		t.Errorf("lock in a file: %v, want an error that is not ErrLocked", err)
	}
}

// A run that finds the directory locked leaves the previous run alone;
// a finished run leaves no lock; a stale lock does not stop a run.
func TestRunHonoursLock(t *testing.T) {
	in := writeCorpus(t, 2, 50)
	out := filepath.Join(t.TempDir(), "out")
	cfg := testConfig(in, out, 2)
	runOK(t, cfg, nil)
	if _, err := os.Stat(filepath.Join(out, LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a finished run left its lock: %v", err)
	}
	before, _ := os.ReadFile(filepath.Join(out, ManifestFile))

	l, err := AcquireLock(out)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), RunOptions{Config: cfg, Registry: testRegistry()})
	if !errors.Is(err, ErrLocked) || errors.Is(err, ErrOutput) {
		t.Fatalf("run on a locked directory: %v, want ErrLocked only", err)
	}
	if after, _ := os.ReadFile(filepath.Join(out, ManifestFile)); string(after) != string(before) {
		t.Errorf("the refused run touched the previous run's manifest")
	}
	l.Release()

	stale := currentOwner()
	stale.PID, stale.ProcStart = deadPID(t), 1
	data, _ := json.Marshal(stale)
	os.WriteFile(filepath.Join(out, LockFile), data, 0o644)
	runOK(t, cfg, nil)
	if _, err := os.Stat(filepath.Join(out, LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale lock survived a run that took it over: %v", err)
	}
}
