package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadConfig reads and strictly decodes a config file over the defaults.
// Every error names file:line:key and what is allowed.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes YAML config bytes; file is used in error messages.
func ParseConfig(data []byte, file string) (Config, error) {
	cfg := Defaults()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, nil // an empty file is the defaults
		}
		return cfg, fmt.Errorf("%s: %w", file, err)
	}
	if name, line := recipeOf(&doc); name != "" {
		base, err := recipeConfig(name, file, line)
		if err != nil {
			return cfg, err
		}
		cfg = base
	}
	lines := map[string]int{}
	if err := decodeStrict(&doc, &cfg, file, "", lines); err != nil {
		return cfg, err
	}
	if err := applyOverrides(&cfg, file, lines); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, locate(err, file, lines)
	}
	return cfg, nil
}

// recipeOf returns the value and line of a top-level recipe key.
func recipeOf(doc *yaml.Node) (string, int) {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "", 0
	}
	m := doc.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		if m[i].Value == "recipe" && m[i+1].Kind == yaml.ScalarNode {
			return m[i+1].Value, m[i].Line
		}
	}
	return "", 0
}

func recipeConfig(name, file string, line int) (Config, error) {
	text, ok := RecipeText(name)
	if !ok {
		return Config{}, fmt.Errorf("%s:%d: recipe: unknown recipe %q; recipes: %s", file, line, name, strings.Join(Recipes(), ", "))
	}
	cfg, err := ParseConfig(text, "recipe "+name)
	if err != nil {
		return cfg, fmt.Errorf("built-in %w", err)
	}
	return cfg, nil
}

// applyOverrides attaches each override to the stages of that name.
func applyOverrides(cfg *Config, file string, lines map[string]int) error {
	var errs []error
	names := make([]string, 0, len(cfg.Overrides))
	for n := range cfg.Overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		node := cfg.Overrides[name]
		found := false
		for i := range cfg.Stages {
			if cfg.Stages[i].Name == name {
				cfg.Stages[i].Overrides = append(cfg.Stages[i].Overrides, StageOverride{Node: &node, File: file})
				found = true
			}
		}
		if !found {
			var have []string
			for _, s := range cfg.Stages {
				have = append(have, s.Name)
			}
			errs = append(errs, fmt.Errorf("%s:%d: overrides.%s: no stage %s in the stage list (%s)", file, lines["overrides"], name, name, strings.Join(have, ", ")))
		}
	}
	cfg.Overrides = nil
	return errors.Join(errs...)
}

// fieldError is a validation failure of one key, before it is given a line.
type fieldError struct {
	Key string
	Msg string
}

func (e fieldError) Error() string { return e.Key + ": " + e.Msg }

// locate prefixes each fieldError in err with file:line of its key.
func locate(err error, file string, lines map[string]int) error {
	var errs []error
	for _, e := range unjoin(err) {
		var fe fieldError
		if errors.As(e, &fe) {
			if l, ok := lines[fe.Key]; ok {
				errs = append(errs, fmt.Errorf("%s:%d: %w", file, l, fe))
				continue
			}
			errs = append(errs, fmt.Errorf("%s: %w", file, fe))
			continue
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

var (
	stageSpecsType = reflect.TypeFor[[]StageSpec]()
	yamlNodeType   = reflect.TypeFor[yaml.Node]()
)

// decodeStrict decodes node into out (a pointer), rejecting unknown keys and
// wrong types with file:line:col and the dotted key path. lines, when not nil,
// receives the line of every key path seen.
func decodeStrict(node *yaml.Node, out any, file, path string, lines map[string]int) error {
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return nil
		}
		node = node.Content[0]
	}
	return decodeValue(node, reflect.ValueOf(out).Elem(), file, path, lines)
}

func decodeValue(node *yaml.Node, v reflect.Value, file, path string, lines map[string]int) error {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil // keep the default
	}
	if node.Kind == yaml.SequenceNode && len(node.Content) == 0 && v.Kind() == reflect.Slice {
		v.SetZero() // "[]" and an absent list mean the same
		return nil
	}
	switch {
	case v.Type() == yamlNodeType:
		v.Set(reflect.ValueOf(*node)) // decoded later, by the stage it is for
		return nil
	case v.Type() == stageSpecsType:
		return decodeStages(node, v, file, path, lines)
	case v.Kind() == reflect.Struct:
		return decodeStruct(node, v, file, path, lines)
	case v.Kind() == reflect.Map && v.Type().Elem().Kind() == reflect.Struct:
		return decodeStructMap(node, v, file, path, lines)
	}
	if err := node.Decode(v.Addr().Interface()); err != nil {
		return fmt.Errorf("%s:%d:%d: %s: %s", file, node.Line, node.Column, path, typeErrorText(err, v.Type()))
	}
	return nil
}

