package dedup

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestMinHashNormRune(t *testing.T) {
	for _, c := range []struct {
		in, want rune
	}{
		{'a', 'a'}, {'Q', 'q'}, {'Ａ', 'a'}, {'ｚ', 'z'}, // fullwidth folds, then lowercases
		{'7', '0'}, {'７', '0'}, {'٣', '0'}, {'३', '0'}, // every decimal digit is 0
		{'Ä', 'ä'}, {'Σ', 'σ'}, {'中', '中'}, {'あ', 'あ'}, {'カ', 'カ'}, {'한', '한'},
		{'Ⅻ', 'Ⅻ'}, {'½', '½'}, // numbers that are not decimal digits stay
		{',', -1}, {'，', -1}, {'。', -1}, {'、', -1}, {'「', -1}, {'＠', -1}, {' ', -1},
		{'\u3000', -1}, {'\n', -1}, {'😀', -1}, {'$', -1}, {'\u0301', -1}, {'\uFFFD', -1},
	} {
		if got := mhNorm(c.in); got != c.want {
			t.Errorf("mhNorm(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// mhUnitList returns the units of a document as strings.
func mhUnitList(unit, text string, tokens []string) []string {
	var u mhUnits
	u.reset(mhResolveUnit(unit, text, tokens), text, tokens)
	var out []string
	for {
		b, ok := u.next()
		if !ok {
			return out
		}
		out = append(out, string(b))
	}
}

func TestMinHashUnits(t *testing.T) {
	for _, c := range []struct {
		name, unit, text string
		tokens           []string
		want             []string
	}{
		{"char skips punctuation", "char", "你好，世界！", nil, []string{"你", "好", "世", "界"}},
		{"char folds", "char", "Ａb１2", nil, []string{"a", "b", "0", "0"}},
		{"char skips invalid bytes", "char", "a\xffb\xc3", nil, []string{"a", "b"}},
		{"words split on non-units", "word", "Hello, World!\tit's 2024", nil,
			[]string{"hello", "world", "it", "s", "0000"}},
		{"han and kana are words of their own", "word", "abc中文def カナ", nil,
			[]string{"abc", "中", "文", "def", "カ", "ナ"}},
		{"marks stay inside words", "word", "cafe\u0301 noir", nil, []string{"cafe", "noir"}},
		{"tokens", "word", "ignored", []string{"Hello", "，", " ", "世界", "Ｘ１"},
			[]string{"hello", "世界", "x0"}},
		{"auto: mostly Han is char", "auto", "中华人民共和国 law", []string{"中华", "人民"},
			[]string{"中", "华", "人", "民", "共", "和", "国", "l", "a", "w"}},
		{"auto: mostly Latin is word", "auto", "The law of 中国", nil,
			[]string{"the", "law", "of", "中", "国"}},
		{"empty", "auto", "，。！ \n", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := mhUnitList(c.unit, c.text, c.tokens); !slices.Equal(got, c.want) {
				t.Errorf("units = %q, want %q", got, c.want)
			}
		})
	}
}

func TestMinHashLongWord(t *testing.T) {
	long := strings.Repeat("x", 200)
	units := mhUnitList("word", "a "+long+" b", nil)
	if len(units) != 3 || len(units[1]) != 9 || units[1][0] != 0xFF {
		t.Fatalf("long word: got units of lengths %d, want a 9-byte 0xFF unit", len(units))
	}
	if other := mhUnitList("word", strings.Repeat("x", 199)+"y", nil); other[0] == units[1] {
		t.Error("two different long words hash alike")
	}
	if tok := mhUnitList("word", "", []string{strings.ToUpper(long)}); tok[0] != units[1] {
		t.Error("a long token and the same long word in text differ")
	}
	exact := strings.Repeat("é", mhMaxUnit/2) // exactly mhMaxUnit bytes stay as they are
	if got := mhUnitList("word", exact, nil); got[0] != exact {
		t.Errorf("a %d-byte word was hashed", len(exact))
	}
}

func TestMinHashWindowBytes(t *testing.T) {
	var w mhWindow
	w.reset(2, true)
	var got [][]byte
	for _, u := range []string{"ab", "c", "de", "f"} {
		if w.push([]byte(u)) {
			got = append(got, bytes.Clone(w.buf[:w.end]))
		}
	}
	want := [][]byte{{2, 'a', 'b', 0, 'c'}, {2, 'c', 0, 'd', 'e'}, {2, 'd', 'e', 0, 'f'}}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("word windows = %q, want %q", got, want)
	}
	w.reset(1, false)
	w.push([]byte("中"))
	if w.push([]byte("文")); !bytes.Equal(w.buf[:w.end], []byte("\x01文")) {
		t.Errorf("char window = %q", w.buf[:w.end])
	}
}

func TestMinHashNEff(t *testing.T) {
	for _, c := range []struct{ units, n, want int }{
		{1, 5, 1}, {6, 5, 1}, {14, 5, 1}, {15, 5, 2}, {23, 5, 3}, {31, 5, 4}, {39, 5, 5},
		{1000, 5, 5}, {100, 3, 3}, {100, 32, 12},
	} {
		var s mhShingles
		u, nEff := s.start("char", c.n, 0, strings.Repeat("字", c.units), nil)
		if nEff != c.want || u < min(c.units, 8*c.n-1) {
			t.Errorf("U=%d N=%d: nEff = %d (U counted %d), want %d", c.units, c.n, nEff, u, c.want)
		}
	}
}

func TestMinHashShinglesNormalised(t *testing.T) {
	m := mhMust(t, MinHashParams{Scheme: "oph", Unit: "auto", N: 5, Bands: 4, Rows: 2, Seed: 1})
	for _, c := range []struct{ a, b string }{
		{"你好，世界", "你好,世界"},
		{"天下兴亡，匹夫有责。", "天下兴亡, 匹夫有责."},
		{"第１２条　规定", "第34条 规定"},
		{"Hello, World! It is 2024.", "hello world it is 1999"},
		{"ＡＢＣ　ｄｅｆ", "abc def"},
		{"“引号”和「括号」", "\"引号\"和[括号]"},
	} {
		if a, b := m.Shingles(c.a, nil), m.Shingles(c.b, nil); !slices.Equal(a, b) || len(a) == 0 {
			t.Errorf("%q and %q: shingles differ or are empty (%d vs %d)", c.a, c.b, len(a), len(b))
		}
	}
	if a, b := m.Shingles("hello world", nil), m.Shingles("helloworld", nil); slices.Equal(a, b) {
		t.Error("word units: \"hello world\" and \"helloworld\" should differ")
	}
}
