package filters

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/internal/testenv"
	"winnow/pipeline"
)

// zhPool is a supply of distinct Han characters for hand-made documents.
var zhPool = func() []rune {
	const s = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严龙飞阿爱暗岸案昂奥巴扒吧拔坝爸罢霸柏摆败拜班颁板版伴扮瓣邦帮榜膀绑棒傍胞宝饱堡抱豹暴爆杯悲碑贝背倍辈奔笨崩逼鼻彼笔币毕闭辟碧蔽壁避臂编鞭扁遍辨辩宾滨冰兵丙柄饼病拨波玻剥播伯驳泊博搏膊薄补捕擦猜材财裁彩踩菜蔡餐残蚕惨灿仓苍舱藏操槽草册侧测策叉插茶察差拆柴缠铲颤昌尝偿敞畅倡唱抄超朝潮吵炒扯彻撤尘臣沉陈晨闯创吹垂春纯唇词瓷慈辞磁雌刺聪葱丛凑粗促催脆翠村寸错搭答呆贷袋待戴丹担胆旦诞弹淡蛋挡荡刀岛倒蹈盗悼稻德灯登邓凳堤滴敌笛底抵弟帝递颠典店垫淀殿雕吊钓跌叠蝶丁顶订丢冬董懂冻洞抖陡豆督毒读独堵赌杜肚渡端短锻堆吨蹲盾顿夺朵躲俄鹅额恶饿恩耳尔饵乏伐罚阀帆番翻凡烦繁返犯泛饭范贩坊芳防妨房仿访纺肥匪废沸肺费纷坟粉份奋愤粪丰封疯峰锋蜂逢缝讽凤奉佛否夫肤伏扶服浮符幅福"
	seen := map[rune]bool{}
	var out []rune
	for _, r := range s {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}()

// zhHan returns n distinct Han characters, the from-th and after of zhPool.
func zhHan(from, n int) string { return string(zhPool[from : from+n : len(zhPool)]) }

// zhLetters returns English text holding exactly n letters (spaces kept).
func zhLetters(n int) string {
	const s = "pack my box with five dozen liquor jugs while the quick brown fox jumps over a lazy dog near the old river bank and sings about winter evenings in small towns"
	var b strings.Builder
	for _, r := range s {
		if n == 0 {
			break
		}
		b.WriteRune(r)
		if r != ' ' {
			n--
		}
	}
	return strings.TrimSpace(b.String())
}

// zhSentences are ten distinct lines of ordinary Chinese prose, each
// 20–28 characters and ending in 。.
var zhSentences = []string{
	"今天天气很好，我们一起去公园散步，看见很多人在湖边钓鱼。",
	"春天来了，山坡上的桃花和杏花都开了，远远望去一片粉红。",
	"爷爷每天早上六点起床，先打一套太极拳，然后去菜市场买菜。",
	"这本书讲的是一个普通家庭在城市里奋斗二十年的故事。",
	"老师说，读书不仅要读得多，还要想得深，学会提出问题。",
	"晚饭以后，妹妹坐在窗前写作业，弟弟在客厅里搭积木。",
	"河对岸新建了一座图书馆，周末去那里看书的人越来越多。",
	"他把旧自行车修好了，骑着它穿过小巷去上学。",
	"秋天的稻田金黄一片，农民们忙着收割，脸上带着笑容。",
	"我们约好明年夏天再一起去海边看日出。",
}

// zhLines joins the first n sentences and the extra lines, interleaved
// (a sentence, an extra line, …) so that extra lines never touch.
func zhLines(n int, extra ...string) string {
	var lines []string
	for i := 0; i < n || i < len(extra); i++ {
		if i < n {
			lines = append(lines, zhSentences[i])
		}
		if i < len(extra) {
			lines = append(lines, extra[i])
		}
	}
	return strings.Join(lines, "\n")
}

// zhMenu are navigation lines: short, no punctuation, no "more" word.
var zhMenu = []string{"首页", "新闻", "体育", "财经", "娱乐", "科技", "汽车", "房产", "教育", "旅游", "时尚", "游戏", "健康", "读书", "军事", "文化"}

// zhEntropyLine arranges k distinct characters, each 4 times, in 4
// blocks that step through them by the first 4 steps coprime with k, so no
// 13 characters repeat: entropy exactly log2(k).
func zhEntropyLine(k int) string {
	var b strings.Builder
	blocks := 0
	for step := 1; blocks < 4; step++ {
		g, m := step, k
		for m != 0 {
			g, m = m, g%m
		}
		if g != 1 {
			continue
		}
		blocks++
		for j := range k {
			b.WriteRune(zhPool[100+j*step%k])
		}
	}
	return b.String()
}

// zhPi are the first 50 decimal digits of π: no 13 of them repeat.
const zhPi = "31415926535897932384626433832795028841971693993751"

func TestZhQualityRules(t *testing.T) {
	x39 := zhHan(0, 39)
	defaults := zhDefaults(t, ZhQuality)
	f := ZhQuality
	for _, c := range []struct {
		name, lang, text string
		th               Thresholds // nil: the defaults
		want             string
	}{
		{"ordinary prose passes", "zh", zhLines(10), nil, ""},
		{"empty text: every signal NaN, no rule fails", "zh", "", nil, ""},

		// min_han_frac 0.3 over visible characters.
		{"han_frac 30/100 is at the threshold", "zh", zhHan(0, 30) + " " + zhLetters(70), nil, ""},
		{"han_frac 29/100 is below", "zh", zhHan(0, 29) + " " + zhLetters(71), nil, "zh_quality.han_frac<0.3"},
		{"han_frac: white space does not count", "zh", zhHan(0, 30) + strings.Repeat(" \u3000\t", 50) + zhLetters(70), nil, ""},
		{"han_frac: English labelled en is not judged", "en", zhHan(0, 29) + " " + zhLetters(71), nil, ""},
		{"han_frac: English prose labelled en", "en", "The quick brown fox jumps over the lazy dog near the river bank.", nil, ""},
		{"han_frac: English prose labelled zh fails", "zh", "The quick brown fox jumps over the lazy dog near the river bank.", nil, "zh_quality.han_frac<0.3"},

		// max_nav_lines_frac 0.65: short lines without end punctuation.
		{"nav 13/20 lines is at the threshold", "zh", zhLines(7, zhMenu[:13]...), nil, ""},
		{"nav 14/20 lines is above", "zh", zhLines(6, zhMenu[:14]...), nil, "zh_quality.nav_lines_frac>0.65"},
		{"nav: short lines ending in punctuation are text", "zh", zhLines(6, "首页。", "新闻！", "体育？", "财经，", "娱乐；", "科技：", "汽车…", "房产」", "教育”", "旅游）", "时尚》", "游戏、", "健康.", "读书!"), nil, ""},
		{"nav: a 20-character line is not short", "zh", zhLines(6, zhHan(200, 20), zhHan(220, 20), zhHan(240, 20), zhHan(260, 20), zhHan(280, 20), zhHan(300, 20), zhHan(320, 20), zhHan(340, 20), zhHan(360, 20), zhHan(380, 20), zhHan(400, 20), zhHan(420, 20), zhHan(440, 20), zhHan(460, 20)), nil, ""},
		{"nav: labelled en is not judged", "en", zhLines(6, zhMenu[:14]...), nil, ""},
		{"nav: an English menu labelled en", "en", "Home\nNews\nSport\nBusiness\nThe quick brown fox jumps over the lazy dog near the river bank.", nil, ""},

		// max_more_link_lines_frac 0.1.
		{"more 1/10 lines is at the threshold", "zh", zhLines(9, "查看更多>>"), nil, ""},
		{"more 2/10 lines is above", "zh", zhLines(8, "查看更多>>", "阅读全文"), nil, "zh_quality.more_link_lines_frac>0.1"},
		{"more: bracketed and English links count", "zh", zhLines(8, "[更多]", "Read more »"), nil, "zh_quality.more_link_lines_frac>0.1"},
		{"more: 更多 inside a sentence is text", "zh", zhLines(8, "我们需要更多的水和更多的时间。", "他想知道更多。"), nil, ""},
		{"more: labelled en is not judged", "en", "The quick brown fox jumps over the lazy dog.\nRead more\nA lazy dog sleeps under the old tree.\nSee all\nContinue reading", nil, ""},

		// max_bracket_boilerplate_frac 0.3.
		{"bracket 3/10 label lines is at the threshold", "zh", zhLines(7, "【图片】", "[广告]", "【视频】"), nil, ""},
		{"bracket 4/10 label lines is above", "zh", zhLines(6, "【图片】", "[广告]", "【视频】", "[图集]"), nil, "zh_quality.bracket_boilerplate_frac>0.3"},
		{"bracket: a headline starting with a label is text", "zh", zhLines(6, "【环球网报道】记者从有关部门获悉，新的规定将于下月实施。", "［新华社电］今年夏粮再获丰收，总产量比去年增加。", "〔1〕见本书第三卷。", "【病原学】"), nil, ""},
		{"bracket: labelled en is not judged", "en", "[Photo]\n[Ad]\n[Video]\nThe quick brown fox jumps over the lazy dog.", nil, ""},

		// max_rep_13gram_char_frac 0.5.
		{"rep13: a 39-character run twice is exactly 0.5", "zh", x39 + x39, nil, ""},
		{"rep13: and 13 more of it is above", "zh", x39 + x39 + x39[:13*3], nil, "zh_quality.rep_13gram_char_frac>0.5"},
		{"rep13: white space and line breaks do not hide a repeat", "zh", x39 + "\n\n" + x39[:39] + " " + x39[39:] + "\n" + x39[:13*3], nil, "zh_quality.rep_13gram_char_frac>0.5"},
		{"rep13: labelled en is not judged", "en", strings.Repeat("the same sentence again and again. ", 10), nil, ""},

		// min_mean_line_length 6.
		{"mean line 60/10 is at the threshold", "zh", zhShortLines(10, 5, 5), nil, ""},
		{"mean line 59/10 is below", "zh", zhShortLines(10, 5, 4), nil, "zh_quality.mean_line_length<6"},
		{"mean line: blank lines do not count", "zh", strings.ReplaceAll(zhShortLines(10, 5, 5), "\n", "\n \n\u3000\n"), nil, ""},
		{"mean line: labelled en is not judged", "en", zhShortLines(10, 5, 4), nil, ""},

		// min_char_entropy 3 bits.
		{"entropy of 8 equally frequent characters is 3", "zh", zhEntropyLine(8), nil, ""},
		{"entropy of 7 equally frequent characters is below", "zh", zhEntropyLine(7), nil, "zh_quality.char_entropy<3"},
		{"entropy: one character repeated", "zh", strings.Repeat("哈", 10) + "。", nil, "zh_quality.char_entropy<3"},
		{"entropy: labelled en is not judged", "en", "aaaa bbbb aaaa bbbb", nil, ""},

		// max_digit_frac 0.4.
		{"digits 40/100 is at the threshold", "zh", zhHan(0, 60) + zhPi[:40], nil, ""},
		{"digits 41/100 is above", "zh", zhHan(0, 59) + zhPi[:41], nil, "zh_quality.digit_frac>0.4"},
		{"digits: full-width digits count, Chinese numerals do not", "zh", zhHan(0, 59) + "３１４１５９２６５３" + zhPi[:31], nil, "zh_quality.digit_frac>0.4"},
		{"digits: Chinese numerals are Han", "zh", zhHan(0, 50) + "一二三四五六七八九十" + zhPi[:40], nil, ""},
		{"digits: labelled en is not judged", "en", zhHan(0, 59) + zhPi[:41], nil, ""},

		// Rules off by default, switched on in a config.
		{"max_mean_line_length off by default", "zh", zhHan(0, 300) + "。", nil, ""},
		{"max_mean_line_length 50: 50 passes", "zh", zhHan(0, 49) + "。", zhWith(t, f, "zh", map[string]float64{"max_mean_line_length": 50}), ""},
		{"max_mean_line_length 50: 51 fails", "zh", zhHan(0, 50) + "。", zhWith(t, f, "zh", map[string]float64{"max_mean_line_length": 50}), "zh_quality.mean_line_length>50"},
		{"min_unique_char_frac 0.5: 39/78 passes", "zh", x39 + x39, zhWith(t, f, "zh", map[string]float64{"min_unique_char_frac": 0.5}), ""},
		{"min_unique_char_frac 0.5: 39/79 fails", "zh", x39 + x39 + x39[:3], zhWith(t, f, "zh", map[string]float64{"min_unique_char_frac": 0.5}), "zh_quality.unique_char_frac<0.5"},
		{"max_unique_char_frac 0.9: 18/20 passes", "zh", zhHan(0, 18) + zhHan(0, 2), zhWith(t, f, "zh", map[string]float64{"max_unique_char_frac": 0.9}), ""},
		{"max_unique_char_frac 0.9: 19/20 fails", "zh", zhHan(0, 19) + zhHan(0, 1), zhWith(t, f, "zh", map[string]float64{"max_unique_char_frac": 0.9}), "zh_quality.unique_char_frac>0.9"},
		{"a rule switched on for en applies to en", "en", zhLetters(40), Thresholds{"en": {"min_han_frac": zhPtr(0.1)}}, "zh_quality.han_frac<0.1"},
		{"null switches a default off", "zh", zhHan(0, 59) + zhPi[:41], Thresholds{"zh": {"max_digit_frac": nil}}, ""},

		// Other languages and no language: never judged by default.
		{"ja is not judged", "ja", strings.Repeat("哈", 12), nil, ""},
		{"und is not judged", "und", strings.Repeat("哈", 12), nil, ""},
		{"no langid is not judged", "", strings.Repeat("哈", 12), nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			th := c.th
			if th == nil {
				th = defaults
			}
			vals := zhSignals(f, f.NewComputer(), c.text, c.lang)
			if got := f.Decide(th, c.lang, vals); got != c.want {
				t.Errorf("Decide = %q, want %q\nsignals %v\ntext %q", got, c.want, zhSignalMap(f, vals), c.text)
			}
		})
	}
}

