package filters

// Exact n-gram statistics over a token stream, for gopher_repetition's
// top and duplicate n-gram signals. Tables find candidates by hash and then
// compare the tokens themselves, so a hash collision can cost time but
// never change a count.

// ngGrams is one document's token stream prepared for the n-gram signals.
type ngGrams struct {
	text    string
	toks    []tuToken
	invalid bool // some token holds invalid UTF-8: compare characters, not bytes

	// Per token boundary k (0 … |W|): sums over the tokens before k.
	runes []int32  // characters
	bytes []int32  // bytes of the tokens (white space between them left out)
	hash  []uint64 // Σ (r+1)·B^position over the tokens' characters, back to back
	inv   []uint64 // B^-(characters before k)

	// Classes of the n-grams at each position: the first position of an
	// equal n-gram (a position is its own class when its n-gram is known
	// to occur once).
	pairs, triples []int32
	// Occurrences per class, at the class's first position.
	pairCount, tripleCount, quadCount []int32

	candidates []int32 // scratch of countPairs

	table tuTable
}

// prepare fills the prefix sums for the tokens of text.
func (g *ngGrams) prepare(text string, toks []tuToken, invalid bool) {
	g.text, g.toks, g.invalid = text, toks, invalid
	T := len(toks)
	g.runes = grResize(g.runes, T+1)
	g.bytes = grResize(g.bytes, T+1)
	g.hash = grResize(g.hash, T+1)
	g.inv = grResize(g.inv, T+1)
	var runes, bytes int32
	var h uint64
	pow, inv := uint64(1), uint64(1) // B^characters, B^-characters
	for k, t := range toks {
		g.runes[k], g.bytes[k], g.hash[k], g.inv[k] = runes, bytes, h, inv
		h += t.h * pow
		pow *= tuPow(t.runes)
		inv *= tuInvPow(t.runes)
		runes += t.runes
		bytes += t.end - t.start
	}
	g.runes[T], g.bytes[T], g.hash[T], g.inv[T] = runes, bytes, h, inv
}

// release drops the document's text and scratch memory a huge document
// left behind.
func (g *ngGrams) release() {
	g.text, g.toks = "", nil
	if cap(g.runes) > tuKeepTokens {
		*g = ngGrams{}
	}
}

// top returns, for n = 2, 3, 4, the length × count of the most frequent
// token n-gram joined by spaces (ties: the first seen), datatrove's
// find_top_duplicate; 0 where the stream has fewer than n tokens.
//
// 2-grams are compared token by token; a 3-gram is the pair of the
// 2-grams at i and i+1, a 4-gram the pair at i and i+2: exact keys of
// classes. A 3-gram can repeat only where both its 2-grams repeat, a
// 4-gram only where both its 3-grams do: the other positions hold n-grams
// seen once, and need no lookup.
func (g *ngGrams) top() (tops [3]int) {
	T := len(g.toks)
	if T < 2 {
		return tops
	}
	g.pairs = grResize(g.pairs, T-1)
	g.pairCount = grResize(g.pairCount, T-1)
	best, first := g.countTokenPairs()
	tops[0] = g.topLength(2, best, first)
	if T < 3 {
		return tops
	}
	g.triples = grResize(g.triples, T-2)
	g.tripleCount = grResize(g.tripleCount, T-2)
	best, first = g.countPairs(1, g.triples, g.tripleCount, g.pairs, g.pairCount)
	tops[1] = g.topLength(3, best, first)
	if T < 4 {
		return tops
	}
	g.quadCount = grResize(g.quadCount, T-3)
	best, first = g.countPairs(2, nil, g.quadCount, g.triples, g.tripleCount)
	tops[2] = g.topLength(4, best, first)
	return tops
}

// topLength is the length × count of the n-gram at first seen best times;
// best 0 means no n-gram repeats, and the top one is the first, once.
func (g *ngGrams) topLength(n, best, first int) int {
	if best == 0 {
		best, first = 1, 0
	}
	return (int(g.runes[first+n]-g.runes[first]) + n - 1) * best
}

