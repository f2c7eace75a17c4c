package stages

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"winnow/internal/testenv"
)

// mojiCase is one text with its expected mojibake verdict and, when known,
// its repair.
type mojiCase struct {
	set   string
	text  string
	fixed string // "" when no mechanical fix is known
}

// mojibakeSets loads the garbled and the clean test material.
func mojibakeSets(t *testing.T) (garbled, clean []mojiCase) {
	corpora := testenv.SharedCorpora(t)
	dir := filepath.Join(corpora, "encoding/mojibake-cases")

	type zhRow struct {
		Row        int    `json:"row"`
		Kind       string `json:"kind"`
		Garbled    string `json:"garbled"`
		Original   string `json:"original"`
		Reversible bool   `json:"reversible"`
	}
	for _, r := range normReadJSONL[zhRow](t, filepath.Join(dir, "zh-mojibake.jsonl")) {
		c := mojiCase{set: "zh-mojibake/" + r.Kind, text: r.Garbled}
		if r.Reversible {
			c.fixed = r.Original
		}
		garbled = append(garbled, c)
		clean = append(clean, mojiCase{set: "zh-mojibake originals", text: r.Original})
	}

	var lingua []struct {
		Kind     string  `json:"kind"`
		Original string  `json:"original"`
		Fixed    *string `json:"fixed"`
	}
	normReadJSON(t, filepath.Join(dir, "lingua-in-the-wild.json"), &lingua)
	for _, l := range lingua {
		c := mojiCase{set: "lingua-in-the-wild/" + l.Kind, text: l.Original}
		if l.Fixed != nil {
			c.fixed = *l.Fixed
			clean = append(clean, mojiCase{set: "lingua-in-the-wild fixed", text: *l.Fixed})
		}
		garbled = append(garbled, c)
	}

	type ftfyCase struct {
		Label         string `json:"label"`
		Original      string `json:"original"`
		Fixed         string `json:"fixed"`
		FixedEncoding string `json:"fixed-encoding"`
	}
	for _, f := range []string{"in-the-wild", "synthetic", "language-names", "negative"} {
		var cases []ftfyCase
		normReadJSON(t, filepath.Join(dir, "ftfy", f+".json"), &cases)
		for _, c := range cases {
			fixed := c.FixedEncoding
			if fixed == "" {
				fixed = c.Fixed
			}
			switch {
			case f == "negative" || strings.Contains(strings.ToLower(c.Label), "negative"):
				clean = append(clean, mojiCase{set: "ftfy/negative (and synthetic negatives)", text: c.Original})
			case fixed == c.Original:
				// ftfy leaves these as they are (a hopeless garble, Afrikaans ŉ):
				// neither side.
			default:
				garbled = append(garbled, mojiCase{set: "ftfy/" + f, text: c.Original, fixed: fixed})
			}
		}
	}

	for _, sub := range []string{"zh-prose", "zh-laws"} {
		_, texts := normCorpusFiles(t, filepath.Join(corpora, sub), ".txt")
		if sub == "zh-laws" {
			_, texts = normCorpusFiles(t, filepath.Join(corpora, sub), ".md")
		}
		for _, s := range texts {
			clean = append(clean, mojiCase{set: sub, text: s})
		}
	}
	for _, p := range normDRCD(t, corpora) {
		clean = append(clean, mojiCase{set: "zh-trad/drcd", text: p})
	}
	udhr, _ := filepath.Glob(filepath.Join(corpora, "langid/udhr/*.txt"))
	for _, f := range udhr {
		for _, line := range normReadLines(t, f) {
			clean = append(clean, mojiCase{set: "udhr lines", text: line})
		}
	}
	skip := normLinguaMojibakeLines(t, corpora)
	// Real mojibake the catalogue does not list: U+FFFD's UTF-8 bytes read
	// as Windows-1251 ("пїЅ"), found by this detector.
	if skip["id-sentences.txt"] == nil {
		skip["id-sentences.txt"] = map[int]bool{}
	}
	skip["id-sentences.txt"][199] = true
	sentences, _ := filepath.Glob(filepath.Join(corpora, "langid/lingua/*-sentences.txt"))
	for _, f := range sentences {
		for i, line := range normReadLines(t, f) {
			if !skip[filepath.Base(f)][i+1] {
				clean = append(clean, mojiCase{set: "lingua sentences", text: line})
			}
		}
	}
	return garbled, clean
}

// tally counts flagged cases per set, keeping the set order of first use.
type mojiTally struct {
	want   bool // the expected verdict: examples are kept of the others
	order  []string
	n, hit map[string]int
	miss   map[string][]string
}

func (m *mojiTally) add(set string, hit bool, text string) {
	if m.n == nil {
		m.n, m.hit, m.miss = map[string]int{}, map[string]int{}, map[string][]string{}
	}
	if _, ok := m.n[set]; !ok {
		m.order = append(m.order, set)
	}
	m.n[set]++
	if hit {
		m.hit[set]++
	}
	if hit != m.want && len(m.miss[set]) < 8 {
		m.miss[set] = append(m.miss[set], text)
	}
}

func (m *mojiTally) total() (hit, n int) {
	for _, s := range m.order {
		hit += m.hit[s]
		n += m.n[s]
	}
	return hit, n
}

