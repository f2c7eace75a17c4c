#!/usr/bin/env python3
"""GPU check of winnow's training worker (issue 7), as one script.

On a machine with an NVIDIA GPU, torch 2.x, transformers, peft and
tokenizers (no network, no model weights), it reports in a few minutes:

  1. the `base` preset (~85M params with the byte tokenizer) in bf16:
     tokens/s, MFU against --peak-tflops, peak memory, held-out loss;
  2. kill -9 and resume of that run: the losses after the resume against
     the uninterrupted run's (max abs difference; CUDA kernels need not be
     bitwise deterministic);
  3. LoRA on a randomly initialised Llama-style model directory built on
     the spot (tools/trainer/make_tiny_llama.py).

It drives trainer/worker/worker.py directly (job.json in, JSON events out),
so it needs no Go toolchain there. --cpu-smoke runs the same three steps
with tiny sizes on CPU, to test the script anywhere. The summary is printed
and written to OUT/gpu_check.json.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, "trainer", "worker", "worker.py")


def write_docs(run, sources):
    """train.jsonl / val.jsonl from text files (.txt, .md: one document
    each; .jsonl: the text field of each line); 5% of files held out."""
    os.makedirs(run, exist_ok=True)
    sha = hashlib.sha256()
    with open(os.path.join(run, "train.jsonl"), "w") as tr, open(os.path.join(run, "val.jsonl"), "w") as va:
        for src in sources:
            for dirpath, _, files in sorted(os.walk(src)):
                for name in sorted(files):
                    path = os.path.join(dirpath, name)
                    out = va if int(hashlib.sha256(path.encode()).hexdigest(), 16) % 20 == 0 else tr
                    if name.endswith((".txt", ".md")):
                        texts = [open(path, encoding="utf-8").read()]
                    elif name.endswith(".jsonl"):
                        texts = [json.loads(line)["text"] for line in open(path, encoding="utf-8")]
                    else:
                        continue
                    for t in texts:
                        line = json.dumps({"text": t}, ensure_ascii=False) + "\n"
                        out.write(line)
                        sha.update(line.encode())
    return sha.hexdigest()


def make_job(data_sha, **kw):
    job = dict(train="train.jsonl", val="val.jsonl", data_sha256=data_sha, tokenizer="byte", preset="tiny",
               arch="auto", seq_len=64, batch_size=8, grad_accum=1, steps=30, lr=3e-3, min_lr_ratio=0.1,
               warmup=10, weight_decay=0.1, clip=1.0, eval_every=10, ckpt_every=10, log_every=1,
               eval_tokens=64 * 64, final_eval_tokens=2000000, seed=1, device="auto", keep_ckpts=2)
    job.update(kw)
    job["eval_tokens"] = 64 * job["seq_len"]
    return job


def run_worker(py, run, job, resume=False, kill_at=None):
    """Runs the worker; returns (exit code, events). With kill_at, SIGKILLs
    it once it reports that step."""
    shutil.copy(WORKER, os.path.join(run, "worker.py"))
    with open(os.path.join(run, "job.json"), "w") as f:
        json.dump(job, f)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    args = [py, "-u", "worker.py", "job.json"] + (["--resume"] if resume else [])
    events = []
    with open(os.path.join(run, "worker.log"), "a") as log:
        p = subprocess.Popen(args, cwd=run, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        for line in p.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            events.append(e)
            if e["event"] == "error":
                print("  worker error: %s %s" % (e.get("message"), e.get("hint", "")), file=sys.stderr)
            if kill_at and e["event"] == "step" and e["step"] >= kill_at:
                p.send_signal(signal.SIGKILL)
        p.wait()
    return p.returncode, events


def pick(events, kind):
    return [e for e in events if e["event"] == kind]


def tokens_per_s(events):
    """Median over the step events of the second half (compile, allocator
    and cudnn warm-up excluded)."""
    rates = [e["tokens_per_s"] for e in pick(events, "step")]
    return statistics.median(rates[len(rates) // 2:]) if rates else 0.0


def check_base(py, out, sources, a):
    run = os.path.join(out, "base")
    sha = write_docs(run, sources)
    job = make_job(sha, preset=a.preset, seq_len=a.seq_len, batch_size=a.batch_size, steps=a.steps,
                   lr=a.lr, warmup=a.steps // 10, eval_every=a.steps // 3, ckpt_every=a.steps // 3,
                   log_every=max(1, a.steps // 100), device=a.device)
    t0 = time.time()
    rc, ev = run_worker(py, run, job)
    ready, done = (pick(ev, "ready") or [{}])[0], (pick(ev, "done") or [{}])[0]
    evals = {e["step"]: e["val_loss"] for e in pick(ev, "eval")}
    tps = tokens_per_s(ev)
    spec = importlib.util.spec_from_file_location("worker", WORKER)
    w = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(w)
    p = w.PRESETS[a.preset]
    # Training FLOPs per token: 6 per parameter, plus attention scores and
    # values (12 x layers x width x sequence length); PaLM's MFU formula.
    flops_tok = 6 * ready.get("params", 0) + 12 * p["n_layers"] * p["d_model"] * a.seq_len
    res = dict(rc=rc, seconds=round(time.time() - t0, 1), device=ready.get("device"), dtype=ready.get("dtype"),
               arch=ready.get("arch"), params=ready.get("params"), torch=ready.get("torch"), steps=a.steps,
               tokens_per_step=ready.get("tokens_per_step"), tokens_per_s=tps,
               mfu=round(flops_tok * tps / (a.peak_tflops * 1e12), 4), peak_mem_gib=done.get("peak_mem_gib"),
               val_loss_start=evals.get(0), val_loss_end=done.get("val_loss"), val_bpb_end=done.get("val_bpb"))
    return res, job, sha, ev


def check_resume(py, out, sources, job, whole_events, a):
    run = os.path.join(out, "resume")
    write_docs(run, sources)
    ckpt = job["ckpt_every"]
    kill_at = min(job["steps"] - 1, ckpt + ckpt // 2)
    rc1, _ = run_worker(py, run, job, kill_at=kill_at)
    rc2, ev = run_worker(py, run, job, resume=True)
    start = (pick(ev, "resume") or [{"step": None}])[0]["step"]
    whole = {e["step"]: e["loss"] for e in pick(whole_events, "step")}
    resumed = {e["step"]: e["loss"] for e in pick(ev, "step")}
    diffs = [abs(whole[s] - resumed[s]) for s in resumed if s in whole]
    return dict(killed_rc=rc1, killed_at=kill_at, resumed_from=start, resume_rc=rc2, compared_steps=len(diffs),
                max_abs_loss_diff=max(diffs) if diffs else None, exact=bool(diffs) and max(diffs) == 0.0)


def check_lora(py, out, sources, a):
    model = os.path.join(out, "llama")
    texts = [os.path.join(ROOT, "fixtures", "corpus", "zh-prose")]
    files = [os.path.join(d, f) for d in texts for f in sorted(os.listdir(d))]
    mk = [py, os.path.join(ROOT, "tools", "trainer", "make_tiny_llama.py"), model] + files + a.llama_args.split()
    built = subprocess.run(mk, capture_output=True, text=True)
    if built.returncode != 0:
        return dict(rc=built.returncode, error=built.stderr[-2000:])
    run = os.path.join(out, "lora")
    sha = write_docs(run, sources)
    job = make_job(sha, preset=None, model=model, tokenizer="model", lora=True, lora_r=16, lora_dropout=0.05,
                   seq_len=a.seq_len, batch_size=a.batch_size, steps=a.lora_steps, lr=1e-3,
                   warmup=a.lora_steps // 10, eval_every=a.lora_steps // 2, ckpt_every=a.lora_steps,
                   log_every=max(1, a.lora_steps // 50), device=a.device)
    rc, ev = run_worker(py, run, job)
    ready, done = (pick(ev, "ready") or [{}])[0], (pick(ev, "done") or [{}])[0]
    evals = {e["step"]: e["val_loss"] for e in pick(ev, "eval")}
    return dict(rc=rc, arch=ready.get("arch"), params=ready.get("params"), trainable=ready.get("trainable"),
                dtype=ready.get("dtype"), tokens_per_s=tokens_per_s(ev), peak_mem_gib=done.get("peak_mem_gib"),
                val_loss_start=evals.get(0), val_loss_end=done.get("val_loss"),
                adapter=os.path.exists(os.path.join(run, "final", "adapter", "adapter_config.json")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on CPU: tests the script")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the worker")
    ap.add_argument("--out", default="", help="work directory (default: a temporary one, kept)")
    ap.add_argument("--peak-tflops", type=float, default=790.0,
                    help="bf16 dense peak for MFU (790: measured on the H200 by the workplace)")
    a = ap.parse_args()
    if a.cpu_smoke:
        a.device, a.preset, a.seq_len, a.batch_size, a.steps, a.lr, a.lora_steps = "cpu", "tiny", 64, 8, 30, 3e-3, 10
        a.llama_args = ""
    else:
        a.device, a.preset, a.seq_len, a.batch_size, a.steps, a.lr, a.lora_steps = "cuda", "base", 1024, 16, 300, 6e-4, 100
        a.llama_args = "--vocab 8000 --hidden 512 --layers 8 --heads 8"
    out = a.out or tempfile.mkdtemp(prefix="winnow-gpu-check-")
    os.makedirs(out, exist_ok=True)
    sources = [os.path.join(ROOT, "fixtures", "corpus")]
    t0 = time.time()
    report = {}
    report["base"], job, _, ev = check_base(a.python, out, sources, a)
    print("base:   " + json.dumps(report["base"]), flush=True)
    report["resume"] = check_resume(a.python, out, sources, job, ev, a)
    print("resume: " + json.dumps(report["resume"]), flush=True)
    report["lora"] = check_lora(a.python, out, sources, a)
    print("lora:   " + json.dumps(report["lora"]), flush=True)
    report["seconds"] = round(time.time() - t0, 1)
    report["mode"] = "cpu-smoke" if a.cpu_smoke else "gpu"
    with open(os.path.join(out, "gpu_check.json"), "w") as f:
        json.dump(report, f, indent=1)
    ok = (report["base"]["rc"] == 0 and report["resume"]["resume_rc"] == 0 and report["lora"].get("rc") == 0
          and report["resume"]["compared_steps"] > 0)
    print("gpu_check: %s in %.0f s; %s" % ("ok" if ok else "FAILED", report["seconds"], os.path.join(out, "gpu_check.json")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