// countTokenPairs sets pairs[i] to the first position of the 2-gram at i
// and counts the 2-grams in pairCount; it returns the largest count of 2
// or more and the first position of its first 2-gram (0, 0 without one).
func (g *ngGrams) countTokenPairs() (best, first int) {
	g.table.reset(len(g.pairs))
	for i := range g.pairs {
		j := g.findTokenPair(i)
		g.pairs[i] = int32(j)
		best, first = ngCount(g.pairCount, i, j, best, first)
	}
	return best, first
}

// findTokenPair returns the first position of the 2-gram at i, adding i to
// the table when it is new.
func (g *ngGrams) findTokenPair(i int) int {
	t := &g.table
	s, fp := t.home(g.toks[i].h*tuHashBase + g.toks[i+1].h)
	for {
		var j int
		if s, j = t.probe(s, fp, i); j < 0 {
			return i
		}
		if g.sameToken(j, i) && g.sameToken(j+1, i+1) {
			return j
		}
		s = t.next(s)
	}
}

// sameToken reports whether tokens j and i are the same characters. The
// token hash h = Σ (r+1)·B^k is one-to-one on tokens of at most two
// characters (TestTokenHashOneToOne), so those compare by hash alone.
func (g *ngGrams) sameToken(j, i int) bool {
	a, b := &g.toks[j], &g.toks[i]
	if a.h != b.h || a.runes != b.runes {
		return false
	}
	return a.runes <= 2 || g.sameTokens(j, i, 1)
}

// countPairs groups the positions i by the pair of 2-gram classes at i and
// i+off, skipping those where the gate classes at i or i+1 occur once
// (their n-gram cannot repeat). It sets class[i] (unless class is nil) to
// the first position of i's group (i itself for a skipped one), counts the
// groups in count, and returns the largest count of 2 or more with the
// first position of its first group (0, 0 without one).
func (g *ngGrams) countPairs(off int, class, count, gate, gateCount []int32) (best, first int) {
	P := len(g.pairs) - off // positions
	// The positions to look up, gathered without a branch per position
	// (about half of them qualify, in no predictable order).
	cand := grResize(g.candidates, P)
	n := 0
	repeatsNext := ngRepeats(gate, gateCount, 0)
	for i := range P {
		repeats := repeatsNext
		repeatsNext = ngRepeats(gate, gateCount, i+1)
		cand[n] = int32(i)
		n += repeats & repeatsNext
		if class != nil {
			class[i], count[i] = int32(i), 1
		}
	}
	g.candidates = cand
	g.table.reset(n)
	for _, i := range cand[:n] {
		j := g.findPair(off, int(i))
		best, first = ngCount(count, int(i), j, best, first)
		if class != nil {
			class[i] = int32(j)
		}
	}
	return best, first
}

// findPair returns the first position with the 2-gram classes of i and
// i+off, adding i to the table when there is none.
func (g *ngGrams) findPair(off, i int) int {
	x, y := g.pairs[i], g.pairs[i+off]
	t := &g.table
	s, fp := t.home(uint64(x)*tuHashBase + uint64(y))
	for {
		var j int
		if s, j = t.probe(s, fp, i); j < 0 {
			return i
		}
		if g.pairs[j] == x && g.pairs[j+off] == y {
			return j
		}
		s = t.next(s)
	}
}

// ngRepeats is 1 when the n-gram at i occurs more than once, else 0.
func ngRepeats(class, count []int32, i int) int {
	return int(uint32(1-count[class[i]]) >> 31) // count >= 2
}

// ngCount counts position i of the group whose first position is j and
// returns the new largest count of 2 or more and the first position of
// the first group with it.
func ngCount(count []int32, i, j, best, first int) (int, int) {
	if j == i {
		count[i] = 1
		return best, first
	}
	count[j]++
	if c := int(count[j]); c > best || c == best && j < first {
		return c, j
	}
	return best, first
}

