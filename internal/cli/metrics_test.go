package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// parseMetrics reads a metrics file with Prometheus's own text parser (the
// one node_exporter's textfile collector uses), which rejects a sample
// before its # TYPE, a family declared twice, bad escapes and bad names.
func parseMetrics(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("%s does not parse: %v\n%s", path, err, data)
	}
	for name, fam := range fams {
		if fam.GetHelp() == "" || fam.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s: help %q, type %v; want a help text and gauge", name, fam.GetHelp(), fam.GetType())
		}
	}
	return fams
}

// value is the gauge of fam whose labels are exactly labels ("name=value").
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("no %s", name)
	}
	for _, m := range fam.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		if strings.Join(got, ",") == strings.Join(labels, ",") {
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s{%s}", name, strings.Join(labels, ","))
	return 0
}

func sum(fams map[string]*dto.MetricFamily, name string) float64 {
	var s float64
	for _, m := range fams[name].GetMetric() {
		s += m.GetGauge().GetValue()
	}
	return s
}

func fakeResult() *pipeline.Result {
	st := &pipeline.Stats{}
	st.Read.Files, st.Read.InputBytes = 3, 12345
	st.Read.Quarantined = map[string]int64{pipeline.BadMalformed: 2, pipeline.BadTruncated: 1}
	// A stage listed twice, and a reason that needs every escape.
	st.Stages = []pipeline.StageStats{
		{Name: "length", Dropped: map[string]pipeline.Count{"length.min_chars<30": {Docs: 4}}},
		{Name: "odd", Dropped: map[string]pipeline.Count{"say \"hi\"\\n\nnext": {Docs: 1}}},
		{Name: "length", Dropped: map[string]pipeline.Count{"length.min_chars<30": {Docs: 2}}},
	}
	return &pipeline.Result{Stats: st, Manifest: &pipeline.Manifest{Totals: pipeline.Totals{Read: 20, Kept: 10, Rejected: 7, Quarantined: 3}}}
}

