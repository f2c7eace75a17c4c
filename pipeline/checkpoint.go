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
// work directory, so a resumed run can read them again, and whose
// collector checkpoints mid-pass (CheckpointCollector) and is rebuilt from
// that state by ResumeCollector.
type Resumable interface {
	GlobalStage
	ReopenDecider(env GlobalEnv) (Decider, error)
	ResumeCollector(env GlobalEnv, state json.RawMessage) (Collector, error)
}

// CheckpointCollector is a Collector that can make what it has collected
// durable between two batches and describe it.
type CheckpointCollector interface {
	Collector
	Checkpoint() (json.RawMessage, error)
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

// partialCheckpoint is a pass before the last one, part done: the
// batches up to Seq are staged (in Segments segment files) and collected.
type partialCheckpoint struct {
	Pass         int             `json:"pass"`
	Seq          int64           `json:"seq"`
	ConfigSHA256 string          `json:"config_sha256"`
	InputsSHA256 string          `json:"inputs_sha256"`
	Counters     []counterState  `json:"counters"`
	Segments     int             `json:"segments"`
	Collector    json.RawMessage `json:"collector"`
}

const partialCheckpointFile = "partial.json"

// checkpointPass runs after each batch of a pass before the last: once
// a shard's worth of rows is staged since the last checkpoint, the
// segment is closed, the collector made durable, and partial.json written.
func (r *run) checkpointPass(seq int64, out passOutput) error {
	coll, ok := out.collect.(CheckpointCollector)
	// A distributed task that dies starts its pass again from the stored
	// objects of the pass before, never from its scratch directory: mid-pass
	// checkpoints would only cut its side files into more pieces to upload.
	if !ok || r.opts.Task != nil || out.staged.bytes < r.cfg.Output.ShardBytes {
		return nil
	}
	if err := out.staged.Close(); err != nil {
		return err
	}
	state, err := coll.Checkpoint()
	if err != nil {
		return err
	}
	cp := partialCheckpoint{Pass: out.pass + 1, Seq: seq, ConfigSHA256: r.configHash, InputsSHA256: r.inputsKey,
		Counters: r.counterStates(), Segments: out.staged.segs, Collector: state}
	return WriteJSON(filepath.Join(passDir(r.dir, out.pass), partialCheckpointFile), cp)
}

// lastPartialCheckpoint returns the checkpoint inside the pass a resumed
// run starts with, if there is a usable one.
func (r *run) lastPartialCheckpoint(passes []pass) *partialCheckpoint {
	p := 0
	if r.resume != nil {
		p = r.resume.Pass
	}
	if p >= len(passes)-1 {
		return nil
	}
	if _, ok := passes[p].global.(Resumable); !ok {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(passDir(r.dir, p), partialCheckpointFile))
	if err != nil {
		return nil
	}
	var cp partialCheckpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		r.log.Warn("unreadable checkpoint: starting the pass over", "pass", p+1, "err", err)
		return nil
	}
	if cp.Pass != p+1 || cp.ConfigSHA256 != r.configHash || cp.InputsSHA256 != r.inputsKey || len(cp.Counters) != len(r.stages) {
		return nil
	}
	return &cp
}

// resumePass continues pass p from its partial checkpoint: the staged
// segments and collected records up to cp.Seq stay, later ones go.
func (r *run) resumePass(cp *partialCheckpoint, p int, ps pass, out *passOutput) error {
	dir := passDir(r.dir, p)
	for i := cp.Segments; ; i++ {
		err := os.Remove(stagedSegment(dir, i))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
	}
	os.Remove(filepath.Join(dir, checkpointFile))
	out.staged = newStagedWriter(dir, r.mem)
	out.staged.segs = cp.Segments
	coll, err := ps.global.(Resumable).ResumeCollector(r.globalEnv(filepath.Join(dir, ps.global.Name()), ps.globalIdx), cp.Collector)
	if err != nil {
		return fmt.Errorf("stage %s: resume: %w", ps.global.Name(), err)
	}
	out.collect = coll
	r.restoreCounters(cp.Counters)
	out.first = cp.Seq + 1
	r.log.Info("resuming after a checkpoint", "pass", cp.Pass, "batches_done", cp.Seq+1)
	return nil
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
		Inputs: r.manifest.Inputs, Quarantine: r.quarOut, Counters: r.counterStates()}
	return WriteJSON(filepath.Join(dir, checkpointFile), cp)
}