func zhPtr(v float64) *float64 { return &v }

// zhShortLines returns n lines of k distinct Han characters plus 。, the
// last one with last Han characters instead of k.
func zhShortLines(n, k, last int) string {
	var lines []string
	for i := range n {
		m := k
		if i == n-1 {
			m = last
		}
		lines = append(lines, zhHan(i*k, m)+"。")
	}
	return strings.Join(lines, "\n")
}

// TestZhQualitySignals checks exact signal values on small texts.
func TestZhQualitySignals(t *testing.T) {
	nan := math.NaN()
	x39 := zhHan(0, 39)
	for _, c := range []struct {
		name, text string
		want       map[string]float64
	}{
		{"empty", "", map[string]float64{"han_frac": nan, "mean_line_length": nan, "rep_13gram_char_frac": nan, "unique_char_frac": nan, "char_entropy": nan, "more_link_lines_frac": nan, "bracket_boilerplate_frac": nan, "digit_frac": nan, "nav_lines_frac": nan}},
		{"white space and format characters only", " \n\u3000\t\r\n\u200b\ufeff", map[string]float64{"han_frac": nan, "mean_line_length": nan, "char_entropy": nan, "nav_lines_frac": nan}},
		{"one character", "中", map[string]float64{"han_frac": 1, "mean_line_length": 1, "rep_13gram_char_frac": 0, "unique_char_frac": 1, "char_entropy": 0, "more_link_lines_frac": 0, "bracket_boilerplate_frac": 0, "digit_frac": 0, "nav_lines_frac": 1}},
		{"mixed line", "中文ab12。\r\n\n　更多 ", map[string]float64{"han_frac": 4.0 / 9, "mean_line_length": 4.5, "unique_char_frac": 1, "char_entropy": math.Log2(9), "more_link_lines_frac": 0.5, "digit_frac": 2.0 / 9, "nav_lines_frac": 0.5}},
		{"rep13 of X+X", x39 + x39, map[string]float64{"rep_13gram_char_frac": 0.5, "unique_char_frac": 0.5, "char_entropy": math.Log2(39)}},
		{"rep13: Gopher's walk jumps after a repeat", strings.Repeat("甲", 30), map[string]float64{"rep_13gram_char_frac": 26.0 / 30, "char_entropy": 0}},
		{"rep13 below 13 characters", zhHan(0, 12), map[string]float64{"rep_13gram_char_frac": 0}},
		{"astral characters count", "\U00020000\U00020000\U00020001中", map[string]float64{"han_frac": 1, "unique_char_frac": 0.75, "char_entropy": 1.5}},
		{"bracket label lines", "[详情\n【图片】说明\n" + zhHan(0, 25), map[string]float64{"bracket_boilerplate_frac": 2.0 / 3, "more_link_lines_frac": 1.0 / 3, "nav_lines_frac": 2.0 / 3}},
		{"unclosed bracket runs to the end of its line only", "[" + zhHan(0, 5) + "\n" + zhHan(5, 10), map[string]float64{"bracket_boilerplate_frac": 0.5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := zhSignalMap(ZhQuality, zhSignals(ZhQuality, ZhQuality.NewComputer(), c.text, "zh"))
			for k, w := range c.want {
				g := got[k]
				if math.IsNaN(w) != math.IsNaN(g) || !math.IsNaN(w) && math.Abs(g-w) > 1e-12 {
					t.Errorf("%s = %v, want %v", k, g, w)
				}
			}
		})
	}
}

