package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options configure one training run.
type Options struct {
	Run    string   // the run directory
	Resume bool     // continue Run from its last checkpoint, with its job.json
	Data   DataSpec // ignored on resume: the run keeps its documents
	Job    Job      // zero fields take the preset's defaults
	Tokens int64    // a token budget, instead of Job.Steps

	Python []string // interpreters to try in order (see Candidates) …
	// … unless the caller found one already (an ablation runs many).
	Interpreter *Interpreter
	// StopGrace is how long the worker may take to finish its step and
	// checkpoint after SIGINT before it is killed (0: 10 minutes).
	StopGrace time.Duration
	OnEvent   func(Event) // every worker event, for progress displays
	Log       *slog.Logger
}

// Result is a finished run.
type Result struct {
	Run    string
	Python Interpreter
	Job    Job
	Docs   DocsInfo
	Ready  Event // the worker's ready event: device, architecture, parameters
	Done   Event // the worker's done event: final val_loss, val_bpb, model directory
}

// Train runs (or resumes) a training run to the end. Errors are *Error,
// whose Kind says what went wrong.
func Train(ctx context.Context, o Options) (*Result, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := &Result{Run: o.Run}
	var err error
	if o.Resume {
		res.Job, res.Docs, err = loadRun(o.Run)
	} else {
		res.Job, err = newJob(o)
	}
	if err != nil {
		return res, err
	}
	// The interpreter first: a machine without torch learns so before
	// minutes of data preparation.
	if o.Interpreter != nil {
		res.Python = *o.Interpreter
	} else if res.Python, err = FindPython(ctx, o.Python); err != nil {
		return res, err
	}
	log.Info("python", "path", res.Python.Path, "torch", res.Python.Torch, "transformers", res.Python.Transformers, "cuda", res.Python.CUDA)
	if err := res.Python.supports(res.Job); err != nil {
		return res, err
	}
	if !o.Resume {
		if res.Docs, err = prepareRun(ctx, o.Run, o.Data, &res.Job); err != nil {
			if ctx.Err() != nil {
				return res, &Error{Kind: KindInterrupted, Msg: "interrupted while writing the documents", Err: err}
			}
			return res, err
		}
		log.Info("documents", "train", res.Docs.TrainDocs, "copies", res.Docs.TrainCopies, "val", res.Docs.ValDocs,
			"decontaminated", res.Docs.Decontaminated, "dropped", res.Docs.Dropped)
	}
	grace := o.StopGrace
	if grace == 0 {
		grace = 10 * time.Minute
	}
	w := &worker{py: res.Python, run: o.Run, resume: o.Resume, grace: grace, onEvent: o.OnEvent}
	last, err := w.start(ctx)
	res.Ready, res.Done = last.ready, last.done
	return res, err
}

func newJob(o Options) (Job, error) {
	j := o.Job.WithDefaults(o.Tokens)
	if j.Model != "" {
		abs, err := filepath.Abs(j.Model)
		if err != nil {
			return j, errorf(KindConfig, err, "--model")
		}
		j.Model = abs
	}
	if err := j.Validate(); err != nil {
		return j, errorf(KindConfig, nil, "%v", err)
	}
	if len(o.Data.Shards) == 0 {
		return j, errorf(KindConfig, nil, "no shards: give --shards (a winnow run directory or .parquet files)")
	}
	if _, err := os.Stat(filepath.Join(o.Run, "job.json")); err == nil {
		return j, errorf(KindConfig, nil, "%s already holds a run: --resume continues it, or choose another --run", o.Run)
	}
	return j, nil
}

func loadRun(run string) (Job, DocsInfo, error) {
	var info DocsInfo
	j, err := readJob(run)
	if errors.Is(err, fs.ErrNotExist) {
		return j, info, errorf(KindConfig, nil, "%s holds no run to resume (no job.json)", run)
	}
	if err != nil {
		return j, info, errorf(KindIO, err, "resume")
	}
	data, err := os.ReadFile(filepath.Join(run, "docs.json"))
	if err == nil {
		err = json.Unmarshal(data, &info)
	}
	if err != nil {
		return j, info, errorf(KindIO, err, "resume: docs.json")
	}
	if info.SHA256 != j.DataSHA256 {
		return j, info, errorf(KindConfig, nil, "resume: docs.json and job.json disagree on the documents' sha256")
	}
	return j, info, nil
}

// prepareRun creates the run directory and writes the documents, docs.json
// and, last, job.json: a directory with job.json is a run that can start.
func prepareRun(ctx context.Context, run string, spec DataSpec, j *Job) (DocsInfo, error) {
	if err := os.MkdirAll(run, 0o755); err != nil {
		return DocsInfo{}, errorf(KindIO, err, "run directory")
	}
	var err error
	for _, list := range []*[]string{&spec.Shards, &spec.EvalShards} {
		if *list, err = resolveShards(*list); err != nil {
			return DocsInfo{}, err
		}
	}
	info, err := writeDocs(ctx, run, spec)
	if err != nil {
		return info, err
	}
	j.DataSHA256 = info.SHA256
	if err := writeJSON(filepath.Join(run, "docs.json"), info); err != nil {
		return info, err
	}
	return info, writeJSON(filepath.Join(run, "job.json"), j)
}

// resolveShards expands run directories and shard directories into files,
// made absolute so docs.json says exactly what was read.
func resolveShards(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		files, err := ShardFiles(a)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, errorf(KindIO, err, "shards")
			}
			out = append(out, abs)
		}
	}
	return out, nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return errorf(KindInternal, err, "encode %s", filepath.Base(path))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return errorf(KindIO, err, "write %s", path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errorf(KindIO, err, "write %s", path)
	}
	return nil
}

// LatestCheckpoint returns the checkpoint a resume would start from, "" when
// there is none.
func LatestCheckpoint(run string) string {
	b, err := os.ReadFile(filepath.Join(run, "ckpt", "latest"))
	if err != nil {
		return ""
	}
	return "ckpt/" + strings.TrimSpace(string(b))
}
