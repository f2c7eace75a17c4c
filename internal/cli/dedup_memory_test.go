package cli

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"winnow/dedup"
	"winnow/internal/testenv"
	"winnow/pipeline"
)

// The acceptance test for bounded dedup memory: every line of zh-laws and
// zh-prose plus an edited copy of each (one character replaced), whose
// MinHash data (signatures and band keys) is more than 4× the budget, is
// deduplicated with --max-memory 64 MiB and with no budget. Peak RSS stays
// within the budget plus memBudgetSlack, and both runs write byte-identical
// shards and rejected files: the same clusters.
func TestDedupMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("two runs over 145k documents")
	}
	corpora := testenv.SharedCorpora(t)
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	in := filepath.Join(tmp, "in")
	docs := writeLinesCorpus(t, corpora, in)
	p := dedup.DefaultMinHashParams()
	sigBytes := int64(docs) * int64(p.Bands*p.Rows*4+p.Bands*16)
	const budget = 64 << 20
	if sigBytes < 4*budget {
		t.Fatalf("corpus of %d documents has %d bytes of signatures, want ≥ 4× %d", docs, sigBytes, budget)
	}
	cfg := filepath.Join(tmp, "p.yaml")
	os.WriteFile(cfg, []byte("input:\n  batch_docs: 1024\nstages:\n  - minhash_dedup: {}\n"), 0o644)
	var manifests [2]pipeline.Manifest
	var rss [2]int64
	for i, mm := range []int64{budget, 0} {
		out := filepath.Join(tmp, fmt.Sprintf("out%d", i))
		cmd := exec.Command(bin, "run", "-c", cfg, "-i", in, "-o", out, "--max-memory", fmt.Sprint(mm), "--log-level", "warn")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run with --max-memory %d: %v\n%s", mm, err, msg)
		}
		data, err := os.ReadFile(filepath.Join(out, pipeline.ManifestFile))
		if err != nil || json.Unmarshal(data, &manifests[i]) != nil {
			t.Fatalf("manifest: %v", err)
		}
		// The child's own peak (VmHWM): wait4's maxrss would include this
		// test process's peak, which Linux folds into a vforked child's.
		var st pipeline.Stats
		if data, err = os.ReadFile(filepath.Join(out, "stats.json")); err != nil || json.Unmarshal(data, &st) != nil {
			t.Fatalf("stats: %v", err)
		}
		rss[i] = st.PeakRSSBytes
	}
	t.Logf("%d documents, %d MiB of signatures: peak RSS %d MiB with --max-memory 64 MiB, %d MiB without",
		docs, sigBytes>>20, rss[0]>>20, rss[1]>>20)
	if rss[0] > budget+memBudgetSlack {
		t.Errorf("peak RSS %d MiB > budget 64 MiB + %d MiB", rss[0]>>20, memBudgetSlack>>20)
	}
	a, b := shardSums(manifests[0]), shardSums(manifests[1])
	if len(a) == 0 || strings.Join(a, " ") != strings.Join(b, " ") {
		t.Errorf("outputs differ between the budgets:\n%v\n%v", a, b)
	}
	if manifests[0].Totals.Rejected == 0 {
		t.Error("no duplicates found in a corpus built with one near-duplicate per line")
	}
}

// memBudgetSlack is the stated constant above --max-memory: the Go runtime
// and binary, Arrow buffers and the batches in flight (workers × batch ×
// about 3, each batch with its signatures: 1024 docs × 1.6 KB), measured
// at 36–39 MiB on a 2-core machine (peak 100–103 MiB).
const memBudgetSlack = 64 << 20

func shardSums(m pipeline.Manifest) []string {
	var sums []string
	for _, o := range m.Outputs {
		if strings.HasSuffix(o.Path, ".parquet") {
			sums = append(sums, o.Path+"="+o.SHA256)
		}
	}
	return sums
}

// writeLinesCorpus writes every line of at least 20 characters of zh-laws
// and zh-prose as a document, and a copy with one character replaced.
func writeLinesCorpus(t *testing.T, corpora, dir string) int {
	t.Helper()
	var lines []string
	for _, sub := range []string{"zh-laws", "zh-prose"} {
		filepath.WalkDir(filepath.Join(corpora, sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".txt")) {
				return err
			}
			data, err := os.ReadFile(path)
			for _, l := range strings.Split(string(data), "\n") {
				if l = strings.TrimSpace(l); len([]rune(l)) >= 20 {
					lines = append(lines, l)
				}
			}
			return err
		})
	}
	os.MkdirAll(dir, 0o755)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, variant := range []string{"a", "b"} {
		var sb strings.Builder
		enc := json.NewEncoder(&sb)
		enc.SetEscapeHTML(false)
		for i, l := range lines {
			if variant == "b" {
				r := []rune(l)
				r[rng.IntN(len(r))] = '某'
				l = string(r)
			}
			enc.Encode(map[string]string{"id": fmt.Sprintf("%s%d", variant, i), "text": l})
		}
		if err := os.WriteFile(filepath.Join(dir, variant+".jsonl"), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return 2 * len(lines)
}