// syncTree fsyncs every file under dir and dir itself, so a checkpoint
// never names data a power cut could lose.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return SyncPath(p)
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
	r.restoreCounters(cp.Counters)
	var files, bytes int64
	for _, in := range cp.Inputs {
		files++
		bytes += in.Size
	}
	r.progress.FilesDone.Store(files)
	r.progress.BytesRead.Store(bytes)
	r.log.Info("resuming after a checkpoint", "pass", cp.Pass, "files", files)
}

// The last pass checkpoints whenever a batch completes a kept shard: the
// rejected shard is completed with it (in every run, so the shards of a
// resumed run and of an uninterrupted one are the same), and final.json
// records the shards and everything counted so far. A resumed run keeps
// those shards, skips the batches before, and writes the rest.
const finalCheckpointFile = "final.json"

type finalCheckpoint struct {
	Pass         int            `json:"pass"`
	Seq          int64          `json:"seq"` // the last batch written
	ConfigSHA256 string         `json:"config_sha256"`
	InputsSHA256 string         `json:"inputs_sha256"`
	Counters     []counterState `json:"counters"`
	Kept         Count          `json:"kept"`
	Rejected     Count          `json:"rejected"`
	Columns      columnsState   `json:"columns"`
	KeptShards   shardState     `json:"kept_shards"`
	RejShards    shardState     `json:"rejected_shards"`
}

type shardState struct {
	Next    int          `json:"next"`
	Outputs []OutputFile `json:"outputs"`
}

type columnsState struct {
	ByLang     map[string]*LangStats `json:"by_lang,omitempty"`
	DupSizes   map[string]int64      `json:"dup_sizes,omitempty"`
	Histograms map[string]*Histogram `json:"histograms,omitempty"`
}

func (r *run) counterStates() []counterState {
	var cs []counterState
	for _, c := range r.counters {
		cs = append(cs, counterState{c.in, c.out, c.dropped, c.counts, c.wall, c.cpuNs})
	}
	return cs
}

func (r *run) restoreCounters(cs []counterState) {
	for i, c := range cs {
		r.counters[i] = stageCounter{in: c.In, out: c.Out, dropped: c.Dropped, counts: c.Counts, wall: c.Wall, cpuNs: c.CPU}
	}
}

