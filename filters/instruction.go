package filters

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"winnow/pipeline"
)

// instruction: rules for instruction data (Alpaca, ShareGPT, OpenAI
// records, i.e. Doc.Messages). Every signal is NaN on a plain record
// without messages, so the stage can run on mixed input. Only the roles
// "user" and "assistant" are read (system, tool, function_call … are
// ignored); "the response" is the last assistant message and "the prompt"
// the last user message before it (the last user message when there is no
// assistant message).
//
// Signals:
//
//   - response_chars: characters (code points) of the response with
//     surrounding white space trimmed; 0 without an assistant message.
//   - prompt_chars: the same for the prompt.
//   - response_equals_prompt: 1 when some assistant message equals the user
//     message right before it, both non-empty, after trimming and turning
//     every run of white space into one space; else 0.
//   - ai_boilerplate: matches of insBoilerplate (below) in all assistant
//     messages, after folding (insFold: lower case, full-width ASCII to
//     ASCII, ’ to ', white space dropped except between two letters or
//     digits of space-separated scripts, so "作为一个 AI 语言模型" and
//     "作为一个AI语言模型" match alike). English phrases must start and end
//     at a word boundary. Matches do not overlap (longest first).
//   - lang_mismatch: 1 when the user messages together are mostly Han and
//     the assistant messages together mostly another alphabet, or the
//     other way round (insScriptCount.class): a side is Han when Han
//     characters are ≥ 80% of its letters, counting a Han character as
//     three letters; "other" when it has at most 3 Han characters and they
//     are ≤ 10%; undecided in between or under 10 Han-equivalents of text.
//     Fenced and `inline` code and URLs are not counted. 0 when undecided,
//     or when a user message asks for a translation or names a language
//     (insLanguageWords: 翻译, 英文, translate, English …).
//   - truncated_response: 1 when the response (trailing white space
//     trimmed) ends
//     (a) with an ellipsis: "...", "…" or "。。。";
//     (b) inside a code fence: it has an odd number of ``` lines and does
//     not end like finished prose (insEndsComplete: 。！？.!? possibly
//     followed by closing brackets, quotes or ** — then a fence is missing
//     elsewhere, which is unbalanced_code_fences);
//     (c) with an unclosed bracket or quote in its last clause (the text
//     after the last line break or 。！？!?；;, outside inline code), and
//     not ending like finished prose: ( [ { （ 【 《 〈 「 『 “ ‘ without
//     their closers, or an odd number of ASCII double quotes (not counted
//     on a line with a """ docstring); ":(" is a face, not a bracket;
//     (d) mid-sentence, for a response of at least insTruncMinChars
//     characters: with a comma, enumeration comma or colon (， , 、 ：
//     :), or with a connective that cannot end a
//     sentence (insDanglingZH: 以及 包括 例如 因为 如果 …; insDanglingEN:
//     and or but the a an because …, lower case, as the last word).
//     A response that merely lacks a final full stop is not truncated:
//     lists, headings, code, hashtags, short answers ("18", "诗") and
//     run-on Chinese answers (medical Q&A: "…祝早日康复") end that way.
//     NaN without an assistant message.
//   - unbalanced_code_fences: 1 when some assistant message has an odd
//     number of fence lines (a line whose text after leading spaces and
//     tabs starts with ```); else 0.
//
// Rules and defaults ("default" language, so for every language):
//
//   - min_response_chars 1: drops empty or white-space-only responses.
//     Not higher: one- or two-character answers are correct and common in
//     Alpaca-style data (classification labels, numbers: "6", "诗", "18",
//     "电报"); raise it for chat data.
//   - min_prompt_chars: off.
//   - max_response_equals_prompt 0: an echo is not an answer (the one
//     exception seen in the corpora: a ShareGPT role-play of vim, where
//     echoing the command is what the terminal shows).
//   - max_ai_boilerplate 0: "As an AI language model…" teaches a model
//     another model's persona and refusals. Judgement call for tool-use
//     data: its scope refusals ("很抱歉，我无法帮助您预订机票。目前我的能力
//     仅限于…") are wanted behaviour there and are dropped too (11.7% of
//     MedicalGPT's glaive_toolcall sample); raise or switch off the rule.
//   - max_truncated_response 0. Judgement call: (a) drops stories that end
//     on "…" (in the corpora all four ellipsis endings were deliberate,
//     one answering "write a sentence that ends with an ellipsis"), (d)
//     drops an answer that ends with "：" before a missing table or list,
//     and a letter that ends "Best,". A cut inside a word ("…。如果句") is
//     not caught.
//   - max_unbalanced_code_fences 0: broken Markdown.
//   - max_lang_mismatch 0. Judgement call: an English prompt answered in
//     Chinese on purpose, or Chinese prompts answered with English names
//     ("QuadraSoft Technologies、…"), are dropped unless a user message
//     names a language.
//
// Rules are checked in that order, so a response cut inside a code block
// is reported as truncated_response, not unbalanced_code_fences.