func TestZhMoreSuffixes(t *testing.T) {
	for line, want := range map[string]bool{
		"更多": true, "查看更多>>": true, "更多»": true, "新闻中心 ›": true, "[更多]": true, "【查看详情】": true,
		"阅读全文 ": true, "展开全文\r": true, "Read More": true, "read more »": true, "View all": true, "显示全部": true,
		"我们需要更多。": false, "Amore": false, "<!-- INFO END -->": false, "工作全面展开": false, "宪法全文": false,
		"《红楼梦》": false, "": false, "更多的人": false,
	} {
		if got := zhIsMoreLine(line); got != want {
			t.Errorf("zhIsMoreLine(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestZhQualityScratch: one Computer gives the same values for a document
// whatever it computed before, and allocates nothing once warm.
func TestZhQualityScratch(t *testing.T) {
	c := ZhQuality.NewComputer()
	docs := []string{zhLines(10), zhHan(0, 39) + zhHan(0, 39), "\U00020000\U00020001中", "", strings.Repeat(zhLines(10)+"\n", 50)}
	first := make([][]float64, len(docs))
	for i, d := range docs {
		first[i] = zhSignals(ZhQuality, c, d, "zh")
	}
	for round := range 2 {
		for i := len(docs) - 1; i >= 0; i-- {
			got := zhSignals(ZhQuality, c, docs[i], "zh")
			for j := range got {
				if got[j] != first[i][j] && !(math.IsNaN(got[j]) && math.IsNaN(first[i][j])) {
					t.Fatalf("round %d doc %d: %s = %v, first time %v", round, i, ZhQuality.Signals[j].Name, got[j], first[i][j])
				}
			}
		}
	}
	out := make([]float64, len(ZhQuality.Signals))
	d := &Doc{Text: docs[4], Lang: "zh"}
	if n := testing.AllocsPerRun(20, func() { c.Compute(d, out) }); n != 0 {
		t.Errorf("Compute allocates %v times per document once warm", n)
	}
}

// TestZhQualityStage runs the family as a stage over a batch with a lang
// column: signal columns, nulls for NaN, drop reasons per language.
func TestZhQualityStage(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	texts := []string{zhLines(10), zhLines(6, zhMenu[:14]...), zhLines(6, zhMenu[:14]...), ""}
	langs := []string{"zh", "zh", "en", "zh"}
	var docs []pipeline.Doc
	var srcs []string
	for _, s := range texts {
		docs = append(docs, pipeline.Doc{Text: s})
		srcs = append(srcs, "s")
	}
	b := pipeline.NewBatch(mem, 0, docs, srcs, false)
	defer b.Release()
	lb := array.NewStringBuilder(mem)
	lb.AppendValues(langs, nil)
	if err := b.SetColumn(arrow.Field{Name: "lang", Type: arrow.BinaryTypes.String, Nullable: true}, lb.NewArray()); err != nil {
		t.Fatal(err)
	}
	lb.Release()
	info := ZhQuality.NewStageInfo()
	st, err := info.New(info.Defaults(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "zh_quality.nav_lines_frac>0.65", "", ""} {
		if got := b.DropOf(i).Reason; got != want {
			t.Errorf("row %d: drop %q, want %q", i, got, want)
		}
	}
	nav := b.Column("zh_quality_nav_lines_frac").(*array.Float64)
	if nav.Value(1) != 0.7 || nav.Value(2) != 0.7 || nav.IsValid(3) {
		t.Errorf("zh_quality_nav_lines_frac = %v", nav)
	}
	for _, s := range ZhQuality.Signals {
		if b.Column(ZhQuality.Column(s.Name)) == nil {
			t.Errorf("no column for %s", s.Name)
		}
	}
}

// zhRealDrop is a real document that a rule drops, with the threshold it
// is dropped at: the default where the default drops a real document,
// else a stricter one (stated).
type zhRealDrop struct {
	key       string
	threshold float64
	isDefault bool
	set, id   string
	want      string
}

func TestZhQualityRealDrops(t *testing.T) {
	zhCheckRealDrops(t, ZhQuality, []zhRealDrop{
		{"min_han_frac", 0.3, true, "text-junk", "zh-gne-shanxi-1", "zh_quality.han_frac<0.3"},
		{"max_nav_lines_frac", 0.65, true, "text-junk", "zh-gne-list-163-1", "zh_quality.nav_lines_frac>0.65"},
		{"max_nav_lines_frac", 0.65, true, "text-junk", "zh-gne-list-163-2", "zh_quality.nav_lines_frac>0.65"},
		{"max_nav_lines_frac", 0.65, true, "text-junk", "zh-gne-list-netease_forum-1", "zh_quality.nav_lines_frac>0.65"},
		{"max_nav_lines_frac", 0.65, true, "text-junk", "zh-gne-list-tieba-1", "zh_quality.nav_lines_frac>0.65"},
		{"max_more_link_lines_frac", 0.1, true, "text-junk", "zh-mh-39dd62c5ba88", "zh_quality.more_link_lines_frac>0.1"},
		{"max_more_link_lines_frac", 0.1, true, "text-junk", "zh-mh-090704b0cb2e", "zh_quality.more_link_lines_frac>0.1"},
		// The rejected answer is nothing but template slots: [问题] … [回答] 是的 [信心].
		{"max_bracket_boilerplate_frac", 0.3, true, "dpo", "dpo-490-rejected", "zh_quality.bracket_boilerplate_frac>0.3"},
		// A Redis service-discovery thread whose answers paste the same code again and again (0.71).
		{"max_rep_13gram_char_frac", 0.5, true, "sharegpt", "sharegpt-134", "zh_quality.rep_13gram_char_frac>0.5"},
		// No real document is below the default 6; this text-junk page (7.7) is below 8.
		{"min_mean_line_length", 8, false, "text-junk", "zh-mh-7fbc6805c3fb", "zh_quality.mean_line_length<8"},
		// Off by default: the 174 217-character SEO keyword line.
		{"max_mean_line_length", 1000, false, "text-junk", "zh-gne-njxfhn-1", "zh_quality.mean_line_length>1000"},
		// 锟斤拷 mojibake (2.47 bits).
		{"min_char_entropy", 3, true, "mojibake", "row-85", "zh_quality.char_entropy<3"},
		// Off by default; 锟斤拷 mojibake again (0.147).
		{"min_unique_char_frac", 0.15, false, "mojibake", "row-85", "zh_quality.unique_char_frac<0.15"},
		// Off by default: the spam ad that magic-html annotated as main text (0.92).
		{"max_unique_char_frac", 0.9, false, "text-clean", "zh-mh-71bfee3a8935", "zh_quality.unique_char_frac>0.9"},
		// A divisor table, 2^a * 11^b * 941^c = n line after line (0.48).
		{"max_digit_frac", 0.4, true, "sharegpt", "sharegpt-271", "zh_quality.digit_frac>0.4"},
		{"max_digit_frac", 0.4, true, "dpo", "dpo-211-rejected", "zh_quality.digit_frac>0.4"},
	})
}

// zhCheckRealDrops checks every rule of f has a real document it drops,
// both with that rule alone and, for defaults, with all the defaults.
func zhCheckRealDrops(t *testing.T, f *Family, cases []zhRealDrop) {
	covered := map[string]bool{}
	defaults := zhDefaults(t, f)
	c := f.NewComputer()
	for _, rd := range cases {
		covered[rd.key] = true
		d := zhCorpusDocByID(t, rd.set, rd.id)
		vals := zhSignals(f, c, d.text, d.lang)
		if got := f.Decide(zhOnly(d.lang, rd.key, rd.threshold), d.lang, vals); got != rd.want {
			t.Errorf("%s %s with %s %v alone: %q, want %q (signals %v)", rd.set, rd.id, rd.key, rd.threshold, got, rd.want, zhSignalMap(f, vals))
		}
		if rd.isDefault {
			if v, on := defaults.threshold(d.lang, rd.key); !on || v != rd.threshold {
				t.Errorf("%s: default for %s is %v (on %v), the case says %v", rd.key, d.lang, v, on, rd.threshold)
			}
			if got := f.Decide(defaults, d.lang, vals); got == "" {
				t.Errorf("%s %s passes the defaults", rd.set, rd.id)
			}
		}
	}
	for _, r := range f.Rules {
		if !covered[r.Key] {
			t.Errorf("rule %s has no real document", r.Key)
		}
	}
}

// zhGoldenDocs are the real documents whose signals are pinned in
// testdata/<family>/signals.json.
var zhGoldenDocs = []struct{ set, id string }{
	{"zh-prose", "呐喊/狂人日记.txt"},
	{"zh-laws", "宪法/宪法.md"},
	{"text-junk", "zh-gne-list-tieba-1"},
	{"text-junk", "zh-mh-39dd62c5ba88"},
	{"text-clean", "zh-mh-06586406af5a"},
	{"text-clean", "en-mhf-f297ca438db7"},
	{"sharegpt", "sharegpt-271"},
	{"mojibake", "row-85"},
	{"medicalgpt", "medicalgpt-3"},
}

func TestZhQualityGolden(t *testing.T) { zhCheckGolden(t, ZhQuality, "zh") }

// zhCheckGolden compares the signals of zhGoldenDocs with
// testdata/<dir>/signals.json (null for NaN), or rewrites it with -update.
func zhCheckGolden(t *testing.T, f *Family, dir string) {
	c := f.NewComputer()
	got := map[string]map[string]*float64{}
	for _, g := range zhGoldenDocs {
		d := zhCorpusDocByID(t, g.set, g.id)
		got[g.set+"/"+g.id] = signalMap(f, zhSignals(f, c, d.text, d.lang))
	}
	path := filepath.Join("testdata", dir, "signals.json")
	var want map[string]map[string]*float64
	if !golden(t, path, got, &want) {
		return
	}
	for doc, sigs := range got {
		for name, g := range sigs {
			w, ok := want[doc][name]
			switch {
			case !ok:
				t.Errorf("%s: %s not in %s (run with -update)", doc, name, path)
			case (g == nil) != (w == nil) || g != nil && math.Abs(*g-*w) > 1e-9:
				t.Errorf("%s: %s = %v, golden %v", doc, name, zhFmt(g), zhFmt(w))
			}
		}
	}
}

func zhFmt(v *float64) string {
	if v == nil {
		return "NaN"
	}
	return fmt.Sprint(*v)
}

// zhDropRateSets are the corpora of TestZhDropRates; "…>200" keeps the
// documents over 200 characters, where the keep targets apply.
var zhDropRateSets = []struct {
	name, set string
	keep      func(d zhCorpusDoc) bool
}{
	{"zh-prose", "zh-prose", nil},
	{"zh-prose>200", "zh-prose", func(d zhCorpusDoc) bool { return utf8.RuneCountInString(d.text) > 200 }},
	{"zh-laws", "zh-laws", nil},
	{"zh-laws>200", "zh-laws", func(d zhCorpusDoc) bool { return utf8.RuneCountInString(d.text) > 200 }},
	{"junk zh", "text-junk", func(d zhCorpusDoc) bool { return d.lang == "zh" && !strings.Contains(d.id, "-list-") }},
	{"junk lists", "text-junk", func(d zhCorpusDoc) bool { return strings.Contains(d.id, "-list-") }},
	{"junk en", "text-junk", func(d zhCorpusDoc) bool { return d.lang == "en" }},
	{"clean zh", "text-clean", func(d zhCorpusDoc) bool { return d.lang == "zh" }},
	{"clean en", "text-clean", func(d zhCorpusDoc) bool { return d.lang == "en" }},
	{"medicalgpt", "medicalgpt", nil},
	{"sharegpt", "sharegpt", nil},
	{"dpo", "dpo", nil},
}

// TestZhDropRates logs, per corpus, the share of documents each default
// rule of zh_quality and text_stats would drop on its own, and the share
// the two families drop together (first failing rule); it asserts the
// targets: ≥ 95 % of zh-prose and zh-laws documents over 200 characters
// kept, the 4 list pages dropped, ≥ 90 % of the clean main texts kept.
func TestZhDropRates(t *testing.T) {
	fams := []*Family{ZhQuality, TextStats}
	ths := []Thresholds{zhDefaults(t, ZhQuality), zhDefaults(t, TextStats)}
	comps := []Computer{ZhQuality.NewComputer(), TextStats.NewComputer()}
	// The rules on by default for zh or for everyone.
	type ruleRef struct {
		f   int
		key string
	}
	var rules []ruleRef
	for i, f := range fams {
		for _, r := range f.Rules {
			_, onZh := ths[i].threshold("zh", r.Key)
			_, onEn := ths[i].threshold("en", r.Key)
			if onZh || onEn {
				rules = append(rules, ruleRef{i, r.Key})
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-14s %5s %7s", "corpus", "docs", "dropped")
	for _, r := range rules {
		fmt.Fprintf(&sb, " %s", r.key)
	}
	sb.WriteString("\n")
	kept := map[string]float64{}
	for _, s := range zhDropRateSets {
		var n, dropped int
		perRule := make([]int, len(rules))
		for _, d := range zhCorpus(t, s.set) {
			if s.keep != nil && !s.keep(d) {
				continue
			}
			n++
			vals := make([][]float64, len(fams))
			reason := ""
			for i, f := range fams {
				vals[i] = zhSignals(f, comps[i], d.text, d.lang)
				if reason == "" {
					reason = f.Decide(ths[i], d.lang, vals[i])
				}
			}
			if reason != "" {
				dropped++
			}
			for j, r := range rules {
				v, on := ths[r.f].threshold(d.lang, r.key)
				if on && fams[r.f].Decide(zhOnly(d.lang, r.key, v), d.lang, vals[r.f]) != "" {
					perRule[j]++
				}
			}
		}
		kept[s.name] = 1 - float64(dropped)/float64(n)
		fmt.Fprintf(&sb, "%-14s %5d %6.1f%%", s.name, n, 100*float64(dropped)/float64(n))
		for j, r := range rules {
			fmt.Fprintf(&sb, " %*.1f%%", len(r.key)-1, 100*float64(perRule[j])/float64(n))
		}
		sb.WriteString("\n")
	}
	t.Log(sb.String())
	for _, c := range []struct {
		set string
		min float64
	}{{"zh-prose>200", 0.95}, {"zh-laws>200", 0.95}, {"clean zh", 0.9}, {"clean en", 0.9}} {
		if kept[c.set] < c.min {
			t.Errorf("%s: kept %.1f%%, want ≥ %.0f%%", c.set, 100*kept[c.set], 100*c.min)
		}
	}
	if kept["junk lists"] != 0 {
		t.Errorf("junk lists: kept %.0f%% of the 4 list pages, want all dropped", 100*kept["junk lists"])
	}
}

// BenchmarkZhQuality: zh_quality alone over the 551 zh-laws files
// (11.1 MB of Chinese); SetBytes makes MB/s the figure per core with -cpu 1.
func BenchmarkZhQuality(b *testing.B) { zhBenchFamily(b, ZhQuality) }

func zhBenchFamily(b *testing.B, f *Family) {
	docs := zhCorpus(b, "zh-laws")
	var n int64
	for _, d := range docs {
		n += int64(len(d.text))
	}
	c := f.NewComputer()
	out := make([]float64, len(f.Signals))
	d := &Doc{Lang: "zh"}
	for i := range docs { // warm the scratch buffers up
		d.Text = docs[i].text
		c.Compute(d, out)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	for range b.N {
		for i := range docs {
			d.Text = docs[i].text
			c.Compute(d, out)
		}
	}
	testenv.ReportMBPerCPU(b, n, testenv.ProcessCPU()-cpu0)
}

// zhReferenceRep13 is rep_13gram_char_frac the plain way: the visible
// characters (not space or control), Gopher's walk over their 13-character
// windows with a map of strings.
func zhReferenceRep13(text string) float64 {
	var visible []rune
	for _, r := range text {
		if zhClassOf(r)&(zhcSpace|zhcControl) == 0 {
			visible = append(visible, r)
		}
	}
	if len(visible) == 0 {
		return math.NaN()
	}
	seen := map[string]bool{}
	dup := 0
	for i := 0; i+zhRepN <= len(visible); {
		w := string(visible[i : i+zhRepN])
		if seen[w] {
			dup += zhRepN
			i += zhRepN
		} else {
			seen[w] = true
			i++
		}
	}
	return float64(dup) / float64(len(visible))
}

// TestZhRep13MatchesReference compares rep_13gram_char_frac bit for bit
// with the plain walk on the shared corpora and on repetitive random text.
func TestZhRep13MatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	pieces := []string{"第一条", "人民法院", "应当", "的", "。", "，", " ", "\n", "\u3000", "a", "\u200b", "【", "】"}
	var texts []string
	for range 3000 {
		var sb strings.Builder
		for range rng.IntN(200) {
			sb.WriteString(pieces[rng.IntN(1+rng.IntN(len(pieces)))])
		}
		texts = append(texts, sb.String())
	}
	if !testing.Short() {
		for _, set := range []string{"zh-prose", "zh-laws", "text-junk", "medicalgpt"} {
			for _, d := range zhCorpus(t, set) {
				texts = append(texts, d.text)
			}
		}
	}
	c := ZhQuality.NewComputer()
	for _, text := range texts {
		got := zhSignals(ZhQuality, c, text, "zh")[zhSigRep13]
		if want := zhReferenceRep13(text); math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("%.60q: rep_13gram_char_frac %v, reference %v", text, got, want)
		}
	}
}