func (m *mojiTally) report(t *testing.T, what string) {
	var sb strings.Builder
	for _, s := range m.order {
		fmt.Fprintf(&sb, "  %-52s %5d / %5d  %6.2f%%\n", s, m.hit[s], m.n[s], 100*float64(m.hit[s])/float64(m.n[s]))
	}
	hit, n := m.total()
	fmt.Fprintf(&sb, "  %-52s %5d / %5d  %6.2f%%", "all", hit, n, 100*float64(hit)/float64(n))
	t.Logf("%s:\n%s", what, sb.String())
}

// TestNormalizeMojibakeRates measures detection on the garbled material and
// false positives on clean text at the default threshold.
func TestNormalizeMojibakeRates(t *testing.T) {
	garbled, clean := mojibakeSets(t)
	n := newTestNormalizer(t, func(o *NormalizeOptions) { o.Mojibake = mojiFlag })
	det, fp := mojiTally{want: true}, mojiTally{want: false}
	for _, c := range garbled {
		r := n.apply(c.text)
		det.add(c.set, r.flagged, fmt.Sprintf("%.2f %q", r.mojibake, c.text))
	}
	for _, c := range clean {
		r := n.apply(c.text)
		fp.add(c.set, r.flagged, fmt.Sprintf("%.2f %q", r.mojibake, c.text))
	}
	det.report(t, "detected (garbled side)")
	fp.report(t, "flagged (clean side: false positives)")
	// The measured rates, as floors and ceilings: every generated Chinese
	// case and every lingua line is detected; no clean corpus text is
	// flagged; ftfy's adversarial negatives ("DrÃ¥ber", "Ã’s") may be.
	if hit, n := det.hitsOf("zh-mojibake/"); hit != n {
		t.Errorf("zh-mojibake: %d of %d detected", hit, n)
	}
	if hit, n := det.hitsOf("lingua-in-the-wild/"); hit != n {
		t.Errorf("lingua-in-the-wild: %d of %d detected", hit, n)
	}
	if hit, n := det.hitsOf("ftfy/"); float64(hit) < 0.8*float64(n) {
		t.Errorf("ftfy: %d of %d detected, want 80%%", hit, n)
	}
	for _, set := range []string{"zh-mojibake originals", "lingua-in-the-wild fixed", "zh-prose", "zh-laws", "zh-trad/drcd", "udhr lines", "lingua sentences"} {
		if fp.hit[set] > 0 {
			t.Errorf("%s: %d clean texts flagged", set, fp.hit[set])
		}
	}
	if hit, n := fp.hitsOf("ftfy/"); hit > 6 {
		t.Errorf("ftfy negatives: %d of %d flagged, want at most 6", hit, n)
	}
	if testing.Verbose() {
		for _, s := range det.order {
			for _, m := range det.miss[s] {
				t.Logf("missed %s: %.200s", s, m)
			}
		}
		for _, s := range fp.order {
			for _, m := range fp.miss[s] {
				t.Logf("false positive %s: %.200s", s, m)
			}
		}
	}
}

// TestNormalizeMojibakeRepair checks repairs against the known fixes and
// that repair never touches clean text.
func TestNormalizeMojibakeRepair(t *testing.T) {
	garbled, clean := mojibakeSets(t)
	n := newTestNormalizer(t, nil)
	var fixed mojiTally
	fixed.want = true
	for _, c := range garbled {
		if c.fixed == "" {
			continue
		}
		r := n.apply(c.text)
		want := n.apply(c.fixed).text // the fix, normalized the same way
		fixed.add(c.set, r.text == want, fmt.Sprintf("%q -> %q, want %q", c.text, r.text, want))
		if strings.HasPrefix(c.set, "zh-mojibake/") && r.text != want {
			t.Errorf("%s: repair %q -> %q, want %q", c.set, c.text, r.text, want)
		}
	}
	fixed.report(t, "repaired exactly (garbled cases with a known fix)")
	if testing.Verbose() {
		for _, s := range fixed.order {
			for _, m := range fixed.miss[s] {
				t.Logf("not repaired %s: %.300s", s, m)
			}
		}
	}
	if hit, _ := fixed.hitsOf("lingua-in-the-wild/"); hit < 150 {
		t.Errorf("lingua-in-the-wild: %d lines repaired exactly, want at least 150 of 154", hit)
	}

	touched := 0
	for _, c := range clean {
		if r := n.apply(c.text); r.steps&stMojibakeRepaired != 0 {
			touched++
			t.Logf("repair changed clean text (%s): %.200q -> %.200q", c.set, c.text, r.text)
			if !strings.HasPrefix(c.set, "ftfy/") {
				t.Errorf("repair changed clean text of %s", c.set)
			}
		}
	}
	t.Logf("clean texts changed by repair: %d of %d", touched, len(clean))
}

// hitsOf sums the sets whose names start with prefix.
func (m *mojiTally) hitsOf(prefix string) (hit, n int) {
	for _, s := range m.order {
		if strings.HasPrefix(s, prefix) {
			hit += m.hit[s]
			n += m.n[s]
		}
	}
	return hit, n
}
