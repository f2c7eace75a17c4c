// Package trainer turns winnow's shards into a fine-tuning run: it picks a
// Python interpreter that imports torch, streams the shards' documents into
// a run directory (train/validation split decided here, by a stable hash of
// the id or by held-out shards), and drives the embedded PyTorch worker
// (worker/worker.py), which does all the tensor math. Go owns the run
// directory, progress, signals and errors; Python owns the model.
//
// A run directory holds:
//
//	job.json       the worker's settings (resume reads them back)
//	docs.json      what the documents files were made from, their counts and sha256
//	train.jsonl    training documents, {"text": …, "n": copies}
//	val.jsonl      held-out documents
//	worker.py      the embedded worker, rewritten on every start
//	worker.log     the worker's stderr, appended
//	metrics.jsonl  every worker event, one JSON object a line
//	data.json, train.bin, val.bin, tokenizer/   the worker's token files
//	ckpt/          step-NNNNNNN/ checkpoints and latest, written atomically
//	final/         the trained model (or LoRA adapter) and its tokenizer
//
// The worker reports through JSON lines on stdout (prepare, ready, resume,
// step, eval, checkpoint, interrupted, done, error) and its exit code: 0 done,
// 1 internal, 2 config, 3 missing dependency, 4 out of memory, 5 bad data,
// 6 interrupted with a checkpoint, 7 interrupted before training began.
// Train maps them onto *Error kinds.
package trainer