// Signal names, in InstructionFamily order.
const (
	insSigResponseChars = "response_chars"
	insSigPromptChars   = "prompt_chars"
	insSigEquals        = "response_equals_prompt"
	insSigBoilerplate   = "ai_boilerplate"
	insSigLangMismatch  = "lang_mismatch"
	insSigTruncated     = "truncated_response"
	insSigFences        = "unbalanced_code_fences"
)

const (
	insIdxResponseChars = iota
	insIdxPromptChars
	insIdxEquals
	insIdxBoilerplate
	insIdxLangMismatch
	insIdxTruncated
	insIdxFences
)

// insTruncMinChars is the shortest response judged by rule (d) of
// truncated_response: "是，" is a curt answer, not a cut one.
const insTruncMinChars = 20

// InstructionFamily is the instruction-data filter.
var InstructionFamily = &Family{
	Name: "instruction",
	Doc:  "rules for instruction records (messages): empty or echoed responses, AI boilerplate, truncation, broken code fences, prompt/response language mismatch; NaN on plain records",
	Signals: []Signal{
		{Name: insSigResponseChars, Doc: "characters of the last assistant message, trimmed; 0 without one"},
		{Name: insSigPromptChars, Doc: "characters of the user message it answers, trimmed"},
		{Name: insSigEquals, Doc: "1 when an assistant message repeats the user message before it (white space normalised)"},
		{Name: insSigBoilerplate, Doc: "AI self-reference / refusal phrases in assistant messages (作为一个AI语言模型, As an AI language model …)"},
		{Name: insSigLangMismatch, Doc: "1 when user messages are mostly Han and assistant messages mostly another alphabet, or the reverse"},
		{Name: insSigTruncated, Doc: "1 when the last assistant message ends cut off: ellipsis, open code fence, unclosed bracket or quote, trailing comma/colon or connective"},
		{Name: insSigFences, Doc: "1 when an assistant message has an odd number of ``` lines"},
	},
	Rules: []Rule{
		{Key: "min_" + insSigResponseChars, Signal: insSigResponseChars},
		{Key: "min_" + insSigPromptChars, Signal: insSigPromptChars},
		{Key: "max_" + insSigEquals, Signal: insSigEquals},
		{Key: "max_" + insSigBoilerplate, Signal: insSigBoilerplate},
		{Key: "max_" + insSigTruncated, Signal: insSigTruncated},
		{Key: "max_" + insSigFences, Signal: insSigFences},
		{Key: "max_" + insSigLangMismatch, Signal: insSigLangMismatch},
	},
	NewComputer: func() Computer { return &insComputer{} },
	Defaults: map[string]map[string]float64{
		"default": {
			"min_" + insSigResponseChars: 1,
			"max_" + insSigEquals:        0,
			"max_" + insSigBoilerplate:   0,
			"max_" + insSigTruncated:     0,
			"max_" + insSigFences:        0,
			"max_" + insSigLangMismatch:  0,
		},
	},
}

