package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"winnow/pipeline"
)

// Validate runs exactly the checks `winnow run` runs before any work: strict
// decoding, ranges, stage options, reader settings and input paths.
func Validate(w io.Writer, f RunFlags) error {
	cfg, err := LoadConfig(f)
	if err != nil {
		return err
	}
	reg := NewRegistry()
	stages, _, err := reg.Build(cfg.Stages)
	if err == nil {
		err = pipeline.CheckInput(stages, cfg.Input)
	}
	if err != nil {
		return err
	}
	if _, err := reg.NewReader(cfg.Input); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	files, err := pipeline.ListInputs(cfg.Input, cfg.Output.Dir)
	if err != nil {
		return err
	}
	name := f.ConfigPath
	if name == "" {
		name = "(defaults)"
	}
	fmt.Fprintf(w, "%s: ok: %d stages, %d input files, output %s\n", name, len(stages), len(files), cfg.Output.Dir)
	return nil
}

// PrintDefaults writes the complete commented default config.
func PrintDefaults(w io.Writer) error {
	reg := NewRegistry()
	var docs []pipeline.StageDoc
	for _, n := range reg.Names() {
		info, _ := reg.Stage(n)
		docs = append(docs, pipeline.StageDoc{Name: n, Doc: info.Doc, Defaults: info.Defaults()})
	}
	out, err := pipeline.DefaultsYAML(docs)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// PrintRecipe writes a built-in recipe's YAML, comments included.
func PrintRecipe(w io.Writer, name string) error {
	text, ok := pipeline.RecipeText(name)
	if !ok {
		return fmt.Errorf("unknown recipe %q; recipes: %s", name, strings.Join(pipeline.Recipes(), ", "))
	}
	_, err := w.Write(text)
	return err
}

// ExitCodeForConfigError maps a validate failure to an exit code: a missing
// input path is an I/O problem, the rest are config problems.
func ExitCodeForConfigError(err error) int {
	if errors.Is(err, fs.ErrNotExist) {
		return ExitIO
	}
	return ExitConfig
}
