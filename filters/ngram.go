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
	runes   []int32  // characters
	bytes   []int32  // bytes of the tokens (white space between them left out)
	hash    []uint64 // Σ (r+1)·B^position over the tokens' characters, back to back
	inv     []uint64 // B^-(characters before k)
	tokHash []uint64 // Σ id(token m)·C^m
	tokInv  []uint64 // C^-k

	cnt   tuCounter
	table tuTable
}

// ngTokenBase is the odd base of the token-level polynomial hashes (top
// n-grams); the character-level ones use tuHashBase.
const ngTokenBase uint64 = 0xc2b2ae3d27d4eb4f

var ngTokenBaseInv = tuInverse(ngTokenBase)

// prepare fills the prefix sums for the tokens of text.
func (g *ngGrams) prepare(text string, toks []tuToken, invalid bool) {
	g.text, g.toks, g.invalid = text, toks, invalid
	T := len(toks)
	g.runes = grResize(g.runes, T+1)
	g.bytes = grResize(g.bytes, T+1)
	g.hash = grResize(g.hash, T+1)
	g.inv = grResize(g.inv, T+1)
	g.tokHash = grResize(g.tokHash, T+1)
	g.tokInv = grResize(g.tokInv, T+1)
	var runes, bytes int32
	var h, th uint64
	pow, inv := uint64(1), uint64(1)   // B^characters, B^-characters
	tpow, tinv := uint64(1), uint64(1) // C^k, C^-k
	for k, t := range toks {
		g.runes[k], g.bytes[k], g.hash[k], g.inv[k], g.tokHash[k], g.tokInv[k] = runes, bytes, h, inv, th, tinv
		h += t.h * pow
		pow *= tuPow(t.runes)
		inv *= tuInvPow(t.runes)
		th += (t.h ^ t.h>>29) * 0xbf58476d1ce4e5b9 * tpow
		tpow *= ngTokenBase
		tinv *= ngTokenBaseInv
		runes += t.runes
		bytes += t.end - t.start
	}
	g.runes[T], g.bytes[T], g.hash[T], g.inv[T], g.tokHash[T], g.tokInv[T] = runes, bytes, h, inv, th, tinv
}

// release drops the document's text and scratch memory a huge document
// left behind.
func (g *ngGrams) release() {
	g.text, g.toks = "", nil
	if cap(g.runes) > tuKeepTokens {
		*g = ngGrams{}
	}
}

// top returns length × count of the most frequent token n-gram joined by
// spaces (ties: the first seen), datatrove's find_top_duplicate; there
// must be n tokens.
//
// N-grams are counted by a hash of their tokens' hashes. A collision
// would merge two n-grams into one count, which only raises it: so when
// the top count is the exact count of its first n-gram, no n-gram has
// more, and an n-gram with as many would have been found first. Otherwise
// (or past tuCounter's 16-bit counts) topExact counts again.
func (g *ngGrams) top(n int) int {
	T := len(g.toks)
	g.cnt.reset(T - n + 1)
	best := uint32(0)
	for i := 0; i+n <= T; i++ {
		best = max(best, g.cnt.add(g.tokKey(i, n)))
	}
	if g.cnt.saturated {
		return g.topExact(n)
	}
	// Counter.most_common(1) breaks ties by first insertion: the first
	// position whose n-gram has the top count.
	b := 0
	for g.cnt.count(g.tokKey(b, n)) != best {
		b++
	}
	if g.countEqual(b, n) != int(best) {
		return g.topExact(n)
	}
	return g.topLength(b, n, int(best))
}

// tokKey is the hash of the token n-gram at i.
func (g *ngGrams) tokKey(i, n int) uint64 { return (g.tokHash[i+n] - g.tokHash[i]) * g.tokInv[i] }

// topLength is length × count of the n-gram at b, its tokens joined by
// spaces.
func (g *ngGrams) topLength(b, n, count int) int {
	return (int(g.runes[b+n]-g.runes[b]) + n - 1) * count
}

// countEqual counts the n-grams equal to the one at b, which is the
// first of them.
func (g *ngGrams) countEqual(b, n int) int {
	key, count := g.tokKey(b, n), 0
	for i := b; i+n <= len(g.toks); i++ {
		if g.tokKey(i, n) == key && g.sameSequence(b, i, n) {
			count++
		}
	}
	return count
}

// sameSequence reports whether the tokens [j, j+n) equal the tokens
// [i, i+n) one by one.
func (g *ngGrams) sameSequence(j, i, n int) bool {
	for k := range n {
		if !g.sameTokens(j+k, i+k, 1) {
			return false
		}
	}
	return true
}

// topExact is top by a map of the n-grams' token strings: slow, and only
// needed when a hash collision merged two n-grams or an n-gram occurs
// 65535 times or more.
func (g *ngGrams) topExact(n int) int {
	type group struct{ count, first int }
	groups := map[[4]string]*group{}
	best, first := 0, 0
	for i := 0; i+n <= len(g.toks); i++ {
		var key [4]string
		for k := range n {
			key[k] = g.tokenString(i + k)
		}
		gr := groups[key]
		if gr == nil {
			gr = &group{first: i}
			groups[key] = gr
		}
		if gr.count++; gr.count > best || gr.count == best && gr.first < first {
			best, first = gr.count, gr.first
		}
	}
	return g.topLength(first, n, best)
}

// tokenString returns token k's characters as a string (U+FFFD for each
// invalid byte, as the tokenizer read them).
func (g *ngGrams) tokenString(k int) string {
	t := g.toks[k]
	if !g.invalid {
		return g.text[t.start:t.end]
	}
	r := tuRuneReader{text: g.text, toks: g.toks[k : k+1], pos: t.start}
	runes := make([]rune, t.runes)
	for i := range runes {
		runes[i] = r.next()
	}
	return string(runes)
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
