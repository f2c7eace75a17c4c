package trainer

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSamplingCopies(t *testing.T) {
	doc := Doc{ID: "a", Lang: "zh", Source: "web/news/1.html", Quality: 0.5, HasQuality: true, DupClusterSize: 3}
	cases := []struct {
		name string
		s    Sampling
		d    Doc
		want int
	}{
		{"default: one copy", Sampling{}, doc, 1},
		{"language weight 2", Sampling{LangWeights: map[string]float64{"zh": 2}}, doc, 2},
		{"other languages by *", Sampling{LangWeights: map[string]float64{"en": 3, "*": 0}}, doc, 0},
		{"longest source prefix", Sampling{SourceWeights: map[string]float64{"web/": 0, "web/news/": 3}}, doc, 3},
		{"dup cluster up-sampling", Sampling{DupUpsample: true}, doc, 3},
		{"capped", Sampling{DupUpsample: true, LangWeights: map[string]float64{"zh": 10}}, doc, 4},
		{"own cap", Sampling{DupUpsample: true, MaxRepeat: 2}, doc, 2},
		{"quality squared, then dups: 0.25*3 rounds by the id", Sampling{QualityPower: 2, DupUpsample: true}, doc, 1},
		{"no quality score counts as 1", Sampling{QualityPower: 2}, Doc{ID: "b"}, 1},
	}
	for _, c := range cases {
		if got := c.s.Copies(c.d); got != c.want {
			t.Errorf("%s: %d copies, want %d", c.name, got, c.want)
		}
	}
}

// A fractional weight gives floor(w) or floor(w)+1 copies, with the extra
// copy drawn by the id: the mean over many documents is w, and the same
// document always gets the same number.
func TestSamplingFractionalMean(t *testing.T) {
	s := Sampling{LangWeights: map[string]float64{"*": 1.3}}
	total := 0
	for i := 0; i < 20000; i++ {
		d := Doc{ID: fmt.Sprintf("doc-%d", i)}
		n := s.Copies(d)
		if n != 1 && n != 2 || n != s.Copies(d) {
			t.Fatalf("doc %d: %d copies, not stable or out of range", i, n)
		}
		total += n
	}
	if mean := float64(total) / 20000; math.Abs(mean-1.3) > 0.02 {
		t.Errorf("mean copies %.3f, want 1.3", mean)
	}
}

func TestValSplit(t *testing.T) {
	val := 0
	for i := 0; i < 20000; i++ {
		if isVal(Doc{ID: fmt.Sprintf("id-%d", i)}, 0.1) {
			val++
		}
	}
	if val < 1800 || val > 2200 {
		t.Errorf("%d of 20000 held out at fraction 0.1", val)
	}
	// The split is a function of the id alone, fixed across releases: a
	// change would move documents between train and validation.
	if got := fmt.Sprintf("%.6f", unitHash("val", "udhr-zh-hans-2")); got != "0.650656" {
		t.Errorf("unitHash(val, udhr-zh-hans-2) = %s, want 0.650656 (the hash changed)", got)
	}
}

