package cli

import (
	"fmt"
	"slices"

	"winnow/pipeline"
	"winnow/trainer"
)

// checkTrainConfig rejects a train: section the trainer would refuse, before
// the pipeline runs for minutes.
func checkTrainConfig(c pipeline.TrainConfig) error {
	switch {
	case c.Run == "":
		return nil
	case c.Preset != "" && c.Model != "":
		return fmt.Errorf("train: give preset or model, not both")
	case c.Preset != "" && !slices.Contains(trainer.Presets, c.Preset):
		return fmt.Errorf("train.preset: %q is not one of %v", c.Preset, trainer.Presets)
	case !slices.Contains([]string{"", "byte", "sentencepiece", "model"}, c.Tokenizer):
		return fmt.Errorf("train.tokenizer: %q is not one of byte, sentencepiece, model", c.Tokenizer)
	case c.LoRA && c.Model == "":
		return fmt.Errorf("train.lora needs train.model")
	case c.Steps < 0, c.Tokens < 0, c.SeqLen < 0, c.BatchSize < 0, c.LoRAR < 0, c.LR < 0:
		return fmt.Errorf("train: steps, tokens, seq_len, batch_size, lora_r and lr must not be negative")
	case c.ValFraction < 0 || c.ValFraction >= 1:
		return fmt.Errorf("train.val_fraction: %g is out of [0, 1)", c.ValFraction)
	}
	return nil
}

// trainFromConfig is `winnow train --shards dir` with the config's
// settings, and the flags' defaults where the config leaves a zero.
func trainFromConfig(c pipeline.TrainConfig, dir string) TrainOptions {
	o := TrainOptions{Python: c.Python}
	o.Run, o.Tokens = c.Run, c.Tokens
	o.Data = trainer.DataSpec{Shards: []string{dir}, ValFraction: orDefault(c.ValFraction, 0.02),
		Sampling: trainer.Sampling{MaxRepeat: 4}}
	o.Job = trainer.Job{Preset: c.Preset, Arch: "auto", Model: c.Model, Tokenizer: c.Tokenizer,
		LoRA: c.LoRA, LoRAR: int(orDefault(float64(c.LoRAR), 8)), Steps: c.Steps, SeqLen: c.SeqLen,
		BatchSize: c.BatchSize, GradAccum: 1, LR: c.LR, Seed: int64(orDefault(float64(c.Seed), 1)), Device: "auto"}
	return o
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}
