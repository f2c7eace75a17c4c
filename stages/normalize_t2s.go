package stages

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/liuzl/gocc"
)

// Traditional → Simplified conversion.
//
// The dictionaries are OpenCC's (TSPhrases, TSCharacters and the regional
// TW/HK tables), as embedded in github.com/liuzl/gocc, and the matching rule
// is OpenCC's: at each position every group of the chain takes the longest
// key of the first dictionary (in the group's order) that has any key
// starting there, so 乾隆 (a TSPhrases entry mapping to itself) wins over
// 乾→干, while 乾燥 falls through to the character table.
//
// gocc itself is not used to convert: its Convert builds a map and a
// token slice per character (about 3 MB/s here, on paragraphs and on 4 MB
// documents alike), and after an invalid UTF-8 byte it skips the two bytes
// that follow ("a\xffbcd" → "a\uFFFDd"). The dictionaries are instead read
// out of gocc's tries once and matched here with rune-indexed tables and a
// map of phrases: the same output (TestNormalizeT2SMatchesGocc), 10–20
// times faster.

// t2sModes lists the t2s_mode values: the OpenCC configurations they load.
var t2sModes = []string{"t2s", "tw2s", "tw2sp", "hk2s"}

// t2sDict is one dictionary file of a chain: keys and their first
// candidate. Lookups are by rune in dense tables over the BMP, so a rune
// that starts no key costs two loads.
type t2sDict struct {
	vals []t2sValue
	// charIdx holds, per BMP rune, 1 + the index in vals of the one-rune
	// key (0: none); nil when the dictionary has no such key.
	charIdx  []uint16
	charHigh map[rune]uint16 // the same above the BMP
	phrases  map[string]uint16
	// maxLen holds, per first rune of a multi-rune key, the byte length of
	// the longest such key: the matcher tries no longer candidate.
	maxLen     []uint8
	maxLenHigh map[rune]int // the same above the BMP, or for keys over 255 bytes
}

// t2sValue is a dictionary value.
type t2sValue struct {
	text string
	// again: the value holds a rune the chain may change (乾 of 乾隆, 於 of
	// the name 於伦), so text that received it may change in another pass.
	again bool
}

// t2sGroup is one step of the chain; dictionaries are tried in order.
type t2sGroup struct {
	dicts []*t2sDict
	// starts marks the runes some key of the group starts with; a rune
	// outside it (most of Simplified text) is passed with one load.
	starts     normRuneSet
	startsHigh map[rune]bool
}

// mayStart reports whether a key of the group may start with r.
func (g *t2sGroup) mayStart(r rune) bool {
	if r < normTableSize {
		return g.starts.has(r)
	}
	return g.startsHigh[r]
}

// t2sConverter is a built, read-only conversion chain, safe for concurrent use.
type t2sConverter struct {
	mode   string
	groups []*t2sGroup
	// trigger holds every rune whose presence can make the chain change a
	// text: a text without any is returned unchanged, so it is never matched.
	trigger normRuneSet
	// triggerHigh is trigger above the table's range (rare supplementary
	// characters of the dictionaries).
	triggerHigh map[rune]bool
	// strict holds the Traditional-only characters: TSCharacters keys that
	// are not among their own Simplified candidates (國 髮 後, not 乾 於
	// 著, which Simplified text uses too). t2s auto converts a document
	// only when it has one.
	strict normRuneSet
	// tab is the class table with clTrigger and clStrictTrad set, for the
	// scan of normalizers using this chain.
	tab []normClass
}

var t2sCache struct {
	sync.Mutex
	conv map[string]*t2sConverter
}

// t2sFor returns the shared converter of mode, building it on first use.
// Converters are read-only once built, so workers share them.
func t2sFor(mode string) (*t2sConverter, error) {
	t2sCache.Lock()
	defer t2sCache.Unlock()
	if c, ok := t2sCache.conv[mode]; ok {
		return c, nil
	}
	c, err := newT2S(mode)
	if err != nil {
		return nil, err
	}
	if t2sCache.conv == nil {
		t2sCache.conv = map[string]*t2sConverter{}
	}
	t2sCache.conv[mode] = c
	return c, nil
}

