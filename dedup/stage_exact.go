package dedup

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/cespare/xxhash/v2"

	"winnow/pipeline"
)

// ExactOptions are the options of the exact_dedup stage.
type ExactOptions struct {
	Field      string `yaml:"field" doc:"what is compared: text | first_user (the first user message of instruction data, e.g. the instruction only) | last_assistant | the name of any string column"`
	Lowercase  bool   `yaml:"lowercase" doc:"compare case-insensitively"`
	StripPunct bool   `yaml:"strip_punct" doc:"ignore punctuation and symbols of any width (， and , alike)"`
	StripSpace bool   `yaml:"strip_space" doc:"ignore whitespace"`
	Digits     bool   `yaml:"digits" doc:"compare every decimal digit as 0 (dates and counters alike)"`
	Keep       string `yaml:"keep" doc:"which copy is kept: first (in input order) | longest | quality (highest quality_score; ties: first)"`
	Memory     int64  `yaml:"memory" hash:"-" doc:"bytes of hash records held before a sorted run spills to .winnow/; 0 = a quarter of max_memory"`
	Index      string `yaml:"index" doc:"an earlier run's index/exact_dedup directory: documents equal to one of its documents are removed with dup_of its id; this run's index covers both"`
}

const exactName = "exact_dedup"

// ExactInfo registers exact_dedup.
var ExactInfo = pipeline.StageInfo{
	Name: exactName,
	Doc:  "exact duplicate removal: xxhash64 of a normalised field; removed rows get drop_reason exact_duplicate and dup_of",
	Defaults: func() any {
		return &ExactOptions{Field: "text", Lowercase: true, StripPunct: true, StripSpace: true, Keep: "first"}
	},
	New: func(opts any, where string) (pipeline.Stage, error) {
		return newExactStage(opts.(*ExactOptions), where)
	},
}

type exactStage struct {
	*clusterCore // its Distributed methods are the stage's
	opts         ExactOptions
	where        string
}

func newExactStage(o *ExactOptions, where string) (*exactStage, error) {
	if o.Field == "" {
		return nil, fmt.Errorf("%s: field: empty; use text, first_user, last_assistant or a column name", where)
	}
	if err := checkKeep(o.Keep, where); err != nil {
		return nil, err
	}
	if err := checkMemory(o.Memory, 1, where); err != nil {
		return nil, err
	}
	hashed := struct {
		Field                                     string
		Lowercase, StripPunct, StripSpace, Digits bool
	}{o.Field, o.Lowercase, o.StripPunct, o.StripSpace, o.Digits}
	core := &clusterCore{name: exactName, reason: "exact_duplicate", bands: 1, keep: o.Keep, memory: o.Memory, params: hashed, index: o.Index}
	return &exactStage{clusterCore: core, opts: *o, where: where}, nil
}

func (s *exactStage) Name() string { return s.clusterCore.name }

// CheckInput refuses the message fields on plain records before any work.
func (s *exactStage) CheckInput(in pipeline.InputConfig) error {
	if (s.opts.Field == "first_user" || s.opts.Field == "last_assistant") && in.Record == "plain" {
		return fmt.Errorf("%s: field: %s needs instruction data (input.record alpaca, sharegpt or openai); input.record is plain", s.where, s.opts.Field)
	}
	return nil
}

// Process hashes the chosen field of every alive row. A row whose field is
// empty after normalisation has no key and is never a duplicate.
func (s *exactStage) Process(ctx context.Context, b *pipeline.Batch) error {
	field, err := s.fieldOf(b)
	if err != nil {
		return err
	}
	n := b.Len()
	kr := &keyedRows{has: make([]bool, n), keys: make([]uint64, n)}
	var h exactHasher
	var empty int64
	for i := 0; i < n; i++ {
		if !b.Alive(i) {
			continue
		}
		v, ok := field(i)
		if !ok {
			empty++
			continue
		}
		if kr.keys[i], kr.has[i] = h.sum(v, &s.opts); !kr.has[i] {
			empty++
		}
	}
	b.AddCount("empty_key", empty)
	b.SetSide(s, kr)
	return nil
}

// fieldOf returns the accessor of the compared field.
func (s *exactStage) fieldOf(b *pipeline.Batch) (func(int) (string, bool), error) {
	switch s.opts.Field {
	case "first_user", "last_assistant":
		msgs, ok := b.Column(pipeline.ColMessages).(*array.List)
		if !ok {
			return nil, fmt.Errorf("field %s needs instruction data (input.record alpaca, sharegpt or openai)", s.opts.Field)
		}
		return messageField(msgs, s.opts.Field == "first_user"), nil
	}
	col, ok := b.Column(s.opts.Field).(*array.String)
	if !ok {
		return nil, fmt.Errorf("field %s: no string column of that name in the batch (columns: %s)", s.opts.Field, strings.Join(b.ColumnNames(), ", "))
	}
	return func(i int) (string, bool) { return col.Value(i), col.IsValid(i) }, nil
}

// messageField picks the first user or the last assistant message's content.
func messageField(msgs *array.List, firstUser bool) func(int) (string, bool) {
	st := msgs.ListValues().(*array.Struct)
	roles, contents := st.Field(0).(*array.String), st.Field(1).(*array.String)
	return func(i int) (string, bool) {
		if msgs.IsNull(i) {
			return "", false
		}
		lo, hi := msgs.ValueOffsets(i)
		for j := lo; j < hi; j++ {
			k := int(j)
			if !firstUser {
				k = int(hi - 1 - (j - lo))
			}
			if isRole(roles.Value(k), firstUser) {
				return contents.Value(k), true
			}
		}
		return "", false
	}
}

func isRole(role string, user bool) bool {
	if user {
		return role == "user" || role == "human"
	}
	return role == "assistant" || role == "gpt"
}

// exactHasher streams the normalised form into xxhash without building it.
type exactHasher struct {
	d   xxhash.Digest
	buf [256]byte
	n   int
}

func (h *exactHasher) sum(s string, o *ExactOptions) (uint64, bool) {
	h.d.Reset()
	h.n = 0
	wrote := false
	for _, r := range s {
		switch {
		case o.StripSpace && unicode.IsSpace(r):
			continue
		case o.StripPunct && (unicode.IsPunct(r) || unicode.IsSymbol(r)):
			continue
		case o.Digits && unicode.IsDigit(r):
			r = '0'
		case o.Lowercase:
			r = unicode.ToLower(r)
		}
		if h.n+utf8.UTFMax > len(h.buf) {
			h.d.Write(h.buf[:h.n])
			h.n = 0
		}
		h.n += utf8.EncodeRune(h.buf[h.n:], r)
		wrote = true
	}
	h.d.Write(h.buf[:h.n])
	return h.d.Sum64(), wrote
}

func (s *exactStage) NewCollector(env pipeline.GlobalEnv) (pipeline.Collector, error) {
	return s.clusterCore.newCollector(s, env)
}

func (s *exactStage) ReopenDecider(env pipeline.GlobalEnv) (pipeline.Decider, error) {
	return s.clusterCore.reopenDecider(s, env)
}

func (s *exactStage) ResumeCollector(env pipeline.GlobalEnv, state json.RawMessage) (pipeline.Collector, error) {
	return s.clusterCore.resumeCollector(s, env, state)
}

func (s *exactStage) Apply(ctx context.Context, b *pipeline.Batch) error {
	rows, _ := b.Side(s).([]rowDecision)
	if rows == nil {
		return fmt.Errorf("batch %d has no decisions attached", b.Seq)
	}
	return s.clusterCore.apply(b, rows)
}
