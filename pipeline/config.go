package pipeline

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a whole pipeline config. The yaml tags are the public vocabulary;
// the doc tags are the comments `winnow config defaults` prints.
type Config struct {
	Recipe  string       `yaml:"recipe" doc:"start from a built-in recipe (see winnow config defaults --recipe NAME); this file's keys override the recipe's, and a stages list here replaces the recipe's"`
	Input   InputConfig  `yaml:"input"`
	Output  OutputConfig `yaml:"output"`
	Workers int          `yaml:"workers" doc:"worker goroutines running the stage chain; 0 = one per CPU core"`
	// Incremental changes which files a run reads, never what a document
	// becomes.
	Incremental bool `yaml:"incremental" doc:"read only input files that are new or changed since the last run in output.dir, deduplicate them against it, and publish output.dir/runs/<run id>/ with output.dir/current pointing to it (needs keep_rejected)"`
	// MaxMemory changes how a run spends memory, never what it writes.
	MaxMemory int64       `yaml:"max_memory" doc:"memory budget in bytes (0 = none): the Go heap's soft limit, and dedup stages spill sorted runs to .winnow/ to stay within their share of it"`
	Stages    []StageSpec `yaml:"stages" doc:"ordered stage list; each entry is a one-key map: stage name -> options"`
	// Train, when its run is set, makes `winnow run` end by fine-tuning on
	// the shards it wrote (winnow train with the same settings).
	Train TrainConfig `yaml:"train"`
	// Overrides change single options of stages the list (often a
	// recipe's) already has, without repeating the list.
	Overrides map[string]yaml.Node `yaml:"overrides" doc:"stage name -> options decoded over that stage's options in the list, e.g. {minhash_dedup: {threshold: 0.8}}"`
}

// TrainConfig is `winnow train` as config: zero values take the preset's
// defaults. The trainer reads it; the pipeline only carries it.
type TrainConfig struct {
	Run         string  `yaml:"run" doc:"training run directory; empty = no training after the run"`
	Preset      string  `yaml:"preset" doc:"tiny | small | base (without model)"`
	Model       string  `yaml:"model" doc:"a local Hugging Face model directory to fine-tune instead of a preset"`
	LoRA        bool    `yaml:"lora" doc:"fine-tune model with LoRA adapters (peft)"`
	LoRAR       int     `yaml:"lora_r" doc:"LoRA rank; 0 = 8"`
	Tokenizer   string  `yaml:"tokenizer" doc:"byte | sentencepiece | model; empty = the preset's or the model's"`
	Steps       int     `yaml:"steps" doc:"optimizer steps; 0 = the preset's (or from tokens)"`
	Tokens      int64   `yaml:"tokens" doc:"a token budget instead of steps; 0 = none"`
	SeqLen      int     `yaml:"seq_len" doc:"tokens per sequence; 0 = the preset's"`
	BatchSize   int     `yaml:"batch_size" doc:"sequences per step; 0 = the preset's"`
	LR          float64 `yaml:"lr" doc:"peak learning rate; 0 = the preset's"`
	Seed        int64   `yaml:"seed" doc:"seed of the model, the batches and the split; 0 = 1"`
	ValFraction float64 `yaml:"val_fraction" doc:"share of documents held out by a hash of the id; 0 = 0.02"`
	Python      string  `yaml:"python" doc:"interpreter with torch; empty = $WINNOW_PYTHON, python3, /usr/bin/python3"`
}

// InputConfig says where documents come from and how to read them.
type InputConfig struct {
	Paths        []string `yaml:"paths" doc:"files or directories, walked recursively in sorted byte order of the relative path"`
	Include      []string `yaml:"include" doc:"glob patterns on the file name or relative path; empty = every file"`
	Exclude      []string `yaml:"exclude" doc:"glob patterns on the file name or relative path to skip (hidden files are always skipped)"`
	Format       string   `yaml:"format" doc:"auto | jsonl | json | text | csv | tsv | parquet; auto decides by extension, then by content"`
	TextField    string   `yaml:"text_field" doc:"field holding the document text (plain records)"`
	TextTemplate string   `yaml:"text_template" doc:"instead of text_field: a template joining fields, e.g. \"{title}\\n{body}\""`
	IDField      string   `yaml:"id_field" doc:"field holding the document id; absent values get a stable id from source path and offset"`
	Record       string   `yaml:"record" doc:"plain | alpaca | sharegpt | openai; instruction records keep a messages column"`
	Encoding     string   `yaml:"encoding" doc:"auto | utf-8 | gb18030 | gbk | big5; auto takes UTF-8, else GB18030 or Big5 when detected with confidence"`
	TextSplit    string   `yaml:"text_split" doc:"plain-text files: file (one document per file) | line | paragraph (blank-line separated)"`
	MaxDocBytes  int64    `yaml:"max_doc_bytes" doc:"larger records are quarantined with their size and never held whole"`
	BatchBytes   int64    `yaml:"batch_bytes" doc:"target text bytes per batch"`
	BatchDocs    int      `yaml:"batch_docs" doc:"maximum documents per batch"`
}

