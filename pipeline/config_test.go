package pipeline

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"unknown key", "input:\n  paths: [a]\n  permz: 3\n", []string{"p.yaml:3:3: input.permz: unknown key", "allowed keys:", "text_field"}},
		{"unknown top key", "ouput:\n  dir: x\n", []string{"p.yaml:1:1: ouput: unknown key"}},
		{"wrong type", "input:\n  batch_docs: many\n", []string{"p.yaml:2:15: input.batch_docs:", "want an integer"}},
		{"bad enum", "input:\n  format: xml\n", []string{"p.yaml:2: input.format: \"xml\" is not one of auto, jsonl"}},
		{"out of range", "output:\n  zstd_level: 40\n", []string{"p.yaml:2: output.zstd_level: 40 is out of range 1..22"}},
		{"negative workers", "workers: -2\n", []string{"p.yaml:1: workers: -2 must be 0"}},
		{"stage not a one-key map", "stages:\n  - {a: 1, b: 2}\n", []string{"p.yaml:2:5: stages[0]: each stage is a one-key map"}},
		{"stages not a list", "stages: {length: {}}\n", []string{"p.yaml:1:9: stages: want a list"}},
		{"duplicate key", "input:\n  format: json\n  format: jsonl\n", []string{"p.yaml:3:3: input.format: key given twice"}},
		{"section not a map", "input: 3\n", []string{"p.yaml:1:8: input: want a map of keys"}},
		{"two errors at once", "input:\n  a: 1\n  b: 2\n", []string{"input.a: unknown key", "input.b: unknown key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml), "p.yaml")
			if err == nil {
				t.Fatalf("no error for %q", tc.yaml)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseConfigValues(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
input:
  paths: [corpus/, more.jsonl]
  format: jsonl
output:
  dir: o/
  keep_rejected: false
workers: 3
stages:
  - normalize
  - length: {min_chars: 5}
  - langid:
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Input.Paths, []string{"corpus/", "more.jsonl"}) || cfg.Input.Format != "jsonl" {
		t.Errorf("input = %+v", cfg.Input)
	}
	if cfg.Input.TextField != "text" || cfg.Input.BatchBytes != 4<<20 {
		t.Errorf("defaults lost: %+v", cfg.Input)
	}
	if cfg.Output.Dir != "o/" || cfg.Output.KeepRejected || cfg.Workers != 3 {
		t.Errorf("output/workers = %+v %d", cfg.Output, cfg.Workers)
	}
	var names []string
	for _, s := range cfg.Stages {
		names = append(names, s.Name)
	}
	if !reflect.DeepEqual(names, []string{"normalize", "length", "langid"}) {
		t.Errorf("stages = %v", names)
	}
	if cfg.Stages[1].Options == nil || cfg.Stages[0].Options != nil || cfg.Stages[2].Options != nil {
		t.Errorf("stage options: %+v", cfg.Stages)
	}
	if cfg.Stages[1].Path != "stages[1].length" || cfg.Stages[1].Line != 11 {
		t.Errorf("stage position: %s line %d", cfg.Stages[1].Path, cfg.Stages[1].Line)
	}
}

func TestEmptyConfigIsDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Defaults()) {
		t.Errorf("empty config = %+v, want defaults", cfg)
	}
}

// The printed defaults are a real config: decoding them gives the defaults.
func TestDefaultsYAMLRoundTrip(t *testing.T) {
	type opts struct {
		MinChars int64    `yaml:"min_chars" doc:"fewest characters"`
		Keep     []string `yaml:"keep" doc:"languages"`
	}
	out, err := DefaultsYAML([]StageDoc{{Name: "demo", Doc: "a demo stage", Defaults: &opts{MinChars: 3, Keep: []string{"zh", "en"}}}})
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"# target text bytes per batch\n  batch_bytes: 4194304\n", "stages: []", "#  - demo:\n", "#      # fewest characters\n#      min_chars: 3\n", "keep: [zh, en]"} {
		if !strings.Contains(text, want) {
			t.Errorf("defaults YAML lacks %q:\n%s", want, text)
		}
	}
	cfg, err := ParseConfig(out, "defaults.yaml")
	if err != nil {
		t.Fatalf("printed defaults do not parse: %v\n%s", err, text)
	}
	if !reflect.DeepEqual(cfg, Defaults()) {
		t.Errorf("printed defaults decode to %+v", cfg)
	}
	// The commented stage entry, uncommented, is a valid stage list.
	var stageLines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "#  ") {
			stageLines = append(stageLines, strings.TrimPrefix(l, "#"))
		}
	}
	cfg, err = ParseConfig([]byte("stages:\n"+strings.Join(stageLines, "\n")+"\n"), "stages.yaml")
	if err != nil || len(cfg.Stages) != 1 || cfg.Stages[0].Name != "demo" {
		t.Fatalf("uncommented stage catalogue: %v %+v", err, cfg.Stages)
	}
	var got opts
	if err := decodeStrict(cfg.Stages[0].Options, &got, "stages.yaml", "stages[0].demo", nil); err != nil || got.MinChars != 3 || len(got.Keep) != 2 {
		t.Errorf("stage options decode to %+v, %v", got, err)
	}
}

func TestRecipeAndOverrides(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := LoadConfig(write("a.yaml", "recipe: zh-web\ninput:\n  paths: [x/]\noverrides:\n  minhash_dedup: {threshold: 0.8}\n"))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := RecipeText("zh-web")
	if cfg.Input.Paths[0] != "x/" || len(cfg.Stages) == 0 || cfg.Stages[0].File != "recipe zh-web" || !strings.Contains(string(base), "minhash_dedup") {
		t.Fatalf("recipe not the base: %+v", cfg)
	}
	n := 0
	for _, s := range cfg.Stages {
		if s.Name == "minhash_dedup" {
			n++
			if len(s.Overrides) != 1 || s.Overrides[0].Node.Content[1].Value != "0.8" {
				t.Errorf("override not attached: %+v", s.Overrides)
			}
		} else if len(s.Overrides) != 0 {
			t.Errorf("%s got an override", s.Name)
		}
	}
	if n != 1 {
		t.Errorf("%d minhash_dedup stages in zh-web", n)
	}
	// A stages list replaces the recipe's.
	cfg, err = LoadConfig(write("b.yaml", "recipe: zh-web\nstages:\n  - drop_short: {}\n"))
	if err != nil || len(cfg.Stages) != 1 || cfg.Stages[0].File != filepath.Join(dir, "b.yaml") {
		t.Errorf("stages did not replace the recipe's: %+v, %v", cfg.Stages, err)
	}
	for _, c := range []struct{ text, want string }{
		{"recipe: nope\n", `b2.yaml:1: recipe: unknown recipe "nope"; recipes: `},
		{"stages:\n  - drop_short: {}\noverrides:\n  length: {min: 3}\n", "b2.yaml:3: overrides.length: no stage length in the stage list (drop_short)"},
	} {
		_, err := LoadConfig(write("b2.yaml", c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.text, err, c.want)
		}
	}
	// An override is decoded strictly, with the overriding file's line.
	cfg, err = LoadConfig(write("c.yaml", "stages:\n  - drop_short: {min: 5}\noverrides:\n  drop_short: {mni: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = testRegistry().Build(cfg.Stages)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:4:") || !strings.Contains(err.Error(), "overrides.drop_short.mni: unknown key") {
		t.Errorf("override error = %v", err)
	}
}
