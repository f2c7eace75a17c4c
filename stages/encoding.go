package stages

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	xunicode "golang.org/x/text/encoding/unicode"
)

// Encoding names: the input.encoding values, plus the two UTF-16 forms that
// auto detects from a byte-order mark.
const (
	encAuto    = "auto"
	encUTF8    = "utf-8"
	encGB18030 = "gb18030"
	encGBK     = "gbk"
	encBig5    = "big5"
	encUTF16LE = "utf-16le"
	encUTF16BE = "utf-16be"
)

// sniffBytes is how much of a file auto-detection looks at.
const sniffBytes = 64 << 10

// normalizeEncoding checks input.encoding; "" means auto and "utf8" is
// accepted for utf-8.
func normalizeEncoding(name string) (string, error) {
	switch n := strings.ToLower(strings.TrimSpace(name)); n {
	case "", encAuto:
		return encAuto, nil
	case encUTF8, "utf8":
		return encUTF8, nil
	case encGB18030, encGBK, encBig5:
		return n, nil
	}
	return "", fmt.Errorf("input.encoding %q is not one of auto, utf-8, gb18030, gbk, big5", name)
}

// decoderFor returns the decoder of a legacy or UTF-16 encoding, nil for
// UTF-8 (read as is and validated record by record). The x/text decoders
// write U+FFFD for bytes they cannot decode; the readers quarantine records
// holding U+FFFD from a transcoded file as invalid_encoding.
func decoderFor(name string) *encoding.Decoder {
	switch name {
	case encGB18030:
		return simplifiedchinese.GB18030.NewDecoder()
	case encGBK:
		return simplifiedchinese.GBK.NewDecoder()
	case encBig5:
		return traditionalchinese.Big5.NewDecoder()
	case encUTF16LE:
		return xunicode.UTF16(xunicode.LittleEndian, xunicode.ExpectBOM).NewDecoder()
	case encUTF16BE:
		return xunicode.UTF16(xunicode.BigEndian, xunicode.ExpectBOM).NewDecoder()
	}
	return nil
}

var (
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// hasUTF16BOM reports a UTF-16 byte-order mark, whose NUL-rich content must
// not be taken for a binary file.
func hasUTF16BOM(head []byte) bool {
	return bytes.HasPrefix(head, bomUTF16LE) || bytes.HasPrefix(head, bomUTF16BE)
}

// detectEncoding picks the encoding of a file from its first bytes (at most
// sniffBytes) and says why:
//
//  1. a UTF-8 BOM means UTF-8, a UTF-16 BOM means UTF-16 of that order;
//  2. valid UTF-8 means UTF-8 (a multi-byte character cut at the end of the
//     sample is allowed);
//  3. otherwise the sample is decoded as GB18030 and as Big5, and an
//     encoding wins when its text decodes cleanly (no undecodable bytes but
//     for a stray one in 200 Han characters) and has a clearly higher share
//     of common Han characters than the other (see hanScore.beats);
//  4. with no confident winner the file is read as UTF-8, so its invalid
//     records are quarantined as invalid_encoding rather than decoded into
//     plausible-looking garbage: "decodes without error" proves nothing,
//     since nearly any byte string is valid GB18030.
func detectEncoding(sample []byte) (name, why string) {
	switch {
	case bytes.HasPrefix(sample, utf8BOM):
		return encUTF8, "UTF-8 byte-order mark"
	case bytes.HasPrefix(sample, bomUTF16LE):
		return encUTF16LE, "UTF-16LE byte-order mark"
	case bytes.HasPrefix(sample, bomUTF16BE):
		return encUTF16BE, "UTF-16BE byte-order mark"
	}
	body := trimCutRune(sample)
	if utf8.Valid(body) {
		return encUTF8, whyValidUTF8
	}
	gb := scoreHan(simplifiedchinese.GB18030.NewDecoder(), sample)
	b5 := scoreHan(traditionalchinese.Big5.NewDecoder(), sample)
	switch {
	case gb.beats(b5):
		return encGB18030, fmt.Sprintf("GB18030: %s; Big5: %s", gb, b5)
	case b5.beats(gb):
		return encBig5, fmt.Sprintf("Big5: %s; GB18030: %s", b5, gb)
	}
	return encUTF8, fmt.Sprintf("not UTF-8, and neither GB18030 (%s) nor Big5 (%s) is convincing", gb, b5)
}

const whyValidUTF8 = "valid UTF-8"

// trimCutRune drops an incomplete UTF-8 sequence at the end of b, which a
// sample cut at a fixed size (or a cut download) may end with.
func trimCutRune(b []byte) []byte {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < utf8.RuneSelf {
			return b
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-k:]) {
				return b[:len(b)-k]
			}
			return b
		}
	}
	return b
}

// hanScore summarises a sample decoded with one candidate encoding.
type hanScore struct {
	bad    int // U+FFFD and private-use characters: bytes the encoding does not explain
	han    int // Han characters
	common int // of which in commonHan
}

func (s hanScore) share() float64 {
	if s.han == 0 {
		return 0
	}
	return float64(s.common) / float64(s.han)
}

func (s hanScore) String() string {
	return fmt.Sprintf("%d undecodable, %d Han, %.0f%% common", s.bad, s.han, 100*s.share())
}

