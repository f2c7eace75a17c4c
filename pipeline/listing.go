package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ListInputs walks every input path recursively and returns the files in a
// deterministic order: input paths in config order, and within each, sorted
// by the byte order of the relative path. Hidden files and directories
// (".name") are skipped, as are files the include/exclude globs reject and
// the directories in skip (the run's own output, when it sits inside an input).
func ListInputs(cfg InputConfig, skip ...string) ([]InputFile, error) {
	skipAbs := map[string]bool{}
	for _, d := range skip {
		if abs, err := filepath.Abs(d); err == nil {
			skipAbs[abs] = true
		}
	}
	var files []InputFile
	seen := map[string]bool{}
	for _, root := range cfg.Paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("input path %s: %w", root, err)
		}
		var found []InputFile
		if fi.IsDir() {
			found, err = walkDir(root, cfg, skipAbs)
			if err != nil {
				return nil, err
			}
		} else if fi.Mode().IsRegular() {
			found = []InputFile{{Path: root, Rel: filepath.ToSlash(filepath.Base(root)), Size: fi.Size()}}
		} else {
			return nil, fmt.Errorf("input path %s: not a regular file or directory", root)
		}
		for _, f := range found {
			abs, err := filepath.Abs(f.Path)
			if err != nil {
				return nil, fmt.Errorf("input path %s: %w", f.Path, err)
			}
			if seen[abs] {
				continue // named twice (a file inside a listed directory): read once
			}
			seen[abs] = true
			files = append(files, f)
		}
	}
	return files, nil
}

func walkDir(root string, cfg InputConfig, skip map[string]bool) ([]InputFile, error) {
	var files []InputFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("list %s: %w", p, err)
		}
		if d.IsDir() && len(skip) > 0 {
			if abs, err := filepath.Abs(p); err == nil && skip[abs] {
				return fs.SkipDir
			}
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		size, ok, err := listedSize(p, d)
		if err != nil || !ok {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !selected(rel, cfg.Include, cfg.Exclude) {
			return nil
		}
		files = append(files, InputFile{Path: p, Rel: rel, Size: size})
		return nil
	})
	// WalkDir visits in lexical order of each directory's entries, which is
	// not the byte order of whole relative paths ("a/b" vs "a.txt"): sort.
	sort.Slice(files, func(i, j int) bool { return files[i].Rel < files[j].Rel })
	return files, err
}

// listedSize says whether a directory entry (not a directory) is an input
// file, and its size. A link to a file is read as the file, and a dangling
// one is listed so that reading it quarantines it; links to directories
// are not followed (they could loop), nor are devices, pipes or sockets.
func listedSize(p string, d fs.DirEntry) (int64, bool, error) {
	if d.Type()&fs.ModeSymlink != 0 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, true, nil
		}
		return fi.Size(), fi.Mode().IsRegular(), nil
	}
	if !d.Type().IsRegular() {
		return 0, false, nil
	}
	info, err := d.Info()
	if err != nil {
		return 0, false, fmt.Errorf("list %s: %w", p, err)
	}
	return info.Size(), true, nil
}

// selected applies the globs to both the base name and the relative path,
// so "*.tsv" and "docs/*.md" both work.
func selected(rel string, include, exclude []string) bool {
	match := func(globs []string) bool {
		for _, g := range globs {
			if ok, _ := path.Match(g, path.Base(rel)); ok {
				return true
			}
			if ok, _ := path.Match(g, rel); ok {
				return true
			}
		}
		return false
	}
	if len(include) > 0 && !match(include) {
		return false
	}
	return !match(exclude)
}
