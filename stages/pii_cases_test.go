package stages

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The PII case tables: testdata/pii/cases.tsv (hand-written traps and
// sentences) plus generated cases (valid ids and cards with computed check
// digits in Chinese sentences, and their systematic corruptions).

// piiTestNow is the build date the tests give the stage, so ids born
// "today" do not change with the calendar.
var piiTestNow = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

// piiCase is one table row: text with the expected matches.
type piiCase struct {
	kind piiKind // the type the case is about
	from string  // where it comes from, for messages
	text string
	want []piiMatch // in original coordinates, sorted
}

// positive reports whether the case expects a match of its own type.
func (c piiCase) positive() bool {
	for _, m := range c.want {
		if m.kind == c.kind {
			return true
		}
	}
	return false
}

var piiTemplate = regexp.MustCompile(`\{(id|idbad|luhn|luhnbad):([0-9 -]+)\}`)

// piiExpand fills the check-digit templates.
func piiExpand(s string) string {
	return piiTemplate.ReplaceAllStringFunc(s, func(t string) string {
		m := piiTemplate.FindStringSubmatch(t)
		body := m[2]
		digits := strings.NewReplacer(" ", "", "-", "").Replace(body)
		switch m[1] {
		case "id", "idbad":
			c := piiIDCheckDigit(digits)
			if m[1] == "idbad" {
				c = piiIDCheck[(strings.IndexByte(piiIDCheck, c)+1)%11]
			}
			return body + string(c)
		default:
			d := piiLuhnDigit(digits)
			if m[1] == "luhnbad" {
				d = '0' + (d-'0'+1)%10
			}
			return body + string(d)
		}
	})
}

// piiLuhnDigit is the digit that makes digits+it pass the Luhn check.
func piiLuhnDigit(digits string) byte {
	for d := byte('0'); d <= '9'; d++ {
		if piiLuhn([]byte(digits + string(d))) {
			return d
		}
	}
	panic("no Luhn digit")
}

// piiParseMarked strips ⟦kind:…⟧ markers, returning the text and the
// expected matches.
func piiParseMarked(t testing.TB, kind piiKind, marked, from string) piiCase {
	t.Helper()
	c := piiCase{kind: kind, from: from}
	var sb strings.Builder
	rest := marked
	for {
		i := strings.Index(rest, "⟦")
		if i < 0 {
			sb.WriteString(rest)
			break
		}
		sb.WriteString(rest[:i])
		rest = rest[i+len("⟦"):]
		j := strings.Index(rest, "⟧")
		if j < 0 {
			t.Fatalf("%s: unclosed marker in %q", from, marked)
		}
		inner, k := rest[:j], kind
		if name, body, ok := strings.Cut(inner, ":"); ok {
			if kk, known := piiKindOf(name); known {
				inner, k = body, kk
			}
		}
		start := sb.Len()
		sb.WriteString(inner)
		c.want = append(c.want, piiMatch{start, sb.Len(), k})
		rest = rest[j+len("⟧"):]
	}
	c.text = sb.String()
	return c
}

// piiFileCases reads testdata/pii/cases.tsv.
func piiFileCases(t testing.TB) []piiCase {
	t.Helper()
	path := filepath.Join("testdata", "pii", "cases.tsv")
	var cases []piiCase
	for n, line := range normReadLines(t, path) {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, text, ok := strings.Cut(line, "\t")
		k, known := piiKindOf(name)
		if !ok || !known {
			t.Fatalf("%s:%d: want <type>\\t<text>, got %q", path, n+1, line)
		}
		text = strings.ReplaceAll(piiExpand(text), `\n`, "\n")
		cases = append(cases, piiParseMarked(t, k, text, fmt.Sprintf("cases.tsv:%d", n+1)))
	}
	return cases
}

// Generated cases. The random source is seeded: the tables are the same on
// every run.

var piiIDSentences = []string{
	"身份证号：⟦%s⟧",
	"我的身份证号码是⟦%s⟧，请核对。",
	"公民身份号码 ⟦%s⟧",
	"申请人（身份证号⟦%s⟧）于2023年3月提交申请。",
	"证件号码:⟦%s⟧;",
	"⟦%s⟧",
	"被告人李某，男，汉族，公民身份号码⟦%s⟧，住北京市海淀区。",
	"请携带身份证（⟦%s⟧）原件办理。",
	"ID: ⟦%s⟧\n",
	"患者信息：张某某，身份证⟦%s⟧，联系电话见病历。",
}

var piiMobileSentences = []string{
	"联系电话：⟦%s⟧，地址：广州市天河区",
	"手机⟦%s⟧",
	"如需帮助请拨打⟦%s⟧。",
	"王女士（⟦%s⟧）已确认收货",
	"tel: ⟦%s⟧",
	"紧急联系人：父亲，⟦%s⟧",
	"⟦%s⟧\n",
	"下单人手机号码为⟦%s⟧，请勿泄露。",
}

var piiCardSentences = []string{
	"银行卡号：⟦%s⟧",
	"请将款项汇入账户⟦%s⟧（开户行：中国工商银行）。",
	"卡号⟦%s⟧，户名张三",
	"信用卡 ⟦%s⟧ 已绑定",
	"\"card\": \"⟦%s⟧\"",
	"退款将原路返回至尾号为7890的卡，完整卡号⟦%s⟧。",
}

var piiPhoneSentences = []string{
	"电话：⟦%s⟧",
	"地址：成都市武侯区人民南路四段1号，电话⟦%s⟧。",
	"传真⟦%s⟧",
	"咨询电话（⟦%s⟧）",
	"Tel: ⟦%s⟧\n",
	"如有疑问，请致电⟦%s⟧，工作日9:00-17:00。",
}

// piiProvinceList are the valid first two digits of a CN_ID.
func piiProvinceList() []int {
	var out []int
	for p, ok := range piiProvinces {
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// piiRandomID returns 17 digits with a real province, region digits and a
// birth date between 1930 and 2010.
func piiRandomID(r *rand.Rand, provinces []int) string {
	p := provinces[r.IntN(len(provinces))]
	y := 1930 + r.IntN(81)
	m := 1 + r.IntN(12)
	d := 1 + r.IntN(28)
	return fmt.Sprintf("%02d%04d%04d%02d%02d%03d", p, r.IntN(10000), y, m, d, r.IntN(1000))
}

func piiRandomDigits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// piiGroup4 writes digits in groups of four separated by sep.
func piiGroup4(d, sep string) string {
	var parts []string
	for len(d) > 4 {
		parts = append(parts, d[:4])
		d = d[4:]
	}
	return strings.Join(append(parts, d), sep)
}

// piiGeneratedCases builds the generated positives and negatives.
func piiGeneratedCases(t testing.TB) []piiCase {
	t.Helper()
	r := rand.New(rand.NewPCG(20231129, 11643))
	var cases []piiCase
	add := func(kind piiKind, marked string) {
		from := fmt.Sprintf("generated %s #%d", kind, len(cases))
		cases = append(cases, piiParseMarked(t, kind, marked, from))
	}
	neg := func(kind piiKind, text string) {
		cases = append(cases, piiCase{kind: kind, text: text, from: fmt.Sprintf("generated %s negative #%d", kind, len(cases))})
	}
	provinces := piiProvinceList()
	// Provinces whose 18-digit numbers cannot be bank cards (UnionPay 62,
	// Discover 65 and Maestro 50 issue 18-digit cards): an id with a bad
	// check digit there is a card when its Luhn digit happens to fit.
	var nonCard []int
	for _, p := range provinces {
		if p != 50 && p != 62 && p != 65 {
			nonCard = append(nonCard, p)
		}
	}

	// CN_ID positives: 50 random ids, some with a lowercase x.
	xs := 0
	for n := 0; n < 50; n++ {
		body := piiRandomID(r, provinces)
		id := body + string(piiIDCheckDigit(body))
		if strings.HasSuffix(id, "X") {
			xs++
			if xs%2 == 0 {
				id = body + "x"
			}
		}
		add(piiCNID, fmt.Sprintf(piiIDSentences[n%len(piiIDSentences)], id))
	}
	// CN_ID negatives: each a corruption of a valid id.
	for n := 0; n < 60; n++ {
		body := piiRandomID(r, nonCard)
		good := body + string(piiIDCheckDigit(body))
		var bad string
		switch n % 6 {
		case 0: // wrong check character
			c := piiIDCheckDigit(body)
			bad = body + string(piiIDCheck[(strings.IndexByte(piiIDCheck, c)+1+r.IntN(10))%11])
		case 1: // month 13 (or 00), check digit recomputed
			b := body[:10] + []string{"13", "00", "14", "20"}[r.IntN(4)] + body[12:]
			bad = b + string(piiIDCheckDigit(b))
		case 2: // day 30/31 of February, 32, 00
			b := body[:10] + "02" + []string{"30", "31"}[r.IntN(2)] + body[14:]
			if r.IntN(2) == 0 {
				b = body[:12] + []string{"32", "00"}[r.IntN(2)] + body[14:]
			}
			bad = b + string(piiIDCheckDigit(b))
		case 3: // inside a 19–20 digit run (a 19-digit run starting 1, 7,
			// 8 or 9, which no card issuer uses)
			bad = string("1789"[r.IntN(4)]) + good
			if r.IntN(2) == 0 {
				bad = piiRandomDigits(r, 2) + good
			}
		case 4: // unknown province
			b := []string{"00", "10", "19", "20", "29", "38", "47", "55", "66", "70", "80", "84", "90", "99"}[r.IntN(14)] + body[2:]
			bad = b + string(piiIDCheckDigit(b))
		case 5: // born before 1900 or after the build date
			y := []string{"1899", "1800", "2026", "2030", "2099"}[r.IntN(5)]
			b := body[:6] + y + body[10:]
			bad = b + string(piiIDCheckDigit(b))
		}
		neg(piiCNID, fmt.Sprintf([]string{"身份证号：%s", "编号%s", "%s", "流水号 %s。"}[n%4], bad))
	}

	// CN_MOBILE positives in every written form.
	mobileForms := []func(d string) string{
		func(d string) string { return d },
		func(d string) string { return d[:3] + " " + d[3:7] + " " + d[7:] },
		func(d string) string { return d[:3] + "-" + d[3:7] + "-" + d[7:] },
		func(d string) string { return "+86 " + d },
		func(d string) string { return "+86" + d },
		func(d string) string { return "+86-" + d[:3] + "-" + d[3:7] + "-" + d[7:] },
		func(d string) string { return "(+86)" + d },
		func(d string) string { return "0086" + d },
		func(d string) string { return "86-" + d },
		func(d string) string { return "（+86）" + d },
	}
	for n := 0; n < 50; n++ {
		d := "1" + string(byte('3'+r.IntN(7))) + piiRandomDigits(r, 9)
		add(piiCNMobile, fmt.Sprintf(piiMobileSentences[n%len(piiMobileSentences)], mobileForms[n%len(mobileForms)](d)))
	}
	// CN_MOBILE negatives: near misses.
	for n := 0; n < 50; n++ {
		d := "1" + string(byte('3'+r.IntN(7))) + piiRandomDigits(r, 9)
		var bad string
		switch n % 10 {
		case 0: // 12 digits
			bad = d + piiRandomDigits(r, 1)
		case 1: // 10 digits
			bad = d[:10]
		case 2: // second digit 0–2
			bad = "1" + string(byte('0'+r.IntN(3))) + d[2:]
		case 3: // a digit before
			bad = piiRandomDigits(r, 1) + d
		case 4: // a decimal
			bad = d + "." + piiRandomDigits(r, 2)
		case 5: // an amount
			bad = []string{"¥", "￥", "$"}[r.IntN(3)] + d
		case 6: // letters around
			bad = "SN" + d
		case 7: // an amount in 元
			bad = d + "元"
		case 8: // a longer hyphenated number
			bad = d + "-" + piiRandomDigits(r, 4)
		case 9: // wrong grouping
			bad = d[:4] + " " + d[4:8] + " " + d[8:]
		}
		neg(piiCNMobile, fmt.Sprintf([]string{"编号：%s", "%s", "金额 %s，请核对", "订单%s已发货"}[n%4], bad))
	}

	// CN_PHONE positives.
	areas := []string{"010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0311", "0351", "0371", "0431", "0451", "0512", "0531", "0571", "0591", "0731", "0755", "0769", "0871", "0898", "0931", "0991"}
	phoneForms := []func(a, sub string) string{
		func(a, sub string) string { return a + "-" + sub },
		func(a, sub string) string { return "(" + a + ")" + sub },
		func(a, sub string) string { return "（" + a + "）" + sub },
		func(a, sub string) string { return a + "-" + sub[:len(sub)-4] + " " + sub[len(sub)-4:] },
		func(a, sub string) string { return a + "-" + sub + "-" + piiRandomDigits(r, 3) },
		func(a, sub string) string { return a + "-" + sub + "转" + piiRandomDigits(r, 4) },
		func(a, sub string) string { return "+86-" + a[1:] + "-" + sub },
		func(a, sub string) string { return a + " " + sub },
	}
	for n := 0; n < 50; n++ {
		a := areas[r.IntN(len(areas))]
		sub := string(byte('2'+r.IntN(8))) + piiRandomDigits(r, 6+r.IntN(2))
		add(piiCNPhone, fmt.Sprintf(piiPhoneSentences[n%len(piiPhoneSentences)], phoneForms[n%len(phoneForms)](a, sub)))
	}
	// CN_PHONE negatives.
	badAreas := []string{"001", "011", "012", "0101", "0200", "0211", "099", "00755"}
	for n := 0; n < 50; n++ {
		a := areas[r.IntN(len(areas))]
		sub := string(byte('2'+r.IntN(8))) + piiRandomDigits(r, 6+r.IntN(2))
		var bad string
		switch n % 8 {
		case 0: // no separator
			bad = a + sub
		case 1: // subscriber too long
			bad = a + "-" + sub + piiRandomDigits(r, 2)
		case 2: // subscriber too short
			bad = a + "-" + sub[:5]
		case 3: // invalid area code
			bad = badAreas[r.IntN(len(badAreas))] + "-" + sub
		case 4: // subscriber starting with 0
			bad = a + "-0" + sub[1:]
		case 5: // a date or a range
			bad = fmt.Sprintf("%d-%02d-%02d", 1990+r.IntN(35), 1+r.IntN(12), 1+r.IntN(28))
		case 6: // part of a code
			bad = "NO." + "X" + a + "-" + sub
		case 7: // part of a longer hyphenated number
			bad = piiRandomDigits(r, 2) + "-" + a + "-" + sub
		}
		neg(piiCNPhone, fmt.Sprintf([]string{"编号：%s", "%s", "文号 %s。", "批次%s"}[n%4], bad))
	}

	// BANK_CARD positives: issuer prefixes and lengths, in one run or
	// grouped.
	cardPrefixes := []struct {
		prefix string
		n      int
	}{
		{"622202", 19}, {"622848", 19}, {"621700", 19}, {"622588", 16}, {"625998", 16},
		{"623668", 19}, {"620522", 16}, {"628288", 16}, {"4", 16}, {"4", 13}, {"51", 16},
		{"55", 16}, {"2221", 16}, {"2720", 16}, {"601382", 19}, {"3528", 16},
	}
	for n := 0; n < 50; n++ {
		cp := cardPrefixes[n%len(cardPrefixes)]
		body := cp.prefix + piiRandomDigits(r, cp.n-1-len(cp.prefix))
		card := body + string(piiLuhnDigit(body))
		switch n % 3 {
		case 1:
			if cp.n >= 16 {
				card = piiGroup4(card, " ")
			}
		case 2:
			if cp.n >= 16 {
				card = piiGroup4(card, "-")
			}
		}
		add(piiBankCard, fmt.Sprintf(piiCardSentences[n%len(piiCardSentences)], card))
	}
	// BANK_CARD negatives.
	for n := 0; n < 50; n++ {
		cp := cardPrefixes[n%len(cardPrefixes)]
		body := cp.prefix + piiRandomDigits(r, cp.n-1-len(cp.prefix))
		good := body + string(piiLuhnDigit(body))
		var bad string
		switch n % 6 {
		case 0: // Luhn fails
			bad = body + string('0'+(piiLuhnDigit(body)-'0'+1+byte(r.IntN(9)))%10)
		case 1: // Luhn holds, no issuer prefix
			b := string(byte([]byte("1789")[r.IntN(4)])) + piiRandomDigits(r, 14)
			bad = b + string(piiLuhnDigit(b))
		case 2: // Luhn holds, wrong length for the prefix
			b := cp.prefix + piiRandomDigits(r, 20-len(cp.prefix))
			if r.IntN(2) == 0 {
				b = cp.prefix + piiRandomDigits(r, 10-len(cp.prefix))
			}
			bad = b + string(piiLuhnDigit(b))
		case 3: // inside a longer run
			bad = good + piiRandomDigits(r, 21-len(good))
		case 4: // an amount
			bad = "¥" + good + ".00"
		case 5: // letters around
			bad = "TX" + good
		}
		neg(piiBankCard, fmt.Sprintf([]string{"编号：%s", "%s", "交易流水号 %s。", "单号%s"}[n%4], bad))
	}
	return cases
}

// piiAllCases is the whole table.
func piiAllCases(t testing.TB) []piiCase {
	t.Helper()
	return append(piiFileCases(t), piiGeneratedCases(t)...)
}

// piiSpans redacts s like PII.redact and returns the matches of every
// round in the coordinates of s (a later round's match inside earlier
// replacements maps to the replaced span).
func piiSpans(p *PII, s string) []piiMatch {
	type seg struct {
		cur, orig, n int // bytes [cur, cur+n) of the current text are orig…
		ph           bool
		origEnd      int // placeholders: the replaced span's end
	}
	segs := []seg{{0, 0, len(s), false, len(s)}}
	mapPos := func(pos int, end bool) int {
		for _, g := range segs {
			if pos >= g.cur && (pos < g.cur+g.n || end && pos == g.cur+g.n) {
				if g.ph {
					if end {
						return g.origEnd
					}
					return g.orig
				}
				return g.orig + pos - g.cur
			}
		}
		return len(s)
	}
	var out []piiMatch
	cur := s
	for range piiMaxRounds {
		var ms []piiMatch
		for m, ok := p.sc.next(cur, 0); ok; m, ok = p.sc.next(cur, m.end) {
			ms = append(ms, m)
		}
		if len(ms) == 0 {
			break
		}
		// New segments: the old ones cut around the matches.
		var next []seg
		var sb strings.Builder
		last := 0
		emit := func(from, to int) { // copy cur[from:to] with its mapping
			for _, g := range segs {
				a, b := max(from, g.cur), min(to, g.cur+g.n)
				if a >= b {
					continue
				}
				ng := g
				ng.cur, ng.n = sb.Len(), b-a
				if !g.ph {
					ng.orig = g.orig + a - g.cur
				}
				next = append(next, ng)
				sb.WriteString(cur[a:b])
			}
		}
		for _, m := range ms {
			emit(last, m.start)
			om := piiMatch{mapPos(m.start, false), mapPos(m.end, true), m.kind}
			out = append(out, om)
			next = append(next, seg{sb.Len(), om.start, len(p.ph[m.kind]), true, om.end})
			sb.WriteString(p.ph[m.kind])
			last = m.end
		}
		emit(last, len(cur))
		cur, segs = sb.String(), next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}