// InstructionInfo registers the instruction stage: InstructionFamily's
// stage, which also refuses plain input (input.record plain) before any
// work, where every signal would be NaN and nothing ever dropped.
var InstructionInfo = pipeline.StageInfo{
	Name:     InstructionFamily.Name,
	Doc:      InstructionFamily.Doc,
	Defaults: func() any { return InstructionFamily.defaultOptions() },
	New: func(o any, where string) (pipeline.Stage, error) {
		th, err := InstructionFamily.resolve(o.(*FamilyOptions).Thresholds, where)
		if err != nil {
			return nil, err
		}
		return &insStage{familyStage: newFamilyStage(InstructionFamily, th), where: where}, nil
	},
}

// insStage is the instruction family's stage plus its input check.
type insStage struct {
	*familyStage
	where string
}

// CheckInput implements pipeline.InputChecker.
func (s *insStage) CheckInput(in pipeline.InputConfig) error {
	if in.Record == "plain" || in.Record == "" {
		return fmt.Errorf("%s: the instruction stage needs instruction data (input.record alpaca, sharegpt or openai); input.record is plain", s.where)
	}
	return nil
}

// insBoilerplate are AI self-reference and refusal phrases, written
// folded (see insFold). Sources: the counts in the corpus notes
// (zh-sft/SOURCES.md: 作为一个AI语言模型, 作为一个人工智能语言模型,
// 我是由OpenAI …) and the usual ChatGPT-era English phrases. Phrases that
// also open ordinary prose are left out: "作为人工智能的一个分支" and
// "as a language model, GPT…" are about AI, not by one.
var insBoilerplate = []string{
	// English
	"as an ai language model", "as an ai model", "as an ai assistant", "as an ai,",
	"as an ai developed by", "as an artificial intelligence",
	"as a large language model", "as a language model,",
	"i am an ai language model", "i'm an ai language model", "i am a language model", "i'm a language model",
	"i am an ai developed by", "i'm an ai developed by",
	"i'm sorry, but i cannot", "i am sorry, but i cannot", "i'm sorry, but i can't",
	"i'm sorry, but as an ai", "i'm sorry, but i am not able to", "i'm sorry, but i'm not able to",
	"my knowledge cutoff", "as of my last knowledge update", "as of my last update",
	"trained by openai", "developed by openai", "created by openai",
	// Chinese
	"作为一个ai", "作为一名ai", "作为ai语言模型", "作为ai助手", "作为ai模型",
	"作为一个人工智能", "作为一名人工智能", "作为人工智能语言模型", "作为人工智能助手",
	"作为一个语言模型", "作为一个大型语言模型", "作为语言模型,",
	"我是一个ai", "我是ai语言模型", "我是ai助手", "我只是一个ai",
	"我是一个人工智能", "我是人工智能", "我只是一个人工智能",
	"我是一个语言模型", "我是一个大型语言模型",
	"我是由openai", "由openai开发", "由openai训练",
	"抱歉,我无法", "抱歉,我不能", "对不起,我无法", "对不起,我不能", "抱歉我无法",
}

// insLanguageWords in a user message make a language mismatch expected
// (translation, "answer in English").
var insLanguageWords = []string{
	"翻译", "译成", "译为", "译文", "英文", "英语", "中文", "汉语", "普通话", "日语", "日文",
	"韩语", "法语", "德语", "俄语", "西班牙语",
	"translate", "translation", "english", "chinese", "mandarin",
}

// insDanglingZH end no complete Chinese sentence (two characters or more:
// single characters such as 和 or 与 end ordinary words, 温和, 参与).
var insDanglingZH = []string{
	"以及", "或者", "包括", "例如", "比如", "因为", "所以", "但是", "而且", "并且",
	"如果", "虽然", "然而", "因此", "关于", "由于", "为了", "以便", "然后",
	"首先", "其次", "此外", "另外",
}

// insDanglingEN end no complete English sentence. Prepositions and
// verbs are left out: "what it is for", "where they are" end sentences.
var insDanglingEN = map[string]bool{
	"and": true, "or": true, "but": true, "the": true, "a": true, "an": true,
	"because": true, "including": true, "although": true, "whereas": true,
}

