package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockFile is the lock a run holds in its output directory, so that two
// runs (two cron jobs, a cron job and a person) never write one directory
// at once.
const LockFile = ".winnow.lock"

// ErrLocked is returned (wrapped in a *LockedError) when another run holds
// the output directory's lock.
var ErrLocked = errors.New("output directory is locked")

// LockOwner is what a lock file holds: who runs, where, since when.
type LockOwner struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Start time.Time `json:"start"`
	// BootID and ProcStart (the process's start in clock ticks since boot,
	// /proc/<pid>/stat) tell the owner from a later process that got the
	// same pid, after a reboot or a pid wrap-around. Linux only; empty
	// elsewhere.
	BootID    string `json:"boot_id,omitempty"`
	ProcStart uint64 `json:"proc_start_ticks,omitempty"`
}

func (o *LockOwner) String() string {
	return fmt.Sprintf("pid %d on host %s since %s", o.PID, o.Host, o.Start.UTC().Format(time.RFC3339))
}

// LockedError says who holds a lock and how to clear it if that run is gone.
type LockedError struct {
	Path  string
	Owner *LockOwner // nil when the lock file cannot be parsed
	// Why explains the refusal beyond "it is held".
	Why string
}

func (e *LockedError) Error() string {
	who := "an unknown owner (the lock file cannot be parsed)"
	if e.Owner != nil {
		who = e.Owner.String()
	}
	return fmt.Sprintf("%s: another winnow run holds %s: %s; %s", ErrLocked, e.Path, who, e.Why)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is a held output-directory lock.
type Lock struct {
	path  string
	f     *os.File // open for the whole run: its flock says the owner lives
	Owner LockOwner
	// Stale is the owner of a dead run's lock that AcquireLock took over
	// (nil when the directory was free); StaleWhy says how it was found dead.
	Stale    *LockOwner
	StaleWhy string
	// made is the directory AcquireLock created (""), removed again by
	// Release when the run left nothing in it.
	made string
}

// AcquireLock takes dir's lock, creating dir when needed. It returns a
// *LockedError (errors.Is ErrLocked) when a live run holds it, or when the
// lock belongs to another host or cannot be read: those are never taken
// over automatically. A lock whose owner is gone (same host, pid no longer
// that process) is taken over, and Lock.Stale says so.
//
// The lock is a file created complete under a temporary name and linked to
// LockFile (link fails when the name exists: O_CREAT|O_EXCL semantics, and
// no one ever reads a half-written lock). The owner holds flock(2) on it for
// the whole run; the kernel drops that lock when the process dies, even by
// SIGKILL, and it also works between containers sharing the directory,
// whose pids mean nothing to each other.
func AcquireLock(dir string) (*Lock, error) {
	if dir == "" {
		return nil, errors.New("lock: no output directory")
	}
	made, err := mkdirReporting(dir)
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	}
	l := &Lock{path: filepath.Join(dir, LockFile), Owner: currentOwner(), made: made}
	if err := l.acquire(); err != nil {
		if made != "" {
			os.Remove(made)
		}
		return nil, err
	}
	return l, nil
}

func (l *Lock) acquire() error {
	tmp, err := newLockTemp(filepath.Dir(l.path), l.Owner)
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		os.Remove(tmp.Name()) // the inode lives on under LockFile when linked or renamed
		if !keep {
			tmp.Close()
		}
	}()
	// Each retry follows a change made by another process (a release, a
	// takeover) between two of our steps; a handful is plenty.
	for range 8 {
		err := os.Link(tmp.Name(), l.path)
		if err == nil {
			keep = true
			l.f = tmp
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create lock %s: %w", l.path, err)
		}
		stale, why, err := l.takeOverIfStale(tmp)
		if errors.Is(err, errLockChanged) {
			continue
		}
		if err != nil {
			return err
		}
		keep = true
		l.f, l.Stale, l.StaleWhy = tmp, stale, why
		return nil
	}
	return &LockedError{Path: l.path, Why: "the lock kept changing hands while winnow tried to take it"}
}

var errLockChanged = errors.New("lock changed")