// typeErrorText turns yaml.v3's "line 3: cannot unmarshal !!str `x` into int"
// into a sentence without the duplicate line number.
func typeErrorText(err error, want reflect.Type) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "cannot unmarshal"); i >= 0 {
		msg = msg[i:]
	}
	return fmt.Sprintf("%s (want %s)", msg, typeName(want))
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "a list of " + typeName(t.Elem())
	case reflect.Map:
		return "a map of " + typeName(t.Elem())
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

func decodeStruct(node *yaml.Node, v reflect.Value, file, path string, lines map[string]int) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d:%d: %s: want a map of keys (%s), got %s", file, node.Line, node.Column, orTop(path), strings.Join(yamlKeys(v.Type()), ", "), nodeKind(node))
	}
	var errs []error
	seen := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		key := join(path, k.Value)
		if seen[k.Value] {
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: key given twice", file, k.Line, k.Column, key))
			continue
		}
		seen[k.Value] = true
		fi, ok := fieldByTag(v.Type(), k.Value)
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: unknown key; allowed keys: %s", file, k.Line, k.Column, key, strings.Join(yamlKeys(v.Type()), ", ")))
			continue
		}
		if lines != nil {
			lines[key] = k.Line
		}
		if err := decodeValue(val, v.Field(fi), file, key, lines); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func decodeStructMap(node *yaml.Node, v reflect.Value, file, path string, lines map[string]int) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d:%d: %s: want a map, got %s", file, node.Line, node.Column, path, nodeKind(node))
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	var errs []error
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		key := join(path, k.Value)
		if lines != nil {
			lines[key] = k.Line
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(reflect.ValueOf(k.Value)); old.IsValid() {
			elem.Set(old)
		}
		if err := decodeValue(val, elem, file, key, lines); err != nil {
			errs = append(errs, err)
			continue
		}
		v.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	return errors.Join(errs...)
}

func decodeStages(node *yaml.Node, v reflect.Value, file, path string, lines map[string]int) error {
	if node.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s:%d:%d: %s: want a list of one-key maps (- name: {options}), got %s", file, node.Line, node.Column, path, nodeKind(node))
	}
	var specs []StageSpec
	var errs []error
	for i, item := range node.Content {
		at := fmt.Sprintf("%s[%d]", path, i)
		var spec StageSpec
		switch {
		case item.Kind == yaml.ScalarNode:
			spec = StageSpec{Name: item.Value} // "- normalize" with no options
		case item.Kind == yaml.MappingNode && len(item.Content) == 2:
			spec = StageSpec{Name: item.Content[0].Value, Options: item.Content[1]}
			if spec.Options.Kind == yaml.ScalarNode && spec.Options.Tag == "!!null" {
				spec.Options = nil
			}
		default:
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: each stage is a one-key map (- name: {options}), got %s with %d keys", file, item.Line, item.Column, at, nodeKind(item), len(item.Content)/2))
			continue
		}
		spec.Path = at + "." + spec.Name
		spec.File = file
		spec.Line = item.Line
		if lines != nil {
			lines[spec.Path] = item.Line
		}
		specs = append(specs, spec)
	}
	v.Set(reflect.ValueOf(specs))
	return errors.Join(errs...)
}

func fieldByTag(t reflect.Type, key string) (int, bool) {
	for i := 0; i < t.NumField(); i++ {
		if tagName(t.Field(i)) == key {
			return i, true
		}
	}
	return 0, false
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if n := tagName(t.Field(i)); n != "" && n != "-" {
			keys = append(keys, n)
		}
	}
	sort.Strings(keys)
	return keys
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}
