package report

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// lengthRules maps the length stage's options to its columns.
var lengthRules = map[string][2]string{
	"min_chars": {"length_chars", "min"},
	"max_chars": {"length_chars", "max"},
	"min_lines": {"length_lines", "min"},
	"max_lines": {"length_lines", "max"},
}

// ParseThresholds reads the rule values of a config (config.yaml, parsed
// as generic YAML): a stage's `thresholds: {LANG: {max_X: v, min_X: v}}`
// gives a threshold on column <stage>_X for each distinct value, labelled
// with the languages that use it (null switches a rule off and is left
// out); the length stage's min_chars/max_chars/min_lines (0 = off) give
// thresholds on length_chars and length_lines, labelled "all". The result
// is sorted by column, op and value.
func ParseThresholds(config []byte) ([]Threshold, error) {
	var doc struct {
		Stages []map[string]any `yaml:"stages"`
	}
	if err := yaml.Unmarshal(config, &doc); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	type key struct {
		col, op string
		v       float64
	}
	found := map[key]map[string]bool{}
	add := func(col, op string, v float64, lang string) {
		k := key{col, op, v}
		if found[k] == nil {
			found[k] = map[string]bool{}
		}
		found[k][lang] = true
	}
	for _, entry := range doc.Stages {
		for stage, raw := range entry {
			opts, _ := raw.(map[string]any)
			if stage == "length" {
				for opt, rule := range lengthRules {
					if v, ok := number(opts[opt]); ok && v > 0 {
						add(rule[0], rule[1], v, "all")
					}
				}
			}
			ths, _ := opts["thresholds"].(map[string]any)
			for lang, rawRules := range ths {
				rules, _ := rawRules.(map[string]any)
				for name, rawV := range rules {
					v, ok := number(rawV)
					if !ok {
						continue
					}
					for _, op := range []string{"max", "min"} {
						if sig, ok := strings.CutPrefix(name, op+"_"); ok && sig != "" {
							add(stage+"_"+sig, op, v, lang)
						}
					}
				}
			}
		}
	}
	out := make([]Threshold, 0, len(found))
	for k, langs := range found {
		t := Threshold{Column: k.col, Op: k.op, Value: k.v}
		for l := range langs {
			t.Langs = append(t.Langs, l)
		}
		sort.Strings(t.Langs)
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		return a.Value < b.Value
	})
	return out, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
