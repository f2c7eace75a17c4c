package dedup

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"winnow/pipeline"
)

// A collector checkpoints in the middle of a pass (pipeline.CheckpointCollector)
// so that a killed run resumes after the last batch it had collected: the
// band buffers are spilled as runs, the side files are flushed and synced
// under their temporary names, and the state names those files and their
// lengths. A resumed collector truncates the side files to those lengths
// and appends, and drops any run spilled after the checkpoint.

// workState is an unfinished side file: its temporary name and length.
type workState struct {
	Tmp  string `json:"tmp"`
	Size int64  `json:"size"`
}

// sync flushes and fsyncs the file and returns where it stands.
func (w *atomicWork) sync() (workState, error) {
	if w.err != nil {
		return workState{}, w.err
	}
	if err := w.bw.Flush(); err != nil {
		return workState{}, fmt.Errorf("write %s: %w", w.final, err)
	}
	if err := w.f.Sync(); err != nil {
		return workState{}, fmt.Errorf("sync %s: %w", w.final, err)
	}
	size, err := w.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return workState{}, fmt.Errorf("sync %s: %w", w.final, err)
	}
	return workState{Tmp: w.f.Name(), Size: size}, nil
}

// resumeWork reopens a side file at its checkpointed length.
func resumeWork(final string, st workState) (*atomicWork, error) {
	f, err := os.OpenFile(st.Tmp, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", final, err)
	}
	if err := f.Truncate(st.Size); err == nil {
		_, err = f.Seek(st.Size, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("resume %s: %w", final, err)
	}
	return &atomicWork{f: f, bw: bufio.NewWriterSize(f, 64<<10), final: final}, nil
}

type fixedState struct {
	Work workState `json:"work"`
	N    uint64    `json:"n"`
}

func (w *FixedWriter) checkpoint() (fixedState, error) {
	st, err := w.w.sync()
	return fixedState{st, w.n}, err
}

func resumeFixed(final string, size int, st fixedState) (*FixedWriter, error) {
	if want := fixedHeaderSize + int64(st.N)*int64(size); st.Work.Size != want {
		return nil, fmt.Errorf("resume %s: %d bytes for %d records of %d", final, st.Work.Size, st.N, size)
	}
	w, err := resumeWork(final, st.Work)
	if err != nil {
		return nil, err
	}
	return &FixedWriter{w: w, size: size, n: st.N}, nil
}

type stringsState struct {
	Data workState  `json:"data"`
	Idx  fixedState `json:"idx"`
	Pos  uint64     `json:"pos"`
}

func (w *StringsWriter) checkpoint() (stringsState, error) {
	data, err := w.data.sync()
	if err != nil {
		return stringsState{}, err
	}
	idx, err := w.idx.checkpoint()
	return stringsState{data, idx, w.pos}, err
}

func resumeStrings(final string, st stringsState) (*StringsWriter, error) {
	data, err := resumeWork(final, st.Data)
	if err != nil {
		return nil, err
	}
	idx, err := resumeFixed(final+stringsIndexExt, 8, st.Idx)
	if err != nil {
		data.abort()
		return nil, err
	}
	return &StringsWriter{data: data, idx: idx, pos: st.Pos}, nil
}

type spillState struct {
	Runs   [][]string `json:"runs"`
	Spills int        `json:"spills"`
}

// checkpoint spills every buffered band, so the runs hold every record,
// and syncs the runs written since the last checkpoint.
func (s *BandSpiller) checkpoint() (spillState, error) {
	if s.synced == nil {
		s.synced = make([]int, len(s.runs))
	}
	for band, b := range s.bufs {
		if len(b) > 0 {
			if err := s.spill(band); err != nil {
				return spillState{}, err
			}
		}
		for _, path := range s.runs[band][s.synced[band]:] {
			if err := pipeline.SyncPath(path); err != nil {
				return spillState{}, err
			}
		}
		s.synced[band] = len(s.runs[band])
	}
	return spillState{Runs: s.runs, Spills: s.spills}, nil
}

// resumeBandSpiller continues a checkpointed spiller, removing the runs
// an interrupted attempt spilled after the checkpoint.
func resumeBandSpiller(dir string, bands int, budgetBytes int64, st spillState) (*BandSpiller, error) {
	if len(st.Runs) != bands {
		return nil, fmt.Errorf("resume band spiller: %d bands in the checkpoint, want %d", len(st.Runs), bands)
	}
	var keep []string
	for _, runs := range st.Runs {
		keep = append(keep, runs...)
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || slices.Contains(keep, p) {
			return err
		}
		return os.Remove(p)
	})
	if err != nil {
		return nil, fmt.Errorf("resume band spiller: %w", err)
	}
	s := &BandSpiller{dir: dir, share: int(budgetBytes / keyDocSize / int64(bands)),
		bufs: make([][]KeyDoc, bands), runs: st.Runs, spills: st.Spills}
	s.synced = make([]int, bands)
	for band, runs := range st.Runs {
		s.synced[band] = len(runs)
	}
	return s, nil
}

// collectorState is a clusterCollector between two batches.
type collectorState struct {
	N     uint64       `json:"n"`
	Keyed uint64       `json:"keyed"`
	Spill spillState   `json:"spill"`
	Meta  fixedState   `json:"meta"`
	Sigs  *fixedState  `json:"sigs,omitempty"`
	IDs   stringsState `json:"ids"`
}

// Checkpoint implements pipeline.CheckpointCollector.
func (col *clusterCollector) Checkpoint() (json.RawMessage, error) {
	st := collectorState{N: col.n, Keyed: col.keyed}
	var err error
	if st.Spill, err = col.spill.checkpoint(); err != nil {
		return nil, err
	}
	if st.Meta, err = col.meta.checkpoint(); err != nil {
		return nil, err
	}
	if col.sigs != nil {
		sigs, err := col.sigs.checkpoint()
		if err != nil {
			return nil, err
		}
		st.Sigs = &sigs
	}
	if st.IDs, err = col.ids.checkpoint(); err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// resumeCollector rebuilds a collector from its checkpoint in env.WorkDir.
func (c *clusterCore) resumeCollector(owner any, env pipeline.GlobalEnv, state json.RawMessage) (pipeline.Collector, error) {
	var st collectorState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, fmt.Errorf("resume %s: %w", c.name, err)
	}
	if (st.Sigs != nil) != (c.k > 0) {
		return nil, fmt.Errorf("resume %s: the checkpoint's signatures do not match the stage", c.name)
	}
	col := &clusterCollector{core: c, owner: owner, env: env, n: st.N, keyed: st.Keyed}
	var err error
	if col.spill, err = resumeBandSpiller(filepath.Join(env.WorkDir, "bands"), c.bands, c.spillBudget(env.MemoryBudget), st.Spill); err != nil {
		return nil, err
	}
	if col.meta, err = resumeFixed(filepath.Join(env.WorkDir, "meta.fx"), metaSize, st.Meta); err != nil {
		return nil, err
	}
	if col.ids, err = resumeStrings(filepath.Join(env.WorkDir, "ids"), st.IDs); err != nil {
		return nil, err
	}
	if c.k > 0 {
		col.sigBuf = make([]byte, 4*c.k)
		if col.sigs, err = resumeFixed(filepath.Join(env.WorkDir, "sigs.fx"), 4*c.k, *st.Sigs); err != nil {
			return nil, err
		}
	}
	return col, nil
}

var (
	_ pipeline.Resumable           = (*minhashStage)(nil)
	_ pipeline.Resumable           = (*exactStage)(nil)
	_ pipeline.CheckpointCollector = (*clusterCollector)(nil)
)