// OutputConfig says where and how shards are written.
type OutputConfig struct {
	Dir           string `yaml:"dir" doc:"run directory; manifest.json inside it is written last"`
	KeepRejected  bool   `yaml:"keep_rejected" doc:"write dropped documents to rejected/ with drop_stage and drop_reason"`
	ShardBytes    int64  `yaml:"shard_bytes" doc:"target size of one shard, in bytes of uncompressed column data"`
	RowGroupBytes int64  `yaml:"row_group_bytes" doc:"target size of one Parquet row group, in bytes of uncompressed column data"`
	Compression   string `yaml:"compression" doc:"zstd | snappy | gzip | none"`
	ZstdLevel     int    `yaml:"zstd_level" doc:"zstd level, 1 (fast) to 22"`
}

// StageSpec is one entry of the stage list: a stage name and its raw options,
// decoded strictly by the stage's constructor.
type StageSpec struct {
	Name    string
	Options *yaml.Node
	// Path is "stages[3].langid", used in error messages.
	Path string
	// File and Line say where the entry was written ("" for built-in defaults).
	File string
	Line int
	// Overrides are decoded over Options, in order (from overrides:).
	Overrides []StageOverride
}

// StageOverride is one overrides: entry and where it was written.
type StageOverride struct {
	Node *yaml.Node
	File string
}

// Defaults returns a config with every option set to its documented default.
func Defaults() Config {
	return Config{
		Input: InputConfig{
			Paths:       []string{"corpus/"},
			Format:      "auto",
			TextField:   "text",
			IDField:     "id",
			Record:      "plain",
			Encoding:    "auto",
			TextSplit:   "file",
			MaxDocBytes: 32 << 20,
			BatchBytes:  4 << 20,
			BatchDocs:   8192,
		},
		MaxMemory: 2 << 30,
		Output: OutputConfig{
			Dir:           "out/",
			KeepRejected:  true,
			ShardBytes:    256 << 20,
			RowGroupBytes: 64 << 20,
			Compression:   "zstd",
			ZstdLevel:     3,
		},
	}
}

// Allowed values of the enumerated options.
var (
	Formats      = []string{"auto", "jsonl", "json", "text", "csv", "tsv", "parquet"}
	Records      = []string{"plain", "alpaca", "sharegpt", "openai"}
	Encodings    = []string{"auto", "utf-8", "gb18030", "gbk", "big5"}
	TextSplits   = []string{"file", "line", "paragraph"}
	Compressions = []string{"zstd", "snappy", "gzip", "none"}
)

// Validate checks ranges and enumerations. Errors are fieldErrors, so the
// loader can add the line of each key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	oneOf := func(key, v string, allowed []string) {
		if !slices.Contains(allowed, v) {
			bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	in, out := &c.Input, &c.Output
	if len(in.Paths) == 0 {
		bad("input.paths", "at least one input file or directory is needed")
	}
	oneOf("input.format", in.Format, Formats)
	oneOf("input.record", in.Record, Records)
	oneOf("input.encoding", in.Encoding, Encodings)
	oneOf("input.text_split", in.TextSplit, TextSplits)
	if in.TextField == "" && in.TextTemplate == "" && in.Record == "plain" {
		bad("input.text_field", "empty: name the text field or set text_template")
	}
	for _, g := range append(append([]string{}, in.Include...), in.Exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			bad("input.include", "bad glob %q: %v", g, err)
		}
	}
	if in.MaxDocBytes < 1 || in.MaxDocBytes > 1<<30 {
		bad("input.max_doc_bytes", "%d is out of range 1..%d (Arrow strings hold at most 2 GiB per batch)", in.MaxDocBytes, 1<<30)
	}
	if in.BatchBytes < 1 || in.BatchBytes > 1<<30 {
		bad("input.batch_bytes", "%d is out of range 1..%d (Arrow strings hold at most 2 GiB per batch)", in.BatchBytes, 1<<30)
	}
	if in.BatchDocs < 1 {
		bad("input.batch_docs", "%d must be positive", in.BatchDocs)
	}
	if out.Dir == "" {
		bad("output.dir", "empty: name the run directory")
	}
	if out.ShardBytes < 1<<10 {
		bad("output.shard_bytes", "%d is below the minimum of 1024", out.ShardBytes)
	}
	if out.RowGroupBytes < 1<<10 {
		bad("output.row_group_bytes", "%d is below the minimum of 1024", out.RowGroupBytes)
	}
	oneOf("output.compression", out.Compression, Compressions)
	if out.ZstdLevel < 1 || out.ZstdLevel > 22 {
		bad("output.zstd_level", "%d is out of range 1..22", out.ZstdLevel)
	}
	if c.Incremental && !out.KeepRejected {
		// Retracting a changed file's documents must find its rejected
		// ones too, or the totals no longer reconcile.
		bad("output.keep_rejected", "must be true for an incremental run")
	}
	if c.MaxMemory != 0 && c.MaxMemory < 64<<20 {
		bad("max_memory", "%d is below the minimum of %d (64 MiB); 0 means no limit", c.MaxMemory, 64<<20)
	}
	if c.Workers < 0 {
		bad("workers", "%d must be 0 (one per core) or more", c.Workers)
	}
	return errors.Join(errs...)
}
