package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// atomicFile is a file written under a temporary name in its final
// directory, then fsynced and renamed, so no reader ever sees it half-written.
type atomicFile struct {
	f     *os.File
	final string
	sum   hash.Hash
	n     int64
}

func createAtomic(final string) (*atomicFile, error) {
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(final)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", final, err)
	}
	// CreateTemp makes the file private (0600); a run's files are read by
	// whoever trains on them, as os.WriteFile(…, 0644) would allow.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", final, err)
	}
	return &atomicFile{f: f, final: final, sum: sha256.New()}, nil
}

// testHookWrite, set only by tests, runs before every write to an atomic
// file with the file's final path; an error it returns fails the write, as
// a full disk would.
var testHookWrite func(final string) error

func (a *atomicFile) Write(p []byte) (int, error) {
	if testHookWrite != nil {
		if err := testHookWrite(a.final); err != nil {
			return 0, fmt.Errorf("write %s: %w", a.f.Name(), err)
		}
	}
	n, err := a.f.Write(p)
	a.sum.Write(p[:n])
	a.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", a.f.Name(), err)
	}
	return n, nil
}

// Commit fsyncs, closes and renames the file into place, and returns its
// size and sha256.
func (a *atomicFile) Commit() (int64, string, error) {
	if err := a.f.Sync(); err != nil {
		a.Abort()
		return 0, "", fmt.Errorf("sync %s: %w", a.f.Name(), err)
	}
	if err := a.f.Close(); err != nil {
		os.Remove(a.f.Name())
		return 0, "", fmt.Errorf("close %s: %w", a.f.Name(), err)
	}
	if err := os.Rename(a.f.Name(), a.final); err != nil {
		os.Remove(a.f.Name())
		return 0, "", fmt.Errorf("rename %s: %w", a.final, err)
	}
	return a.n, hex.EncodeToString(a.sum.Sum(nil)), nil
}

// Abort removes the temporary file.
func (a *atomicFile) Abort() {
	a.f.Close()
	os.Remove(a.f.Name())
}

// WriteFileAtomic writes data to path through an atomicFile.
func WriteFileAtomic(path string, data []byte) error {
	return writeFileAtomic(path, data, 0)
}

// WriteFileAtomicMode is WriteFileAtomic for a file that other users read
// (a metrics file for node_exporter): its permission bits are perm instead
// of the temporary file's 0600.
func WriteFileAtomicMode(path string, data []byte, perm fs.FileMode) error {
	return writeFileAtomic(path, data, perm)
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	a, err := createAtomic(path)
	if err != nil {
		return err
	}
	if perm != 0 {
		if err := a.f.Chmod(perm); err != nil {
			a.Abort()
			return fmt.Errorf("chmod %s: %w", a.f.Name(), err)
		}
	}
	if _, err := a.Write(data); err != nil {
		a.Abort()
		return err
	}
	_, _, err = a.Commit()
	return err
}

// SyncPath fsyncs the file or directory at path: a file's data, or the
// renames inside a directory, survive a power cut once it returns. Its
// errors name the path.
func SyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

var _ io.Writer = (*atomicFile)(nil)
