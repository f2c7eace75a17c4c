package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// path returns the file of key in a file store.
func (s *Store) path(key string) string {
	return filepath.Join(s.dir, filepath.FromSlash(key))
}

// LocalPath returns the file that holds key's object in a file store, for
// readers that need random access; ok is false for object stores, and for
// keys this package does not accept.
func (s *Store) LocalPath(key string) (path string, ok bool) {
	if s.dir == "" || checkKey(key) != nil {
		return "", false
	}
	return s.path(key), true
}

// listFiles lists a file store by walking its tree from the deepest
// directory prefix names. fileblob's List lstat()s every name it reads, so
// a temporary file that a concurrent writer renames or removes between
// the directory read and the lstat failed the whole listing; this walk
// takes file names from the directory entries and passes over the ones
// that vanish. The keys come back in byte order.
func (s *Store) listFiles(ctx context.Context, prefix string) ([]string, error) {
	start := s.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		if err := checkKey(prefix[:i]); err != nil {
			return nil, err // a prefix must not lead out of the store
		}
		start = s.path(prefix[:i])
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone since its directory was read (or never there)
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) && !strings.HasSuffix(key, tmpSuffix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(keys) // the walk's order is not byte order ("a/b" before "a-c")
	return keys, nil
}

// linkReplace links from's file under a temporary name next to to's and
// renames it over to's file.
func (s *Store) linkReplace(ctx context.Context, to, from string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dst := s.path(to)
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d%s", dst, rand.Uint64(), tmpSuffix)
	if err := os.Link(s.path(from), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.syncParent(to)
}

// linkIfAbsent writes data to a temporary file next to key's file, syncs it,
// and links it into place: link(2) fails with EEXIST if the name exists, so
// of any number of racing processes exactly one succeeds, and the object it
// publishes is already complete.
func (s *Store) linkIfAbsent(ctx context.Context, key string, data []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	path := s.path(key)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return false, err
	}
	tmp, err := writeTemp(dir, filepath.Base(path), data)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, syncDir(dir)
}

// writeTemp writes data to a new file named base.*.tmp in dir, synced and
// closed, and returns its name.
func writeTemp(dir, base string, data []byte) (name string, err error) {
	f, err := os.CreateTemp(dir, base+".*"+tmpSuffix)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp makes the file 0600; objects are for every task's user.
	if err := f.Chmod(0o644); err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// syncParent makes a rename or link into key's directory durable on a file
// store; on object stores there is nothing to do.
func (s *Store) syncParent(key string) error {
	if s.dir == "" {
		return nil
	}
	return syncDir(filepath.Dir(s.path(key)))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
