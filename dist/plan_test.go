package dist

import (
	"slices"
	"testing"

	"winnow/pipeline"
)

func TestSplitBySize(t *testing.T) {
	files := func(sizes ...int64) []pipeline.InputFile {
		var fs []pipeline.InputFile
		for _, s := range sizes {
			fs = append(fs, pipeline.InputFile{Size: s})
		}
		return fs
	}
	for _, c := range []struct {
		name  string
		files []pipeline.InputFile
		tasks int
		want  []int
	}{
		{"one task", files(5, 5, 5), 1, []int{0, 0, 0}},
		{"equal files", files(10, 10, 10, 10, 10, 10), 3, []int{0, 0, 1, 1, 2, 2}},
		{"one big file first", files(90, 5, 5), 2, []int{0, 1, 1}},
		{"more tasks than files", files(1, 1), 4, []int{0, 2}},
		{"empty files count as a byte", files(0, 0, 0, 0), 2, []int{0, 0, 1, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := splitBySize(c.files, c.tasks)
			if !slices.Equal(got, c.want) {
				t.Errorf("splitBySize = %v, want %v", got, c.want)
			}
			if !slices.IsSorted(got) {
				t.Errorf("tasks are not consecutive slices: %v", got)
			}
		})
	}
}

func TestTaskFileKept(t *testing.T) {
	for _, c := range []struct {
		sealed int
		rel    string
		want   bool
	}{
		{1, ".winnow/pass-1/staged-0000.arrow", true},
		{1, ".winnow/pass-1/minhash_dedup/sigs.fx", true},
		{2, ".winnow/pass-1/staged-0000.arrow", false}, // the pass before the checkpoint
		{2, ".winnow/pass-2/done.json", true},
		{1, ".winnow.lock", false},
		{1, ".winnow/pass-1/ids.tmp-123", false},
		{1, "quarantine/a.jsonl", true},
		{0, "shards/part-00000.parquet", true},
		{0, ".winnow/pass-1/done.json", false}, // a finished task needs no work area
		{0, "shards/part-00001.parquet.tmp-9", false},
	} {
		if got := taskFileKept(c.sealed)(c.rel); got != c.want {
			t.Errorf("sealed %d: kept(%s) = %v, want %v", c.sealed, c.rel, got, c.want)
		}
	}
}

func TestTaskFilesRefusesChangedInput(t *testing.T) {
	p := &Plan{Files: []PlanFile{{Path: "a", Size: 3, Task: 0}, {Path: "b", Size: 4, Task: 1}}}
	all := []pipeline.InputFile{{Path: "a", Size: 3}, {Path: "b", Size: 4}}
	got, err := p.taskFiles(1, all)
	if err != nil || len(got) != 1 || got[0].Path != "b" {
		t.Fatalf("taskFiles(1) = %v, %v", got, err)
	}
	for _, changed := range [][]pipeline.InputFile{
		{{Path: "a", Size: 3}},
		{{Path: "a", Size: 3}, {Path: "b", Size: 5}},
		{{Path: "a", Size: 3}, {Path: "c", Size: 4}},
	} {
		if _, err := p.taskFiles(0, changed); err == nil {
			t.Errorf("taskFiles accepted changed input %v", changed)
		}
	}
}
