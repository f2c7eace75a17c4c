package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"winnow/pipeline"
)

// RunMetrics is what --metrics-file reports about one `winnow run`.
type RunMetrics struct {
	Start, End time.Time
	ExitCode   int
	// Result is the finished run; nil when it did not complete, and then
	// only the outcome metrics are written (no partial counts).
	Result *pipeline.Result
}

// succeeded: the run published a manifest (exit 0, or 5 with quarantined input).
func (m RunMetrics) succeeded() bool {
	return m.ExitCode == ExitOK || m.ExitCode == ExitQuarantined
}

const lastSuccessMetric = "winnow_last_success_timestamp_seconds"

// WriteMetrics writes m to path in the Prometheus text exposition format,
// for node_exporter's textfile collector (--collector.textfile.directory;
// the file must end in .prom). The file is replaced atomically (a temporary
// file in the same directory, renamed), so the collector never reads half
// of it. A failed run keeps the previous file's last-success time, so an
// alert on its age fires however many runs fail in a row.
func WriteMetrics(path string, m RunMetrics) error {
	var e expo
	e.gauge("winnow_run_start_timestamp_seconds", "When the last winnow run started (Unix seconds).", seconds(m.Start))
	e.gauge("winnow_run_duration_seconds", "Wall-clock duration of the last winnow run.", m.End.Sub(m.Start).Seconds())
	e.gauge("winnow_run_exit_code", "Exit code of the last winnow run (0 ok, 1 internal error, 2 config, 3 input/output or disk full, 4 lock held, 5 ok with quarantined input, 6 interrupted).", float64(m.ExitCode))
	e.gauge("winnow_run_success", "1 when the last winnow run published its output (exit code 0 or 5), else 0.", boolValue(m.succeeded()))
	last, ok := previousLastSuccess(path)
	if m.succeeded() {
		last, ok = seconds(m.End), true
	}
	if ok {
		e.gauge(lastSuccessMetric, "When a winnow run last published its output (Unix seconds).", last)
	}
	if m.Result != nil {
		e.runCounts(m.Result)
	}
	if err := pipeline.WriteFileAtomicMode(path, e.buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// runCounts adds what a completed run read, kept and dropped.
func (e *expo) runCounts(res *pipeline.Result) {
	t, st := res.Manifest.Totals, res.Stats
	e.gauge("winnow_run_input_files", "Input files read by the last completed winnow run.", float64(st.Read.Files))
	e.gauge("winnow_run_input_bytes", "Bytes of the input files (as stored, maybe compressed) read by the last completed winnow run.", float64(st.Read.InputBytes))
	e.gauge("winnow_run_input_documents", "Input records of the last completed winnow run: documents read plus records that could not be read; equals the sum of winnow_run_documents.", float64(t.Read))
	e.family("winnow_run_documents", "Input records of the last completed winnow run by outcome: kept (shards/), rejected (rejected/, dropped by a stage), quarantined (unreadable, quarantine/).", "gauge", []sample{
		{labels: [][2]string{{"outcome", "kept"}}, value: float64(t.Kept)},
		{labels: [][2]string{{"outcome", "rejected"}}, value: float64(t.Rejected)},
		{labels: [][2]string{{"outcome", "quarantined"}}, value: float64(t.Quarantined)},
	})
	e.family("winnow_run_dropped_documents", "Documents of the last completed winnow run dropped by a stage, by stage and drop_reason.", "gauge", dropSamples(st.Stages))
	var quar []sample
	for kind, n := range st.Read.Quarantined {
		quar = append(quar, sample{labels: [][2]string{{"kind", kind}}, value: float64(n)})
	}
	sortSamples(quar)
	e.family("winnow_run_quarantined_records", "Input records of the last completed winnow run that could not be read, by kind.", "gauge", quar)
}

// dropSamples sums the drops per (stage, reason): a stage listed twice has
// one series, not two with the same labels.
func dropSamples(stages []pipeline.StageStats) []sample {
	sum := map[[2]string]int64{}
	for _, s := range stages {
		for reason, c := range s.Dropped {
			sum[[2]string{s.Name, reason}] += c.Docs
		}
	}
	var out []sample
	for k, n := range sum {
		out = append(out, sample{labels: [][2]string{{"stage", k[0]}, {"reason", k[1]}}, value: float64(n)})
	}
	sortSamples(out)
	return out
}

// previousLastSuccess reads the last-success time from the file a previous
// run wrote, if any.
func previousLastSuccess(path string) (float64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), lastSuccessMetric+" ")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // value, then maybe a timestamp
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseFloat(f[0], 64)
		return v, err == nil
	}
	return 0, false
}

// expo builds a text-format exposition: each family's # HELP and # TYPE
// once, then its samples.
type expo struct{ buf bytes.Buffer }

type sample struct {
	labels [][2]string // name, value
	value  float64
}

func (e *expo) gauge(name, help string, v float64) {
	e.family(name, help, "gauge", []sample{{value: v}})
}

// family writes nothing for an empty family: an absent series, not a
// header without samples.
func (e *expo) family(name, help, typ string, samples []sample) {
	if len(samples) == 0 {
		return
	}
	fmt.Fprintf(&e.buf, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
	for _, s := range samples {
		e.buf.WriteString(name)
		if len(s.labels) > 0 {
			e.buf.WriteByte('{')
			for i, l := range s.labels {
				if i > 0 {
					e.buf.WriteByte(',')
				}
				fmt.Fprintf(&e.buf, "%s=\"%s\"", l[0], escapeLabel(l[1]))
			}
			e.buf.WriteByte('}')
		}
		e.buf.WriteByte(' ')
		e.buf.WriteString(strconv.FormatFloat(s.value, 'f', -1, 64))
		e.buf.WriteByte('\n')
	}
}

func sortSamples(s []sample) {
	sort.Slice(s, func(i, j int) bool {
		a, b := s[i].labels, s[j].labels
		for k := range min(len(a), len(b)) {
			if a[k][1] != b[k][1] {
				return a[k][1] < b[k][1]
			}
		}
		return len(a) < len(b)
	})
}

// The exposition format escapes \ and newline in HELP text, and also " in
// label values.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
