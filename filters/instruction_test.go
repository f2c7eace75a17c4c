package filters

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

func insU(s string) pipeline.Message { return pipeline.Message{Role: "user", Content: s} }
func insA(s string) pipeline.Message { return pipeline.Message{Role: "assistant", Content: s} }
func insS(s string) pipeline.Message { return pipeline.Message{Role: "system", Content: s} }

// insPair is a one-turn record.
func insPair(prompt, response string) []pipeline.Message {
	return []pipeline.Message{insU(prompt), insA(response)}
}

// insDefaultTh are the resolved default thresholds.
func insDefaultTh(t testing.TB) Thresholds {
	t.Helper()
	th, err := InstructionFamily.resolve(InstructionFamily.defaultOptions().Thresholds, "test")
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// insSignals computes the signals of one record.
func insSignals(c Computer, lang string, msgs []pipeline.Message) []float64 {
	out := make([]float64, len(InstructionFamily.Signals))
	for i := range out {
		out[i] = math.NaN()
	}
	c.Compute(&Doc{Text: insRender(msgs), Lang: lang, Messages: msgs}, out)
	return out
}

// insRender joins contents as stages/record.go renders instruction text.
func insRender(msgs []pipeline.Message) string {
	var parts []string
	for _, m := range msgs {
		if m.Content != "" {
			parts = append(parts, m.Content)
		}
	}
	return strings.Join(parts, "\n\n")
}

func insSignal(values []float64, name string) float64 {
	return values[InstructionFamily.signalIndex(name)]
}

// TestInstructionRules: for every rule, hand-made records just inside
// (kept) and just outside (dropped with the exact reason), in Chinese and
// English, under the default thresholds.
func TestInstructionRules(t *testing.T) {
	const (
		short    = "instruction.response_chars<1"
		echo     = "instruction.response_equals_prompt>0"
		boiler   = "instruction.ai_boilerplate>0"
		trunc    = "instruction.truncated_response>0"
		fence    = "instruction.unbalanced_code_fences>0"
		mismatch = "instruction.lang_mismatch>0"
	)
	long := "这种情况通常与饮食习惯、作息不规律和精神压力有关，建议"
	tests := []struct {
		name, lang string
		msgs       []pipeline.Message
		reason     string
	}{
		// min_response_chars 1
		{"zh one-character answer kept", "zh", insPair("将给定的输入分类为诗歌、故事或歌曲。", "诗"), ""},
		{"zh empty answer", "zh", insPair("将以下日期标准化为 ISO 8601 格式。", ""), short},
		{"zh ideographic-space answer", "zh", insPair("你好", "\u3000\n"), short},
		{"en one-digit answer kept", "en", insPair("What is the result of 12/3?", "4"), ""},
		{"en blank answer", "en", insPair("Convert 20 inches to centimetres", "  \n\t"), short},
		{"no assistant turn", "zh", []pipeline.Message{insU("你好")}, short},

		// max_response_equals_prompt 0
		{"zh near echo kept", "zh", insPair("形容词", "形容词。"), ""},
		{"zh echo with other white space", "zh", insPair("形容词 ", "\n形容词"), echo},
		{"en near echo kept", "en", insPair(":%s/print/printf", ":%s/print/printf/g"), ""},
		{"en echo", "en", insPair("Say   hello\nworld", "Say hello world"), echo},
		{"echo in an earlier turn", "en", []pipeline.Message{insU("ping"), insA("ping"), insU("again"), insA("Sure, here it is again.")}, echo},

		// max_ai_boilerplate 0
		{"zh about AI, not by one", "zh", insPair("机器学习是什么？", "作为人工智能的一个分支，机器学习研究如何让计算机从数据中学习。"), ""},
		{"zh boilerplate", "zh", insPair("你喜欢吃什么？", "作为一个AI语言模型，我没有味觉。"), boiler},
		{"zh boilerplate full-width and spaced", "zh", insPair("你喜欢吃什么？", "作为一个 ＡＩ 语言模型，我没有味觉。"), boiler},
		{"zh refusal", "zh", insPair("帮我画一幅画", "抱歉，我无法直接生成图片。"), boiler},
		{"en researcher kept", "en", insPair("Who are you?", "As an AI researcher, I study neural networks."), ""},
		{"en boilerplate", "en", insPair("What do you like to eat?", "As an AI language model, I do not eat."), boiler},
		{"en refusal with curly apostrophe", "en", insPair("Draw me a cat.", "I’m sorry, but I cannot draw pictures."), boiler},
		{"user saying it is not counted", "en", insPair("As an AI language model, what would you say?", "I would say hello."), ""},

		// max_truncated_response 0
		{"zh complete sentence kept", "zh", insPair("胃痛怎么办？", long+"及时就医。"), ""},
		{"zh run-on answer without full stop kept", "zh", insPair("胃痛怎么办？", long+"及时就医"), ""},
		{"zh ends with a comma", "zh", insPair("胃痛怎么办？", long+"及时就医，"), trunc},
		{"zh ends with a connective", "zh", insPair("胃痛怎么办？", long+"多吃清淡食物，例如"), trunc},
		{"zh short answer with a comma kept", "zh", insPair("你好吗？", "很好，"), ""},
		{"zh ends with a colon", "zh", insPair("列出三种水果。", "好的，以下是三种常见的水果，它们都富含维生素："), trunc},
		{"zh closed bracket kept", "zh", insPair("什么是CT？", "CT（计算机断层扫描）"), ""},
		{"zh unclosed bracket", "zh", insPair("什么是CT？", "CT（计算机断层扫"), trunc},
		{"zh ellipsis", "zh", insPair("讲个故事", "从前有座山……"), trunc},
		{"en full stop kept", "en", insPair("Describe the sea.", "The sea is vast, deep and full of life, and it covers most of the planet."), ""},
		{"en dangling and", "en", insPair("Describe the sea.", "The sea is vast, deep and full of life, and"), trunc},
		{"en list item kept", "en", insPair("Name three fruits.", "Here are three fruits:\n1. Apple\n2. Banana\n3. Cherry"), ""},
		{"en three dots", "en", insPair("Tell me a story.", "Once upon a time..."), trunc},
		{"en smiley kept", "en", insPair("Hi", "Hello there :("), ""},
		{"en open quote", "en", insPair("Quote someone.", "He said \"never give up"), trunc},
		{"en cut inside a code block", "en", insPair("Write hello world in C.", "```c\nint main() {\n  printf(\"hi\");"), trunc},

		// max_unbalanced_code_fences 0
		{"en closed fence kept", "en", insPair("Write hello world in Go.", "```go\nfmt.Println(\"hi\")\n```\nDone."), ""},
		{"en stray fence", "en", insPair("Write hello world in Go.", "```go\nfmt.Println(\"hi\")\n```\nDone.\n```"), trunc},
		{"zh fence left open in an earlier turn", "zh", []pipeline.Message{
			insU("写一个Python函数"), insA("```python\ndef f():\n    return 1\n"),
			insU("谢谢"), insA("不客气。")}, fence},
		{"zh indented fences kept", "zh", insPair("写代码", "代码如下：\n  ```python\n  print(1)\n  ```\n完成。"), ""},
		{"en missing closing fence, prose ending", "en", insPair("Print one in Python.", "```python\nprint(1)\nThat prints one."), fence},

		// max_lang_mismatch 0
		{"zh prompt zh answer with English terms kept", "zh", insPair("怎样用Python发送HTTP请求？", "可以使用requests库的get函数发送请求，它会返回一个Response对象，里面包含状态码和内容。"), ""},
		{"zh prompt en answer", "zh", insPair("请介绍一下长城的历史和它的重要意义。", "The Great Wall of China was built over many centuries to protect the northern borders."), mismatch},
		{"zh prompt asks for English", "zh", insPair("请用英文介绍一下长城的历史和它的重要意义。", "The Great Wall of China was built over many centuries to protect the northern borders."), ""},
		{"en prompt zh answer", "en", insPair("Explain the Moral Machine experiment conducted by MIT researchers.", "道德机器实验是由麻省理工学院进行的研究项目，旨在探索人类对自动驾驶汽车的道德期望。"), mismatch},
		{"zh instruction on English input, English answer kept", "zh", insPair("评估这句话的拼写和语法错误。\n\nHe finnished his meal and left the resturant", "He finished his meal and left the restaurant."), ""},
		{"en short answer kept", "en", insPair("为此人生成一个有效的电子邮件地址：约翰·史密斯", "john.smith@example.com"), ""},
		{"zh prompt fenced code answer kept", "zh", insPair("写一个函数把字符串转成大写并说明用法。", "```python\ndef to_upper(s):\n    return s.upper()\n```\n调用 to_upper 即可得到大写字符串。"), ""},

		// order: first failing rule wins
		{"boilerplate before truncation", "zh", insPair("你好", "作为一个AI语言模型，我可以帮你做很多事情，例如"), boiler},
		{"system message ignored", "zh", []pipeline.Message{insS("As an AI language model you answer in English."), insU("你好"), insA("你好！")}, ""},
	}
	th := insDefaultTh(t)
	c := InstructionFamily.NewComputer()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := insSignals(c, tc.lang, tc.msgs)
			if got := InstructionFamily.Decide(th, tc.lang, v); got != tc.reason {
				t.Errorf("reason %q, want %q (signals %v)", got, tc.reason, v)
			}
		})
	}
}

