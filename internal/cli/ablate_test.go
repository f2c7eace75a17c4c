package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"winnow/internal/testenv"
	"winnow/pipeline"
	"winnow/trainer"
	"winnow/trainer/trainertest"
)

// The held-out evaluation texts: whole works and whole law families (every
// dated version), so no version of them is in either arm.
var ablateEval = []string{
	"zh-prose/nahan-guxiang.txt", "zh-prose/zhaohua-fan-ainong.txt", "zh-prose/yecao-qiuye.txt",
	"zh-laws/beijing-motor-vehicle-parking-regulations-2021-09-24.md",
	"zh-laws/beijing-motor-vehicle-parking-regulations-2024-03-29.md",
	"zh-laws/public-holidays-measures-2013-12-11.md", "zh-laws/public-holidays-measures-2024-11-10.md",
}

// The thesis test: at equal compute (same preset, token budget and seeds),
// a model trained on winnow's zh-web output of a junk-laden corpus beats one
// trained on the same corpus unfiltered, on the same clean held-out texts
// that neither arm saw; the gap is larger than the spread over seeds.
func TestAblateCuratedBeatsRaw(t *testing.T) {
	py := trainertest.Python(t)
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	corpus, evalIn := filepath.Join(dir, "corpus"), filepath.Join(dir, "eval")
	writeAblationCorpus(t, root, corpus, evalIn)

	evalRun := pipelineRun(t, "", "fixtures/demo.yaml", evalIn, filepath.Join(dir, "eval-run"))
	raw := pipelineRun(t, "stages: []\n", "", corpus, filepath.Join(dir, "raw"))
	curated := pipelineRun(t, "recipe: zh-web\n", "", corpus, filepath.Join(dir, "curated"))

	var stdout bytes.Buffer
	stderr, err := os.CreateTemp(dir, "stderr")
	if err != nil {
		t.Fatal(err)
	}
	jsonOut := filepath.Join(dir, "ablate.json")
	code := Ablate(context.Background(), &stdout, stderr, AblateOptions{
		Raw: []string{raw}, Curated: []string{curated}, Eval: []string{evalRun}, Seeds: 3, JSON: jsonOut,
		Python: py.Path, Tokens: 60_000,
		Job: trainer.Job{Preset: "tiny", SeqLen: 64, BatchSize: 8, Threads: 1, Seed: 1},
	})
	if code != ExitOK {
		log, _ := os.ReadFile(stderr.Name())
		t.Fatalf("ablate: exit %d\n%s", code, log)
	}
	t.Logf("torch %s:\n%s", py.Torch, stdout.String())
	var res trainer.AblateResult
	data, err := os.ReadFile(jsonOut)
	if err == nil {
		err = json.Unmarshal(data, &res)
	}
	if err != nil || len(res.Arms) != 2 {
		t.Fatalf("ablate JSON: %v, %d arms", err, len(res.Arms))
	}
	r, c := res.Arms[0], res.Arms[1]
	if r.Name != "raw" || c.Name != "curated" || len(r.BPB) != 3 || len(c.BPB) != 3 {
		t.Fatalf("arms %s %v, %s %v: want raw and curated with 3 seeds each", r.Name, r.BPB, c.Name, c.BPB)
	}
	if gap, spread := r.Mean-c.Mean, max(r.Std, c.Std); gap <= spread || c.Max >= r.Min {
		t.Errorf("curated %.4f ± %.4f vs raw %.4f ± %.4f bits/byte: want curated lower by more than the seed spread, every seed",
			c.Mean, c.Std, r.Mean, r.Std)
	}
	if !strings.Contains(stdout.String(), "gap (raw − curated)") {
		t.Errorf("table lacks the gap line:\n%s", stdout.String())
	}
}

// pipelineRun runs a config (YAML text, or a file relative to the module
// root) over input and returns the run directory.
func pipelineRun(t *testing.T, yml, file, input, out string) string {
	t.Helper()
	var cfg pipeline.Config
	var err error
	if file != "" {
		cfg, err = pipeline.LoadConfig(filepath.Join(testenv.RepoRoot(t), file))
	} else {
		cfg, err = pipeline.ParseConfig([]byte(yml), "test.yaml")
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg.Input.Paths, cfg.Output.Dir = []string{input}, out
	res, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: NewRegistry()})
	if err != nil {
		t.Fatalf("pipeline on %s: %v", input, err)
	}
	t.Logf("%s: kept %d of %d documents", filepath.Base(out), res.Manifest.Totals.Kept, res.Manifest.Totals.Read)
	return out
}

