package trainer

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

//go:embed worker/worker.py
var workerPy []byte

// Worker exit codes (worker.py's EXIT_*).
const (
	workerConfig           = 2
	workerDependency       = 3
	workerOOM              = 4
	workerData             = 5
	workerInterrupted      = 6
	workerInterruptedEarly = 7
)

// workerEnv is the worker's environment: the caller's, plus settings that
// keep it fast and offline unless the caller chose otherwise.
func workerEnv(base []string) []string {
	defaults := []string{
		// Two cores with OpenBLAS threads on top of torch's oversubscribe
		// them: Debian's torch calls OpenBLAS (trainer.md).
		"OPENBLAS_NUM_THREADS=1",
		"TOKENIZERS_PARALLELISM=false",
		// No model hub: --model is a local directory.
		"HF_HUB_OFFLINE=1",
		"TRANSFORMERS_OFFLINE=1",
		"PYTHONUNBUFFERED=1",
	}
	set := map[string]bool{}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	env := append([]string(nil), base...)
	for _, kv := range defaults {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			env = append(env, kv)
		}
	}
	return env
}

// worker runs worker.py in a run directory.
type worker struct {
	py      Interpreter
	run     string
	resume  bool
	grace   time.Duration // how long it may take to checkpoint after SIGINT
	onEvent func(Event)
}

// start writes worker.py into the run directory and runs it to the end,
// passing every event to metrics.jsonl and onEvent. When ctx ends the
// worker gets SIGINT, finishes its step and checkpoints; after grace it is
// killed.
func (w *worker) start(ctx context.Context) (last lastEvents, err error) {
	if err := os.WriteFile(filepath.Join(w.run, "worker.py"), workerPy, 0o644); err != nil {
		return last, errorf(KindIO, err, "write worker.py")
	}
	logf, err := os.OpenFile(filepath.Join(w.run, "worker.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return last, errorf(KindIO, err, "open worker.log")
	}
	defer logf.Close()
	metrics, err := openMetrics(w.run)
	if err != nil {
		return last, err
	}
	defer metrics.close()

	args := []string{"-u", "worker.py", "job.json"}
	if w.resume {
		args = append(args, "--resume")
	}
	cmd := exec.CommandContext(ctx, w.py.Path, args...)
	cmd.Dir = w.run
	cmd.Env = workerEnv(os.Environ())
	cmd.Stderr = logf
	cmd.SysProcAttr = workerProcAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = w.grace
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return last, errorf(KindInternal, err, "worker stdout")
	}
	fmt.Fprintf(logf, "== %s winnow: %s %s\n", time.Now().Format(time.RFC3339), w.py.Path, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return last, errorf(KindDependency, err, "start %s", w.py.Path)
	}
	last, readErr := w.events(stdout, metrics, logf)
	if readErr != nil {
		// Nobody reads its stdout any more: it would block on its next event.
		cmd.Process.Kill()
		cmd.Wait()
		return last, readErr
	}
	waitErr := cmd.Wait()
	return last, w.exitError(waitErr, cmd.ProcessState, last)
}

// lastEvents remembers the events that describe the run and how the
// worker ended.
type lastEvents struct {
	ready, done, err, interrupted Event
}

// events reads the worker's stdout until it closes. Lines that are not
// events (a library printing to stdout) go to worker.log.
func (w *worker) events(r io.Reader, metrics *metricsLog, logf io.Writer) (lastEvents, error) {
	var last lastEvents
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Event == "" {
			fmt.Fprintf(logf, "stdout: %s\n", sc.Bytes())
			continue
		}
		if e.Event == "resume" {
			if err := metrics.rewind(e.Step); err != nil {
				return last, err
			}
		}
		if err := metrics.append(sc.Bytes()); err != nil {
			return last, err
		}
		switch e.Event {
		case "ready":
			last.ready = e
		case "done":
			last.done = e
		case "error":
			last.err = e
		case "interrupted":
			last.interrupted = e
		}
		if w.onEvent != nil {
			w.onEvent(e)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		return last, errorf(KindInternal, err, "read worker events")
	}
	return last, nil
}

// exitError turns the worker's exit into nil or an *Error.
func (w *worker) exitError(waitErr error, st *os.ProcessState, last lastEvents) error {
	code := -1
	if st != nil {
		code = st.ExitCode()
	}
	if code == 0 && last.done.Event == "done" {
		return nil
	}
	e := &Error{Kind: KindInternal, Msg: last.err.Message, Hint: last.err.Hint}
	switch code {
	case workerConfig:
		e.Kind = KindConfig
	case workerDependency:
		e.Kind = KindDependency
	case workerOOM:
		e.Kind = KindOOM
	case workerData:
		e.Kind = KindData
	case workerInterrupted:
		e.Kind, e.Checkpoint = KindInterrupted, last.interrupted.Checkpoint
		e.Msg = fmt.Sprintf("interrupted at step %d; checkpoint %s", last.interrupted.Step, e.Checkpoint)
		e.Hint = "winnow train --run " + w.run + " --resume continues"
		return e
	case workerInterruptedEarly:
		e.Kind = KindInterrupted
		e.Hint = "winnow train --run " + w.run + " --resume starts it again"
		return e
	}
	if e.Msg == "" {
		e.Msg = fmt.Sprintf("the worker ended without finishing (%v)", describeExit(waitErr, st))
	} else {
		e.Msg = "worker: " + e.Msg
	}
	e.LogTail = tail(filepath.Join(w.run, "worker.log"), 20)
	return e
}

func describeExit(waitErr error, st *os.ProcessState) string {
	if st != nil {
		return st.String()
	}
	return waitErr.Error()
}

// tail returns the last n lines of a file (read from its last 16 KiB).
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 16<<10 {
		f.Seek(-16<<10, io.SeekEnd)
	}
	data, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
