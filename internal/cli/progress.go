package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"winnow/pipeline"
)

// showProgress reports a run's progress until ctx ends: a line redrawn in
// place on a terminal, plain log lines at a slower pace otherwise (cron mail
// and CI logs stay readable).
func showProgress(ctx context.Context, p *pipeline.Progress, w io.Writer, tty bool, log *slog.Logger) {
	every := 10 * time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintf(w, "\r%s\n", progressLine(p, time.Since(start)))
			}
			return
		case <-tick.C:
			if tty {
				fmt.Fprintf(w, "\r%s\x1b[K", progressLine(p, time.Since(start)))
				continue
			}
			s := snapshot(p, time.Since(start))
			log.Info("progress", "bytes_read", s.read, "bytes_total", s.total, "files", fmt.Sprintf("%d/%d", s.files, s.filesTotal),
				"docs_per_s", int64(s.docsPerS), "mb_per_s", fmt.Sprintf("%.1f", s.mbPerS), "eta", s.eta.String(),
				"kept", s.kept, "rejected", s.rejected, "quarantined", s.quarantined)
		}
	}
}

type progressSnapshot struct {
	read, total, files, filesTotal int64
	kept, rejected, quarantined    int64
	docsPerS, mbPerS               float64
	eta                            time.Duration
}

func snapshot(p *pipeline.Progress, elapsed time.Duration) progressSnapshot {
	s := progressSnapshot{
		read: p.BytesRead.Load(), total: p.BytesTotal.Load(),
		files: p.FilesDone.Load(), filesTotal: p.FilesTotal.Load(),
		kept: p.DocsKept.Load(), rejected: p.DocsRejected.Load(), quarantined: p.Quarantined.Load(),
	}
	if sec := elapsed.Seconds(); sec > 0 {
		s.docsPerS = float64(s.kept+s.rejected) / sec
		s.mbPerS = float64(s.read) / 1e6 / sec
	}
	if s.read > 0 && s.total > s.read {
		s.eta = time.Duration(float64(elapsed) * float64(s.total-s.read) / float64(s.read)).Round(time.Second)
	}
	return s
}

func progressLine(p *pipeline.Progress, elapsed time.Duration) string {
	s := snapshot(p, elapsed)
	pct := 0.0
	if s.total > 0 {
		pct = 100 * float64(s.read) / float64(s.total)
	}
	return fmt.Sprintf("%s of %s (%.0f%%)  files %d/%d  %.0f docs/s  %.1f MB/s  ETA %s  kept %d  rejected %d  quarantined %d",
		humanBytes(s.read), humanBytes(s.total), pct, s.files, s.filesTotal, s.docsPerS, s.mbPerS, s.eta, s.kept, s.rejected, s.quarantined)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
