package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// InputRecord is one input file in the manifest.
type InputRecord struct {
	Path        string           `json:"path"`   // as listed (relative to the working directory or absolute)
	Source      string           `json:"source"` // relative to its input root: the source column
	Size        int64            `json:"size"`
	MTime       time.Time        `json:"mtime"`
	SHA256      string           `json:"sha256"`
	Docs        int64            `json:"docs"`        // documents read
	Quarantined int64            `json:"quarantined"` // records that could not be read
	Bad         map[string]int64 `json:"bad,omitempty"`
	// Run is the incremental run that read the file.
	Run string `json:"run,omitempty"`
}

// Totals reconcile: Read = Kept + Rejected + Quarantined.
type Totals struct {
	Read        int64 `json:"read"`
	Kept        int64 `json:"kept"`
	Rejected    int64 `json:"rejected"`
	Quarantined int64 `json:"quarantined"`
}

// Manifest is manifest.json, written last: its presence means the run is complete.
type Manifest struct {
	RunID        string        `json:"run_id"`
	Start        time.Time     `json:"start"`
	End          time.Time     `json:"end"`
	Version      string        `json:"version"`
	ConfigSHA256 string        `json:"config_sha256"`
	Inputs       []InputRecord `json:"inputs"`
	Outputs      []OutputFile  `json:"outputs"`
	Totals       Totals        `json:"totals"`
	// An incremental run names the run it continues and the input files
	// whose documents it took out.
	PreviousRun string       `json:"previous_run,omitempty"`
	Retracted   []Retraction `json:"retracted,omitempty"`
}

// ManifestFile is the name of the file whose presence marks a complete run.
const ManifestFile = "manifest.json"

// ReadManifest reads a run directory's manifest.
func ReadManifest(runDir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(runDir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(runDir, ManifestFile), err)
	}
	return &m, nil
}

// WriteJSON writes v as indented JSON, atomically (temp name, fsync, rename).
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return WriteFileAtomic(path, append(data, '\n'))
}