// insPhrases is a phrase set matched on folded text, indexed by the
// phrases' first two bytes (one byte would put every phrase starting with
// a Han character under a handful of UTF-8 lead bytes).
type insPhrases struct {
	two   [1 << 16 / 64]uint64 // bit set of the phrases' first two bytes
	byTwo map[uint16][]string  // first two bytes → phrases, longest first
}

func newInsPhrases(list []string) *insPhrases {
	p := &insPhrases{byTwo: map[uint16][]string{}}
	for _, s := range list {
		f := string(insFold(nil, s))
		k := uint16(f[0])<<8 | uint16(f[1])
		p.two[k/64] |= 1 << (k % 64)
		p.byTwo[k] = append(p.byTwo[k], f)
	}
	for _, ps := range p.byTwo {
		sort.SliceStable(ps, func(a, b int) bool { return len(ps[a]) > len(ps[b]) })
	}
	return p
}

var (
	insBoilerplateSet = newInsPhrases(insBoilerplate)
	insLanguageSet    = newInsPhrases(insLanguageWords)
)

// count returns the non-overlapping matches in folded text f; a phrase
// starting (ending) with an ASCII letter needs a non-alphanumeric byte or
// the text's edge before (after) it.
func (p *insPhrases) count(f []byte) int {
	n := 0
	for i := 0; i+1 < len(f); {
		k := uint16(f[i])<<8 | uint16(f[i+1])
		if p.two[k/64]&(1<<(k%64)) == 0 {
			i++
			continue
		}
		m := 0
		for _, s := range p.byTwo[k] {
			if len(f)-i < len(s) || string(f[i:i+len(s)]) != s {
				continue
			}
			if insASCIIAlnum(s[0]) && i > 0 && insASCIIAlnum(f[i-1]) {
				continue
			}
			if end := i + len(s); insASCIIAlnum(s[len(s)-1]) && end < len(f) && insASCIIAlnum(f[end]) {
				continue
			}
			m = len(s)
			break
		}
		if m > 0 {
			n++
			i += m
		} else {
			i++
		}
	}
	return n
}

func insASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// insFold appends the folded form of s to dst: lower case, full-width
// ASCII (U+FF01–FF5E) to ASCII, U+3000 to a space, ’ and ‘ to ', and white
// space dropped except one space between two letters or digits of
// space-separated scripts.
func insFold(dst []byte, s string) []byte {
	space := false
	var prev rune = -1
	for _, r := range s {
		switch {
		case r == '\u2019' || r == '\u2018':
			r = '\''
		case r == '\u3000':
			r = ' '
		default:
			r = flgFold(r)
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && prev >= 0 && insSpaced(prev) && insSpaced(r) {
			dst = append(dst, ' ')
		}
		space = false
		dst = utf8.AppendRune(dst, r)
		prev = r
	}
	return dst
}

// insSpaced reports a letter or digit of a space-separated script.
func insSpaced(r rune) bool { return flgWordRune(r) && !flgContinuous(r) }

// insComputer computes the instruction signals.
type insComputer struct {
	buf []byte // scratch for folded text
}

// Compute implements Computer.
func (c *insComputer) Compute(d *Doc, out []float64) {
	msgs := d.Messages
	if msgs == nil {
		return // a plain record: every signal NaN
	}
	resp, prompt := -1, -1
	for i := len(msgs) - 1; i >= 0; i-- {
		if insIs(msgs[i].Role, "assistant") {
			resp = i
			break
		}
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if insIs(msgs[i].Role, "user") && (resp < 0 || i < resp) {
			prompt = i
			break
		}
	}
	out[insIdxResponseChars], out[insIdxPromptChars] = 0, 0
	if resp >= 0 {
		out[insIdxResponseChars] = float64(utf8.RuneCountInString(strings.TrimSpace(msgs[resp].Content)))
		out[insIdxTruncated] = insBool(insTruncatedText(msgs[resp].Content))
	}
	if prompt >= 0 {
		out[insIdxPromptChars] = float64(utf8.RuneCountInString(strings.TrimSpace(msgs[prompt].Content)))
	}

	var equals, fences bool
	var boiler int
	var user, asst insScriptCount
	for i, m := range msgs {
		switch {
		case insIs(m.Role, "assistant"):
			if i > 0 && insIs(msgs[i-1].Role, "user") && insEqualWS(m.Content, msgs[i-1].Content) {
				equals = true
			}
			if insFenceLines(m.Content)%2 == 1 {
				fences = true
			}
			c.buf = insFold(c.buf[:0], m.Content)
			boiler += insBoilerplateSet.count(c.buf)
			asst.add(m.Content)
		case insIs(m.Role, "user"):
			user.add(m.Content)
		}
	}
	out[insIdxEquals] = insBool(equals)
	out[insIdxFences] = insBool(fences)
	out[insIdxBoilerplate] = float64(boiler)
	out[insIdxLangMismatch] = insBool(c.mismatch(msgs, user, asst))
}

// mismatch reports a user side and assistant side in different scripts,
// unless a user message names a language.
func (c *insComputer) mismatch(msgs []pipeline.Message, user, asst insScriptCount) bool {
	u, a := user.class(), asst.class()
	if u == insScriptUnknown || a == insScriptUnknown || u == a {
		return false
	}
	for _, m := range msgs {
		if insIs(m.Role, "user") {
			c.buf = insFold(c.buf[:0], m.Content)
			if insLanguageSet.count(c.buf) > 0 {
				return false
			}
		}
	}
	return true
}

func insIs(role, want string) bool { return strings.EqualFold(role, want) }

func insBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// insEqualWS compares a and b with surrounding white space trimmed and
// inner runs of white space as one space; two empty texts are not equal.
func insEqualWS(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		sa, sb := unicode.IsSpace(ra), unicode.IsSpace(rb)
		switch {
		case sa && sb:
			a = strings.TrimLeftFunc(a, unicode.IsSpace)
			b = strings.TrimLeftFunc(b, unicode.IsSpace)
		case sa || sb || ra != rb:
			return false
		default:
			a, b = a[na:], b[nb:]
		}
	}
	return a == "" && b == ""
}