// newT2S reads the dictionaries of gocc's configuration mode out of its
// tries (every key with its first candidate, as OpenCC uses them).
func newT2S(mode string) (*t2sConverter, error) {
	cc, err := gocc.New(mode)
	if err != nil {
		return nil, fmt.Errorf("opencc %s: %w", mode, err)
	}
	c := &t2sConverter{mode: mode, triggerHigh: map[rune]bool{}}
	for gi, g := range cc.DictChains {
		group := &t2sGroup{startsHigh: map[rune]bool{}}
		for di, d := range g.Dicts {
			td := &t2sDict{charHigh: map[rune]uint16{}, phrases: map[string]uint16{}, maxLenHigh: map[rune]int{}}
			for _, id := range d.Trie.PrefixPredict(nil, 0) {
				key, err := d.Trie.Key(id)
				if err != nil {
					return nil, fmt.Errorf("opencc %s: dictionary %s: key %d: %w", mode, g.Files[di], id, err)
				}
				vi, err := d.Trie.Value(id)
				if err != nil || vi < 0 || vi >= len(d.Values) || len(d.Values[vi]) == 0 {
					return nil, fmt.Errorf("opencc %s: dictionary %s: no value for %q", mode, g.Files[di], key)
				}
				cands := d.Values[vi]
				if err := td.add(string(key), cands[0]); err != nil {
					return nil, fmt.Errorf("opencc %s: dictionary %s: %w", mode, g.Files[di], err)
				}
				if g.Files[di] == "TSCharacters.txt" && !slices.Contains(cands, string(key)) {
					if r, size := utf8.DecodeRune(key); size == len(key) && r < normTableSize {
						c.strict.add(r)
					}
				}
				c.addTrigger(string(key), cands[0])
				if r, _ := utf8.DecodeRune(key); r < normTableSize {
					group.starts.add(r)
				} else {
					group.startsHigh[r] = true
				}
			}
			if len(td.vals) == 0 {
				return nil, fmt.Errorf("opencc %s: dictionary %s (group %d) is empty", mode, g.Files[di], gi)
			}
			group.dicts = append(group.dicts, td)
		}
		c.groups = append(c.groups, group)
	}
	for _, g := range c.groups {
		for _, d := range g.dicts {
			for i := range d.vals {
				d.vals[i].again = c.hasTrigger(d.vals[i].text)
			}
		}
	}
	c.tab = slices.Clone(normTables())
	for r := range c.tab {
		if c.trigger.has(rune(r)) {
			c.tab[r] |= clTrigger
		}
		if c.strict.has(rune(r)) {
			c.tab[r] |= clStrictTrad
		}
	}
	return c, nil
}

func (d *t2sDict) add(key, val string) error {
	if len(d.vals) >= 0xFFFF {
		return fmt.Errorf("more than %d entries", 0xFFFF)
	}
	d.vals = append(d.vals, t2sValue{text: val})
	idx := uint16(len(d.vals)) // 1-based
	r, size := utf8.DecodeRuneInString(key)
	switch {
	case size == len(key) && r >= 0x10000:
		d.charHigh[r] = idx
	case size == len(key):
		if d.charIdx == nil {
			d.charIdx = make([]uint16, 0x10000)
		}
		d.charIdx[r] = idx
	default:
		d.phrases[key] = idx
		if r >= 0x10000 || len(key) > 0xFF {
			d.maxLenHigh[r] = max(d.maxLenHigh[r], len(key))
			break
		}
		if d.maxLen == nil {
			d.maxLen = make([]uint8, 0x10000)
		}
		d.maxLen[r] = max(d.maxLen[r], uint8(len(key)))
	}
	return nil
}

// char returns the 1-based index of the value of the one-rune key r (0: none).
func (d *t2sDict) char(r rune) uint16 {
	if r < 0x10000 {
		if d.charIdx == nil {
			return 0
		}
		return d.charIdx[r]
	}
	return d.charHigh[r]
}

// phraseLimit returns the byte length of the longest multi-rune key
// starting with r (0: none).
func (d *t2sDict) phraseLimit(r rune) int {
	n := 0
	if r < 0x10000 && d.maxLen != nil {
		n = int(d.maxLen[r])
	}
	if len(d.maxLenHigh) > 0 {
		n = max(n, d.maxLenHigh[r])
	}
	return n
}

