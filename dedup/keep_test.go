package dedup_test

import (
	"strings"
	"testing"
)

// keepBase is a paragraph long enough (about 170 Han characters) that a
// sentence added or two characters replaced leave its character 5-gram
// Jaccard near 0.9, far above minhash_dedup's default threshold of 0.7.
const keepBase = "数据清洗是训练大语言模型之前必不可少的一步。原始语料往往来自网页、书籍、论坛和各种公开文档，" +
	"其中夹杂着大量重复内容、广告、导航栏文字以及编码错误。如果不加处理就直接用于训练，模型会反复记住同样的句子，" +
	"浪费算力，还可能泄露测试集。因此，我们需要先做精确去重，再用签名估计文档之间的相似度，把近似重复的文档归为一簇，只保留其中一篇。"

// keepOther shares no 5-gram with keepBase.
const keepOther = "春天来了，院子里的桃树开满了粉红色的花。孩子们在树下追逐嬉戏，老人坐在门口晒太阳，" +
	"小猫懒洋洋地趴在窗台上。远处的田野里，农民正忙着翻地播种，燕子从南方飞回来，在屋檐下筑起了新巢。"

// Which copy survives: first in input order, the longest (ties: the
// first of the longest), or, with no quality_score column, the first.
func TestKeepExactPolicies(t *testing.T) {
	// With strip_space only these are equal and differ in byte length.
	texts := []string{"abc", "a b c", "a  b c", "a b  c", "xyz", "x y z"}
	for _, c := range []struct {
		keep string
		want []int
	}{
		{"first", []int{0, 0, 0, 0, 4, 4}},
		{"longest", []int{2, 2, 2, 2, 5, 5}},
		{"quality", []int{0, 0, 0, 0, 4, 4}}, // no quality_score: all tie
	} {
		t.Run(c.keep, func(t *testing.T) {
			docs := xdDocs(texts...)
			_, out := xdRunJSONL(t, docs, exactOpts(false, false, true, false, ", keep: "+c.keep))
			xdCheck(t, out, docs, c.want, "exact_dedup", "exact_duplicate")
		})
	}
}

func TestKeepMinHashPolicies(t *testing.T) {
	edited := strings.Replace(keepBase, "大量", "许多", 1) // same byte length
	cases := []struct {
		name  string
		keep  string
		texts []string
		want  []int
	}{
		{"first", "first", []string{keepBase, keepBase + "这一步通常在分词之前完成。", edited, keepOther}, []int{0, 0, 0, 3}},
		{"longest", "longest", []string{keepBase, keepBase + "这一步通常在分词之前完成。", edited, keepOther}, []int{1, 1, 1, 3}},
		{"longest tie goes to the first", "longest", []string{keepBase, keepBase + "甲乙。", edited, keepBase + "丙丁。", keepOther}, []int{1, 1, 1, 1, 4}},
		{"longest is the last", "longest", []string{keepOther, edited, keepBase, keepBase + "再补充一句。"}, []int{0, 3, 3, 3}},
		{"quality without scores", "quality", []string{keepOther, edited, keepBase + "再补充一句。", keepBase}, []int{0, 1, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docs := xdDocs(c.texts...)
			_, out := xdRunJSONL(t, docs, "  - minhash_dedup: {keep: "+c.keep+"}\n")
			xdCheck(t, out, docs, c.want, "minhash_dedup", "near_duplicate")
		})
	}
}

// A kept document's dup_cluster_size counts what the earlier dedup stage's
// cluster stood for: exact copies folded into it count in the near-
// duplicate cluster, and a document outside any near-duplicate cluster
// keeps the exact stage's columns. The kept sizes add up to every input.
func TestKeepClusterSizeAcrossStages(t *testing.T) {
	longer := keepBase + "这一步通常在分词之前完成。"
	punct := strings.NewReplacer("，", ",", "。", ".", "、", " ").Replace(keepBase)
	docs := xdDocs(keepBase, keepBase, punct, keepOther, longer, keepOther)
	type want struct {
		kept               bool
		dupOf, cluster     any
		size               int64
		stage, dropReasons any
	}
	const ex, mh = "exact_dedup", "minhash_dedup"
	for _, c := range []struct {
		keep string
		want []want
	}{
		{"first", []want{
			{true, nil, "d0", 4, nil, nil},
			{false, "d0", "d0", 3, ex, "exact_duplicate"},
			{false, "d0", "d0", 3, ex, "exact_duplicate"},
			{true, nil, "d3", 2, nil, nil},
			{false, "d0", "d0", 4, mh, "near_duplicate"},
			{false, "d3", "d3", 2, ex, "exact_duplicate"},
		}},
		{"longest", []want{
			{false, "d4", "d4", 4, mh, "near_duplicate"},
			{false, "d0", "d0", 3, ex, "exact_duplicate"},
			{false, "d0", "d0", 3, ex, "exact_duplicate"},
			{true, nil, "d3", 2, nil, nil},
			{true, nil, "d4", 4, nil, nil},
			{false, "d3", "d3", 2, ex, "exact_duplicate"},
		}},
	} {
		t.Run(c.keep, func(t *testing.T) {
			res, out := xdRunJSONL(t, docs, "  - exact_dedup: {}\n  - minhash_dedup: {keep: "+c.keep+"}\n")
			rows := xdRows(t, out)
			var keptSizes int64
			for i, d := range docs {
				r := rows[d.ID]
				got := want{r.kept, r.row["dup_of"], r.row["dup_cluster"], 0, r.row["drop_stage"], r.row["drop_reason"]}
				got.size, _ = r.row["dup_cluster_size"].(int64)
				if got != c.want[i] {
					t.Errorf("%s: got %+v, want %+v", d.ID, got, c.want[i])
				}
				if r.kept {
					keptSizes += got.size
				}
			}
			if keptSizes != int64(len(docs)) {
				t.Errorf("kept cluster sizes sum to %d, want %d", keptSizes, len(docs))
			}
			st := res.Stats.Stages
			if st[0].Dropped["exact_duplicate"].Docs != 3 || st[1].Dropped["near_duplicate"].Docs != 1 {
				t.Errorf("dropped: exact %v, minhash %v; want 3 and 1", st[0].Dropped, st[1].Dropped)
			}
		})
	}
}