// dup returns the characters in repeated n-grams, datatrove's
// find_all_duplicate: i runs from 0 while i ≤ |W| − n; the key is the n
// tokens concatenated; if an earlier key equals it, its length is added
// and i jumps by n, else it is remembered and i moves by 1.
func (g *ngGrams) dup(n int) int {
	P := len(g.toks) - n + 1
	if P <= 0 {
		return 0
	}
	t := &g.table
	t.reset(P)
	hash, inv := g.hash[:P+n], g.inv[:P]
	dup := 0
	for i := 0; i < P; {
		// New n-grams, the most of them, in a loop without calls.
		var s uint64
		j := -1
		for ; i < P; i++ {
			home, fp := t.home((hash[i+n] - hash[i]) * inv[i])
			if s, j = t.probe(home, fp, i); j >= 0 {
				break
			}
		}
		if j < 0 {
			break
		}
		if g.seenAt(i, n, s, j) {
			dup += int(g.runes[i+n] - g.runes[i])
			i += n
		} else {
			i++
		}
	}
	return dup
}

// seenAt reports whether the concatenation of tokens [i, i+n) equals an
// earlier one in the table, whose fingerprint slot s (holding position j)
// matches; when none does, i is added.
func (g *ngGrams) seenAt(i, n int, s uint64, j int) bool {
	t := &g.table
	_, fp := t.home((g.hash[i+n] - g.hash[i]) * g.inv[i])
	for !g.sameTokens(j, i, n) {
		if s, j = t.probe(t.next(s), fp, i); j < 0 {
			return false
		}
	}
	return true
}

// sameTokens reports whether tokens [j, j+n) and [i, i+n) concatenate to
// the same characters.
func (g *ngGrams) sameTokens(j, i, n int) bool {
	if g.invalid {
		return g.sameRunes(j, i, n)
	}
	// Valid UTF-8: the same characters are the same bytes.
	size := g.bytes[j+n] - g.bytes[j]
	if size != g.bytes[i+n]-g.bytes[i] {
		return false
	}
	a, b := g.toks[j:j+n], g.toks[i:i+n]
	if a[n-1].end-a[0].start == size && b[n-1].end-b[0].start == size { // no white space between
		return g.text[a[0].start:a[n-1].end] == g.text[b[0].start:b[n-1].end]
	}
	x, y := g.text[a[0].start:a[0].end], g.text[b[0].start:b[0].end]
	for {
		k := min(len(x), len(y))
		if x[:k] != y[:k] {
			return false
		}
		x, y = x[k:], y[k:]
		if len(x) == 0 {
			if a = a[1:]; len(a) == 0 {
				return true // the sizes are equal: b ends here too
			}
			x = g.text[a[0].start:a[0].end]
		}
		if len(y) == 0 {
			b = b[1:]
			y = g.text[b[0].start:b[0].end]
		}
	}
}

// sameRunes is sameTokens character by character, for text with invalid
// UTF-8 (where different bytes can decode to the same U+FFFD, and equal
// bytes split differently into tokens decode differently).
func (g *ngGrams) sameRunes(j, i, n int) bool {
	size := g.runes[j+n] - g.runes[j]
	if size != g.runes[i+n]-g.runes[i] {
		return false
	}
	x := tuRuneReader{text: g.text, toks: g.toks[j : j+n], pos: g.toks[j].start}
	y := tuRuneReader{text: g.text, toks: g.toks[i : i+n], pos: g.toks[i].start}
	for ; size > 0; size-- {
		if x.next() != y.next() {
			return false
		}
	}
	return true
}

// tuRuneReader reads the characters of consecutive tokens, back to back,
// decoded as the tokenizer decoded them.
type tuRuneReader struct {
	text string
	toks []tuToken
	pos  int32
}

// next returns the next character; there must be one.
func (r *tuRuneReader) next() rune {
	for r.pos == r.toks[0].end {
		r.toks = r.toks[1:]
		r.pos = r.toks[0].start
	}
	c, size := tuWordRune(r.text[:r.toks[0].end], int(r.pos))
	r.pos += int32(size)
	return c
}
