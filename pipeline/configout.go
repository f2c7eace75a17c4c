package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// ResolvedConfig renders the config with every default filled in, as written
// to the run's config.yaml, and the sha256 that identifies what the output
// depends on: the same YAML with the worker count, memory budgets and output
// directory blanked, since none of them changes a single byte of the shards.
func ResolvedConfig(cfg Config, stageOpts []any) ([]byte, string, error) {
	// The resolved stage list holds the recipe and the overrides already:
	// config.yaml is a standalone config.
	cfg.Recipe, cfg.Overrides = "", nil
	full, err := marshalConfig(cfg, stageOpts)
	if err != nil {
		return nil, "", err
	}
	cfg.Workers, cfg.Output.Dir, cfg.MaxMemory, cfg.Incremental = 0, "", 0, false
	cfg.Train = TrainConfig{} // training reads the shards; it does not change them
	hashed := make([]any, len(stageOpts))
	for i, o := range stageOpts {
		hashed[i] = withoutUnhashed(o)
	}
	content, err := marshalConfig(cfg, hashed)
	if err != nil {
		return nil, "", err
	}
	return full, sha256Hex(content), nil
}

// withoutUnhashed returns a copy of a stage's options (a pointer to a
// struct) with the fields tagged `hash:"-"` zeroed: settings such as a
// memory budget change how a stage runs, never what it writes.
func withoutUnhashed(opts any) any {
	v := reflect.ValueOf(opts)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return opts
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	t := cp.Elem().Type()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("hash") == "-" {
			cp.Elem().Field(i).SetZero()
		}
	}
	return cp.Interface()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func marshalConfig(cfg Config, stageOpts []any) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	v := reflect.ValueOf(cfg)
	for i := 0; i < v.NumField(); i++ {
		name := tagName(v.Type().Field(i))
		var val *yaml.Node
		if name == "stages" {
			val = &yaml.Node{Kind: yaml.SequenceNode}
			for j, s := range cfg.Stages {
				item := &yaml.Node{Kind: yaml.MappingNode}
				opts := &yaml.Node{}
				var o any = map[string]any{}
				if j < len(stageOpts) {
					o = stageOpts[j]
				}
				if err := opts.Encode(o); err != nil {
					return nil, fmt.Errorf("encode options of %s: %w", s.Path, err)
				}
				item.Content = append(item.Content, scalar(s.Name), opts)
				val.Content = append(val.Content, item)
			}
		} else {
			val = &yaml.Node{}
			if err := val.Encode(v.Field(i).Interface()); err != nil {
				return nil, fmt.Errorf("encode %s: %w", name, err)
			}
		}
		doc.Content = append(doc.Content, scalar(name), val)
	}
	return yaml.Marshal(doc)
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// StageDoc is what `winnow config defaults` shows of one registered stage.
type StageDoc struct {
	Name     string
	Doc      string
	Defaults any
}

// DefaultsYAML renders the defaults as a complete, commented config: every
// key with its default and a comment saying what it does, then each
// registered stage with its options, commented out, ready to copy.
func DefaultsYAML(stages []StageDoc) ([]byte, error) {
	var sb strings.Builder
	sb.WriteString("# winnow pipeline config: every option with its default.\n")
	sb.WriteString("# Relative paths are relative to the directory winnow is run from.\n")
	cfg := Defaults()
	v := reflect.ValueOf(cfg)
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if tagName(f) == "stages" {
			continue
		}
		if err := writeDocumented(&sb, tagName(f), f.Tag.Get("doc"), v.Field(i), ""); err != nil {
			return nil, err
		}
	}
	sb.WriteString("# ordered stage list; each entry is a one-key map: stage name -> options.\n")
	sb.WriteString("# The same stage may appear twice with different options.\n")
	sb.WriteString("stages: []\n")
	if len(stages) > 0 {
		sb.WriteString("# Available stages, with their default options:\n")
	}
	for _, s := range stages {
		fmt.Fprintf(&sb, "#\n# %s: %s\n", s.Name, s.Doc)
		var body strings.Builder
		fmt.Fprintf(&body, "  - %s:\n", s.Name)
		if err := writeFields(&body, reflect.ValueOf(s.Defaults).Elem(), "      "); err != nil {
			return nil, err
		}
		for _, line := range strings.Split(strings.TrimRight(body.String(), "\n"), "\n") {
			sb.WriteString("#" + line + "\n")
		}
	}
	return []byte(sb.String()), nil
}

// writeFields writes each field of struct v as a documented key.
func writeFields(sb *strings.Builder, v reflect.Value, indent string) error {
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if name := tagName(f); name != "" && name != "-" {
			if err := writeDocumented(sb, name, f.Tag.Get("doc"), v.Field(i), indent); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeDocumented writes key: value with the doc comment above it,
// descending into structs so each nested key gets its own comment.
func writeDocumented(sb *strings.Builder, key, doc string, v reflect.Value, indent string) error {
	if doc != "" {
		fmt.Fprintf(sb, "%s# %s\n", indent, doc)
	}
	if v.Kind() == reflect.Struct {
		fmt.Fprintf(sb, "%s%s:\n", indent, key)
		return writeFields(sb, v, indent+"  ")
	}
	n := &yaml.Node{}
	if err := n.Encode(v.Interface()); err != nil {
		return fmt.Errorf("encode default of %s: %w", key, err)
	}
	n.Style = yaml.FlowStyle // lists and maps stay on the key's line
	out, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode default of %s: %w", key, err)
	}
	fmt.Fprintf(sb, "%s%s: %s\n", indent, key, strings.TrimRight(string(out), "\n"))
	return nil
}
