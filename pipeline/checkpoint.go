package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// A run with global stages checkpoints after each pass but the last: once
// a pass's rows are staged and its global stage has resolved, the pass
// directory gets done.json, written last. A run killed later and started
// again with the same config over the same input files resumes with the
// next pass instead of reading the input again; anything else starts over.

// Resumable is a global stage whose Resolve leaves its decisions in its
// work directory, so a resumed run can read them again.
type Resumable interface {
	GlobalStage
	ReopenDecider(env GlobalEnv) (Decider, error)
}

const checkpointFile = "done.json"

// checkpoint is what a pass hands on besides its files.
type checkpoint struct {
	Pass         int            `json:"pass"`
	ConfigSHA256 string         `json:"config_sha256"`
	InputsSHA256 string         `json:"inputs_sha256"`
	Inputs       []InputRecord  `json:"inputs"`
	Quarantine   []OutputFile   `json:"quarantine"`
	Counters     []counterState `json:"counters"`
}

// counterState is a stageCounter as JSON.
type counterState struct {
	In      Count            `json:"in"`
	Out     Count            `json:"out"`
	Dropped map[string]Count `json:"dropped,omitempty"`
	Counts  map[string]int64 `json:"counts,omitempty"`
	Wall    int64            `json:"wall_ns"`
	CPU     int64            `json:"cpu_ns"`
}

// inputsKey fingerprints the input listing: a checkpoint is only valid
// for the same files at the same sizes and modification times.
func inputsKey(inputs []InputFile) string {
	h := sha256.New()
	for _, f := range inputs {
		var mtime time.Time
		if fi, err := os.Stat(f.Path); err == nil {
			mtime = fi.ModTime().UTC()
		}
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s\n", f.Path, f.Rel, f.Size, mtime.Format(time.RFC3339Nano))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func passDir(runDir string, pass int) string {
	return filepath.Join(runDir, WorkDir, fmt.Sprintf("pass-%d", pass+1))
}

// writeCheckpoint records that pass p (0-based) is complete, after
// flushing its files to disk.
func (r *run) writeCheckpoint(p int) error {
	dir := passDir(r.dir, p)
	if err := syncTree(dir); err != nil {
		return err
	}
	cp := checkpoint{Pass: p + 1, ConfigSHA256: r.configHash, InputsSHA256: r.inputsKey,
		Inputs: r.manifest.Inputs, Quarantine: r.quarOut}
	for _, c := range r.counters {
		cp.Counters = append(cp.Counters, counterState{c.in, c.out, c.dropped, c.counts, c.wall, c.cpuNs})
	}
	return WriteJSON(filepath.Join(dir, checkpointFile), cp)
}

// syncTree fsyncs every file under dir and dir itself, so a checkpoint
// never names data a power cut could lose.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		return nil
	})
}

// lastCheckpoint returns the latest complete pass of a previous attempt
// at this run that a resume can start from, or nil.
func (r *run) lastCheckpoint(passes []pass) *checkpoint {
	for p := len(passes) - 2; p >= 0; p-- {
		if _, ok := passes[p].global.(Resumable); !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(passDir(r.dir, p), checkpointFile))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		var cp checkpoint
		if err == nil {
			err = json.Unmarshal(data, &cp)
		}
		if err != nil {
			r.log.Warn("unreadable checkpoint: starting over", "pass", p+1, "err", err)
			return nil
		}
		if cp.Pass != p+1 || cp.ConfigSHA256 != r.configHash || cp.InputsSHA256 != r.inputsKey || len(cp.Counters) != len(r.stages) {
			r.log.Info("checkpoint of another config or other input files: starting over", "pass", p+1)
			return nil
		}
		return &cp
	}
	return nil
}

// restore takes a checkpoint's state as if its passes had just run.
func (r *run) restore(cp *checkpoint) {
	r.manifest.Inputs, r.quarOut = cp.Inputs, cp.Quarantine
	for i, c := range cp.Counters {
		r.counters[i] = stageCounter{in: c.In, out: c.Out, dropped: c.Dropped, counts: c.Counts, wall: c.Wall, cpuNs: c.CPU}
	}
	var files, bytes int64
	for _, in := range cp.Inputs {
		files++
		bytes += in.Size
	}
	r.progress.FilesDone.Store(files)
	r.progress.BytesRead.Store(bytes)
	r.log.Info("resuming after a checkpoint", "pass", cp.Pass, "files", files)
}
