package cli

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/testenv"
)

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	cfg := writeRetuneConfig(t, dir, "c.yaml", "{min_chars: 200}")
	out := filepath.Join(dir, "out")
	runConfig(t, cfg, out)
	rejected := testenv.ReadRows(t, filepath.Join(out, "rejected"))
	want := 0
	for _, r := range rejected {
		if r["drop_reason"] == "length.chars<200" {
			want++
		}
	}
	var list bytes.Buffer
	if err := Inspect(context.Background(), &list, InspectOptions{Run: out, Sample: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list.String(), "length.chars<200") || !strings.Contains(list.String(), "exact_duplicate") {
		t.Errorf("reasons list:\n%s", list.String())
	}
	sample := func(o InspectOptions) string {
		var b bytes.Buffer
		o.Run, o.Width = out, 80
		if err := Inspect(context.Background(), &b, o); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a := sample(InspectOptions{Reason: "length", Sample: 3, Seed: 7})
	if a != sample(InspectOptions{Reason: "length.chars", Sample: 3, Seed: 7}) {
		t.Error("a prefix and the stage name sample differently with the same seed")
	}
	if !strings.HasPrefix(a, fmt.Sprintf("%d documents match; showing 3 (seed 7)", want)) || strings.Count(a, "length.chars<200") != 3 || !strings.Contains(a, "chars=") {
		t.Errorf("sample of %d:\n%s", want, a)
	}
	if b := sample(InspectOptions{Reason: "length", Sample: 3, Seed: 8}); b == a {
		t.Error("another seed gave the same sample")
	}
	zh := sample(InspectOptions{Kept: true, Lang: "zh", Sample: 2, Seed: 1})
	if strings.Count(zh, "lang=zh") != 2 || strings.Contains(zh, "lang=en") {
		t.Errorf("kept zh sample:\n%s", zh)
	}
	if none := sample(InspectOptions{Reason: "no_such_rule", Sample: 3}); !strings.HasPrefix(none, "0 documents match") {
		t.Errorf("unknown rule: %s", none)
	}
}
