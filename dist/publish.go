package dist

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"time"

	"winnow/pipeline"
	"winnow/pipeline/storage"
	"winnow/report"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// publish gathers the tasks' final outputs into the run directory layout of
// a one-machine run: shards and rejected shards renumbered in task order
// (so in input order), quarantine files as they are, merged stats, and
// manifest.json written last.
func (r *Runner) publish(ctx context.Context, scratch string) error {
	m := pipeline.Manifest{RunID: newRunID(), Version: pipeline.Version, ConfigSHA256: r.plan.ConfigSHA256, End: time.Now().UTC()}
	var stats []*pipeline.Stats
	next := map[string]int{}
	var config []byte
	for i := range r.plan.Tasks {
		prefix := workKey("final", taskUnit(i))
		var tm pipeline.Manifest
		var ts pipeline.Stats
		if err := r.getJSON(ctx, prefix+pipeline.ManifestFile, &tm); err != nil {
			return err
		}
		if err := r.getJSON(ctx, prefix+"stats.json", &ts); err != nil {
			return err
		}
		stats = append(stats, &ts)
		if m.Start.IsZero() || tm.Start.Before(m.Start) {
			m.Start = tm.Start
		}
		m.Inputs = append(m.Inputs, tm.Inputs...)
		m.Totals.Read += tm.Totals.Read
		m.Totals.Kept += tm.Totals.Kept
		m.Totals.Rejected += tm.Totals.Rejected
		m.Totals.Quarantined += tm.Totals.Quarantined
		for _, o := range tm.Outputs {
			dir := path.Dir(o.Path)
			dst := o.Path
			switch dir {
			case "shards", "rejected":
				dst = fmt.Sprintf("%s/part-%05d.parquet", dir, next[dir])
				next[dir]++
			case "quarantine":
			default:
				continue // config.yaml and stats.json are the run's, below
			}
			if err := r.st.Copy(ctx, dst, prefix+o.Path); err != nil {
				return err
			}
			o.Path = dst
			m.Outputs = append(m.Outputs, o)
		}
		if i == 0 {
			var err error
			if config, err = r.st.Get(ctx, prefix+"config.yaml"); err != nil {
				return err
			}
		}
	}
	if err := r.publishIndexes(ctx); err != nil {
		return err
	}
	st := pipeline.MergeStats(stats)
	st.RunID = m.RunID
	st.Seconds = m.End.Sub(r.plan.Created).Seconds()
	if st.Seconds > 0 {
		st.MBPerSecond = float64(st.Read.InputBytes) / 1e6 / st.Seconds
	}
	statsJSON, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"config.yaml", config}, {"stats.json", append(statsJSON, '\n')}} {
		if err := r.st.Put(ctx, f.name, bytesReader(f.data)); err != nil {
			return err
		}
		sum := sha256.Sum256(f.data)
		m.Outputs = append(m.Outputs, pipeline.OutputFile{Path: f.name, Bytes: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
	}
	if t := m.Totals; t.Read != t.Kept+t.Rejected+t.Quarantined {
		return fmt.Errorf("internal error: the tasks' totals do not reconcile: %+v", t)
	}
	data, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return err
	}
	if err := r.st.Put(ctx, pipeline.ManifestFile, bytesReader(append(data, '\n'))); err != nil {
		return err
	}
	r.log.Info("run published", "output", r.st.URL(), "read", m.Totals.Read, "kept", m.Totals.Kept,
		"rejected", m.Totals.Rejected, "quarantined", m.Totals.Quarantined)
	// The report is derived from the published run, as a one-machine run's
	// is; on object storage it needs a local copy of the run.
	if manifest, ok := r.st.LocalPath(pipeline.ManifestFile); ok {
		if err := report.Write(ctx, filepath.Dir(manifest), report.Options{Seed: 1}); err != nil {
			r.log.Warn("report.html not written", "err", err)
		}
	} else {
		r.log.Info("report.html is not written to object storage: copy the run and use winnow report")
	}
	return nil
}

// publishIndexes gathers each dedup stage's index/ directory from its link
// units (the bands) and its resolve (ids, signatures, keepers, index.json).
func (r *Runner) publishIndexes(ctx context.Context) error {
	for g, stage := range r.globals {
		dir := "index/" + stage.Name()
		if k := r.sameNameBefore(g); k > 1 {
			dir = fmt.Sprintf("%s-%d", dir, k)
		}
		for _, pass := range []string{"link", "resolve"} {
			prefix := root + fmt.Sprintf("work/%s-%d/", pass, g+1)
			keys, err := r.st.List(ctx, prefix)
			if err != nil {
				return err
			}
			for _, k := range keys {
				_, name, ok := strings.Cut(k, "/index/")
				if !ok {
					continue
				}
				if err := r.st.Copy(ctx, dir+"/"+name, k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// sameNameBefore numbers global stage g among the stages of its name, from
// 1, as a one-machine run names their index directories.
func (r *Runner) sameNameBefore(g int) int {
	k := 0
	for _, s := range r.globals[:g+1] {
		if s.Name() == r.globals[g].Name() {
			k++
		}
	}
	return k
}

func (r *Runner) getJSON(ctx context.Context, key string, v any) error {
	data, err := r.st.Get(ctx, key)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

func newRunID() string {
	var b [3]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// UnitState is one unit's state for winnow status.
type UnitState struct {
	Unit  int    `json:"unit"`
	State string `json:"state"` // done | failed | missing
	Error string `json:"error,omitempty"`
	Host  string `json:"host,omitempty"`
}

// PassState is one pass's units.
type PassState struct {
	Pass
	Done  int         `json:"done"`
	Units []UnitState `json:"unit_states"`
}

// Status reads which units of which pass are done, failed or missing.
func Status(ctx context.Context, out string) (*Plan, []PassState, error) {
	st, err := storage.Open(ctx, out)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	plan, err := readPlan(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	var states []PassState
	for _, ps := range plan.Passes {
		s := PassState{Pass: ps}
		done, err := markers(ctx, st, root+"done/"+ps.Name+"/")
		if err != nil {
			return nil, nil, err
		}
		failed, err := markers(ctx, st, root+"failed/"+ps.Name+"/")
		if err != nil {
			return nil, nil, err
		}
		for u := range ps.Units {
			us := UnitState{Unit: u, State: "missing"}
			if m, ok := done[doneKey(ps.Name, u)]; ok {
				us.State, us.Host = "done", m.Host
				s.Done++
			} else if m, ok := failed[failedKey(ps.Name, u)]; ok {
				us.State, us.Host, us.Error = "failed", m.Host, m.Error
			}
			s.Units = append(s.Units, us)
		}
		states = append(states, s)
	}
	return plan, states, nil
}

func markers(ctx context.Context, st *storage.Store, prefix string) (map[string]marker, error) {
	keys, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := map[string]marker{}
	for _, k := range keys {
		data, err := st.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		var m marker
		json.Unmarshal(data, &m) // a marker's presence is what counts
		out[k] = m
	}
	return out, nil
}