// A sequence of runs writing one file: the outcome metrics always, the
// counts only for a completed run, and the last success carried over
// exactly through failed runs.
func TestWriteMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "textfile", "winnow.prom")
	t0 := time.Date(2026, 11, 29, 2, 0, 0, 123456789, time.UTC)
	steps := []struct {
		code        int
		result      *pipeline.Result
		lastSuccess time.Time // zero: no such metric
	}{
		{ExitIO, nil, time.Time{}},
		{ExitQuarantined, fakeResult(), t0.Add(24*time.Hour + time.Minute)},
		{ExitInterrupted, nil, t0.Add(24*time.Hour + time.Minute)},
		{ExitLocked, nil, t0.Add(24*time.Hour + time.Minute)},
		{ExitOK, fakeResult(), t0.Add(4*24*time.Hour + time.Minute)},
	}
	for i, s := range steps { // one run a day
		start := t0.Add(time.Duration(i) * 24 * time.Hour)
		m := RunMetrics{Start: start, End: start.Add(time.Minute), ExitCode: s.code, Result: s.result}
		if err := WriteMetrics(path, m); err != nil {
			t.Fatal(err)
		}
		fams := parseMetrics(t, path)
		if got := value(t, fams, "winnow_run_exit_code"); got != float64(s.code) {
			t.Errorf("step %d: exit code %v, want %d", i, got, s.code)
		}
		if got, want := value(t, fams, "winnow_run_success"), boolValue(s.code == ExitOK || s.code == ExitQuarantined); got != want {
			t.Errorf("step %d: success %v, want %v", i, got, want)
		}
		if got := value(t, fams, "winnow_run_start_timestamp_seconds"); got != seconds(start) {
			t.Errorf("step %d: start %v, want %v", i, got, seconds(start))
		}
		if got := value(t, fams, "winnow_run_duration_seconds"); got != 60 {
			t.Errorf("step %d: duration %v", i, got)
		}
		_, has := fams[lastSuccessMetric]
		if s.lastSuccess.IsZero() != !has || has && value(t, fams, lastSuccessMetric) != seconds(s.lastSuccess) {
			t.Errorf("step %d: last success present %v (%v), want %v", i, has, fams[lastSuccessMetric], s.lastSuccess)
		}
		if _, has := fams["winnow_run_documents"]; has != (s.result != nil) {
			t.Errorf("step %d: document counts present = %v for a run with result %v", i, has, s.result != nil)
		}
		if s.result == nil {
			continue
		}
		if sum(fams, "winnow_run_documents") != value(t, fams, "winnow_run_input_documents") {
			t.Errorf("step %d: outcomes do not add up to the input", i)
		}
		if got := value(t, fams, "winnow_run_dropped_documents", "stage=length", "reason=length.min_chars<30"); got != 6 {
			t.Errorf("a stage listed twice: %v dropped, want 6 in one series", got)
		}
		value(t, fams, "winnow_run_dropped_documents", "stage=odd", "reason=say \"hi\"\\n\nnext")
		if got := value(t, fams, "winnow_run_quarantined_records", "kind=truncated"); got != 1 {
			t.Errorf("quarantined truncated = %v", got)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("metrics file mode %v (%v), want 0644 so node_exporter can read it", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the textfile directory holds %v, want only winnow.prom", entries)
	}
}

// A real run's metrics agree with its manifest and stats.json; a refused
// run after it (lock held) keeps its last-success time.
func TestRunMetricsFile(t *testing.T) {
	t.Chdir(testenv.RepoRoot(t))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "p.yaml")
	os.WriteFile(cfg, []byte("input: {paths: [fixtures/broken]}\nstages:\n  - length: {min_chars: 30}\n"), 0o644)
	out, prom := filepath.Join(dir, "out"), filepath.Join(dir, "winnow.prom")
	flags := RunFlags{ConfigPath: cfg, Output: out, Workers: 2, MaxMemory: -1, LogFormat: "text", LogLevel: "warn", MetricsFile: prom}
	if code := runQuiet(t, flags); code != ExitQuarantined {
		t.Fatalf("exit code %d, want %d", code, ExitQuarantined)
	}
	m, err := pipeline.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	var st pipeline.Stats
	data, _ := os.ReadFile(filepath.Join(out, "stats.json"))
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	fams := parseMetrics(t, prom)
	tot := m.Totals
	for _, c := range []struct {
		got  float64
		want int64
		what string
	}{
		{value(t, fams, "winnow_run_input_documents"), tot.Read, "input documents"},
		{value(t, fams, "winnow_run_documents", "outcome=kept"), tot.Kept, "kept"},
		{value(t, fams, "winnow_run_documents", "outcome=rejected"), tot.Rejected, "rejected"},
		{value(t, fams, "winnow_run_documents", "outcome=quarantined"), tot.Quarantined, "quarantined"},
		{sum(fams, "winnow_run_dropped_documents"), tot.Rejected, "dropped by stage and reason"},
		{sum(fams, "winnow_run_quarantined_records"), tot.Quarantined, "quarantined by kind"},
		{value(t, fams, "winnow_run_input_bytes"), st.Read.InputBytes, "input bytes"},
		{value(t, fams, "winnow_run_input_files"), int64(len(m.Inputs)), "input files"},
		{value(t, fams, "winnow_run_exit_code"), ExitQuarantined, "exit code"},
	} {
		if c.got != float64(c.want) {
			t.Errorf("%s: metrics %v, run %d", c.what, c.got, c.want)
		}
	}
	if tot.Rejected == 0 || tot.Quarantined == 0 {
		t.Fatalf("the run should reject and quarantine something: %+v", tot)
	}
	last := value(t, fams, lastSuccessMetric)
	if end := seconds(m.End); math.Abs(last-end) > 60 {
		t.Errorf("last success %v, manifest end %v", last, end)
	}

	lock, err := pipeline.AcquireLock(out)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if code := runQuiet(t, flags); code != ExitLocked {
		t.Fatalf("locked: exit code %d, want %d", code, ExitLocked)
	}
	fams = parseMetrics(t, prom)
	if value(t, fams, "winnow_run_exit_code") != ExitLocked || value(t, fams, "winnow_run_success") != 0 || value(t, fams, lastSuccessMetric) != last {
		t.Errorf("after a refused run: exit %v success %v last success %v (want %d, 0, %v)", value(t, fams, "winnow_run_exit_code"),
			value(t, fams, "winnow_run_success"), value(t, fams, lastSuccessMetric), ExitLocked, last)
	}
}