// Thresholds of beats, measured on the shared corpora (first 64 KiB):
// correctly decoded Chinese has 70-88% of its Han characters in commonHan
// (the GBK medical dialogues 70%, the UDHR samples 87-88%); Chinese decoded
// with the wrong one of GB18030/Big5 has 3-15% and hundreds of undecodable
// bytes; Shift_JIS Japanese decodes as GB18030 without error but 0% common,
// EUC-KR Korean 15%.
//
// A candidate may have a few undecodable bytes (at most one per
// maxBadPerHan Han characters): one corrupt byte should not turn 64 KiB of
// good GBK into a file of invalid_encoding records; the record holding it
// is quarantined anyway (see fileRun.checkEncoding). Wrong decodings have far
// more: Big5 read as GBK one per Han character, GBK read as Big5 one per 13,
// EUC-KR read as Big5 one per 80, and their common share fails regardless.
const (
	minHanForVerdict = 20
	minCommonShare   = 0.5
	minShareMargin   = 0.25
	maxBadPerHan     = 200
)

// clean says whether the decoding explained (nearly) every byte.
func (s hanScore) clean() bool { return s.bad*maxBadPerHan <= s.han }

// beats says whether s is a confident choice over the other candidate.
func (s hanScore) beats(other hanScore) bool {
	if !s.clean() || s.han < minHanForVerdict || s.share() < minCommonShare {
		return false
	}
	return !other.clean() || s.share() >= other.share()+minShareMargin
}

func scoreHan(dec *encoding.Decoder, sample []byte) hanScore {
	text, _ := dec.Bytes(sample)
	// A character cut at the end of the sample decodes as one U+FFFD: ignore it.
	text = bytes.TrimSuffix(text, []byte("\uFFFD"))
	var s hanScore
	for len(text) > 0 {
		r, n := utf8.DecodeRune(text)
		text = text[n:]
		switch {
		case r < 0x2E80:
		case r == utf8.RuneError || unicode.Is(unicode.Co, r):
			s.bad++
		case unicode.Is(unicode.Han, r):
			s.han++
			if commonHanSet.has(r) {
				s.common++
			}
		}
	}
	return s
}

// hanSet is a bitmap over the Basic Multilingual Plane.
type hanSet [0x10000 / 64]uint64

func (s *hanSet) has(r rune) bool {
	return r < 0x10000 && s[r>>6]&(1<<(r&63)) != 0
}

func newHanSet(chars string) *hanSet {
	var s hanSet
	for _, r := range chars {
		if r < 0x10000 {
			s[r>>6] |= 1 << (r & 63)
		}
	}
	return &s
}

// commonHanSet is read-only after package initialisation.
var commonHanSet = newHanSet(commonHan)

// commonHan holds the 500 most frequent Han characters of Simplified
// Chinese (the shared corpora zh-laws/ and zh-prose/, SOURCES.md and
// alt-edition/ excluded) and the 500 most frequent of Traditional Chinese
// (zh-trad/drcd/paragraphs.jsonl, the "text" fields), merged and sorted by
// code point. It was generated once with
//
//	WINNOW_GEN_HAN=1 go test -run TestGenerateCommonHan ./stages/
//
// which prints this constant; TestCommonHanUpToDate checks it still matches.
const commonHan = "" +
	"一七万三上下不与专且世业东两严並个中为主举么义之九也乡书了予事二于五些亞交亦产京人今仍从他付代令以们" +
	"件价任企伊优会传但位住体何作使來例供依便俄保信修個們倫债做停健偿傳元先光克入內全兩八公六共关兵其具养" +
	"内再军农决况准出分刑划列则初判別利别到制則前劃劉力办功加务动助励劳動務勢包化北区医區十华协協单卖南占" +
	"卡卫印危即却原去县参參又及反发取受变口古另只可台史司各合同名后向告员周命和品响員售商問善單器四回因围" +
	"国國圍圖團土在地场型城域基報場塞境增士处备复外多大天太夫央失奧女好如始委威子字存学學它安宋完宗官定实" +
	"审宣害家容密察實对导将將專對導小少就尼局居展属履屬山島州工己已巴市布帝帶常平年并广序应府度庭廣建开式" +
	"引張強强当录形影役往很律後徒得從復德心必态急性总息情想意應成我或戰所手托执批承技投护报担拉拘括持指按" +
	"损据排接控推措提撤擊據支收改攻放政故效敗教数整數文料斯新方於施族无日早时明易星是時普更書曾最會月有服" +
	"朝期木未本术机权李材村条来東构林果染查标校样核根格案條检業極構樂標模機權次款歐止正此武歷死段殺每比民" +
	"氣水求江污決沒没河治法洲活派流测济海消涉清港源溫满演漢濟灣点為無然照營爭爾物特犯獨獲率王环现現球理環" +
	"生產用由申电界留當疗病登發百的皇益监目直相省看着督知石研确示社神禁福种科称移程税種稱積究空立章符第等" +
	"算管築米类系紀約納級組結給統經維網線縣總織繼續约级纳组织经结给统续维网罚罪置羅美群義者而职联聯聲職股" +
	"育能自至致臺與興舉船色节英范草药華营萬著蒙藝蘇蘭處號行術衛补表被裁製西要規視觀见规解言計記設許該認語" +
	"說論警議護變计认议记许论讼设证评诉该说请调資質賽负财责货质费资赔起路身車軍較轉车转输辖辦農达过运近还" +
	"这进违追退送适选這通速造連進運過道達選還邊那邦部都配采里重量金鐵销長长門開間關门问间防阿际限院除险陸" +
	"隊際障隨集離電需非面革韓響領題類项须预领额風食首香馬验體高點黨龍"
