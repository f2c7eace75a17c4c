package stages

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// SegmentOptions configure the segment stage.
type SegmentOptions struct {
	HMM         bool     `yaml:"hmm" doc:"let jieba's HMM join characters its dictionary lacks into words (names, new words)"`
	UserDicts   []string `yaml:"user_dicts" doc:"user dictionaries for domain terms (legal, medical), one \"word [freq] [tag]\" per line as in jieba; a word without freq is always kept whole; paths relative to the working directory"`
	UnisegLangs []string `yaml:"uniseg_langs" doc:"documents whose lang column (set by langid) is one of these are split by Unicode word boundaries only, Han included, since jieba's Chinese dictionary mis-cuts Japanese and Korean"`
}

// Segment splits each document into words: Chinese by jieba (gojieba, with
// dictionaries embedded in the binary), everything else by Unicode word
// boundaries (UAX #29); see segment_split.go for the exact rules. It sets
// b.Tokens (the words of each alive row, nil for dropped rows) for later
// filters and MinHash shingling, and adds the word_count column (null for
// dropped rows). It never drops a row.
type Segment struct {
	seg         segmenter // jb is nil here; Process fills in the shared one
	userDict    string    // normalised user dictionaries: the shared jieba's key
	unisegLangs map[string]bool
}

// SegmentInfo registers the segment stage.
var SegmentInfo = pipeline.StageInfo{
	Name: "segment",
	Doc:  "splits documents into words (jieba for Chinese, UAX #29 for other scripts) for later filters; adds word_count",
	Defaults: func() any {
		return &SegmentOptions{HMM: true, UserDicts: []string{}, UnisegLangs: []string{"ja", "ko"}}
	},
	New: func(o any, where string) (pipeline.Stage, error) {
		s, err := newSegment(*o.(*SegmentOptions))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return s, nil
	},
}

// newSegment checks the options and reads the user dictionaries; the jieba
// instance itself is loaded by the first Process, so validating a config
// costs neither the second nor the ~175 MB it takes.
func newSegment(opts SegmentOptions) (*Segment, error) {
	s := &Segment{seg: segmenter{hmm: opts.HMM}, unisegLangs: map[string]bool{}}
	for i, l := range opts.UnisegLangs {
		if !segLangCode(l) {
			return nil, fmt.Errorf("uniseg_langs[%d]: %q is not a lowercase ISO 639 code such as \"ja\"", i, l)
		}
		s.unisegLangs[l] = true
	}
	var err error
	if s.userDict, err = readUserDicts(opts.UserDicts); err != nil {
		return nil, err
	}
	return s, nil
}

func segLangCode(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// Name implements pipeline.Stage.
func (s *Segment) Name() string { return "segment" }

// NeverDrops tells retune that segment only adds words.
func (s *Segment) NeverDrops() {}

// Segment's counters (Batch.AddCount), summed per run in stats.json.
const (
	segCountDocs         = "docs"          // alive documents segmented
	segCountDocsJieba    = "docs_jieba"    // documents with Han text cut by jieba
	segCountDocsUniseg   = "docs_uniseg"   // documents with text split by uniseg (a mixed one counts in both)
	segCountDocsNoWords  = "docs_no_words" // documents without a single word token
	segCountDocsLangHint = "docs_lang_uniseg"
	segCountTokens       = "tokens"
	segCountTokensJieba  = "tokens_jieba"
	segCountTokensUniseg = "tokens_uniseg"
	segCountBytesJieba   = "bytes_jieba" // bytes of Han blocks handed to jieba
	segCountBytesUniseg  = "bytes_uniseg"
	segCountSplitBlocks  = "long_blocks_split" // Han blocks over 64 KiB cut before jieba
)

// Process sets b.Tokens and the word_count column.
func (s *Segment) Process(ctx context.Context, b *pipeline.Batch) error {
	seg := s.seg
	var err error
	if seg.jb, err = sharedJieba(s.userDict); err != nil {
		return err
	}
	texts := b.Texts()
	// One copy of the batch's text: tokens are substrings of it, so they
	// stay valid whatever later stages or the allocator do with the Arrow
	// buffers, at one allocation per batch instead of one per token.
	all := string(texts.ValueBytes())
	offs := texts.ValueOffsets()
	langs, _ := b.Column("lang").(*array.String) // only a hint: absent without langid

	n := b.Len()
	tokens := make([][]string, n)
	counts := array.NewInt64Builder(b.Allocator())
	defer counts.Release()
	counts.Reserve(n)
	var sc segScratch
	var docs, docsJieba, docsUniseg, noWords, langHint int64
	var st segStats
	for i := 0; i < n; i++ {
		if !b.Alive(i) {
			counts.AppendNull()
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		text := all[offs[i]-offs[0] : offs[i+1]-offs[0]]
		jieba := true
		if langs != nil && langs.IsValid(i) && s.unisegLangs[langs.Value(i)] {
			jieba = false
			langHint++
		}
		d, err := seg.segment(&sc, text, jieba)
		if err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
		words := make([]string, len(sc.spans))
		for k, sp := range sc.spans {
			words[k] = text[sp.start:sp.end]
		}
		tokens[i] = words
		counts.Append(int64(len(words)))

		docs++
		if d.jiebaBytes > 0 {
			docsJieba++
		}
		if d.unisegBytes > 0 {
			docsUniseg++
		}
		if len(words) == 0 {
			noWords++
		}
		st.jiebaTokens += d.jiebaTokens
		st.unisegTokens += d.unisegTokens
		st.jiebaBytes += d.jiebaBytes
		st.unisegBytes += d.unisegBytes
		st.splitBlocks += d.splitBlocks
	}
	b.Tokens = tokens
	b.AddCount(segCountDocs, docs)
	b.AddCount(segCountDocsJieba, docsJieba)
	b.AddCount(segCountDocsUniseg, docsUniseg)
	b.AddCount(segCountDocsNoWords, noWords)
	b.AddCount(segCountDocsLangHint, langHint)
	b.AddCount(segCountTokens, int64(st.jiebaTokens+st.unisegTokens))
	b.AddCount(segCountTokensJieba, int64(st.jiebaTokens))
	b.AddCount(segCountTokensUniseg, int64(st.unisegTokens))
	b.AddCount(segCountBytesJieba, int64(st.jiebaBytes))
	b.AddCount(segCountBytesUniseg, int64(st.unisegBytes))
	b.AddCount(segCountSplitBlocks, int64(st.splitBlocks))
	return b.SetColumn(arrow.Field{Name: "word_count", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, counts.NewArray())
}
