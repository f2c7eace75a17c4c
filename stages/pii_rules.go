package stages

import (
	"strings"
	"unicode/utf8"
)

// The pii scanner: hand-written matchers for each kind, run from one
// left-to-right pass over the text. The pass stops only at bytes that can
// start a match (ASCII letters, digits, a few punctuation marks and the
// full-width "（"), so Chinese text, whose bytes are all ≥ 0x80, costs one
// table lookup per byte.
//
// Matches never overlap: the leftmost start wins, and at the same start the
// kinds are tried in the order e-mail, IPv6, CN_ID, bank card, mobile,
// landline, IPv4 (URL credentials and passports start at bytes no other kind
// starts at). Every numeric kind requires a clean boundary on both sides: no
// ASCII letter, digit or '_' next to it, no '.' or '-' joining it to another
// digit (decimals, dates, hyphenated codes), no '@' after it (an e-mail local
// part), no '+' before it (a foreign country code), no currency sign
// (¥ ￥ $) before it and no 元/万/亿/块 after it (amounts).

// piiKind is a PII type; its name is the config and counter vocabulary.
type piiKind uint8

const (
	piiEmail piiKind = iota
	piiIP
	piiURLCred
	piiCNMobile
	piiCNPhone
	piiCNID
	piiBankCard
	piiPassport
	piiKinds
)

// piiNames are the kinds' names in options (types, placeholders), in the
// pii_counts column and in the counters.
var piiNames = [piiKinds]string{"email", "ip", "url_cred", "cn_mobile", "cn_phone", "cn_id", "bank_card", "passport"}

// piiDefaultPlaceholders replace each kind in redact mode.
var piiDefaultPlaceholders = [piiKinds]string{"<EMAIL>", "<IP>", "<URL_CRED>", "<CN_MOBILE>", "<CN_PHONE>", "<CN_ID>", "<BANK_CARD>", "<PASSPORT>"}

func (k piiKind) String() string { return piiNames[k] }

// piiMatch is one match: the bytes s[start:end] are of kind.
type piiMatch struct {
	start, end int
	kind       piiKind
}

// piiScanner finds PII in text. It holds only settings, so one scanner is
// shared by every worker.
type piiScanner struct {
	on [piiKinds]bool
	// today (yyyymmdd) is the latest birth date a CN_ID may carry, fixed
	// when the stage is built.
	today int
}

// Byte classes.
const (
	pbDigit = 1 << iota
	pbLetter
	pbLocal   // e-mail local part: letters, digits and . _ % + -
	pbHex     // 0-9 a-f A-F
	pbTrigger // a byte at which some match may start
)

var piiByte = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= pbDigit | pbLocal | pbHex | pbTrigger
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= pbLetter | pbLocal | pbTrigger
		t[c-'a'+'A'] |= pbLetter | pbLocal | pbTrigger
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] |= pbHex
		t[c-'a'+'A'] |= pbHex
	}
	for _, c := range "._%+-" {
		t[c] |= pbLocal | pbTrigger
	}
	t['_'] |= pbTrigger
	t[':'] |= pbTrigger
	t['('] |= pbTrigger
	t[0xEF] |= pbTrigger // first byte of "（" U+FF08
	return t
}()

func piiIsDigit(c byte) bool  { return piiByte[c]&pbDigit != 0 }
func piiIsLetter(c byte) bool { return piiByte[c]&pbLetter != 0 }
func piiIsHex(c byte) bool    { return piiByte[c]&pbHex != 0 }
func piiIsLocal(c byte) bool  { return piiByte[c]&pbLocal != 0 }

// piiIsWord: ASCII letter, digit or '_'.
func piiIsWord(c byte) bool { return piiByte[c]&(pbDigit|pbLetter) != 0 || c == '_' }

// piiDigits is the length of the run of ASCII digits at s[i:], counting at
// most max+1 (enough to tell "longer than max").
func piiDigits(s string, i, max int) int {
	n := 0
	for i+n < len(s) && n <= max && piiIsDigit(s[i+n]) {
		n++
	}
	return n
}

// piiAtoi reads the ASCII digits s[i:j] (known to be digits).
func piiAtoi(s string, i, j int) int {
	v := 0
	for ; i < j; i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v
}

const (
	fwLParen = "（"
	fwRParen = "）"
)

