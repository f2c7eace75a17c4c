package cli

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"winnow/report"
)

// ReportOptions are the settings of `winnow report`.
type ReportOptions struct {
	Run  string
	Seed uint64
	Open bool // open the page with xdg-open or open
}

// Report rebuilds RUN/report.html from the run's stats, manifest, config
// and shards.
func Report(ctx context.Context, w io.Writer, o ReportOptions) error {
	if err := report.Write(ctx, o.Run, report.Options{Seed: o.Seed}); err != nil {
		return err
	}
	page := filepath.Join(o.Run, report.File)
	fmt.Fprintln(w, page)
	if !o.Open {
		return nil
	}
	for _, opener := range []string{"xdg-open", "open"} {
		if path, err := exec.LookPath(opener); err == nil {
			return exec.CommandContext(ctx, path, page).Start()
		}
	}
	return fmt.Errorf("no xdg-open or open to show %s; open it in a browser", page)
}
