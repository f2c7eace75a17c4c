package trainer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Event is one line of the worker's stdout; fields a given event lacks are
// zero. metrics.jsonl keeps the lines verbatim.
type Event struct {
	Event string `json:"event"` // prepare, ready, resume, step, eval, checkpoint, interrupted, done, error
	Step  int    `json:"step"`

	// step
	Loss       float64 `json:"loss"`
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"`
	Tokens     int64   `json:"tokens"`
	TokensPerS float64 `json:"tokens_per_s"`

	// eval, done
	ValLoss   float64 `json:"val_loss"`
	ValBPB    float64 `json:"val_bpb"`
	ValTokens int64   `json:"val_tokens"`
	Final     string  `json:"final"` // done: the directory of the trained model

	// prepare, ready
	Tokenizer     string `json:"tokenizer"`
	VocabSize     int    `json:"vocab_size"`
	Device        string `json:"device"`
	DType         string `json:"dtype"`
	Arch          string `json:"arch"`
	Params        int64  `json:"params"`
	Trainable     int64  `json:"trainable"`
	Torch         string `json:"torch"`
	Steps         int    `json:"steps"`
	StartStep     int    `json:"start_step"`
	TokensPerStep int64  `json:"tokens_per_step"`
	TrainTokens   int64  `json:"train_tokens"`
	PID           int    `json:"pid"`

	// checkpoint, resume, interrupted
	Path       string `json:"path"`
	Checkpoint string `json:"checkpoint"`

	// error
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// metricsLog appends events to RUN/metrics.jsonl.
type metricsLog struct {
	path string
	f    *os.File
}

func openMetrics(run string) (*metricsLog, error) {
	path := filepath.Join(run, "metrics.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, errorf(KindIO, err, "open metrics")
	}
	return &metricsLog{path: path, f: f}, nil
}

func (m *metricsLog) append(line []byte) error {
	if _, err := m.f.Write(append(bytes.TrimSpace(line), '\n')); err != nil {
		return errorf(KindIO, err, "write %s", m.path)
	}
	return nil
}

// rewind drops the events after step (those of steps a killed worker ran
// past its last checkpoint and a resumed one runs again), so metrics.jsonl
// stays one curve; from step 0 the worker starts over, its step-0
// evaluation included. Events without a step (ready, resume …) stay.
func (m *metricsLog) rewind(step int) error {
	if step == 0 {
		step = -1
	}
	data, err := os.ReadFile(m.path)
	if err != nil {
		return errorf(KindIO, err, "read metrics")
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e struct {
			Event string `json:"event"`
			Step  *int   `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Step == nil || *e.Step <= step {
			kept.Write(sc.Bytes())
			kept.WriteByte('\n')
		}
	}
	tmp := m.path + ".tmp"
	if err := os.WriteFile(tmp, kept.Bytes(), 0o644); err != nil {
		return errorf(KindIO, err, "rewrite metrics")
	}
	if err := m.f.Close(); err != nil {
		return errorf(KindIO, err, "close metrics")
	}
	if err := os.Rename(tmp, m.path); err != nil {
		return errorf(KindIO, err, "rewrite metrics")
	}
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return errorf(KindIO, err, "open metrics")
	}
	m.f = f
	return nil
}

func (m *metricsLog) close() error { return m.f.Close() }

// ReadMetrics reads a run's metrics.jsonl.
func ReadMetrics(run string) ([]Event, error) {
	data, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	var out []Event
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("metrics.jsonl:%d: %w", i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}
