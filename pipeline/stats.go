package pipeline

import "time"

// Count is a number of documents and their text bytes.
type Count struct {
	Docs  int64 `json:"docs"`
	Bytes int64 `json:"bytes"`
}

func (c *Count) add(docs, bytes int64) { c.Docs += docs; c.Bytes += bytes }

// StageStats are one stage's counters for a run.
type StageStats struct {
	Name    string           `json:"name"`
	In      Count            `json:"in"`
	Out     Count            `json:"out"`
	Dropped map[string]Count `json:"dropped"` // by drop_reason
	// Counts are the stage's own counters (Batch.AddCount), summed.
	Counts map[string]int64 `json:"counts,omitempty"`
	// WallSeconds is the time workers spent in the stage, summed over
	// workers; CPUSeconds is the CPU time of those calls (Linux only).
	WallSeconds float64 `json:"wall_seconds"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	// MBPerCPUSecond is In.Bytes per CPU second: the stage's speed per core.
	MBPerCPUSecond float64 `json:"mb_per_cpu_second,omitempty"`
}

// stageCounter is one worker's tally for one stage; merged after the run.
type stageCounter struct {
	in, out     Count
	dropped     map[string]Count
	counts      map[string]int64
	wall, cpuNs int64
}

func (s *stageCounter) addCounts(c map[string]int64) {
	for k, n := range c {
		if s.counts == nil {
			s.counts = map[string]int64{}
		}
		s.counts[k] += n
	}
}

func (s *stageCounter) merge(o *stageCounter) {
	s.in.add(o.in.Docs, o.in.Bytes)
	s.out.add(o.out.Docs, o.out.Bytes)
	for r, c := range o.dropped {
		if s.dropped == nil {
			s.dropped = map[string]Count{}
		}
		cur := s.dropped[r]
		cur.add(c.Docs, c.Bytes)
		s.dropped[r] = cur
	}
	s.addCounts(o.counts)
	s.wall += o.wall
	s.cpuNs += o.cpuNs
}

func (s *stageCounter) stats(name string) StageStats {
	st := StageStats{Name: name, In: s.in, Out: s.out, Dropped: s.dropped, Counts: s.counts,
		WallSeconds: time.Duration(s.wall).Seconds(), CPUSeconds: time.Duration(s.cpuNs).Seconds()}
	if st.Dropped == nil {
		st.Dropped = map[string]Count{}
	}
	if st.CPUSeconds > 0 {
		st.MBPerCPUSecond = float64(s.in.Bytes) / 1e6 / st.CPUSeconds
	}
	return st
}

// Stats is stats.json: what a run did, in numbers.
type Stats struct {
	RunID   string  `json:"run_id"`
	Version string  `json:"version"`
	Workers int     `json:"workers"`
	Seconds float64 `json:"seconds"`
	Read    struct {
		Files int64 `json:"files"`
		// InputBytes are the bytes of the input files as stored (maybe compressed).
		InputBytes int64 `json:"input_bytes"`
		Docs       Count `json:"docs"`
		// Quarantined counts records that could not be read, by kind.
		Quarantined map[string]int64 `json:"quarantined"`
	} `json:"read"`
	Stages   []StageStats `json:"stages"`
	Kept     Count        `json:"kept"`
	Rejected Count        `json:"rejected"`
	// Throughput of the whole run: input bytes per wall second and per CPU second.
	MBPerSecond    float64 `json:"mb_per_second"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	MBPerCPUSecond float64 `json:"mb_per_cpu_second"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`

	// Breakdowns of the written documents by the columns the stages set.
	// ByLang: documents (and kept words) per lang value.
	ByLang map[string]LangStats `json:"by_lang,omitempty"`
	// DupClusterSizes: kept documents per dup_cluster_size bucket.
	DupClusterSizes map[string]int64 `json:"dup_cluster_sizes,omitempty"`
	// Histograms of every float column (signals, scores), kept and rejected.
	Histograms map[string]Histogram `json:"histograms,omitempty"`
}