// TestInstructionThresholdEdges checks the comparison at the threshold
// itself: min keeps a value equal to it, max keeps a value equal to it.
func TestInstructionThresholdEdges(t *testing.T) {
	two := 2.0
	one := 1.0
	th, err := InstructionFamily.resolve(Thresholds{"zh": {"min_response_chars": &two, "max_ai_boilerplate": &one}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	c := InstructionFamily.NewComputer()
	for _, tc := range []struct {
		msgs   []pipeline.Message
		reason string
	}{
		{insPair("生成序列 2、5、9、14 中的第三项。", "18"), ""},
		{insPair("计算以下表达式：(6+2)*(2-2)。", "0"), "instruction.response_chars<2"},
		{insPair("你是谁？", "作为一个AI语言模型，我没有名字。"), ""},
		{insPair("你是谁？", "作为一个AI语言模型，我没有名字。作为一个AI，我也没有年龄。"), "instruction.ai_boilerplate>1"},
	} {
		v := insSignals(c, "zh", tc.msgs)
		if got := InstructionFamily.Decide(th, "zh", v); got != tc.reason {
			t.Errorf("%q: reason %q, want %q", tc.msgs[1].Content, got, tc.reason)
		}
	}
}

func TestInstructionSignals(t *testing.T) {
	c := InstructionFamily.NewComputer()
	v := insSignals(c, "zh", []pipeline.Message{
		insS("你是一个助手"),
		insU("第一问"), insA("第一答。"),
		insU("  第二问\n"), insA(" 作为一个AI，我认为……作为AI助手，我也认为。As an AI language model, yes. "),
	})
	want := map[string]float64{
		insSigResponseChars: float64(len([]rune("作为一个AI，我认为……作为AI助手，我也认为。As an AI language model, yes."))),
		insSigPromptChars:   3,
		insSigEquals:        0,
		insSigBoilerplate:   3,
		insSigLangMismatch:  0,
		insSigTruncated:     0,
		insSigFences:        0,
	}
	for name, w := range want {
		if got := insSignal(v, name); got != w {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	// A plain record: every signal NaN, no rule fails.
	out := make([]float64, len(InstructionFamily.Signals))
	for i := range out {
		out[i] = math.NaN()
	}
	c.Compute(&Doc{Text: "plain text"}, out)
	for i, x := range out {
		if !math.IsNaN(x) {
			t.Errorf("plain record: %s = %v, want NaN", InstructionFamily.Signals[i].Name, x)
		}
	}
	if r := InstructionFamily.Decide(insDefaultTh(t), "zh", out); r != "" {
		t.Errorf("plain record dropped: %q", r)
	}
	// Without an assistant message the truncation signal does not apply.
	v = insSignals(c, "zh", []pipeline.Message{insU("你好")})
	if !math.IsNaN(insSignal(v, insSigTruncated)) || insSignal(v, insSigResponseChars) != 0 || insSignal(v, insSigPromptChars) != 2 {
		t.Errorf("user-only record: %v", v)
	}
}

// TestInstructionTruncated pins down each case of truncated_response.
func TestInstructionTruncated(t *testing.T) {
	pad := "这是一段足够长的回答内容，用来测试截断规则是否正确"
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"", false},
		{"好的。", false},
		{"Wait...", true},              // (a) even when short
		{"等一下…", true},                 // (a)
		{"等一下。。。", true},               // (a)
		{"```\ncode", true},            // (b)
		{"```\ncode\n```", false},      // (b) closed
		{"见（附录", true},                 // (c)
		{"见（附录）", false},               // (c)
		{"see [1", true},               // (c)
		{"1) first\n2) second", false}, // (c) closers without openers
		{"《红楼梦", true},                 // (c)
		{"他说：“好", true},                // (c)
		{"他说：“好”", false},              // (c)
		{"it’s fine", false},           // (c) apostrophe
		{"use `f(` to open", false},    // (c) inline code skipped
		{"(a\n b)", false},             // (c) only the last line counts
		{"a (b\nc", false},             // (c) idem
		{pad + "，", true},              // (d)
		{pad + "、", true},              // (d)
		{pad + "：", true},              // (d)
		{pad + "；", false},             // (d) full-width semicolons end translated SQL
		{pad + ";", false},             // (d) ASCII semicolon ends code lines
		{pad + "以及", true},             // (d)
		{pad + "温和", false},            // (d) not a connective
		{pad + "等", false},             // (d)
		{"A sufficiently long answer that ends with the", true},
		{"A sufficiently long answer that ends with The", false}, // lower case only
		{"A sufficiently long answer, see option A", false},
		{"A sufficiently long answer about what it is for", false},
		{"A sufficiently long answer ending in brand", false}, // "brand" is not "and"
		{"短，", false}, // (d) under insTruncMinChars
	} {
		if got := insTruncatedText(tc.text); got != tc.want {
			t.Errorf("%q: truncated %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestInstructionFold(t *testing.T) {
	for in, want := range map[string]string{
		"作为一个 ＡＩ 语言模型":    "作为一个ai语言模型",
		"As  an\nAI":      "as an ai",
		"I’m Sorry , but": "i'm sorry,but",
		"抱歉， 我无法":         "抱歉,我无法",
	} {
		if got := string(insFold(nil, in)); got != want {
			t.Errorf("insFold(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestInstructionStage runs the stage on a Batch with a messages column:
// signal columns are written (null on the plain row) and rows dropped.
func TestInstructionStage(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	docs := []pipeline.Doc{
		{Messages: insPair("你好", "你好！有什么可以帮你？")},
		{Messages: insPair("你是谁", "作为一个AI语言模型，我没有名字。")},
		{Text: "a plain record"},
	}
	for i := range docs {
		if docs[i].Messages != nil {
			docs[i].Text = insRender(docs[i].Messages)
		}
	}
	b := pipeline.NewBatch(mem, 0, docs, []string{"s", "s", "s"}, true)
	defer b.Release()
	st, err := InstructionInfo.New(InstructionInfo.Defaults(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	wantReasons := []string{"", "instruction.ai_boilerplate>0", ""}
	for i, w := range wantReasons {
		if got := b.DropOf(i).Reason; got != w {
			t.Errorf("row %d: reason %q, want %q", i, got, w)
		}
	}
	col := b.Column("instruction_ai_boilerplate").(*array.Float64)
	if col.Value(1) != 1 || !col.IsNull(2) {
		t.Errorf("instruction_ai_boilerplate column: %v", col)
	}
}

func TestInstructionCheckInput(t *testing.T) {
	st, err := InstructionInfo.New(InstructionInfo.Defaults(), "p.yaml:4: stages[1].instruction")
	if err != nil {
		t.Fatal(err)
	}
	c := st.(pipeline.InputChecker)
	if err := c.CheckInput(pipeline.InputConfig{Record: "sharegpt"}); err != nil {
		t.Error(err)
	}
	err = c.CheckInput(pipeline.InputConfig{Record: "plain"})
	if err == nil || !strings.HasPrefix(err.Error(), "p.yaml:4: stages[1].instruction: the instruction stage needs instruction data") {
		t.Errorf("plain input: %v", err)
	}
}

func TestInstructionOptionErrors(t *testing.T) {
	o := InstructionInfo.Defaults().(*FamilyOptions)
	one := 1.0
	o.Thresholds["zh"] = map[string]*float64{"max_boilerplate": &one}
	_, err := InstructionInfo.New(o, "p.yaml:3: stages[0].instruction")
	if err == nil || !strings.Contains(err.Error(), `unknown rule "max_boilerplate"`) {
		t.Errorf("err %v", err)
	}
}

// ---- real records ----

// insSet is one real data set as messages.
type insSet struct {
	name string
	recs [][]pipeline.Message
}

var insShareGPTRoles = map[string]string{"human": "user", "gpt": "assistant", "system": "system"}

func insShareGPTTurns(conv []struct{ From, Value string }) []pipeline.Message {
	var msgs []pipeline.Message
	for _, t := range conv {
		role, ok := insShareGPTRoles[t.From]
		if !ok {
			role = t.From // function_call, observation
		}
		msgs = append(msgs, pipeline.Message{Role: role, Content: t.Value})
	}
	return msgs
}

// insJSONLines decodes every non-blank line of a JSON Lines file (whatever
// its extension) into a new T.
func insJSONLines[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func insAlpaca(t testing.TB, path string) [][]pipeline.Message {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct{ Instruction, Input, Output string }
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([][]pipeline.Message, len(recs))
	for i, r := range recs {
		user := r.Instruction // as stages/record.go builds the user turn
		if r.Input != "" {
			if user != "" {
				user += "\n\n"
			}
			user += r.Input
		}
		out[i] = insPair(user, r.Output)
	}
	return out
}

type insConvRec struct {
	Conversations []struct{ From, Value string }
	Chosen        string
	Rejected      string
}

func insShareGPT(t testing.TB, path string) [][]pipeline.Message {
	var out [][]pipeline.Message
	for _, r := range insJSONLines[insConvRec](t, path) {
		out = append(out, insShareGPTTurns(r.Conversations))
	}
	return out
}

// insLoadSets reads the zh-sft corpora as instruction records.
func insLoadSets(t testing.TB) []insSet {
	root := filepath.Join(testenv.SharedCorpora(t), "zh-sft")
	p := func(rel string) string { return filepath.Join(root, rel) }
	var sets []insSet
	add := func(name string, recs [][]pipeline.Message) { sets = append(sets, insSet{name, recs}) }

	add("alpaca-zh/carbonz0", insAlpaca(t, p("alpaca-zh/carbonz0/zh-data-part-00.json")))
	add("alpaca-zh/hikariming", insAlpaca(t, p("alpaca-zh/hikariming/alpaca_data-0-3252-中文-已完成.json")))
	add("alpaca-zh/en-source", insAlpaca(t, p("alpaca-zh/en-source/alpaca_data-0-3252-英文.json")))
	add("sharegpt", insShareGPT(t, p("sharegpt/sharegpt_zh_1K_format.jsonl")))
	add("medicalgpt/sft-medical", insShareGPT(t, p("medicalgpt/data/sft/medical_sft_1K_format.jsonl")))
	add("medicalgpt/sft-glaive-toolcall", insShareGPT(t, p("medicalgpt/data/sft/glaive_toolcall_zh_demo.jsonl")))
	var chosen, rejected [][]pipeline.Message
	for _, r := range insJSONLines[insConvRec](t, p("medicalgpt/data/reward/dpo_zh_500.jsonl")) {
		conv := insShareGPTTurns(r.Conversations)
		chosen = append(chosen, append(conv[:len(conv):len(conv)], insA(r.Chosen)))
		rejected = append(rejected, append(conv[:len(conv):len(conv)], insA(r.Rejected)))
	}
	add("medicalgpt/dpo-chosen", chosen)
	add("medicalgpt/dpo-rejected", rejected)
	var rag [][]pipeline.Message
	for _, r := range insJSONLines[map[string]string](t, p("medicalgpt/data/rag/medical_corpus.txt")) {
		rag = append(rag, insPair(r["问"], r["答"]))
	}
	add("medicalgpt/rag-问答", rag)
	var hist [][]pipeline.Message
	for _, r := range insJSONLines[map[string]string](t, p("medicalgpt/history-fab6250/data/reward/test.json")) {
		hist = append(hist, insPair(r["question"], r["response_chosen"]))
	}
	add("medicalgpt/history-test.json", hist)
	var grpo [][]pipeline.Message
	for _, r := range insJSONLines[map[string]any](t, p("medicalgpt/data/grpo/sample.jsonl")) {
		grpo = append(grpo, insPair(fmt.Sprint(r["question"]), fmt.Sprint(r["answer"])))
	}
	add("medicalgpt/grpo", grpo)
	return sets
}

func insFindSet(t *testing.T, sets []insSet, name string) [][]pipeline.Message {
	for _, s := range sets {
		if s.name == name {
			return s.recs
		}
	}
	t.Fatalf("no set %s", name)
	return nil
}

// TestInstructionRealRecords: at least one real record per rule, found by
// content (so a reordered corpus fails loudly instead of testing another
// record), with the exact reason under the default thresholds.
func TestInstructionRealRecords(t *testing.T) {
	sets := insLoadSets(t)
	th := insDefaultTh(t)
	c := InstructionFamily.NewComputer()
	type probe struct {
		set, rule string
		index     int    // record index in the set
		turn      int    // message whose content must contain want
		contains  string // identifies the record
		reason    string
		exact     bool // the turn's content equals contains
	}
	for _, pr := range []probe{
		// Alpaca en_id 284: output "" in both translations and the source.
		{"alpaca-zh/carbonz0", "min_response_chars", 284, 0, "", "instruction.response_chars<1", false},
		{"alpaca-zh/en-source", "min_response_chars", 284, 0, "", "instruction.response_chars<1", false},
		// A one-character answer is kept.
		{"alpaca-zh/carbonz0", "min_response_chars (kept)", -1, 1, "诗", "", true},
		// ShareGPT line 81: the assistant plays vim and echoes the command.
		{"sharegpt", "max_response_equals_prompt", 80, 6, ":%s/print/printf", "instruction.response_equals_prompt>0", false},
		// glaive: "形容词" answered by "形容词".
		{"medicalgpt/sft-glaive-toolcall", "max_response_equals_prompt", 190, 1, "形容词", "instruction.response_equals_prompt>0", false},
		// hikariming en_id 2997: the only 作为AI语言模型 in alpaca-zh.
		{"alpaca-zh/hikariming", "max_ai_boilerplate", -1, 1, "作为AI语言模型我无法直接生成图片", "instruction.ai_boilerplate>0", false},
		{"medicalgpt/dpo-rejected", "max_ai_boilerplate", -1, -1, "作为一个AI语言模型", "instruction.ai_boilerplate>0", false},
		{"sharegpt", "max_ai_boilerplate", 0, 3, "我是由OpenAI训练的语言模型", "instruction.ai_boilerplate>0", false},
		// Answers that stop mid-clause.
		{"medicalgpt/sft-medical", "max_truncated_response", -1, 1, "胃病患者可食5次饭，", "instruction.truncated_response>0", false},
		{"medicalgpt/dpo-chosen", "max_truncated_response", -1, -1, "表格将如下所示：", "instruction.truncated_response>0", false},
		// An answer cut inside a code block in an earlier turn.
		{"sharegpt", "max_unbalanced_code_fences", -1, -1, "", "instruction.unbalanced_code_fences>0", false},
		// Polish prompt, Chinese answer (ShareGPT line 460).
		{"sharegpt", "max_lang_mismatch", 459, 0, "Wytłumacz eksperyment", "instruction.lang_mismatch>0", false},
		// English prompt, Chinese answer (a translated DPO record).
		{"medicalgpt/dpo-chosen", "max_lang_mismatch", -1, 0, "Where would you grab an object contained by a doorway?", "instruction.lang_mismatch>0", false},
		// French→English translation asked in Chinese: kept.
		{"medicalgpt/sft-glaive-toolcall", "max_lang_mismatch (kept)", -1, 0, "我有一句法语需要翻译成英语", "", false},
	} {
		t.Run(pr.set+"/"+pr.rule, func(t *testing.T) {
			recs := insFindSet(t, sets, pr.set)
			match := func(msgs []pipeline.Message) bool {
				if pr.turn < 0 {
					for _, m := range msgs {
						if strings.Contains(m.Content, pr.contains) {
							return true
						}
					}
					return false
				}
				if pr.turn >= len(msgs) {
					return false
				}
				if pr.contains == "" {
					return true
				}
				if pr.exact {
					return msgs[pr.turn].Content == pr.contains
				}
				return strings.Contains(msgs[pr.turn].Content, pr.contains)
			}
			var idx []int
			if pr.index >= 0 {
				if pr.index >= len(recs) || !match(recs[pr.index]) {
					t.Fatalf("record %d does not hold %q", pr.index, pr.contains)
				}
				idx = []int{pr.index}
			} else {
				for i, r := range recs {
					if match(r) {
						idx = append(idx, i)
					}
				}
			}
			if len(idx) == 0 {
				t.Fatalf("no record holds %q", pr.contains)
			}
			// With several candidates (a phrase found by search), at least
			// one must give the reason; the one given is logged.
			var got []string
			for _, i := range idx {
				v := insSignals(c, "zh", recs[i])
				r := InstructionFamily.Decide(th, "zh", v)
				if r == pr.reason {
					t.Logf("record %d: %q", i, r)
					return
				}
				got = append(got, fmt.Sprintf("%d:%q", i, r))
			}
			t.Errorf("want %q, got %s", pr.reason, strings.Join(got, " "))
		})
	}
}

// TestInstructionDropRates logs, per real data set, how many records each
// rule would drop on its own (independent counts) and how many the stage
// drops (first failing rule).
func TestInstructionDropRates(t *testing.T) {
	sets := insLoadSets(t)
	th := insDefaultTh(t)
	c := InstructionFamily.NewComputer()
	var hdr strings.Builder
	fmt.Fprintf(&hdr, "%-32s %6s", "set", "n")
	for _, r := range InstructionFamily.Rules {
		fmt.Fprintf(&hdr, " %22s", r.Key)
	}
	fmt.Fprintf(&hdr, " %8s", "dropped")
	t.Log(hdr.String())
	for _, s := range sets {
		counts := make([]int, len(InstructionFamily.Rules))
		dropped := 0
		for _, msgs := range s.recs {
			v := insSignals(c, "zh", msgs)
			if InstructionFamily.Decide(th, "zh", v) != "" {
				dropped++
			}
			for k, r := range InstructionFamily.Rules {
				one := &Family{Name: "instruction", Signals: InstructionFamily.Signals, Rules: []Rule{r}}
				if one.Decide(th, "zh", v) != "" {
					counts[k]++
				}
			}
		}
		var line strings.Builder
		fmt.Fprintf(&line, "%-32s %6d", s.name, len(s.recs))
		n := float64(len(s.recs))
		for _, k := range counts {
			fmt.Fprintf(&line, " %13d (%5.2f%%)", k, 100*float64(k)/n)
		}
		fmt.Fprintf(&line, " %d (%.2f%%)", dropped, 100*float64(dropped)/n)
		t.Log(line.String())
	}
}

func BenchmarkInstruction(b *testing.B) {
	sets := insLoadSets(b)
	var recs [][]pipeline.Message
	var bytes int64
	for _, s := range sets {
		if s.name == "sharegpt" || s.name == "alpaca-zh/carbonz0" {
			for _, r := range s.recs {
				recs = append(recs, r)
				for _, m := range r {
					bytes += int64(len(m.Content))
				}
			}
		}
	}
	docs := make([]Doc, len(recs))
	for i, r := range recs {
		docs[i] = Doc{Messages: r}
	}
	benchComputer(b, InstructionFamily, docs, bytes)
}
