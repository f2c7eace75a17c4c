package dedup

import (
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

func mhMust(t testing.TB, p MinHashParams) *MinHasher {
	t.Helper()
	m, err := NewMinHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mhSchemes is the defaults under each scheme.
func mhSchemes(t testing.TB) []*MinHasher {
	var out []*MinHasher
	for _, s := range []string{"oph", "perm"} {
		p := DefaultMinHashParams()
		p.Scheme = s
		out = append(out, mhMust(t, p))
	}
	return out
}

func mhSign(m *MinHasher, text string) ([]uint32, int) {
	sig := make([]uint32, m.K())
	return sig, m.Sign(text, nil, sig)
}

func TestNewMinHasherErrors(t *testing.T) {
	ok := DefaultMinHashParams()
	for _, c := range []struct {
		edit func(*MinHashParams)
		want string
	}{
		{func(p *MinHashParams) { p.Scheme = "simhash" }, `Scheme "simhash": want "oph" or "perm"`},
		{func(p *MinHashParams) { p.Unit = "token" }, `Unit "token": want "auto", "char" or "word"`},
		{func(p *MinHashParams) { p.N = 0 }, "N = 0: want 1..32"},
		{func(p *MinHashParams) { p.N = 33 }, "N = 33: want 1..32"},
		{func(p *MinHashParams) { p.Bands = 0 }, "Bands = 0: want 1..1024"},
		{func(p *MinHashParams) { p.Rows = 65 }, "Rows = 65: want 1..64"},
		{func(p *MinHashParams) { p.Bands, p.Rows = 1000, 8 }, "Bands*Rows = 1000×8 = 8000: want at most 4096"},
	} {
		p := ok
		c.edit(&p)
		_, err := NewMinHasher(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewMinHasher(%+v) = %v, want an error containing %q", p, err, c.want)
		}
	}
	m, err := NewMinHasher(ok)
	if err != nil || m.K() != ok.Bands*ok.Rows || m.Params() != ok {
		t.Errorf("defaults: %v, K = %d", err, m.K())
	}
}

func TestMinHashSignDeterministic(t *testing.T) {
	text := strings.Repeat("中华人民共和国宪法是国家的根本法，具有最高的法律效力。", 5)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range mhSchemes(t) {
		want, n := mhSign(m, text)
		if n != 25*5-5+1 { // U = 5 × 25 unit runes, nEff = 5
			t.Errorf("%s: Sign counted %d shingles, want %d", m.p.Scheme, n, 25*5-5+1)
		}
		sig := make([]uint32, m.K())
		for range 3 {
			for i := range sig {
				sig[i] = rng.Uint32()
			}
			if m.Sign(text, nil, sig); !slices.Equal(sig, want) {
				t.Fatalf("%s: the signature depends on the buffer's old content", m.p.Scheme)
			}
		}
		again := mhMust(t, m.Params())
		if got, _ := mhSign(again, text); !slices.Equal(got, want) {
			t.Errorf("%s: two MinHashers with equal params sign differently", m.p.Scheme)
		}
		if Similarity(want, want) != 1 {
			t.Errorf("%s: Similarity(sig, sig) = %v", m.p.Scheme, Similarity(want, want))
		}
		p := m.Params()
		p.Seed++
		if other, _ := mhSign(mhMust(t, p), text); Similarity(other, want) > 0.1 {
			t.Errorf("%s: another seed gives a similar signature", m.p.Scheme)
		}
	}
}

func TestMinHashEmpty(t *testing.T) {
	for _, m := range mhSchemes(t) {
		for _, text := range []string{"", " \n\t", "，。！？……——「」", "😀🎉", "\xff\xfe", "!!!"} {
			sig := make([]uint32, m.K())
			sig[0] = 42
			if n := m.Sign(text, nil, sig); n != 0 || sig[0] != 42 {
				t.Errorf("%s: Sign(%q) = %d, sig[0] = %d: want 0 and sig untouched", m.p.Scheme, text, n, sig[0])
			}
			if s := m.Shingles(text, nil); s != nil {
				t.Errorf("%s: Shingles(%q) = %v", m.p.Scheme, text, s)
			}
		}
		if n := m.Sign("anything", []string{"，", "!"}, make([]uint32, m.K())); n != 0 {
			t.Errorf("%s: punctuation-only tokens gave %d shingles", m.p.Scheme, n)
		}
	}
}

func TestMinHashOPHDensify(t *testing.T) {
	m := mhMust(t, DefaultMinHashParams())
	for _, text := range []string{"好", "天下兴亡", "一二三四五六七八九十甲乙丙丁"} {
		sig, n := mhSign(m, text)
		values := map[uint32]bool{}
		for _, h := range m.Shingles(text, nil) {
			values[uint32(mhFmix(h^m.ophSeed))] = true
		}
		if n == 0 || len(values) != n {
			t.Fatalf("%q: %d shingles, %d values", text, n, len(values))
		}
		for i, v := range sig {
			if !values[v] {
				t.Fatalf("%q: bin %d = %d is no shingle's value (not densified?)", text, i, v)
			}
		}
	}
	// One shingle: every bin holds its value.
	sig, _ := mhSign(m, "好")
	for _, v := range sig {
		if v != sig[0] {
			t.Fatal("one shingle: bins differ")
		}
	}
}

func TestMinHashPermute(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := big.NewInt(mhPrime)
	for i := range 10000 {
		pm := mhPerm{a: 1 + rng.Uint64()%(mhPrime-1), b: rng.Uint64() % mhPrime}
		h := rng.Uint64()
		if i < 4 {
			h = []uint64{0, math.MaxUint64, mhPrime, mhPrime - 1}[i]
		}
		x := h&mhPrime + h>>61
		want := new(big.Int).Mul(new(big.Int).SetUint64(pm.a), new(big.Int).SetUint64(h))
		want.Add(want, new(big.Int).SetUint64(pm.b)).Mod(want, p)
		if got := mhPermute(pm, x); got != uint32(want.Uint64()) {
			t.Fatalf("a=%d b=%d h=%d: got %d, want %d", pm.a, pm.b, h, got, uint32(want.Uint64()))
		}
	}
}

func TestMinHashSimilarityAndJaccard(t *testing.T) {
	if got := Similarity([]uint32{1, 2, 3, 4}, []uint32{1, 0, 3, 0}); got != 0.5 {
		t.Errorf("Similarity = %v, want 0.5", got)
	}
	if Similarity(nil, nil) != 0 || Similarity([]uint32{1}, []uint32{1, 2}) != 0 {
		t.Error("Similarity of empty or unequal-length signatures should be 0")
	}
	for _, c := range []struct {
		a, b []uint64
		want float64
	}{
		{nil, nil, 0},
		{[]uint64{1}, nil, 0},
		{[]uint64{1, 2, 3}, []uint64{1, 2, 3}, 1},
		{[]uint64{1, 2, 3}, []uint64{2, 3, 4}, 0.5},
		{[]uint64{1, 3, 5, 7}, []uint64{2, 4, 6, 8}, 0},
		{[]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 10}, 0.8},
	} {
		if got := Jaccard(c.a, c.b); got != c.want {
			t.Errorf("Jaccard(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestMinHashBandKeys(t *testing.T) {
	m := mhMust(t, DefaultMinHashParams())
	sig, _ := mhSign(m, "中华人民共和国宪法是国家的根本法，具有最高的法律效力。")
	keys := make([]uint64, m.Params().Bands)
	m.BandKeys(sig, keys)
	if slices.Contains(keys[1:], keys[0]) {
		t.Error("two bands share a key") // the band index is part of the key
	}
	r := m.Params().Rows
	sig2 := slices.Clone(sig)
	sig2[3*r+1]++
	keys2 := make([]uint64, len(keys))
	m.BandKeys(sig2, keys2)
	for b := range keys {
		if (keys[b] != keys2[b]) != (b == 3) {
			t.Errorf("band %d: key changed = %v, want only band 3 to change", b, keys[b] != keys2[b])
		}
	}
}

// A near-duplicate pair must look alike, an unrelated one must not, under
// both schemes and both units.
func TestMinHashSignSimilarity(t *testing.T) {
	a := "第一条 为了保护民事主体的合法权益，调整民事关系，维护社会和经济秩序，适应中国特色社会主义发展要求，弘扬社会主义核心价值观，根据宪法，制定本法。"
	b := strings.Replace(a, "维护社会和经济秩序", "维护社会经济秩序", 1)
	c := "第二条 民法调整平等主体的自然人、法人和非法人组织之间的人身关系和财产关系。"
	for _, unit := range []string{"char", "word"} {
		for _, m := range mhSchemes(t) {
			p := m.Params()
			p.Unit = unit
			m = mhMust(t, p)
			sa, _ := mhSign(m, a)
			sb, _ := mhSign(m, b)
			sc, _ := mhSign(m, c)
			j := Jaccard(m.Shingles(a, nil), m.Shingles(b, nil))
			if s := Similarity(sa, sb); math.Abs(s-j) > 0.1 || s < DefaultMinHashThreshold {
				t.Errorf("%s/%s: near-duplicates: Similarity %.3f, Jaccard %.3f", p.Scheme, unit, s, j)
			}
			if s := Similarity(sa, sc); s > 0.2 {
				t.Errorf("%s/%s: unrelated: Similarity %.3f", p.Scheme, unit, s)
			}
		}
	}
}

// Quotes of 8–30 characters: one punctuation mark and one character
// changed must still be found with the defaults (nEff shrinks for them).
func TestShortChineseQuote(t *testing.T) {
	m := mhMust(t, DefaultMinHashParams())
	sign := func(text string) ([]uint32, []uint64) {
		sig, _ := mhSign(m, text)
		keys := make([]uint64, m.Params().Bands)
		m.BandKeys(sig, keys)
		return sig, keys
	}
	shareKey := func(a, b []uint64) bool {
		for i := range a {
			if a[i] == b[i] {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		a, b string
		dup  bool
	}{
		{"天下兴亡，匹夫有责。", "天下兴亡。匹夫有贵", true},
		{"先天下之忧而忧，后天下之乐而乐。", "先天下之忧而忧；后天下之樂而乐", true},
		{"路漫漫其修远兮，吾将上下而求索。", "路漫漫其修远兮！吾将上下而求所。", true},
		{"长风破浪会有时，直挂云帆济沧海。", "长风破浪会有时 直挂云帆济苍海。", true},
		{"己所不欲，勿施于人。", "己所不欲，勿施于仁", true},
		{"天下兴亡，匹夫有责。", "先天下之忧而忧，后天下之乐而乐。", false},
		{"路漫漫其修远兮，吾将上下而求索。", "长风破浪会有时，直挂云帆济沧海。", false},
		{"学而时习之，不亦说乎？", "有朋自远方来，不亦乐乎？", false},
	} {
		sa, ka := sign(c.a)
		sb, kb := sign(c.b)
		sim, j := Similarity(sa, sb), Jaccard(m.Shingles(c.a, nil), m.Shingles(c.b, nil))
		found := shareKey(ka, kb) && sim >= DefaultMinHashThreshold
		t.Logf("%s | %s: Jaccard %.3f, Similarity %.3f, shared band key %v", c.a, c.b, j, sim, shareKey(ka, kb))
		if found != c.dup {
			t.Errorf("%q vs %q: found = %v, want %v (Jaccard %.3f, Similarity %.3f)", c.a, c.b, found, c.dup, j, sim)
		}
	}
}

// A 50 MB document signs in O(K + N) memory: the shingles stream past.
func TestMinHashLargeDocumentMemory(t *testing.T) {
	size := 50 << 20
	if raceEnabled || testing.Short() {
		size = 4 << 20
	}
	m := mhMust(t, DefaultMinHashParams())
	sig := make([]uint32, m.K())
	for _, c := range []struct {
		name string
		text string
		m    *MinHasher
	}{
		{"one Han char", strings.Repeat("好", size/3), m},
		{"one Latin word", strings.Repeat("a", size), m},
		{"mixed", strings.Repeat("Hello 世界，word ", size/22), m},
		{"perm", strings.Repeat("好", (1<<20)/3), mhSchemes(t)[1]},
	} {
		sig = make([]uint32, c.m.K())
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n := c.m.Sign(c.text, nil, sig)
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 || n == 0 {
			t.Errorf("%s (%d MB): Sign allocated %d bytes, %d shingles", c.name, len(c.text)>>20, d, n)
		}
	}
	text := strings.Repeat("天下兴亡，匹夫有责。", 1000)
	if a := testing.AllocsPerRun(10, func() { m.Sign(text, nil, sig[:m.K()]) }); a != 0 {
		t.Errorf("Sign: %v allocations per run, want 0", a)
	}
}

func TestMinHashConcurrent(t *testing.T) {
	m := mhMust(t, DefaultMinHashParams())
	texts := []string{"天下兴亡，匹夫有责。", "Hello, world, this is a test of concurrency.", strings.Repeat("法律", 500)}
	want := make([][]uint32, len(texts))
	for i, s := range texts {
		want[i], _ = mhSign(m, s)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(texts)
				if got, _ := mhSign(m, texts[k]); !slices.Equal(got, want[k]) {
					t.Errorf("goroutine %d: signature of text %d differs", g, k)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzMinHashSign(f *testing.F) {
	for _, s := range []string{"", "天下兴亡，匹夫有责", "Hello, World!", "a\xffb", "ＡＢＣ１２３", "カタカナ漢字abc",
		strings.Repeat("x", 100), "cafe\u0301 noir"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, text string, n uint8) {
		for _, unit := range []string{"auto", "char", "word"} {
			p := MinHashParams{Scheme: "oph", Unit: unit, N: 1 + int(n)%8, Bands: 8, Rows: 4, Seed: 7}
			for _, scheme := range []string{"oph", "perm"} {
				p.Scheme = scheme
				m := mhMust(t, p)
				sig, count := mhSign(m, text)
				sh := m.Shingles(text, nil)
				if (count > 0) != (len(sh) > 0) || count < len(sh) {
					t.Fatalf("%s/%s: Sign counted %d shingles, Shingles has %d", scheme, unit, count, len(sh))
				}
				tokens := strings.Fields(text)
				tsig := make([]uint32, m.K())
				tcount := m.Sign(text, tokens, tsig)
				if tsh := m.Shingles(text, tokens); (tcount > 0) != (len(tsh) > 0) || tcount < len(tsh) {
					t.Fatalf("%s/%s with tokens: Sign counted %d shingles, Shingles has %d", scheme, unit, tcount, len(tsh))
				}
				again, _ := mhSign(m, text)
				if !slices.Equal(sig, again) {
					t.Fatalf("%s/%s: Sign is not deterministic", scheme, unit)
				}
				if count > 0 && Similarity(sig, again) != 1 {
					t.Fatal("Similarity of a signature with itself is not 1")
				}
			}
		}
	})
}