// insFenceLines counts lines starting with ``` after spaces and tabs.
func insFenceLines(s string) int {
	if !strings.Contains(s, "```") {
		return 0
	}
	n := 0
	for line := range strings.Lines(s) {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "```") {
			n++
		}
	}
	return n
}

// insScript classes.
const (
	insScriptUnknown = iota
	insScriptHan
	insScriptOther
)

// insScriptCount counts, outside code (fenced blocks, `inline` spans) and
// URLs, Han characters and letters of other scripts.
type insScriptCount struct{ han, other int }

// insMinEvidence is the least text a side needs to be classified: about
// 10 Han characters or 30 other letters (one Han character is counted as
// worth three letters, roughly the information of a Chinese character
// against an English letter).
const insMinEvidence = 10

// class: Han when Han characters are at least 80% of the weighted
// letters; another alphabet when there are at most 3 Han characters and
// they are at most 10% (a Chinese answer quoting a few English terms stays
// Han, an English answer quoting one Chinese word stays other); unknown
// in between, which is where a Chinese instruction with English input
// ("评估这句话的语法错误：He finnished his meal") lands, so its English
// answer is not a mismatch.
func (s insScriptCount) class() int {
	w := float64(s.han) + float64(s.other)/3
	if w < insMinEvidence {
		return insScriptUnknown
	}
	share := float64(s.han) / w
	switch {
	case share >= 0.8:
		return insScriptHan
	case s.han <= 3 && share <= 0.1:
		return insScriptOther
	}
	return insScriptUnknown
}

func (s *insScriptCount) add(text string) {
	inFence := false
	for line := range strings.Lines(text) {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		inCode := false
		for i := 0; i < len(line); {
			r, n := utf8.DecodeRuneInString(line[i:])
			switch {
			case r == '`':
				inCode = !inCode
			case inCode:
			case r == 'h' && (strings.HasPrefix(line[i:], "http://") || strings.HasPrefix(line[i:], "https://")):
				for i < len(line) && !unicode.IsSpace(rune(line[i])) && line[i] < utf8.RuneSelf {
					i++
				}
				continue
			case r < utf8.RuneSelf:
				if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
					s.other++
				}
			case 0x4E00 <= r && r <= 0x9FFF || unicode.Is(unicode.Han, r):
				s.han++
			case unicode.IsLetter(r):
				s.other++
			}
			i += n
		}
	}
}