func TestParseWeights(t *testing.T) {
	m, err := ParseWeights(" zh=1, en=0.5,*=0")
	if err != nil || len(m) != 3 || m["en"] != 0.5 || m["*"] != 0 {
		t.Errorf("got %v, %v", m, err)
	}
	for _, bad := range []string{"zh", "=1", "zh=-1", "zh=x", "zh=Inf"} {
		if _, err := ParseWeights(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int64{"2M": 2_000_000, "500k": 500_000, "1.5G": 1_500_000_000, "123": 123} {
		got, err := ParseCount(in)
		if err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, _ := ParseCount(FormatCount(got)); back != got {
			t.Errorf("FormatCount(%d) = %q does not read back", got, FormatCount(got))
		}
	}
	for _, bad := range []string{"", "M", "-1k", "two"} {
		if _, err := ParseCount(bad); err == nil {
			t.Errorf("ParseCount(%q): no error", bad)
		}
	}
}

func TestJobDefaultsAndValidate(t *testing.T) {
	j := Job{}.WithDefaults(0)
	if j.Preset != "tiny" || j.SeqLen != 128 || j.Steps != 200 || j.Tokenizer != "byte" || j.Warmup != 20 || j.Validate() != nil {
		t.Errorf("tiny defaults: %+v (%v)", j, j.Validate())
	}
	if j := (Job{Preset: "small"}).WithDefaults(2_000_000); j.Steps != 245 { // ceil(2M / (512*16))
		t.Errorf("a 2M token budget on small: %d steps, want 245", j.Steps)
	}
	if j := (Job{Model: "m", LoRA: true}).WithDefaults(0); j.Tokenizer != "model" || j.LR != 2e-4 || j.LoRADropout != 0.05 {
		t.Errorf("LoRA defaults: %+v", j)
	}
	bad := []struct {
		j    Job
		want string
	}{
		{Job{Preset: "huge"}, "preset"},
		{Job{Tokenizer: "bpe"}, "tokenizer"},
		{Job{LoRA: true}, "--lora"},
		{Job{Model: "/nonexistent"}, "not a Hugging Face model directory"},
		{Job{Arch: "gpt"}, "arch"},
		{Job{Steps: 10, Warmup: 20}, "warmup"},
		{Job{LR: 2}, "lr"},
	}
	for _, c := range bad {
		err := c.j.WithDefaults(0).Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error about %s", c.j, err, c.want)
		}
	}
}

// rewind keeps the events up to the checkpoint a resumed worker starts
// from, and every event without a step.
func TestMetricsRewind(t *testing.T) {
	dir := t.TempDir()
	m, err := openMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{`{"event":"ready"}`, `{"event":"eval","step":0}`, `{"event":"step","step":1}`,
		`{"event":"step","step":2}`, `{"event":"checkpoint","step":2}`, `{"event":"step","step":3}`} {
		m.append([]byte(l))
	}
	if err := m.rewind(2); err != nil {
		t.Fatal(err)
	}
	m.append([]byte(`{"event":"step","step":3}`))
	m.close()
	events, err := ReadMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s%d", e.Event, e.Step))
	}
	if want := []string{"ready0", "eval0", "step1", "step2", "checkpoint2", "step3"}; !slices.Equal(got, want) {
		t.Errorf("after rewind(2): %v, want %v", got, want)
	}
}

func TestCandidates(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	if got := Candidates("/opt/py", env("/env/py")); !slices.Equal(got, []string{"/opt/py"}) {
		t.Errorf("explicit: %v", got)
	}
	if got := Candidates("", env("/env/py")); !slices.Equal(got, []string{"/env/py", "python3", "/usr/bin/python3"}) {
		t.Errorf("from the environment: %v", got)
	}
	if got := Candidates("", env("")); !slices.Equal(got, []string{"python3", "/usr/bin/python3"}) {
		t.Errorf("default: %v", got)
	}
}

func TestWorkerEnv(t *testing.T) {
	env := workerEnv([]string{"PATH=/bin", "OPENBLAS_NUM_THREADS=4"})
	if !slices.Contains(env, "OPENBLAS_NUM_THREADS=4") || slices.Contains(env, "OPENBLAS_NUM_THREADS=1") {
		t.Errorf("the caller's OPENBLAS_NUM_THREADS was overridden: %v", env)
	}
	if !slices.Contains(workerEnv(nil), "OPENBLAS_NUM_THREADS=1") || !slices.Contains(env, "HF_HUB_OFFLINE=1") {
		t.Errorf("defaults missing: %v", env)
	}
}

// The embedded worker is the file in worker/: go:embed picked the right one.
func TestEmbeddedWorker(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("worker", "worker.py"))
	if err != nil || string(data) != string(workerPy) {
		t.Errorf("embedded worker differs from worker/worker.py (%v)", err)
	}
}

// A job that needs a package the interpreter lacks fails before any work,
// naming the package and the flag that needs it.
func TestInterpreterSupports(t *testing.T) {
	full := Interpreter{Path: "py", NumPy: "1", SentencePiece: "1", Transformers: "1", PEFT: "1"}
	bare := Interpreter{Path: "py", NumPy: "1"}
	cases := []struct {
		in   Interpreter
		j    Job
		want string // "" for no error
	}{
		{full, Job{Tokenizer: "sentencepiece", Model: "m", LoRA: true, Arch: "llama"}, ""},
		{bare, Job{Tokenizer: "byte", Arch: "auto"}, ""},
		{bare, Job{Tokenizer: "sentencepiece"}, "--tokenizer sentencepiece needs the Python package sentencepiece"},
		{bare, Job{Model: "m"}, "--model needs the Python package transformers"},
		{bare, Job{Arch: "llama"}, "--arch llama needs the Python package transformers"},
		{Interpreter{Transformers: "1", NumPy: "1"}, Job{Model: "m", LoRA: true}, "--lora needs the Python package peft"},
		{Interpreter{}, Job{}, "needs the Python package numpy"},
	}
	for _, c := range cases {
		err := c.in.supports(c.j)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || KindOf(err) != KindDependency) {
			t.Errorf("%+v with %+v: got %v, want %q", c.j, c.in, err, c.want)
		}
	}
}
