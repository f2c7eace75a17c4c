package pipeline

import (
	"gopkg.in/yaml.v3"
)

// Config is a whole pipeline config. The yaml tags are the public vocabulary;
// the doc tags are the comments `winnow config defaults` prints.
type Config struct {
	Input   InputConfig  `yaml:"input"`
	Output  OutputConfig `yaml:"output"`
	Workers int          `yaml:"workers" doc:"worker goroutines running the stage chain; 0 = one per CPU core"`
	Stages  []StageSpec  `yaml:"stages" doc:"ordered stage list; each entry is a one-key map: stage name -> options"`
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
	// File is the config file the entry came from ("" for built-in defaults).
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
