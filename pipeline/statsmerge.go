package pipeline

// MergeStats adds up the stats of the tasks of a distributed run, each
// over its own documents, into the stats of the whole run. Throughput and
// time are left to the caller, which knows how long the run took.
func MergeStats(tasks []*Stats) *Stats {
	out := &Stats{Version: Version}
	out.Read.Quarantined = map[string]int64{}
	for _, t := range tasks {
		out.Workers += t.Workers
		out.CPUSeconds += t.CPUSeconds
		out.PeakRSSBytes = max(out.PeakRSSBytes, t.PeakRSSBytes)
		out.Read.Files += t.Read.Files
		out.Read.InputBytes += t.Read.InputBytes
		out.Read.Docs.add(t.Read.Docs.Docs, t.Read.Docs.Bytes)
		for k, n := range t.Read.Quarantined {
			out.Read.Quarantined[k] += n
		}
		out.Kept.add(t.Kept.Docs, t.Kept.Bytes)
		out.Rejected.add(t.Rejected.Docs, t.Rejected.Bytes)
		mergeStages(out, t.Stages)
		mergeColumns(out, t)
	}
	for i := range out.Stages {
		if s := &out.Stages[i]; s.CPUSeconds > 0 {
			s.MBPerCPUSecond = float64(s.In.Bytes) / 1e6 / s.CPUSeconds
		}
	}
	if out.CPUSeconds > 0 {
		out.MBPerCPUSecond = float64(out.Read.InputBytes) / 1e6 / out.CPUSeconds
	}
	return out
}

func mergeStages(out *Stats, stages []StageStats) {
	if out.Stages == nil {
		out.Stages = make([]StageStats, len(stages))
		for i, s := range stages {
			out.Stages[i] = StageStats{Name: s.Name, Dropped: map[string]Count{}}
		}
	}
	for i, s := range stages {
		if i >= len(out.Stages) {
			break
		}
		o := &out.Stages[i]
		o.In.add(s.In.Docs, s.In.Bytes)
		o.Out.add(s.Out.Docs, s.Out.Bytes)
		for k, c := range s.Dropped {
			d := o.Dropped[k]
			d.add(c.Docs, c.Bytes)
			o.Dropped[k] = d
		}
		for k, n := range s.Counts {
			if o.Counts == nil {
				o.Counts = map[string]int64{}
			}
			o.Counts[k] += n
		}
		o.WallSeconds += s.WallSeconds
		o.CPUSeconds += s.CPUSeconds
	}
}

func mergeColumns(out, t *Stats) {
	for lang, ls := range t.ByLang {
		if out.ByLang == nil {
			out.ByLang = map[string]LangStats{}
		}
		o := out.ByLang[lang]
		o.Kept.add(ls.Kept.Docs, ls.Kept.Bytes)
		o.Rejected.add(ls.Rejected.Docs, ls.Rejected.Bytes)
		o.KeptWords += ls.KeptWords
		out.ByLang[lang] = o
	}
	for k, n := range t.DupClusterSizes {
		if out.DupClusterSizes == nil {
			out.DupClusterSizes = map[string]int64{}
		}
		out.DupClusterSizes[k] += n
	}
	for name, h := range t.Histograms {
		if out.Histograms == nil {
			out.Histograms = map[string]Histogram{}
		}
		o, ok := out.Histograms[name]
		if !ok {
			o = Histogram{Edges: h.Edges, Kept: make([]int64, len(h.Kept)), Rejected: make([]int64, len(h.Rejected))}
		}
		for i := range min(len(o.Kept), len(h.Kept)) {
			o.Kept[i] += h.Kept[i]
		}
		for i := range min(len(o.Rejected), len(h.Rejected)) {
			o.Rejected[i] += h.Rejected[i]
		}
		out.Histograms[name] = o
	}
}
