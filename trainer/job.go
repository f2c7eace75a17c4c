package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Job is the worker's configuration, written as RUN/job.json; the JSON
// names are the ones worker.py reads. Zero values take the defaults of the
// preset (or of --model) when the run starts; a resumed run reads its
// job.json back unchanged.
type Job struct {
	Train      string `json:"train"`       // documents file, relative to the run directory
	Val        string `json:"val"`         // held-out documents file
	DataSHA256 string `json:"data_sha256"` // of both files: the worker rebuilds its token files when it changes

	Preset    string `json:"preset,omitempty"` // tiny, small or base
	Arch      string `json:"arch"`             // auto (Llama-style when transformers imports), llama or torch
	Model     string `json:"model,omitempty"`  // a local Hugging Face model directory to fine-tune
	Tokenizer string `json:"tokenizer"`        // byte, sentencepiece, or model (with Model)
	VocabSize int    `json:"vocab_size,omitempty"`

	LoRA        bool    `json:"lora"`
	LoRAR       int     `json:"lora_r"`
	LoRAAlpha   int     `json:"lora_alpha,omitempty"`
	LoRADropout float64 `json:"lora_dropout"`

	SeqLen      int     `json:"seq_len"`
	BatchSize   int     `json:"batch_size"`
	GradAccum   int     `json:"grad_accum"`
	Steps       int     `json:"steps"`
	LR          float64 `json:"lr"`
	MinLRRatio  float64 `json:"min_lr_ratio"`
	Warmup      int     `json:"warmup"`
	WeightDecay float64 `json:"weight_decay"`
	Clip        float64 `json:"clip"`
	Seed        int64   `json:"seed"`

	EvalEvery       int   `json:"eval_every"`
	CkptEvery       int   `json:"ckpt_every"`
	LogEvery        int   `json:"log_every"`
	EvalTokens      int64 `json:"eval_tokens"`       // periodic evaluations: the first tokens of val.bin
	FinalEvalTokens int64 `json:"final_eval_tokens"` // the evaluation the done event reports
	KeepCkpts       int   `json:"keep_ckpts"`

	Device            string `json:"device"` // auto, cpu, cuda, cuda:1 …
	GradCheckpointing bool   `json:"grad_checkpointing"`
	Threads           int    `json:"threads,omitempty"` // CPU threads; 0: every core
}

// Presets are the model sizes a run can start from without --model.
var Presets = []string{"tiny", "small", "base"}

// presetDefaults are the training settings that suit each preset; the
// architectures themselves live in worker.py.
var presetDefaults = map[string]Job{
	"tiny":  {SeqLen: 128, BatchSize: 8, Steps: 200, LR: 3e-3},
	"small": {SeqLen: 512, BatchSize: 16, Steps: 2000, LR: 1e-3},
	"base":  {SeqLen: 1024, BatchSize: 16, Steps: 5000, LR: 6e-4},
	"model": {SeqLen: 512, BatchSize: 8, Steps: 1000, LR: 5e-5},
	"lora":  {SeqLen: 512, BatchSize: 8, Steps: 1000, LR: 2e-4},
}