// checkpointShards runs after each batch of the last pass.
func (r *run) checkpointShards(seq int64) error {
	if r.kept.index == r.keptCheckpointed {
		return nil
	}
	r.keptCheckpointed = r.kept.index
	cp := finalCheckpoint{Pass: r.finalPass + 1, Seq: seq, ConfigSHA256: r.configHash, InputsSHA256: r.inputsKey,
		Counters: r.counterStates(), Kept: r.stats.Kept, Rejected: r.stats.Rejected,
		Columns:    columnsState{r.columns.byLang, r.columns.dupSizes, r.columns.histograms},
		KeptShards: shardState{r.kept.index, r.kept.Outputs}}
	if err := SyncPath(filepath.Join(r.dir, r.kept.subdir)); err != nil {
		return err
	}
	if r.rejected != nil {
		if err := r.rejected.closeShard(); err != nil {
			return err
		}
		cp.RejShards = shardState{r.rejected.index, r.rejected.Outputs}
		if len(r.rejected.Outputs) > 0 {
			if err := SyncPath(filepath.Join(r.dir, r.rejected.subdir)); err != nil {
				return err
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(r.dir, WorkDir), 0o755); err != nil {
		return err
	}
	return WriteJSON(filepath.Join(r.dir, WorkDir, finalCheckpointFile), cp)
}

// lastFinalCheckpoint returns a checkpoint of the last pass that this
// attempt can continue: same config and inputs, and (with several passes)
// the pass before it restored, since the last pass reads its staged rows.
func (r *run) lastFinalCheckpoint(passes []pass) *finalCheckpoint {
	data, err := os.ReadFile(filepath.Join(r.dir, WorkDir, finalCheckpointFile))
	if err != nil {
		return nil
	}
	var cp finalCheckpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		r.log.Warn("unreadable checkpoint: starting the last pass over", "err", err)
		return nil
	}
	last := len(passes)
	if cp.Pass != last || cp.ConfigSHA256 != r.configHash || cp.InputsSHA256 != r.inputsKey || len(cp.Counters) != len(r.stages) ||
		last > 1 && (r.resume == nil || r.resume.Pass != last-1) {
		return nil
	}
	for _, o := range append(append([]OutputFile{}, cp.KeptShards.Outputs...), cp.RejShards.Outputs...) {
		if fi, err := os.Stat(filepath.Join(r.dir, o.Path)); err != nil || fi.Size() != o.Bytes {
			r.log.Warn("a checkpointed shard is missing or changed: starting the last pass over", "shard", o.Path)
			return nil
		}
	}
	return &cp
}

// restoreFinal takes the last pass's checkpoint as if its batches up to
// cp.Seq had just been written.
func (r *run) restoreFinal(cp *finalCheckpoint) {
	r.restoreCounters(cp.Counters)
	r.stats.Kept, r.stats.Rejected = cp.Kept, cp.Rejected
	r.columns = columnStats{byLang: cp.Columns.ByLang, dupSizes: cp.Columns.DupSizes, histograms: cp.Columns.Histograms}
	r.kept.index, r.kept.Outputs = cp.KeptShards.Next, cp.KeptShards.Outputs
	if r.rejected != nil {
		r.rejected.index, r.rejected.Outputs = cp.RejShards.Next, cp.RejShards.Outputs
	}
	r.keptCheckpointed = r.kept.index
	r.progress.DocsKept.Store(cp.Kept.Docs)
	r.progress.DocsRejected.Store(cp.Rejected.Docs)
	r.log.Info("resuming after a checkpoint", "pass", cp.Pass, "batches_done", cp.Seq+1, "shards_done", len(cp.KeptShards.Outputs)+len(cp.RejShards.Outputs))
}

// keptShardFiles lists the shard files a resumed last pass keeps.
func (cp *finalCheckpoint) keptShardFiles() map[string]bool {
	keep := map[string]bool{}
	for _, o := range append(append([]OutputFile{}, cp.KeptShards.Outputs...), cp.RejShards.Outputs...) {
		keep[o.Path] = true
	}
	return keep
}

// keepForResume says what prepareOutputDir keeps for the checkpoints
// found (nil when there is none): the work area; the quarantine files and
// dedup indexes the completed passes wrote; the checkpointed shards.
func (r *run) keepForResume() func(rel string) bool {
	if r.resume == nil && r.resumeFinal == nil && r.resumePartial == nil {
		return nil
	}
	var shards map[string]bool
	if r.resumeFinal != nil {
		shards = r.resumeFinal.keptShardFiles()
	}
	return func(rel string) bool {
		switch rel {
		case WorkDir:
			return r.resume != nil || r.resumeFinal != nil || r.resumePartial != nil
		case "quarantine", "index":
			return r.resume != nil
		case "shards", "rejected":
			return shards != nil
		}
		return shards[rel]
	}
}

// pruneShards removes the files of shards/ or rejected/ that keep does
// not name: shards completed after the checkpoint, temporary files.
func pruneShards(dir, sub string, keep func(rel string) bool) error {
	if sub != "shards" && sub != "rejected" {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if !keep(sub + "/" + e.Name()) {
			if err := os.RemoveAll(filepath.Join(dir, sub, e.Name())); err != nil {
				return fmt.Errorf("remove %s/%s: %w", sub, e.Name(), err)
			}
		}
	}
	return nil
}
