package report

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"strconv"

	"winnow/pipeline"
)

// File is the name of the report in a run directory.
const File = "report.html"

//go:embed template.html
var pageSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":        formatInt,
	"bytes":      formatBytes,
	"pct":        func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"float":      formatNum,
	"funnelSVG":  funnelSVG,
	"dropsSVG":   dropsSVG,
	"langSVG":    langSVG,
	"dupSVG":     dupSVG,
	"histSVG":    histSVG,
	"thresholds": thresholdLabel,
	"colourA":    func() template.CSS { return colourA },
	"colourB":    func() template.CSS { return colourB },
}).Parse(pageSource))

// Render writes s as a self-contained HTML page: inline CSS, charts as
// inline SVG, no script and no external resource.
func Render(w io.Writer, s *Summary) error {
	if err := page.Execute(w, s); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// Write summarizes runDir and writes runDir/report.html atomically
// (temporary file, fsync, rename).
func Write(ctx context.Context, runDir string, opts Options) error {
	s, err := Summarize(ctx, runDir, opts)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := Render(&buf, s); err != nil {
		return err
	}
	return pipeline.WriteFileAtomic(filepath.Join(runDir, File), buf.Bytes())
}

func funnelSVG(steps []FunnelStep) template.HTML {
	rows := make([]hbar, len(steps))
	for i, st := range steps {
		rows[i] = hbar{Label: st.Name, Values: []float64{st.DocsShare, st.BytesShare},
			Note: formatInt(st.Docs) + " docs, " + formatBytes(st.Bytes)}
	}
	return hbarSVG("funnel", rows, []string{colourA, colourB}, []string{"documents", "bytes"})
}

func dropsSVG(drops []StageDrops) template.HTML {
	var rows []hbar
	var peak int64
	for _, sd := range drops {
		for _, r := range sd.Reasons {
			peak = max(peak, r.Docs)
		}
	}
	for _, sd := range drops {
		for _, r := range sd.Reasons {
			rows = append(rows, hbar{Label: r.Reason, Values: []float64{share(r.Docs, peak)},
				Note: formatInt(r.Docs) + " docs, " + formatBytes(r.Bytes)})
		}
	}
	return hbarSVG("drop reasons", rows, []string{colourB}, []string{"documents dropped"})
}

func langSVG(l *Languages) template.HTML {
	rows := make([]hbar, len(l.Rows))
	for i, r := range l.Rows {
		rows[i] = hbar{Label: r.Lang, Values: []float64{r.BeforeShare, r.AfterShare},
			Note: formatInt(r.Before) + " → " + formatInt(r.After)}
	}
	return hbarSVG("languages", rows, []string{colourB, colourA}, []string{"before (all rows)", "after (kept)"})
}

func dupSVG(buckets []Bucket) template.HTML {
	rows := make([]hbar, len(buckets))
	for i, b := range buckets {
		rows[i] = hbar{Label: "cluster size " + b.Label, Values: []float64{b.Share}, Note: formatInt(b.Docs) + " docs"}
	}
	return hbarSVG("duplicate cluster sizes", rows, []string{colourA}, []string{"kept documents"})
}

// formatInt writes n with thousands separators: 1,234,567.
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// formatBytes is a size in B, KB, MB or GB (powers of 1000).
func formatBytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "KB", "MB", "GB", "TB"} {
		if f < 1000 || u == "TB" {
			if u == "B" {
				return strconv.FormatInt(n, 10) + " B"
			}
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
		f /= 1000
	}
	return ""
}