// writeAblationCorpus writes the held-out texts to evalIn and, to corpus,
// the other Chinese fixtures plus junk made from them: the fixtures'
// navigation-heavy web pages (and the shared corpora's, when present),
// generated navigation/boilerplate pages, exact duplicates, and mojibake
// (UTF-8 read as Latin-1 and as GBK).
func writeAblationCorpus(t *testing.T, root, corpus, evalIn string) {
	t.Helper()
	held := map[string]bool{}
	for _, rel := range ablateEval {
		held[rel] = true
		copyAblationFile(t, filepath.Join(root, "fixtures", "corpus", rel), filepath.Join(evalIn, filepath.Base(rel)))
	}
	var clean []string
	for _, sub := range []string{"zh-prose", "zh-laws"} {
		files, _ := filepath.Glob(filepath.Join(root, "fixtures", "corpus", sub, "*"))
		for _, f := range files {
			if held[sub+"/"+filepath.Base(f)] {
				continue
			}
			copyAblationFile(t, f, filepath.Join(corpus, "clean", filepath.Base(f)))
			text, _ := os.ReadFile(f)
			clean = append(clean, string(text))
		}
	}
	copyAblationFile(t, filepath.Join(root, "fixtures", "corpus", "web", "text-junk-30.jsonl"), filepath.Join(corpus, "web", "fixtures-junk.jsonl"))
	base := os.Getenv("WINNOW_SHARED")
	if base == "" {
		base = filepath.Join(root, "..", "shared")
	}
	if shared := filepath.Join(base, "corpora", "web", "text-junk.jsonl"); ablationFileExists(shared) {
		copyAblationFile(t, shared, filepath.Join(corpus, "web", "shared-junk.jsonl"))
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var junk []string
	for i := 0; i < 150; i++ {
		junk = append(junk, navPage(rng))
	}
	for i := 0; i < 20; i++ {
		junk = append(junk, clean[i%3]) // the same three texts, over and over
	}
	gbk := simplifiedchinese.GBK.NewDecoder()
	for i, text := range clean {
		junk = append(junk, latin1(text))
		if s, err := gbk.String(text); err == nil && i%2 == 0 {
			junk = append(junk, s)
		}
	}
	var b strings.Builder
	for i, text := range junk {
		line, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("junk-%d", i), "text": text})
		b.Write(append(line, '\n'))
	}
	writeAblationFile(t, filepath.Join(corpus, "junk", "junk.jsonl"), b.String())
}

var navWords = strings.Fields("首页 新闻 体育 娱乐 财经 科技 汽车 房产 教育 旅游 时尚 健康 军事 国际 视频 图片 专题 评论 登录 注册 更多 下载客户端 联系我们 关于我们 广告服务 网站地图 返回顶部 上一篇 下一篇 热门推荐 点击排行 分享到 微信 微博")

// navPage is a generated navigation/boilerplate page: menus, link lists,
// a copyright footer. Pages differ only in their choice of words.
func navPage(rng *rand.Rand) string {
	var b strings.Builder
	for line := 0; line < 12+rng.IntN(12); line++ {
		for w := 0; w < 4+rng.IntN(6); w++ {
			if w > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(navWords[rng.IntN(len(navWords))])
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "版权所有 © 2003-2024 新闻网 京ICP备%08d号 京公网安备%d号 违法和不良信息举报电话：010-%08d\n",
		rng.IntN(1e8), rng.IntN(1e10), rng.IntN(1e8))
	return b.String()
}

// latin1 is text's UTF-8 bytes read as Latin-1: the classic mojibake.
func latin1(text string) string {
	r := make([]rune, 0, len(text))
	for _, c := range []byte(text) {
		r = append(r, rune(c))
	}
	return string(r)
}

func copyAblationFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeAblationFile(t, to, string(data))
}

func writeAblationFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ablationFileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