// WithDefaults fills the zero fields. tokens, when positive, is a token
// budget that sets Steps (rounded up to whole steps).
func (j Job) WithDefaults(tokens int64) Job {
	key := j.Preset
	switch {
	case j.Model != "" && j.LoRA:
		key = "lora"
	case j.Model != "":
		key = "model"
	case j.Preset == "":
		j.Preset, key = "tiny", "tiny"
	}
	d := presetDefaults[key]
	setInt(&j.SeqLen, d.SeqLen)
	setInt(&j.BatchSize, d.BatchSize)
	setInt(&j.GradAccum, 1)
	if tokens > 0 {
		per := int64(j.SeqLen * j.BatchSize * j.GradAccum)
		j.Steps = int((tokens + per - 1) / per)
	}
	setInt(&j.Steps, d.Steps)
	if j.LR == 0 {
		j.LR = d.LR
	}
	if j.Tokenizer == "" {
		j.Tokenizer = "byte"
		if j.Model != "" {
			j.Tokenizer = "model"
		}
	}
	setStr(&j.Arch, "auto")
	setStr(&j.Device, "auto")
	setInt(&j.LoRAR, 8)
	if j.LoRA && j.LoRADropout == 0 {
		j.LoRADropout = 0.05
	}
	if j.MinLRRatio == 0 {
		j.MinLRRatio = 0.1
	}
	if j.WeightDecay == 0 {
		j.WeightDecay = 0.1
	}
	if j.Clip == 0 {
		j.Clip = 1
	}
	if j.Seed == 0 {
		j.Seed = 1
	}
	setInt(&j.Warmup, min(max(1, j.Steps/10), 1000))
	setInt(&j.EvalEvery, max(1, j.Steps/10))
	setInt(&j.CkptEvery, max(1, j.Steps/4))
	setInt(&j.LogEvery, max(1, j.Steps/200))
	setInt(&j.KeepCkpts, 2)
	if j.EvalTokens == 0 {
		j.EvalTokens = int64(64 * j.SeqLen)
	}
	if j.FinalEvalTokens == 0 {
		j.FinalEvalTokens = 2_000_000
	}
	j.Train, j.Val = "train.jsonl", "val.jsonl"
	return j
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// Validate checks what the worker would otherwise reject after the data
// preparation: a config error must cost nothing.
func (j Job) Validate() error {
	switch {
	case j.Model == "" && !slices.Contains(Presets, j.Preset):
		return fmt.Errorf("preset %q: want one of %v", j.Preset, Presets)
	case !slices.Contains([]string{"byte", "sentencepiece", "model"}, j.Tokenizer):
		return fmt.Errorf("tokenizer %q: want byte, sentencepiece or model", j.Tokenizer)
	case j.Tokenizer == "model" && j.Model == "":
		return fmt.Errorf("tokenizer model needs --model DIR")
	case j.Model != "" && j.Tokenizer != "model":
		return fmt.Errorf("--model uses the model's own tokenizer, not %s", j.Tokenizer)
	case j.LoRA && j.Model == "":
		return fmt.Errorf("--lora adapts a pretrained model: give --model DIR")
	case !slices.Contains([]string{"auto", "llama", "torch"}, j.Arch):
		return fmt.Errorf("arch %q: want auto, llama or torch", j.Arch)
	case j.SeqLen < 2 || j.BatchSize < 1 || j.GradAccum < 1 || j.Steps < 1:
		return fmt.Errorf("seq-len (%d) must be ≥ 2; batch-size (%d), grad-accum (%d) and steps (%d) ≥ 1",
			j.SeqLen, j.BatchSize, j.GradAccum, j.Steps)
	case j.LR <= 0 || j.LR > 1:
		return fmt.Errorf("lr %g: want a value in (0, 1]", j.LR)
	case j.Warmup > j.Steps:
		return fmt.Errorf("warmup %d is longer than the run (%d steps)", j.Warmup, j.Steps)
	case j.LoRA && j.LoRAR < 1:
		return fmt.Errorf("lora-r %d: want ≥ 1", j.LoRAR)
	}
	if j.Model != "" {
		if _, err := os.Stat(filepath.Join(j.Model, "config.json")); err != nil {
			return fmt.Errorf("--model %s is not a Hugging Face model directory: %w", j.Model, err)
		}
	}
	return nil
}

// TokensPerStep is the number of tokens one optimizer step trains on.
func (j Job) TokensPerStep() int64 { return int64(j.SeqLen * j.BatchSize * j.GradAccum) }

func readJob(run string) (Job, error) {
	var j Job
	data, err := os.ReadFile(filepath.Join(run, "job.json"))
	if err != nil {
		return j, err
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return j, fmt.Errorf("%s: %w", filepath.Join(run, "job.json"), err)
	}
	return j, nil
}