// next returns the first match starting at or after from.
func (sc *piiScanner) next(s string, from int) (piiMatch, bool) {
	emailSkip := from // e-mail was tried on the local-part run up to here
	for i := from; i < len(s); i++ {
		c := s[i]
		if piiByte[c]&pbTrigger == 0 {
			continue
		}
		var prev byte
		if i > 0 {
			prev = s[i-1]
		}
		if piiIsLocal(c) && i >= emailSkip && !piiIsLocal(prev) && sc.on[piiEmail] {
			if st, end := sc.email(s, i, &emailSkip); end > 0 {
				return piiMatch{st, end, piiEmail}, true
			}
		}
		switch {
		case piiIsDigit(c) || piiIsLetter(c):
			if piiIsWord(prev) {
				continue
			}
			if sc.on[piiIP] && piiIsHex(c) && prev != ':' && prev != '.' {
				if end := piiIPv6(s, i); end > 0 {
					return piiMatch{i, end, piiIP}, true
				}
			}
			if piiIsDigit(c) {
				if m, ok := sc.number(s, i); ok {
					return m, true
				}
			} else if sc.on[piiPassport] {
				if end := piiPassportAt(s, i); end > 0 {
					return piiMatch{i, end, piiPassport}, true
				}
			}
		case c == ':':
			if sc.on[piiURLCred] && strings.HasPrefix(s[i:], "://") {
				if st, end := piiURLCredAt(s, i); end > 0 {
					return piiMatch{st, end, piiURLCred}, true
				}
			}
			if sc.on[piiIP] && i+1 < len(s) && s[i+1] == ':' && !piiIsWord(prev) && prev != ':' && prev != '.' {
				if end := piiIPv6(s, i); end > 0 {
					return piiMatch{i, end, piiIP}, true
				}
			}
		case c == '+' || c == '(' || (c == 0xEF && strings.HasPrefix(s[i:], fwLParen)):
			if c == '+' && piiIsWord(prev) {
				continue
			}
			if sc.on[piiCNMobile] {
				if end := piiMobile(s, i); end > 0 {
					return piiMatch{i, end, piiCNMobile}, true
				}
			}
			if sc.on[piiCNPhone] {
				if end := piiLandline(s, i); end > 0 {
					return piiMatch{i, end, piiCNPhone}, true
				}
			}
		}
	}
	return piiMatch{}, false
}

// number tries the numeric kinds at a digit not preceded by a word byte.
func (sc *piiScanner) number(s string, i int) (piiMatch, bool) {
	if sc.on[piiCNID] {
		if end := sc.cnID(s, i); end > 0 {
			return piiMatch{i, end, piiCNID}, true
		}
	}
	if sc.on[piiBankCard] {
		if end := piiBankCardAt(s, i); end > 0 {
			return piiMatch{i, end, piiBankCard}, true
		}
	}
	if sc.on[piiCNMobile] {
		if end := piiMobile(s, i); end > 0 {
			return piiMatch{i, end, piiCNMobile}, true
		}
	}
	if sc.on[piiCNPhone] && s[i] == '0' {
		if end := piiLandline(s, i); end > 0 {
			return piiMatch{i, end, piiCNPhone}, true
		}
	}
	if sc.on[piiIP] {
		if end := piiIPv4(s, i); end > 0 {
			return piiMatch{i, end, piiIP}, true
		}
	}
	return piiMatch{}, false
}

// piiNumLeftOK checks what precedes a numeric match starting at i. grouped
// matches (digits in groups separated by spaces) also reject a digit and a
// space before them: they would be the tail of a longer group run.
func piiNumLeftOK(s string, i int, grouped bool) bool {
	if i == 0 || s[i] == '(' || s[i] == fwLParen[0] {
		return true // a parenthesis is a boundary of its own
	}
	p := s[i-1]
	switch {
	case piiIsWord(p), p == '+', p == '@':
		return false
	case p == '.' || p == '-' || (grouped && p == ' '):
		if i >= 2 && piiIsDigit(s[i-2]) {
			return false
		}
	}
	// A currency sign, maybe with one space, makes it an amount.
	j := i
	if p == ' ' {
		j--
	}
	t := s[:j]
	return !(strings.HasSuffix(t, "$") || strings.HasSuffix(t, "¥") || strings.HasSuffix(t, "￥"))
}

// piiNumRightOK checks what follows a numeric match ending at j.
func piiNumRightOK(s string, j int, grouped bool) bool {
	if j >= len(s) {
		return true
	}
	c := s[j]
	switch {
	case piiIsWord(c), c == '@':
		return false
	case c == '.' || c == '-' || (grouped && c == ' '):
		if j+1 < len(s) && piiIsDigit(s[j+1]) {
			return false
		}
	case c >= 0x80:
		t := s[j:]
		for _, unit := range [...]string{"元", "万", "亿", "块"} {
			if strings.HasPrefix(t, unit) {
				return false
			}
		}
	}
	return true
}