// takeOverIfStale examines the existing lock and, when its owner is gone,
// renames tmp over it. It holds the old lock's flock while it checks and
// renames, so two runs finding the same stale lock cannot both take it.
func (l *Lock) takeOverIfStale(tmp *os.File) (*LockOwner, string, error) {
	old, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", errLockChanged // released meanwhile
	}
	if err != nil {
		return nil, "", fmt.Errorf("read lock %s: %w", l.path, err)
	}
	defer old.Close()
	owner, perr := readLockOwner(old)
	if err := syscall.Flock(int(old.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, "", &LockedError{Path: l.path, Owner: owner, Why: "it is running (wait for it to finish)"}
		}
		return nil, "", fmt.Errorf("lock %s: %w", l.path, err)
	}
	if !sameFile(old, l.path) {
		return nil, "", errLockChanged // taken over or released meanwhile
	}
	if perr != nil {
		return nil, "", &LockedError{Path: l.path, Why: fmt.Sprintf("%v; if no winnow run is using this directory, remove %s", perr, l.path)}
	}
	why, stale := staleReason(owner, &l.Owner)
	if !stale {
		return nil, "", &LockedError{Path: l.path, Owner: owner, Why: why}
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		return nil, "", fmt.Errorf("take over stale lock %s: %w", l.path, err)
	}
	return owner, why, nil
}

// staleReason decides whether owner's run is gone, saying why either way.
// Only a lock of this host can be judged: a pid from another host (or
// another container's pid namespace with the same host name, which the
// flock already covers) says nothing here.
func staleReason(owner, me *LockOwner) (string, bool) {
	if owner.Host != me.Host {
		return fmt.Sprintf("winnow never takes over a lock from another host: if no winnow run is going on %s, remove the lock file", owner.Host), false
	}
	if owner.BootID != "" && me.BootID != "" && owner.BootID != me.BootID {
		return "the machine has rebooted since it was taken", true
	}
	switch err := syscall.Kill(owner.PID, 0); {
	case errors.Is(err, syscall.ESRCH):
		return fmt.Sprintf("pid %d is not running", owner.PID), true
	case err != nil && !errors.Is(err, syscall.EPERM):
		return fmt.Sprintf("cannot tell whether pid %d runs (%v); if no winnow run is going, remove the lock file", owner.PID, err), false
	}
	if owner.ProcStart != 0 {
		if start, ok := procStart(owner.PID); ok && start != owner.ProcStart {
			return fmt.Sprintf("pid %d is now another process (started at tick %d, the owner at %d)", owner.PID, start, owner.ProcStart), true
		}
	}
	return fmt.Sprintf("pid %d is still running (wait for it to finish, or stop it)", owner.PID), false
}

// Release removes the lock. It is safe to call more than once; a lock left
// behind (a failed removal, a crash) is taken over by the next run.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	var err error
	if sameFile(l.f, l.path) {
		err = os.Remove(l.path)
	}
	l.f.Close() // drops the flock only after the name is gone
	l.f = nil
	if l.made != "" {
		os.Remove(l.made) // only when empty: a run that stopped before writing anything
	}
	if err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

// withoutLockFiles drops the lock, and a lock temp file a crash may have
// left, from a listing of the output directory: they are not a run's output.
func withoutLockFiles(entries []os.DirEntry) []os.DirEntry {
	return slices.DeleteFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), LockFile) })
}

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

// newLockTemp writes owner to a fresh file in dir, flushed to disk and
// flocked, ready to be linked or renamed to LockFile.
func newLockTemp(dir string, owner LockOwner) (*os.File, error) {
	data, err := json.Marshal(owner)
	if err != nil {
		return nil, fmt.Errorf("encode lock: %w", err)
	}
	f, err := os.CreateTemp(dir, LockFile+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create lock in %s: %w", dir, err)
	}
	err = f.Chmod(0o644) // other users' runs must be able to read who holds it
	if err == nil {
		_, err = f.Write(append(data, '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("write lock %s: %w", f.Name(), err)
	}
	return f, nil
}

func readLockOwner(f *os.File) (*LockOwner, error) {
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	var o LockOwner
	if err := json.Unmarshal(data, &o); err != nil || o.PID <= 0 || o.Host == "" {
		return nil, fmt.Errorf("the lock file does not name an owner (%q)", truncateForMessage(data))
	}
	return &o, nil
}

func truncateForMessage(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// sameFile reports whether path still names f's file.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

func currentOwner() LockOwner {
	host, _ := os.Hostname()
	o := LockOwner{PID: os.Getpid(), Host: host, Start: time.Now().UTC()}
	if id, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		o.BootID = strings.TrimSpace(string(id))
	}
	o.ProcStart, _ = procStart(o.PID)
	return o
}

// procStart reads a process's start time, in clock ticks since boot, from
// field 22 of /proc/<pid>/stat (the command name in field 2 may hold
// spaces and parentheses, so fields are counted from its closing one).
func procStart(pid int) (uint64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(fields[19], 10, 64)
	return v, err == nil
}

// mkdirReporting creates dir and its parents as needed and returns dir
// when it did not exist before ("" otherwise).
func mkdirReporting(dir string) (string, error) {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("not a directory")
		}
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}
