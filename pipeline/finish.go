package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// finish writes stats.json and config.yaml, then manifest.json last.
func (r *run) finish() (*Result, error) {
	end := time.Now()
	st := &r.stats
	st.RunID, st.Version, st.Workers = r.manifest.RunID, Version, r.workers
	st.Seconds = end.Sub(r.start).Seconds()
	st.Read.Quarantined = map[string]int64{}
	var totals Totals
	for _, in := range r.manifest.Inputs {
		st.Read.Files++
		st.Read.InputBytes += in.Size
		st.Read.Docs.Docs += in.Docs
		totals.Quarantined += in.Quarantined
		for k, n := range in.Bad {
			st.Read.Quarantined[k] += n
		}
	}
	st.Read.Docs.Bytes = st.Kept.Bytes + st.Rejected.Bytes
	for i, s := range r.stages {
		st.Stages = append(st.Stages, r.counters[i].stats(s.Name()))
	}
	if st.Seconds > 0 {
		st.MBPerSecond = float64(st.Read.InputBytes) / 1e6 / st.Seconds
	}
	r.columns.fill(st)
	st.CPUSeconds, st.PeakRSSBytes = processUsage()
	if st.CPUSeconds > 0 {
		st.MBPerCPUSecond = float64(st.Read.InputBytes) / 1e6 / st.CPUSeconds
	}
	totals.Kept, totals.Rejected = st.Kept.Docs, st.Rejected.Docs
	totals.Read = st.Read.Docs.Docs + totals.Quarantined
	if totals.Kept+totals.Rejected != st.Read.Docs.Docs {
		return nil, fmt.Errorf("internal error: %d documents read but %d kept + %d rejected", st.Read.Docs.Docs, totals.Kept, totals.Rejected)
	}

	if err := removeWorkArea(r.dir); err != nil {
		return nil, fmt.Errorf("%w: remove work area: %w", ErrOutput, err)
	}
	m := &r.manifest
	m.End, m.Totals = end.UTC(), totals
	m.Outputs = append(m.Outputs, r.kept.Outputs...)
	if r.rejected != nil {
		m.Outputs = append(m.Outputs, r.rejected.Outputs...)
	}
	m.Outputs = append(m.Outputs, r.quarOut...)
	if r.inc != nil {
		r.inc.mergeManifest(m, r.listing, r.id)
		if t := m.Totals; t.Read != t.Kept+t.Rejected+t.Quarantined {
			return nil, fmt.Errorf("internal error: the incremental run's totals do not reconcile: %+v", t)
		}
	}
	if err := WriteFileAtomic(filepath.Join(r.dir, "config.yaml"), r.configYAML); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if err := WriteJSON(filepath.Join(r.dir, "stats.json"), st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	for _, name := range []string{"config.yaml", "stats.json"} {
		out, err := describeFile(r.dir, name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOutput, err)
		}
		m.Outputs = append(m.Outputs, out)
	}
	if err := WriteJSON(filepath.Join(r.dir, ManifestFile), m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if err := SyncPath(r.dir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	r.log.Info("run finished", "run_id", m.RunID, "read", totals.Read, "kept", totals.Kept,
		"rejected", totals.Rejected, "quarantined", totals.Quarantined, "seconds", fmt.Sprintf("%.2f", st.Seconds))
	return &Result{Dir: r.dir, Manifest: m, Stats: st}, nil
}

// removeWorkArea renames the work area away before deleting it: a run
// killed in the middle of deleting must not leave checkpoints that name
// files already gone. (The next run removes a *.tmp-* leftover.)
func removeWorkArea(dir string) error {
	trash := filepath.Join(dir, WorkDir+".tmp-removed")
	if err := os.RemoveAll(trash); err != nil {
		return err
	}
	err := os.Rename(filepath.Join(dir, WorkDir), trash)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

func describeFile(dir, name string) (OutputFile, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return OutputFile{}, err
	}
	return OutputFile{Path: name, Bytes: int64(len(data)), SHA256: sha256Hex(data)}, nil
}

// processUsage returns the process's CPU seconds and peak RSS so far.
func processUsage() (float64, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	if rss, ok := peakRSS(); ok {
		return cpu, rss
	}
	return cpu, ru.Maxrss * 1024 // Linux reports kilobytes
}
