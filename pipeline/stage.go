package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Stage is one per-document step: a pure function of a Batch that adds
// columns and marks drops. It does no I/O and must be safe for concurrent
// use by several workers, each with its own Batch.
type Stage interface {
	Name() string
	Process(ctx context.Context, b *Batch) error
}

// StageInfo describes a stage the registry can build.
type StageInfo struct {
	Name string
	Doc  string // one line for `winnow config defaults`
	// Defaults returns a pointer to the options struct holding its default
	// values; its yaml and doc tags document the options.
	Defaults func() any
	// New builds the stage from the options (Defaults' pointer, with the
	// config decoded over it). where ("file:line: stages[2].length") starts
	// every error message, e.g. an out-of-range value.
	New func(opts any, where string) (Stage, error)
}

// Registry maps config names to stage constructors and holds the input
// reader factory. It is built once by the program, not a package global.
type Registry struct {
	stages    map[string]StageInfo
	NewReader FileReaderFactory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{stages: map[string]StageInfo{}}
}

// Register adds a stage; registering a name twice is a programming error.
func (r *Registry) Register(info StageInfo) {
	if _, dup := r.stages[info.Name]; dup {
		panic("pipeline: stage registered twice: " + info.Name)
	}
	r.stages[info.Name] = info
}

// Stage returns the named stage's info.
func (r *Registry) Stage(name string) (StageInfo, bool) {
	info, ok := r.stages[name]
	return info, ok
}

// Names returns the registered stage names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.stages))
	for n := range r.stages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Build constructs the config's stage chain. It also returns each stage's
// resolved options (defaults filled in), for the run's config.yaml.
func (r *Registry) Build(specs []StageSpec) ([]Stage, []any, error) {
	stages := make([]Stage, 0, len(specs))
	resolved := make([]any, 0, len(specs))
	var errs []error
	for _, s := range specs {
		where := fmt.Sprintf("%s:%d: %s", s.File, s.Line, s.Path)
		info, ok := r.stages[s.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown stage %q; known stages: %s", where, s.Name, strings.Join(r.Names(), ", ")))
			continue
		}
		opts := info.Defaults()
		if err := decodeOptions(s, opts); err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := info.New(opts, where)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		stages = append(stages, st)
		resolved = append(resolved, opts)
	}
	return stages, resolved, errors.Join(errs...)
}

// InputChecker is a stage whose options make sense only for some inputs (a
// field that only instruction data has): CheckInput runs before any work,
// so such a mistake is a config error, not a failure mid-run.
type InputChecker interface {
	CheckInput(in InputConfig) error
}

// CheckInput asks every stage that cares whether it can run on in.
func CheckInput(stages []Stage, in InputConfig) error {
	var errs []error
	for _, st := range stages {
		if c, ok := st.(InputChecker); ok {
			if err := c.CheckInput(in); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// decodeOptions decodes a stage's options, then its overrides, over opts.
func decodeOptions(s StageSpec, opts any) error {
	if s.Options != nil {
		if err := decodeStrict(s.Options, opts, s.File, s.Path, nil); err != nil {
			return err
		}
	}
	for _, o := range s.Overrides {
		if err := decodeStrict(o.Node, opts, o.File, "overrides."+s.Name, nil); err != nil {
			return err
		}
	}
	return nil
}
