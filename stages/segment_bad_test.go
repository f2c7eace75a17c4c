package stages

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSegmentOddInput: each kind of odd text has a defined outcome and
// never reaches jieba in a form cppjieba would log about or stop at (an
// invalid byte makes cppjieba drop the whole input with a message on
// stderr; a NUL ends its C string).
func TestSegmentOddInput(t *testing.T) {
	st := newTestSegment(t, nil)
	cases := []struct {
		name, text string
		want       []string
	}{
		{"empty", "", []string{}},
		{"punctuation", "，。、；：？！…—·「」『』《》（）【】〔〕“”‘’,.;:?!-()[]{}\"'", []string{}},
		{"emoji", "😀👍🏽👨‍👩‍👧‍👦🇨🇳❤️", []string{}},
		{"white space", " \t\n\r\v\f\u00a0\u2003\u3000\u2028\u2029", []string{}},
		{"invalid UTF-8", "\xff\xfe中文\xed\xa0\x80abc\xc3", []string{"中文", "abc"}},
		{"NUL", "中\x00文 a\x00b", []string{"中", "文", "a", "b"}},
		{"lone combining mark", "\u0301\u0301", []string{}},
		{"decomposed letter", "a\u0301b", []string{"a\u0301b"}},
		{"noncharacters", "\ufffe\uffff\U0010ffff\U0001fffe", []string{}},
		{"private use", "\ue4c2\ue4c2范爱农", []string{"范爱农"}},
		{"bidi and zero-width", "\u202e中文\u202c\u200b学习\u200d\ufeff", []string{"中文", "学习"}},
		{"replacement character", "\ufffd\ufffd中文", []string{"中文"}},
		{"ideographic variation", "葛\U000E0100城", []string{"葛", "城"}},
		{"CJK extension B", "𠮷野家", []string{"𠮷", "野", "家"}},
	}
	texts := make([]string, len(cases))
	for i, c := range cases {
		texts[i] = c.text
	}
	got := segmentWords(t, st, texts...)
	for i, c := range cases {
		if !reflect.DeepEqual(got[i], c.want) {
			t.Errorf("%s: segment(%q) = %q, want %q", c.name, c.text, got[i], c.want)
		}
	}
}

// TestSegmentHugeRepeats: 50 MB of one character, four ways. jieba's memory
// grows with its input (2.1 GB for a 16 MB block), so the stage feeds it 64
// KiB at a time; uniseg streams. Each must finish in seconds (2-3 s here;
// 8 MB under the race detector, which slows the Go side five-fold).
func TestSegmentHugeRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB inputs; -short")
	}
	size := 50 << 20
	if raceEnabled {
		size = 8 << 20
	}
	st := newTestSegment(t, nil)
	cases := []struct {
		name, unit string
		check      func(t *testing.T, words []string)
	}{
		{"Han", "啊", func(t *testing.T, words []string) {
			// Every byte is Han, so the words tile the text.
			n := 0
			for _, w := range words {
				if strings.Trim(w, "啊") != "" {
					t.Fatalf("word %q", w)
				}
				n += len(w)
			}
			if n != size/3*3 {
				t.Errorf("words cover %d bytes of %d", n, size/3*3)
			}
		}},
		{"ASCII letter", "a", func(t *testing.T, words []string) {
			if len(words) != 1 || len(words[0]) != size {
				t.Errorf("%d words, want one of %d bytes", len(words), size)
			}
		}},
		{"punctuation", "。", func(t *testing.T, words []string) {
			if len(words) != 0 {
				t.Errorf("%d words, want none", len(words))
			}
		}},
	}
	if !raceEnabled {
		// uniseg's emoji rules are slow under the race detector.
		cases = append(cases, struct {
			name, unit string
			check      func(t *testing.T, words []string)
		}{"emoji", "😀", func(t *testing.T, words []string) {
			if len(words) != 0 {
				t.Errorf("%d words, want none", len(words))
			}
		}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.Repeat(c.unit, size/len(c.unit))
			start := time.Now()
			words := segmentWords(t, st, text)[0]
			t.Logf("%d MB of %q: %d words in %v", size>>20, c.unit, len(words), time.Since(start).Round(time.Millisecond))
			c.check(t, words)
		})
	}
}

// TestSegmentLongBlock: a Han block longer than a jieba chunk is cut at a
// character boundary and nothing is lost or repeated.
func TestSegmentLongBlock(t *testing.T) {
	jb, err := sharedJieba("")
	if err != nil {
		t.Fatal(err)
	}
	seg := segmenter{jb: jb, hmm: true}
	var sc segScratch
	// 2-, 3- and 4-byte runes so the chunk limit falls inside a rune.
	text := "序" + strings.Repeat("我们的ü𠮷", segChunkBytes/5) + "，完"
	st, err := seg.segment(&sc, text, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.splitBlocks < 2 {
		t.Errorf("%d long blocks split, want at least 2 for %d bytes", st.splitBlocks, len(text))
	}
	pos := 0
	for _, sp := range sc.spans {
		if sp.start < pos {
			t.Fatalf("span %v overlaps the one before (ends at %d)", sp, pos)
		}
		if gap := text[pos:sp.start]; strings.Trim(gap, "，") != "" {
			t.Fatalf("bytes %d..%d (%q) are in no word", pos, sp.start, gap)
		}
		pos = sp.end
	}
	if pos != len(text) {
		t.Errorf("words end at byte %d of %d", pos, len(text))
	}
}