// insTruncatedText reports a response that ends cut off (rules a–d of
// truncated_response).
func insTruncatedText(s string) bool {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	if s == "" {
		return false
	}
	// (a) ellipsis
	if strings.HasSuffix(s, "...") || strings.HasSuffix(s, "…") || strings.HasSuffix(s, "。。。") {
		return true
	}
	complete := insEndsComplete(s)
	// (b) inside a code fence, unless it ends like finished prose (then
	// a fence is missing elsewhere: unbalanced_code_fences)
	if !complete && insFenceLines(s)%2 == 1 {
		return true
	}
	// (c) unclosed bracket or quote in the last clause
	if !complete && insUnclosed(insLastClause(s)) {
		return true
	}
	// (d) mid-sentence
	if utf8.RuneCountInString(s) < insTruncMinChars {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	switch r {
	case '，', ',', '、', '：', ':':
		return true
	}
	for _, w := range insDanglingZH {
		if strings.HasSuffix(s, w) {
			return true
		}
	}
	i := len(s)
	for i > 0 && ('a' <= s[i-1] && s[i-1] <= 'z' || 'A' <= s[i-1] && s[i-1] <= 'Z') {
		i--
	}
	if i < len(s) && (i == 0 || s[i-1] == ' ' || s[i-1] == '\n' || s[i-1] == '\t') && insDanglingEN[s[i:]] {
		return true
	}
	return false
}

// insTerminal end a sentence.
func insTerminal(r rune) bool {
	switch r {
	case '。', '！', '？', '.', '!', '?', '．':
		return true
	}
	return false
}

// insEndsComplete reports text ending with a sentence end, possibly
// followed by closing brackets, quotes or Markdown emphasis ("好。”", "(done.)",
// "**OK.**").
func insEndsComplete(s string) bool {
	s = strings.TrimRight(s, ")]}\"'*_）】》〉」』”’")
	r, _ := utf8.DecodeLastRuneInString(s)
	return insTerminal(r)
}

// insLastClause is the text after the last line break or sentence or
// clause end (。！？!?；;) of s: an opener before that was left open by
// a typo, not by a cut.
func insLastClause(s string) string {
	i := strings.LastIndexFunc(s, func(r rune) bool {
		switch r {
		case '\n', '。', '！', '？', '!', '?', '；', ';':
			return true
		}
		return false
	})
	if i < 0 {
		return s
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return s[i+n:]
}

// insBrackets maps closers to openers.
var insBrackets = map[rune]rune{
	')': '(', ']': '[', '}': '{', '）': '（', '】': '【', '》': '《', '〉': '〈',
	'」': '「', '』': '『', '”': '“', '’': '‘',
}

var insOpeners = map[rune]bool{
	'(': true, '[': true, '{': true, '（': true, '【': true, '《': true, '〈': true,
	'「': true, '『': true, '“': true, '‘': true,
}

// insUnclosed reports an opening bracket or quote left open at the end of
// line (inline `code` skipped): a closer closes the nearest matching
// opener, one without an opener ("1)", "don’t") is ignored.
func insUnclosed(line string) bool {
	var stack [16]rune
	depth, lost := 0, 0 // lost: openers beyond the stack's capacity
	quote, code := false, false
	quotes := !strings.Contains(line, `"""`) // a Python docstring delimiter
	var prev rune
	for _, r := range line {
		switch {
		case r == '`':
			code = !code
		case code:
		case r == '"':
			quote = quotes && !quote
		case insOpeners[r] && !(r == '(' && (prev == ':' || prev == ';')):
			if depth < len(stack) {
				stack[depth] = r
				depth++
			} else {
				lost++
			}
		default:
			if open, ok := insBrackets[r]; ok {
				for k := depth - 1; k >= 0; k-- {
					if stack[k] == open {
						depth = k
						break
					}
				}
			}
		}
		prev = r
	}
	return depth > 0 || lost > 0 || quote
}
