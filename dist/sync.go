package dist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"winnow/pipeline"
	"winnow/pipeline/storage"
)

// localDir is the output as a local directory, "" for an object store.
func localDir(out string) string {
	if strings.Contains(out, "://") && !strings.HasPrefix(out, "file://") {
		return ""
	}
	return strings.TrimPrefix(out, "file://")
}

// download copies the object at key to path, through a temporary file, so
// a path that exists is complete.
func download(ctx context.Context, st *storage.Store, key, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	r, err := st.NewReader(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("download %s: %w", key, err)
	}
	return nil
}

// downloadTree copies the objects under prefix that keep accepts (a
// relative, slash-separated path; nil: all) into dir.
func downloadTree(ctx context.Context, st *storage.Store, prefix, dir string, keep func(rel string) bool) error {
	keys, err := st.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		rel := strings.TrimPrefix(k, prefix)
		if keep != nil && !keep(rel) {
			continue
		}
		if err := download(ctx, st, k, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	return nil
}

// uploadTree stores every file under dir that keep accepts (a relative,
// slash-separated path) under prefix, then deletes the other objects under
// prefix, left by an earlier attempt: what a done-marker vouches for is
// exactly this attempt's files.
func uploadTree(ctx context.Context, st *storage.Store, dir, prefix string, keep func(rel string) bool) error {
	wrote := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !keep(rel) {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		wrote[prefix+rel] = true
		return st.Put(ctx, prefix+rel, f)
	})
	if err != nil {
		return fmt.Errorf("upload %s: %w", dir, err)
	}
	keys, err := st.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if !wrote[k] {
			if err := st.Delete(ctx, k); err != nil && !errors.Is(err, storage.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// taskFileKept leaves out of a task's upload what no later pass reads: the
// lock, temporary files, and the work of passes before the one the task
// stopped after (a resumed run starts from the newest checkpoint).
func taskFileKept(sealed int) func(rel string) bool {
	keepPass := filepath.ToSlash(pipeline.PassDirName(sealed-1)) + "/"
	return func(rel string) bool {
		base := rel[strings.LastIndex(rel, "/")+1:]
		switch {
		case strings.HasPrefix(base, ".winnow.lock"), strings.Contains(base, ".tmp-"), strings.HasSuffix(base, ".tmp"):
			return false
		case strings.HasPrefix(rel, pipeline.WorkDir+"/"):
			return sealed > 0 && strings.HasPrefix(rel, keepPass)
		}
		return true
	}
}

// fetcher gives local files of objects: a file store's own files, or
// copies downloaded once into a local mirror. The objects a pass reads were
// finished by the pass before, so a copy never goes stale.
type fetcher struct {
	st  *storage.Store
	dir string
}

func (f *fetcher) get(ctx context.Context, key string) (string, error) {
	if path, ok := f.st.LocalPath(key); ok {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("fetch %s: %w", key, err)
		}
		return path, nil
	}
	path := filepath.Join(f.dir, filepath.FromSlash(key))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, download(ctx, f.st, key, path)
}