// addTrigger records the runes of key that the entry changes: where key and
// value have the same number of runes, those at differing positions; else
// every rune of the key. A text can match a changing entry only if it holds
// one of them, so a text holding none passes every group unchanged.
func (c *t2sConverter) addTrigger(key, val string) {
	if key == val {
		return
	}
	kr, vr := []rune(key), []rune(val)
	for i, r := range kr {
		if len(kr) == len(vr) && vr[i] == r {
			continue
		}
		if r < normTableSize {
			c.trigger.add(r)
		} else {
			c.triggerHigh[r] = true
		}
	}
}

// mayChange reports whether r is a trigger rune.
func (c *t2sConverter) mayChange(r rune) bool {
	if r < normTableSize {
		return c.trigger.has(r)
	}
	return c.triggerHigh[r]
}

// hasTrigger reports whether s holds a rune the chain may change.
func (c *t2sConverter) hasTrigger(s string) bool {
	for _, r := range s {
		if r >= utf8.RuneSelf && c.mayChange(r) {
			return true
		}
	}
	return false
}

// convert runs the chain over s, which must be valid UTF-8, until the
// text stops changing (at most t2sMaxRounds times), and reports whether
// the result differs. One OpenCC pass is not idempotent: 坐落於倫敦 matches
// the name 於倫 (→ 於伦), and only a second pass sees 於伦敦 and gives
// 坐落于伦敦. Another pass runs only when the last one left a rune the
// chain may change. An unchanged text is returned as it is.
func (c *t2sConverter) convert(s string) (string, bool) {
	orig := s
	for range t2sMaxRounds {
		out, changed, again := c.pass(s)
		s = out
		if !changed || !again {
			break
		}
	}
	return s, s != orig
}

// t2sMaxRounds bounds convert's passes; two suffice on every text seen.
const t2sMaxRounds = 4

// convertOnce is one pass of the chain: OpenCC's (and gocc's) output.
func (c *t2sConverter) convertOnce(s string) (string, bool) {
	out, changed, _ := c.pass(s)
	return out, changed
}

// pass runs every group once. again reports that the result still holds
// a rune the chain may change.
func (c *t2sConverter) pass(s string) (out string, changed, again bool) {
	orig := s
	for _, g := range c.groups {
		var ok bool
		s, ok, again = c.convertGroup(g, s)
		changed = changed || ok
	}
	return s, changed && s != orig, again
}

// convertGroup applies one group. It writes from the first change on only,
// so an unchanged text costs no allocation.
func (c *t2sConverter) convertGroup(g *t2sGroup, s string) (out string, changed, again bool) {
	var sb strings.Builder
	copied := 0 // s[:copied] is already in sb
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := decode3(s, i)
		if size == 0 {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		n, v := 0, (*t2sValue)(nil)
		if g.mayStart(r) {
			n, v = g.match(s[i:], r, size)
		}
		if n == 0 {
			// No key starts here: keep the rune (a rune of multi-rune keys
			// only may still change in another pass).
			again = again || c.mayChange(r)
			i += size
			continue
		}
		again = again || v.again
		if v.text != s[i:i+n] {
			if !changed {
				sb.Grow(len(s) + len(s)/8)
				changed = true
			}
			sb.WriteString(s[copied:i])
			sb.WriteString(v.text)
			copied = i + n
		}
		i += n
	}
	if !changed {
		return s, false, again
	}
	sb.WriteString(s[copied:])
	return sb.String(), true, again
}

// match returns the byte length and value of the key matched at the start
// of s (whose first rune is r, of size bytes), or 0 when no dictionary of
// the group has a key starting there.
func (g *t2sGroup) match(s string, r rune, size int) (int, *t2sValue) {
	for _, d := range g.dicts {
		if n, v := d.longest(s, r, size); n > 0 {
			return n, v
		}
	}
	return 0, nil
}

// longest finds the longest key of d that s starts with; r and size are
// s's first rune and its length.
func (d *t2sDict) longest(s string, r rune, size int) (int, *t2sValue) {
	if limit := d.phraseLimit(r); limit > 0 {
		// Try the rune boundaries from the longest possible key down.
		for end := min(limit, len(s)); end > size; end-- {
			if end < len(s) && !utf8.RuneStart(s[end]) {
				continue
			}
			if i, ok := d.phrases[s[:end]]; ok {
				return end, &d.vals[i-1]
			}
		}
	}
	if i := d.char(r); i != 0 {
		return size, &d.vals[i-1]
	}
	return 0, nil
}