// ---- CN_ID: GB 11643-1999 resident identity number ----

// piiProvinces are the first two digits of a region code (GB/T 2260
// provinces, plus 71 Taiwan, 81 Hong Kong, 82 Macau and 83 for the ids
// issued to Taiwan residents on the mainland).
var piiProvinces = func() (t [100]bool) {
	for _, p := range []int{11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37,
		41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83} {
		t[p] = true
	}
	return t
}()

var piiIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const piiIDCheck = "10X98765432"

// piiIDCheckDigit is the ISO 7064 MOD 11-2 check character of 17 digits.
func piiIDCheckDigit(d string) byte {
	sum := 0
	for k := 0; k < 17; k++ {
		sum += int(d[k]-'0') * piiIDWeights[k]
	}
	return piiIDCheck[sum%11]
}

func piiValidDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && (y%4 == 0 && y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// cnID matches 17 digits and a check character (digit, X or x) at i: a
// known province, a real birth date from 1900-01-01 to today and a correct
// check character, not inside a longer run of letters or digits.
func (sc *piiScanner) cnID(s string, i int) int {
	n := piiDigits(s, i, 18)
	switch {
	case n == 18:
	case n == 17 && i+17 < len(s) && (s[i+17] == 'X' || s[i+17] == 'x'):
	default:
		return -1
	}
	end := i + 18
	if !piiProvinces[piiAtoi(s, i, i+2)] {
		return -1
	}
	y, m, d := piiAtoi(s, i+6, i+10), piiAtoi(s, i+10, i+12), piiAtoi(s, i+12, i+14)
	if ymd := y*10000 + m*100 + d; ymd < 19000101 || ymd > sc.today || !piiValidDate(y, m, d) {
		return -1
	}
	check := s[i+17]
	if check == 'x' {
		check = 'X'
	}
	if piiIDCheckDigit(s[i:]) != check {
		return -1
	}
	if !piiNumLeftOK(s, i, false) || !piiNumRightOK(s, end, false) {
		return -1
	}
	return end
}

// ---- BANK_CARD ----

// piiCardIIN reports whether the digits d start with a known issuer prefix
// that issues cards of this length: UnionPay 62 (16–19), Visa 4 (13, 16,
// 19), Mastercard 51–55 and 2221–2720 (16), Maestro 50/56–58 (16–19), Amex
// 34/37 (15), JCB 3528–3589 (16–19), Diners 300–305/36/38/39 (14–16),
// Discover and Bank of China's old cards 60/64/65 (16–19).
func piiCardIIN(d []byte) bool {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch {
	case d[0] == '4':
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55:
		return n == 16
	case p2 == 50 || (p2 >= 56 && p2 <= 58):
		return n >= 16
	case p4 >= 2221 && p4 <= 2720:
		return n == 16
	case p2 == 34 || p2 == 37:
		return n == 15
	case p4 >= 3528 && p4 <= 3589:
		return n >= 16
	case (p4 >= 3000 && p4 <= 3059) || p2 == 36 || p2 == 38 || p2 == 39:
		return n >= 14 && n <= 16
	case p2 == 62 || p2 == 60 || p2 == 64 || p2 == 65:
		return n >= 16
	}
	return false
}

// piiLuhn reports whether the digits pass the Luhn check.
func piiLuhn(d []byte) bool {
	sum := 0
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if (len(d)-1-k)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// piiBankCardAt matches 13–19 digits with a known issuer prefix and a valid
// Luhn check at i, written in one run or in groups: 4-4-4-4 with an
// optional last group of 1–3 (19 digits at most), 4-4-4-1 (13), 4-6-5
// (Amex) or 4-6-4 (Diners), separated by one kind of separator (space or
// '-').
func piiBankCardAt(s string, i int) int {
	var buf [19]byte
	d := buf[:0]
	n := piiDigits(s, i, 19)
	end, grouped := -1, false
	switch {
	case n >= 13 && n <= 19:
		d = append(d, s[i:i+n]...)
		end = i + n
	case n == 4 && i+5 < len(s) && (s[i+4] == ' ' || s[i+4] == '-') && piiIsDigit(s[i+5]):
		sep := s[i+4]
		var groups [6]int
		ng := 0
		j := i
		for {
			g := piiDigits(s, j, 6)
			if g > 6 || ng == len(groups) || len(d)+g > 19 {
				return -1
			}
			groups[ng] = g
			ng++
			d = append(d, s[j:j+g]...)
			j += g
			if j+1 < len(s) && s[j] == sep && piiIsDigit(s[j+1]) {
				j++
				continue
			}
			break
		}
		if !piiCardGroups(groups[:ng]) {
			return -1
		}
		end, grouped = j, true
	default:
		return -1
	}
	if len(d) < 13 || !piiCardIIN(d) || !piiLuhn(d) {
		return -1
	}
	if !piiNumLeftOK(s, i, grouped) || !piiNumRightOK(s, end, grouped) {
		return -1
	}
	return end
}

// piiCardGroups accepts the group patterns card numbers are printed in.
func piiCardGroups(g []int) bool {
	switch len(g) {
	case 3:
		return g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4)
	case 4:
		return g[0] == 4 && g[1] == 4 && g[2] == 4 && (g[3] == 4 || g[3] == 1)
	case 5:
		return g[0] == 4 && g[1] == 4 && g[2] == 4 && g[3] == 4 && g[4] <= 3
	}
	return false
}

// ---- CN_MOBILE ----

// piiMobile matches a mainland mobile number at i: 1[3-9] and 9 more
// digits, in one run or as 3-4-4 with spaces or dashes, optionally after
// +86, 86, 0086, (+86) or （+86） and one space or dash.
func piiMobile(s string, i int) int {
	if end := piiMobilePrefixed(s, i); end > 0 {
		return end
	}
	if !piiIsDigit(s[i]) {
		return -1
	}
	end, grouped := piiMobileBody(s, i)
	if end < 0 || !piiNumLeftOK(s, i, grouped) {
		return -1
	}
	return end
}

// piiMobilePrefixed matches a mobile number with its country code.
func piiMobilePrefixed(s string, i int) int {
	j := i
	spaced := false
	switch {
	case s[j] == '(' || strings.HasPrefix(s[j:], fwLParen):
		if s[j] == '(' {
			j++
		} else {
			j += len(fwLParen)
		}
		if j < len(s) && s[j] == '+' {
			j++
		}
		if !strings.HasPrefix(s[j:], "86") {
			return -1
		}
		j += 2
		switch {
		case j < len(s) && s[j] == ')':
			j++
		case strings.HasPrefix(s[j:], fwRParen):
			j += len(fwRParen)
		default:
			return -1
		}
		if j < len(s) && (s[j] == ' ' || s[j] == '-') {
			j++
		}
	case s[j] == '+' || strings.HasPrefix(s[j:], "0086") || strings.HasPrefix(s[j:], "86"):
		switch {
		case s[j] == '+':
			if !strings.HasPrefix(s[j+1:], "86") {
				return -1
			}
			j += 3
		case s[j] == '0':
			j += 4
		default:
			j += 2
		}
		if j < len(s) && (s[j] == ' ' || s[j] == '-') {
			spaced = s[j] == ' '
			j++
		}
	default:
		return -1
	}
	end, grouped := piiMobileBody(s, j)
	if end < 0 || !piiNumLeftOK(s, i, grouped || spaced) {
		return -1
	}
	return end
}

// piiMobileBody matches the 11 digits at j and checks the right boundary.
func piiMobileBody(s string, j int) (end int, grouped bool) {
	if j+1 >= len(s) || s[j] != '1' || s[j+1] < '3' || s[j+1] > '9' {
		return -1, false
	}
	switch n := piiDigits(s, j, 11); {
	case n == 11:
		end = j + 11
	case n == 3 && j+13 <= len(s):
		sep := s[j+3]
		if (sep != ' ' && sep != '-') || piiDigits(s, j+4, 4) != 4 || s[j+8] != sep || piiDigits(s, j+9, 4) != 4 {
			return -1, false
		}
		end, grouped = j+13, true
	default:
		return -1, false
	}
	if !piiNumRightOK(s, end, grouped) {
		return -1, false
	}
	return end, grouped
}

// ---- CN_PHONE (landline) ----

// piiArea reports the length of a valid area code with its leading 0 at
// j (010, 02x, 0[3-9]xx), or 0.
func piiArea(s string, j int) int {
	n := piiDigits(s, j, 4)
	if j >= len(s) || s[j] != '0' || n < 3 || n > 4 {
		return 0
	}
	switch {
	case n == 3 && (s[j+1] == '2' || (s[j+1] == '1' && s[j+2] == '0')):
		return 3
	case n == 4 && s[j+1] >= '3':
		return 4
	}
	return 0
}

// piiLandline matches a landline number at i: an area code (010, 02x or
// 0[3-9]xx) followed by '-' or a space, or written in ( ) or （ ）, or
// +86 and the area code without its 0; then 7–8 digits not starting with 0, in
// one run or split 3-4/4-4; then an optional extension (-123, 转123,
// ext. 123, x123, 分机123).
func piiLandline(s string, i int) int {
	j := i
	spaced := false
	switch {
	case s[j] == '+':
		if !strings.HasPrefix(s[j:], "+86") {
			return -1
		}
		j += 3
		if j >= len(s) || (s[j] != ' ' && s[j] != '-') {
			return -1
		}
		spaced = spaced || s[j] == ' '
		j++
		n := piiDigits(s, j, 3)
		if !(n == 2 && (s[j] == '2' || (s[j] == '1' && s[j+1] == '0')) || n == 3 && s[j] >= '3') {
			return -1
		}
		j += n
		if j >= len(s) || (s[j] != ' ' && s[j] != '-') {
			return -1
		}
		spaced = spaced || s[j] == ' '
		j++
	case s[j] == '(' || strings.HasPrefix(s[j:], fwLParen):
		if s[j] == '(' {
			j++
		} else {
			j += len(fwLParen)
		}
		a := piiArea(s, j)
		if a == 0 {
			return -1
		}
		j += a
		switch {
		case j < len(s) && s[j] == ')':
			j++
		case strings.HasPrefix(s[j:], fwRParen):
			j += len(fwRParen)
		default:
			return -1
		}
		if j < len(s) && (s[j] == ' ' || s[j] == '-') {
			spaced = s[j] == ' '
			j++
		}
	default:
		a := piiArea(s, j)
		if a == 0 {
			return -1
		}
		j += a
		if j >= len(s) || (s[j] != ' ' && s[j] != '-') {
			return -1
		}
		spaced = s[j] == ' '
		j++
	}
	// Subscriber number.
	if j >= len(s) || s[j] < '1' || s[j] > '9' {
		return -1
	}
	switch n := piiDigits(s, j, 8); {
	case n == 7 || n == 8:
		j += n
	case (n == 3 || n == 4) && j+n+5 <= len(s) && (s[j+n] == ' ' || s[j+n] == '-') && piiDigits(s, j+n+1, 4) == 4:
		spaced = spaced || s[j+n] == ' '
		j += n + 5
	default:
		return -1
	}
	j = piiExtension(s, j)
	if !piiNumLeftOK(s, i, spaced) || !piiNumRightOK(s, j, spaced) {
		return -1
	}
	return j
}

// piiExtension returns the end of an extension at j, or j.
func piiExtension(s string, j int) int {
	k := j
	if k < len(s) && s[k] == ' ' {
		k++
	}
	t := s[k:]
	switch {
	case strings.HasPrefix(t, "-") && j == k:
		k++
	case strings.HasPrefix(t, "转"):
		k += len("转")
	case strings.HasPrefix(t, "分机"):
		k += len("分机")
	case len(t) >= 3 && strings.EqualFold(t[:3], "ext"):
		k += 3
		if k < len(s) && s[k] == '.' {
			k++
		}
		if k < len(s) && s[k] == ' ' {
			k++
		}
	case strings.HasPrefix(t, "x") || strings.HasPrefix(t, "X"):
		k++
	default:
		return j
	}
	if n := piiDigits(s, k, 5); n >= 1 && n <= 5 {
		return k + n
	}
	return j
}

// ---- IP ----

// piiIPv4 matches a dotted quad at i (no leading zeros, octets ≤ 255) that
// is a public address and not a version number. A quad of small octets
// (all ≤ 20) is taken for an address only after a network word (IP, DNS,
// server, 地址, 服务器 …): without one it is an outline number.
func piiIPv4(s string, i int) int {
	if i > 0 {
		switch p := s[i-1]; {
		case p == '.':
			return -1
		case p == ':' && i >= 2 && (piiIsHex(s[i-2]) || s[i-2] == ':'):
			return -1 // the v4 tail of an IPv6 address
		}
	}
	var oct [4]int
	j := i
	for k := range oct {
		if k > 0 {
			if j >= len(s) || s[j] != '.' {
				return -1
			}
			j++
		}
		n := piiDigits(s, j, 3)
		if n == 0 || n > 3 || (n > 1 && s[j] == '0') {
			return -1
		}
		oct[k] = piiAtoi(s, j, j+n)
		if oct[k] > 255 {
			return -1
		}
		j += n
	}
	if j < len(s) {
		if c := s[j]; piiIsWord(c) || c == '.' && j+1 < len(s) && piiIsWord(s[j+1]) {
			return -1
		}
	}
	if !piiPublic4(oct) || piiVersionBefore(s, i) {
		return -1
	}
	if oct[0] <= 20 && oct[1] <= 20 && oct[2] <= 20 && oct[3] <= 20 && !piiNetworkBefore(s, i) {
		return -1 // an outline number (1.1.2.1, 3.2.2.5) unless said to be an address
	}
	return j
}

// piiNetWords say that a dotted quad after them is an address.
var piiNetWords = []string{"ip", "ipv4", "dns", "server", "host", "address", "addr", "ping", "gateway", "proxy", "nameserver", "resolver", "route", "subnet", "nslookup", "traceroute"}

var piiNetWordsZH = []string{"地址", "服务器", "网关", "主机", "代理", "解析", "域名", "节点"}

// piiNetworkBefore reports whether a network word is among the 16
// characters before i, or the quad follows "://" or '@' (a URL host).
func piiNetworkBefore(s string, i int) bool {
	j := i
	for r := 0; r < 16 && j > 0; r++ {
		_, size := utf8.DecodeLastRuneInString(s[:j])
		j -= size
	}
	w := s[j:i]
	if strings.HasSuffix(w, "://") || strings.HasSuffix(w, "@") {
		return true
	}
	for _, z := range piiNetWordsZH {
		if strings.Contains(w, z) {
			return true
		}
	}
	for k := 0; k < len(w); k++ {
		if !piiIsLetter(w[k]) || (k > 0 && piiIsLetter(w[k-1])) {
			continue
		}
		e := k
		for e < len(w) && (piiIsLetter(w[e]) || piiIsDigit(w[e])) {
			e++
		}
		for _, v := range piiNetWords {
			if strings.EqualFold(w[k:e], v) {
				return true
			}
		}
	}
	return false
}

// piiPublic4 is false for the special-purpose ranges of RFC 6890 and
// successors: this network, private, shared (CGN), loopback, link-local,
// IETF, documentation, 6to4 relay, benchmarking, multicast and reserved.
func piiPublic4(o [4]int) bool {
	a, b, c := o[0], o[1], o[2]
	switch {
	case a == 0, a == 10, a == 127, a >= 224:
		return false
	case a == 100 && b >= 64 && b <= 127:
		return false
	case a == 169 && b == 254, a == 172 && b >= 16 && b <= 31, a == 192 && b == 168:
		return false
	case a == 192 && b == 0 && (c == 0 || c == 2), a == 192 && b == 88 && c == 99:
		return false
	case a == 198 && (b == 18 || b == 19), a == 198 && b == 51 && c == 100, a == 203 && b == 0 && c == 113:
		return false
	}
	return true
}

// piiVersionWords name what a dotted number after them is a version of.
var piiVersionWords = []string{"version", "ver", "v", "build", "release", "rel", "rev", "chrome", "firefox", "safari", "edge", "edg", "opera", "msie", "crios", "android", "ios", "windows", "python", "node", "java", "go", "gcc", "nvidia", "cuda", "driver", "firmware", "kernel", "linux"}

// piiVersionBefore reports whether the word before i (across up to three
// spaces, '/', ':', '=' or a full-width colon) names a version:
// "Chrome/1.2.3.4", "version 1.2.3.4", "版本号：1.2.3.4".
func piiVersionBefore(s string, i int) bool {
	j := i
	for k := 0; k < 3 && j > 0; k++ {
		if c := s[j-1]; c == ' ' || c == '/' || c == ':' || c == '=' {
			j--
		} else if strings.HasSuffix(s[:j], "：") {
			j -= len("：")
		} else {
			break
		}
	}
	t := s[:j]
	if strings.HasSuffix(t, "版本") || strings.HasSuffix(t, "版本号") || strings.HasSuffix(t, "版本为") || strings.HasSuffix(t, "版本是") {
		return true
	}
	k := j
	for k > 0 && j-k < 10 && piiIsLetter(s[k-1]) {
		k--
	}
	if k == j || (k > 0 && piiIsWord(s[k-1])) {
		return false
	}
	w := s[k:j]
	for _, v := range piiVersionWords {
		if strings.EqualFold(w, v) {
			return true
		}
	}
	return false
}

// piiIPv6 matches a public IPv6 address at i (a hex digit or "::").
func piiIPv6(s string, i int) int {
	// Cheap test first: a colon within the first five bytes.
	k := i
	for k < len(s) && k-i < 4 && piiIsHex(s[k]) {
		k++
	}
	if k >= len(s) || s[k] != ':' {
		return -1
	}
	j, colons := i, 0
	for j < len(s) && j-i <= 45 && (piiIsHex(s[j]) || s[j] == ':' || s[j] == '.') {
		if s[j] == ':' {
			colons++
		}
		j++
	}
	if colons < 2 {
		return -1
	}
	end := j
	for end > i && s[end-1] == '.' {
		end--
	}
	ip, ok := piiParseIPv6(s[i:end])
	if !ok && end-i >= 2 && s[end-1] == ':' && s[end-2] != ':' {
		end--
		ip, ok = piiParseIPv6(s[i:end])
	}
	if !ok || (end < len(s) && (piiIsWord(s[end]) || s[end] == '%')) || !piiPublic6(ip) {
		return -1
	}
	return end
}

// piiParseIPv6 parses an IPv6 address without a zone (RFC 4291 text,
// with an optional dotted IPv4 tail). It does not allocate.
func piiParseIPv6(s string) (ip [16]byte, ok bool) {
	ellipsis := -1
	i, k := 0, 0
	if strings.HasPrefix(s, "::") {
		ellipsis = 0
		i = 2
		if i == len(s) {
			return ip, true
		}
	}
	for k < 16 {
		j, v := i, 0
		for j < len(s) && j-i < 4 && piiIsHex(s[j]) {
			c := s[j]
			switch {
			case c <= '9':
				c -= '0'
			case c >= 'a':
				c -= 'a' - 10
			default:
				c -= 'A' - 10
			}
			v = v<<4 | int(c)
			j++
		}
		if j == i || (j < len(s) && piiIsHex(s[j])) {
			return ip, false
		}
		if j < len(s) && s[j] == '.' {
			// Dotted IPv4 in the last 32 bits.
			if k > 12 || (ellipsis < 0 && k != 12) {
				return ip, false
			}
			var o [4]int
			p := i
			for q := range o {
				if q > 0 {
					if p >= len(s) || s[p] != '.' {
						return ip, false
					}
					p++
				}
				n := piiDigits(s, p, 3)
				if n == 0 || n > 3 || (n > 1 && s[p] == '0') {
					return ip, false
				}
				if o[q] = piiAtoi(s, p, p+n); o[q] > 255 {
					return ip, false
				}
				p += n
			}
			if p != len(s) {
				return ip, false
			}
			ip[k], ip[k+1], ip[k+2], ip[k+3] = byte(o[0]), byte(o[1]), byte(o[2]), byte(o[3])
			k += 4
			i = p
			break
		}
		ip[k], ip[k+1] = byte(v>>8), byte(v)
		k += 2
		i = j
		if i == len(s) {
			break
		}
		if s[i] != ':' || i+1 == len(s) {
			return ip, false
		}
		i++
		if s[i] == ':' {
			if ellipsis >= 0 {
				return ip, false
			}
			ellipsis = k
			i++
			if i == len(s) {
				break
			}
		}
	}
	if i != len(s) {
		return ip, false
	}
	if k < 16 {
		if ellipsis < 0 {
			return ip, false
		}
		n := 16 - k
		copy(ip[ellipsis+n:], ip[ellipsis:k])
		for q := ellipsis; q < ellipsis+n; q++ {
			ip[q] = 0
		}
	} else if ellipsis >= 0 {
		return ip, false
	}
	return ip, true
}

// piiPublic6 accepts global unicast (2000::/3) outside the IETF protocol
// block 2001::/23, documentation 2001:db8::/32 and 3fff::/20.
func piiPublic6(ip [16]byte) bool {
	switch {
	case ip[0]&0xE0 != 0x20:
		return false
	case ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8:
		return false
	case ip[0] == 0x20 && ip[1] == 0x01 && ip[2] < 0x02:
		return false
	case ip[0] == 0x3f && ip[1] == 0xff && ip[2] < 0x10:
		return false
	}
	return true
}

// ---- EMAIL ----

// piiFileExts are "TLDs" that are file extensions: icon@2x.png.
var piiFileExts = []string{"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "json", "txt", "pdf", "zip", "gz", "mp3", "mp4", "wav", "html", "htm", "xml", "yaml", "yml", "csv"}

// email matches an address whose local part is the run of local-part
// characters starting at i (leading punctuation trimmed): at most 64
// bytes, no "..", not ending in '.'; then '@' and at least two labels of
// letters, digits and inner '-', the last all letters (2–24, or an IDN
// xn--…) and not a file extension; not right after "://" (URL userinfo). *skip is set to the end of the run, where the next try
// may start.
func (sc *piiScanner) email(s string, i int, skip *int) (start, end int) {
	j := i
	for j < len(s) && piiIsLocal(s[j]) {
		j++
	}
	*skip = j
	if j >= len(s) || s[j] != '@' {
		return 0, -1
	}
	start = i
	for start < j && !piiIsWord(s[start]) {
		start++
	}
	local := s[start:j]
	if start >= 3 && s[start-3:start] == "://" {
		return 0, -1 // the user of a URL (https://user@host), not an address
	}
	if local == "" || len(local) > 64 || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return 0, -1
	}
	k, labels, last := j+1, 0, 0
	for {
		ls := k
		for k < len(s) && (piiIsWord(s[k]) && s[k] != '_' || s[k] == '-') {
			k++
		}
		if k == ls || s[ls] == '-' || s[k-1] == '-' {
			return 0, -1
		}
		labels++
		last = ls
		if k+1 < len(s) && s[k] == '.' && piiIsWord(s[k+1]) && s[k+1] != '_' {
			k++
			continue
		}
		break
	}
	if labels < 2 || k-j-1 > 253 {
		return 0, -1
	}
	tld := s[last:k]
	if len(tld) < 2 || len(tld) > 24 {
		return 0, -1
	}
	if idn := len(tld) > 4 && strings.EqualFold(tld[:4], "xn--"); !idn {
		for q := 0; q < len(tld); q++ {
			if !piiIsLetter(tld[q]) {
				return 0, -1
			}
		}
	}
	for _, ext := range piiFileExts {
		if strings.EqualFold(tld, ext) {
			return 0, -1
		}
	}
	if k < len(s) && (s[k] == '_' || s[k] == '@') {
		return 0, -1
	}
	return start, k
}

// ---- URL_CRED ----

// piiURLCredAt matches the user:password of scheme://user:password@host
// at the "://" at i. Only the credentials are redacted: scheme and host
// stay. The password must be non-empty; the user may be empty
// (redis://:secret@host). A userinfo without ':' (https://user@host) is
// not credentials.
func piiURLCredAt(s string, i int) (start, end int) {
	// Scheme: a letter, then letters, digits, + . -; at a word start.
	k := i
	for k > 0 && i-k < 32 && (piiIsWord(s[k-1]) && s[k-1] != '_' || s[k-1] == '+' || s[k-1] == '.' || s[k-1] == '-') {
		k--
	}
	for k < i && !piiIsLetter(s[k]) {
		k++
	}
	if i-k < 2 {
		return 0, -1
	}
	start = i + 3
	colon := -1
	j := start
	for ; j < len(s) && j-start <= 256; j++ {
		c := s[j]
		if c == '@' {
			break
		}
		if c == ':' && colon < 0 {
			colon = j
		}
		if !(piiIsWord(c) || c >= 0x80 || strings.IndexByte("-.~%!$&'()*+,;=:", c) >= 0) {
			return 0, -1
		}
	}
	if j >= len(s) || s[j] != '@' || colon < 0 || colon+1 == j {
		return 0, -1
	}
	// A host must follow: a letter, digit or '['.
	if j+1 >= len(s) || !(piiIsWord(s[j+1]) || s[j+1] == '[') {
		return 0, -1
	}
	return start, j
}

// ---- PASSPORT ----

// piiPassportAt matches a Chinese passport number at i: E, G, D, S or P and
// 8 digits, or E, a letter (not I or O) and 7 digits, when "护照" or
// "passport" (any case) is among the 20 characters before it. Without the
// keyword the shape is too common (part numbers, codes) to redact.
func piiPassportAt(s string, i int) int {
	c := s[i]
	var end int
	switch {
	case c == 'E' && i+1 < len(s) && s[i+1] >= 'A' && s[i+1] <= 'Z' && s[i+1] != 'I' && s[i+1] != 'O':
		if piiDigits(s, i+2, 7) != 7 {
			return -1
		}
		end = i + 9
	case c == 'E' || c == 'G' || c == 'D' || c == 'S' || c == 'P':
		if piiDigits(s, i+1, 8) != 8 {
			return -1
		}
		end = i + 9
	default:
		return -1
	}
	if end < len(s) && piiIsWord(s[end]) || !piiPassportKeyword(s, i) {
		return -1
	}
	return end
}

// piiPassportKeyword looks for the keyword in the 20 characters before i.
func piiPassportKeyword(s string, i int) bool {
	j := i
	for r := 0; r < 20 && j > 0; r++ {
		_, size := utf8.DecodeLastRuneInString(s[:j])
		j -= size
	}
	w := s[j:i]
	if strings.Contains(w, "护照") || strings.Contains(w, "護照") {
		return true
	}
	for k := 0; k+8 <= len(w); k++ {
		if w[k]|0x20 == 'p' && strings.EqualFold(w[k:k+8], "passport") {
			return true
		}
	}
	return false
}