// runQuiet runs in-process and returns the exit code, logging stderr.
func runQuiet(t *testing.T, f RunFlags) int {
	t.Helper()
	code, stderr := runCapture(t, context.Background(), f)
	t.Logf("stderr:\n%s", stderr)
	return code
}

func runCapture(t *testing.T, ctx context.Context, f RunFlags) (int, []byte) {
	t.Helper()
	errf, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	code := Run(ctx, f, errf)
	errf.Close()
	data, _ := os.ReadFile(errf.Name())
	return code, data
}

// With --log-format json every line on stderr is a JSON object with time,
// level and msg, whatever the outcome: cron mail and log shippers parse it.
func TestJSONLogLines(t *testing.T) {
	t.Chdir(testenv.RepoRoot(t))
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("input: {nosuchkey: 1}\n"), 0o644)
	locked := filepath.Join(dir, "locked")
	lock, err := pipeline.AcquireLock(locked)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	base := RunFlags{Inputs: []string{"fixtures/broken"}, Workers: 2, MaxMemory: -1, LogFormat: "json", LogLevel: "info"}
	tests := []struct {
		name   string
		ctx    context.Context
		edit   func(f *RunFlags)
		code   int
		levels []string // levels that must appear
	}{
		{"quarantined", context.Background(), func(f *RunFlags) { f.Output = filepath.Join(dir, "out1") }, ExitQuarantined, []string{"INFO", "WARN"}},
		{"config error", context.Background(), func(f *RunFlags) { f.ConfigPath = badCfg; f.Output = filepath.Join(dir, "out2") }, ExitConfig, []string{"ERROR"}},
		{"lock held", context.Background(), func(f *RunFlags) { f.Output = locked }, ExitLocked, []string{"ERROR"}},
		{"interrupted", cancelled, func(f *RunFlags) { f.Output = filepath.Join(dir, "out3") }, ExitInterrupted, []string{"WARN"}},
		{"missing input", context.Background(), func(f *RunFlags) { f.Inputs = []string{"nope/"}; f.Output = filepath.Join(dir, "out4") }, ExitIO, []string{"ERROR"}},
		{"metrics file unwritable", context.Background(), func(f *RunFlags) {
			f.Output, f.MetricsFile = filepath.Join(dir, "out5"), filepath.Join(badCfg, "winnow.prom")
		}, ExitQuarantined, []string{"INFO", "ERROR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base
			f.MetricsFile = filepath.Join(dir, tt.name+".prom")
			tt.edit(&f)
			code, stderr := runCapture(t, tt.ctx, f)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			seen := map[string]bool{}
			sc := bufio.NewScanner(bytes.NewReader(stderr))
			for sc.Scan() {
				var rec map[string]any
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Errorf("not a JSON line: %q", sc.Text())
					continue
				}
				for _, k := range []string{"time", "level", "msg"} {
					if _, ok := rec[k]; !ok {
						t.Errorf("line without %s: %s", k, sc.Text())
					}
				}
				level, _ := rec["level"].(string)
				seen[level] = true
			}
			for _, l := range tt.levels {
				if !seen[l] {
					t.Errorf("no %s record in:\n%s", l, stderr)
				}
			}
		})
	}
}
