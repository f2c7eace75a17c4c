package report_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"winnow/internal/cli"
	"winnow/internal/testenv"
	"winnow/pipeline"
	"winnow/report"
)

const stages = `  - normalize: {}
  - langid: {}
  - segment: {}
  - exact_dedup: {}
  - minhash_dedup: {}
  - length: {min_chars: 30}
  - text_stats: {}
  - zh_quality: {}
  - gopher_repetition: {}
  - quality_score: {}
`

// runFixtures runs the pipeline over fixtures/corpus into a temporary directory.
func runFixtures(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	in := filepath.Join(testenv.Fixtures(t), "corpus")
	yml := "input:\n  paths: [" + in + "]\noutput:\n  dir: " + out + "\nstages:\n" + stages
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Run(context.Background(), pipeline.RunOptions{Config: cfg, Registry: cli.NewRegistry()}); err != nil {
		t.Fatal(err)
	}
	return out
}

type elem struct {
	name  string
	attrs map[string]string
}

// section is the elements and text of one <section id=…>.
type section struct {
	elems []elem
	text  strings.Builder
}

// parse walks report.html with a non-strict decoder and returns its
// sections by id; it fails the test on a token error.
func parse(t *testing.T, page []byte) (map[string]*section, []elem) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	sections := map[string]*section{}
	var all []elem
	var cur *section
	depth, secDepth := 0, -1
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report.html: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			depth++
			e := elem{name: strings.ToLower(tk.Name.Local), attrs: map[string]string{}}
			for _, a := range tk.Attr {
				e.attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			all = append(all, e)
			if e.name == "section" {
				cur = &section{}
				sections[e.attrs["id"]] = cur
				secDepth = depth
			}
			if cur != nil {
				cur.elems = append(cur.elems, e)
			}
		case xml.EndElement:
			if depth == secDepth {
				cur, secDepth = nil, -1
			}
			depth--
		case xml.CharData:
			if cur != nil {
				cur.text.Write(tk)
			}
		}
	}
	if depth != 0 {
		t.Errorf("report.html: %d elements left open", depth)
	}
	return sections, all
}

func count(s *section, name string) int {
	n := 0
	for _, e := range s.elems {
		if e.name == name {
			n++
		}
	}
	return n
}

func TestReportOfFixtures(t *testing.T) {
	out := runFixtures(t)
	if err := report.Write(context.Background(), out, report.Options{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(out, report.File))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte(`<meta charset="utf-8">`)) || !bytes.Contains(page, []byte(`"Noto Sans CJK SC"`)) {
		t.Error("page lacks the utf-8 charset or the CJK font list")
	}
	secs, all := parse(t, page)
	for _, id := range []string{"funnel", "drop-reasons", "languages", "signals", "duplicates", "samples", "config", "manifest"} {
		if secs[id] == nil {
			t.Errorf("no section %q", id)
		}
	}
	for _, id := range []string{"funnel", "drop-reasons", "languages", "signals", "duplicates"} {
		if s := secs[id]; s != nil && (count(s, "svg") == 0 || count(s, "rect") == 0) {
			t.Errorf("section %q: %d svg, %d rect", id, count(s, "svg"), count(s, "rect"))
		}
	}
	// A threshold line for zh_quality or length.
	thr := 0
	for _, e := range secs["signals"].elems {
		if e.name == "line" && e.attrs["class"] == "threshold" {
			c := e.attrs["data-column"]
			if strings.HasPrefix(c, "zh_quality_") || c == "length_chars" {
				thr++
			}
		}
	}
	if thr == 0 {
		t.Error("signals: no threshold line for zh_quality or length")
	}
	// No external resource.
	for _, e := range all {
		for _, a := range []string{"src", "href"} {
			v := strings.ToLower(strings.TrimSpace(e.attrs[a]))
			if strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "//") {
				t.Errorf("<%s %s=%q> loads an external resource", e.name, a, v)
			}
		}
		if e.name == "script" || e.name == "link" {
			t.Errorf("page has a <%s> element", e.name)
		}
	}
	lower := strings.ToLower(string(page))
	if strings.Contains(lower, "@import") || strings.Contains(lower, "url(") {
		t.Error("page CSS loads something")
	}
	// Samples of length.chars<30, escaped in the markup.
	if !bytes.Contains(page, []byte(`length.chars&lt;30`)) {
		t.Error("no escaped length.chars&lt;30 in the page")
	}
	samples := secs["samples"]
	reasons := 0
	for _, e := range samples.elems {
		if e.name == "div" && e.attrs["data-reason"] == "length.chars<30" {
			reasons++
		}
	}
	if reasons != 1 {
		t.Errorf("samples: %d blocks for length.chars<30", reasons)
	}
	// A kept Chinese document's first characters appear in the samples, as text.
	s, err := report.Summarize(context.Background(), out, report.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var zh string
	for _, k := range s.Kept {
		if r := []rune(k.Text); len(r) >= 12 && hasHan(string(r[:12])) {
			zh = string(r[:12])
			break
		}
	}
	if zh == "" {
		for _, rs := range s.Samples {
			for _, sm := range rs.Samples {
				if r := []rune(sm.Text); zh == "" && len(r) >= 12 && hasHan(string(r[:12])) {
					zh = string(r[:12])
				}
			}
		}
	}
	if zh == "" {
		t.Fatal("no Chinese sample")
	}
	if !strings.Contains(samples.text.String(), zh) {
		t.Errorf("samples text lacks %q", zh)
	}
	for _, rs := range s.Samples {
		for _, sm := range rs.Samples {
			if n := len([]rune(sm.Text)); n > 400 {
				t.Errorf("sample %s: %d characters", sm.ID, n)
			}
		}
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func TestReportDeterministic(t *testing.T) {
	out := runFixtures(t)
	render := func(seed uint64) []byte {
		s, err := report.Summarize(context.Background(), out, report.Options{Seed: seed, SamplesPerRule: 2})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := report.Render(&b, s); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b := render(42), render(42)
	if !bytes.Equal(a, b) {
		t.Error("two renders with the same seed differ")
	}
	if bytes.Equal(a, render(43)) {
		t.Log("seeds 42 and 43 gave the same samples")
	}
}
