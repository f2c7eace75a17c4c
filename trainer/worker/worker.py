#!/usr/bin/env python3
"""winnow's training worker: the PyTorch side of `winnow train`.

winnow (Go) writes this file and job.json into the run directory, with the
documents already split into train.jsonl and val.jsonl, and runs

    python -u worker.py job.json [--resume]

The worker tokenizes the documents once into memory-mapped token files,
trains, evaluates and checkpoints. It reports through one JSON object per
line on stdout (events: prepare, ready, resume, step, eval, checkpoint, done,
error); everything else, library chatter included, goes to stderr, which
winnow appends to worker.log. The exit code says how it ended (EXIT_* below).

It runs on torch 1.13 (Debian's CPU build, transformers <= 4.49) and on
torch 2.x with transformers 5.x (bf16 autocast on CUDA), with or without
transformers: without it the presets are a plain torch.nn transformer.
"""

import collections
import copy
import hashlib
import json
import math
import os
import random
import shutil
import signal
import sys
import time
import traceback

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CONFIG = 2
EXIT_DEPENDENCY = 3
EXIT_OOM = 4
EXIT_DATA = 5
EXIT_INTERRUPTED = 6  # a checkpoint was written; --resume continues
EXIT_INTERRUPTED_EARLY = 7  # stopped before training began: nothing to resume

# Bump when the token files' layout changes, so old ones are rebuilt.
DATA_FORMAT = 1

# Architectures of the presets. Params with a 257-token byte vocabulary and
# tied embeddings (Llama-style): tiny 0.43M, small 9.9M, base 85M.
PRESETS = {
    "tiny": dict(d_model=128, n_layers=2, n_heads=4, d_ff=352),
    "small": dict(d_model=320, n_layers=8, n_heads=5, d_ff=864),
    "base": dict(d_model=768, n_layers=12, n_heads=12, d_ff=2048),
}

INSTALL_HINT = ("on Debian: tools/trainer/setup-python.sh (python3-torch 1.13 + pinned transformers==4.49.0 "
                "accelerate==1.2.1 sentencepiece, peft --no-deps); elsewhere: pip install torch transformers "
                "peft sentencepiece tokenizers accelerate")
OOM_HINT = ("lower --batch-size (raise --grad-accum to keep the effective batch), lower --seq-len, "
            "add --grad-checkpointing, or fine-tune with --lora")


class Fail(Exception):
    """An expected failure: reported as an error event with its exit code."""

    def __init__(self, kind, code, message, hint=""):
        super().__init__(message)
        self.kind, self.code, self.message, self.hint = kind, code, message, hint


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived before the training loop could checkpoint."""


def emit(event, **fields):
    sys.stdout.write(json.dumps(dict(event=event, **fields)) + "\n")
    sys.stdout.flush()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def need(module, what):
    try:
        return __import__(module)
    except ImportError as e:
        raise Fail("dependency", EXIT_DEPENDENCY, "%s needs the Python package %s (%s)" % (what, module, e),
                   INSTALL_HINT)


try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torch.utils.checkpoint
except ImportError as _e:
    emit("error", kind="dependency", message="the trainer needs torch and numpy (%s)" % _e, hint=INSTALL_HINT)
    sys.exit(EXIT_DEPENDENCY)
try:
    import transformers
except ImportError:
    transformers = None


class Stop:
    """Records SIGINT/SIGTERM; the loop checks it between steps."""

    def __init__(self):
        self.requested = False
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.requested = True
        log("worker: signal %d: stopping after the current step" % signum)

    def check(self):
        if self.requested:
            raise Interrupted()


# ---------------------------------------------------------------- job

REQUIRED = ["train", "val", "tokenizer", "seq_len", "batch_size", "grad_accum", "steps", "lr",
            "min_lr_ratio", "warmup", "weight_decay", "clip", "eval_every", "ckpt_every", "log_every",
            "eval_tokens", "final_eval_tokens", "seed"]


def load_job(path):
    try:
        with open(path, encoding="utf-8") as f:
            job = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail("config", EXIT_CONFIG, "read %s: %s" % (path, e))
    missing = [k for k in REQUIRED if k not in job]
    if missing:
        raise Fail("config", EXIT_CONFIG, "%s lacks %s" % (path, ", ".join(missing)))
    if job.get("model") is None and job.get("preset") not in PRESETS:
        raise Fail("config", EXIT_CONFIG, "preset %r: want one of %s, or a model directory" %
                   (job.get("preset"), ", ".join(PRESETS)))
    if job["tokenizer"] not in ("byte", "sentencepiece", "model"):
        raise Fail("config", EXIT_CONFIG, "tokenizer %r: want byte, sentencepiece or model" % job["tokenizer"])
    if (job["tokenizer"] == "model") != bool(job.get("model")):
        raise Fail("config", EXIT_CONFIG, "the model's own tokenizer goes with a model directory, and only with one")
    if job.get("lora") and not job.get("model"):
        raise Fail("config", EXIT_CONFIG, "LoRA adapts a pretrained model: give a model directory")
    for k in ("seq_len", "batch_size", "grad_accum", "steps", "eval_every", "ckpt_every", "log_every"):
        if not isinstance(job[k], int) or job[k] < 1:
            raise Fail("config", EXIT_CONFIG, "%s = %r: want a positive integer" % (k, job[k]))
    return job


def training_key(job):
    """Hash of the settings a checkpoint is valid for (not steps or intervals)."""
    keep = {k: v for k, v in job.items() if k not in ("eval_every", "ckpt_every", "log_every", "threads",
                                                      "final_eval_tokens", "eval_tokens", "keep_ckpts")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- tokenizers

class ByteTokenizer:
    kind = "byte"
    vocab_size = 257
    eos = 256

    def encode_batch(self, texts):
        return [np.frombuffer(t.encode("utf-8"), dtype=np.uint8) for t in texts]

    def save(self, d):
        with open(os.path.join(d, "tokenizer.json"), "w") as f:
            json.dump({"kind": "byte", "vocab_size": 257, "eos": 256}, f)


class SPTokenizer:
    kind = "sentencepiece"

    def __init__(self, path):
        spm = need("sentencepiece", "--tokenizer sentencepiece")
        self.path = path
        self.sp = spm.SentencePieceProcessor(model_file=path)
        self.vocab_size = self.sp.get_piece_size()
        self.eos = self.sp.eos_id()

    def encode_batch(self, texts):
        return [np.asarray(ids, dtype=np.int64) for ids in self.sp.encode(texts)]

    def save(self, d):
        shutil.copyfile(self.path, os.path.join(d, "sp.model"))


class HFTokenizer:
    kind = "model"

    def __init__(self, model_dir):
        need("transformers", "--model")
        self.tok = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.eos = self.tok.eos_token_id
        if self.eos is None:
            raise Fail("config", EXIT_CONFIG, "the tokenizer of %s has no EOS token" % model_dir)
        self.vocab_size = len(self.tok)

    def encode_batch(self, texts):
        ids = self.tok(texts, add_special_tokens=False)["input_ids"]
        return [np.asarray(x, dtype=np.int64) for x in ids]

    def save(self, d):
        self.tok.save_pretrained(d)


def read_docs(path, stop):
    """Yields (text, repeat) from a documents file written by winnow."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if n % 1000 == 0:
                stop.check()
            try:
                d = json.loads(line)
                yield d["text"], int(d.get("n", 1))
            except (ValueError, KeyError, TypeError) as e:
                raise Fail("data", EXIT_DATA, "%s:%d: not a document line (%s)" % (path, n, e))


def train_sentencepiece(job, run, stop):
    spm = need("sentencepiece", "--tokenizer sentencepiece")
    os.makedirs(os.path.join(run, "tokenizer"), exist_ok=True)
    prefix = os.path.join(run, "tokenizer", "sp")
    if os.path.exists(prefix + ".model"):
        return prefix + ".model"
    sample = prefix + ".input.txt"
    budget = job.get("sp_train_chars", 20000000)
    with open(sample, "w", encoding="utf-8") as out:
        for text, _ in read_docs(os.path.join(run, job["train"]), stop):
            for line in text.splitlines():
                if line.strip() and budget > 0:
                    out.write(line.strip() + "\n")
                    budget -= len(line)
            if budget <= 0:
                break
    vocab = job.get("vocab_size") or 4000
    # byte_fallback: no unknown token, every text round-trips; a vocabulary
    # larger than the sample allows shrinks instead of failing.
    try:
        spm.SentencePieceTrainer.train(
            input=sample, model_prefix=prefix + ".tmp", vocab_size=vocab, model_type="unigram",
            character_coverage=char_coverage(sample, vocab), byte_fallback=True, hard_vocab_limit=False,
            unk_id=0, bos_id=-1, eos_id=1, pad_id=-1, num_threads=max(1, os.cpu_count() or 1),
            input_sentence_size=2000000, shuffle_input_sentence=True)
    except RuntimeError as e:
        raise Fail("config", EXIT_CONFIG, "sentencepiece: %s" % e, "change --vocab-size")
    os.replace(prefix + ".tmp.model", prefix + ".model")
    os.remove(prefix + ".tmp.vocab")
    os.remove(sample)
    return prefix + ".model"


def char_coverage(sample, vocab):
    """The share of character occurrences sentencepiece must give pieces of
    their own: 0.9995 (its default for CJK), lowered until those characters
    fit in three quarters of the vocabulary, but not below the 0.98 it
    accepts. Chinese with other scripts (the UDHR) needs thousands of
    characters; the rare ones fall back to byte pieces."""
    counts = collections.Counter()
    with open(sample, encoding="utf-8") as f:
        for line in f:
            counts.update(line.rstrip("\n"))
    total = sum(counts.values()) or 1
    covered = 0
    for i, (_, n) in enumerate(counts.most_common()):
        if i >= vocab * 3 // 4:
            return max(0.98, min(0.9995, covered / total))
        covered += n
    return 0.9995


def make_tokenizer(job, run, stop):
    if job["tokenizer"] == "byte":
        return ByteTokenizer()
    if job["tokenizer"] == "sentencepiece":
        return SPTokenizer(train_sentencepiece(job, run, stop))
    return HFTokenizer(job["model"])


# ---------------------------------------------------------------- token files

def write_tokens(src, dst, tok, dtype, stop, repeat):
    """Tokenizes src into dst: documents joined by EOS. With repeat, a
    document of weight n appears in passes 1..n, so its copies lie far apart
    in the stream rather than side by side in one window."""
    n_tokens = n_bytes = docs = 0
    passes = max((n for _, n in read_docs(src, stop)), default=1) if repeat else 1
    eos = np.asarray([tok.eos], dtype=dtype)
    with open(dst, "wb") as out:
        for p in range(passes):
            batch = []

            def flush():
                nonlocal n_tokens, n_bytes
                if not batch:
                    return  # HF tokenizers fail on an empty batch
                for text, ids in zip(batch, tok.encode_batch(batch)):
                    out.write(np.asarray(ids, dtype=dtype).tobytes())
                    out.write(eos.tobytes())
                    n_tokens += len(ids) + 1
                    n_bytes += len(text.encode("utf-8"))
                batch.clear()

            for text, n in read_docs(src, stop):
                if (n if repeat else 1) > p and text:
                    batch.append(text)
                    docs += 1
                    if len(batch) == 512:
                        flush()
            flush()
        out.flush()
        os.fsync(out.fileno())
    return dict(tokens=n_tokens, bytes=n_bytes, docs=docs)


def prepare_data(job, run, tok, stop):
    """Token files train.bin/val.bin and data.json, reused when the inputs
    (documents hash from winnow, tokenizer) are unchanged."""
    dtype = "uint16" if tok.vocab_size <= 65536 else "uint32"
    key = hashlib.sha256(json.dumps([DATA_FORMAT, job.get("data_sha256"), tok.kind, tok.vocab_size,
                                     job.get("vocab_size"), job.get("model")]).encode()).hexdigest()[:16]
    meta_path = os.path.join(run, "data.json")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("key") == key and all(os.path.exists(os.path.join(run, n)) for n in ("train.bin", "val.bin")):
            return meta
    except (OSError, ValueError):
        pass
    t0 = time.time()
    emit("prepare", tokenizer=tok.kind, vocab_size=tok.vocab_size)
    tr = write_tokens(os.path.join(run, job["train"]), os.path.join(run, "train.bin.tmp"), tok, dtype, stop, True)
    va = write_tokens(os.path.join(run, job["val"]), os.path.join(run, "val.bin.tmp"), tok, dtype, stop, False)
    L = job["seq_len"]
    if tr["tokens"] < L + 1:
        raise Fail("data", EXIT_DATA, "the training documents hold %d tokens: fewer than one sequence of %d" %
                   (tr["tokens"], L + 1), "add shards, or lower --seq-len")
    if va["tokens"] < L + 1:
        raise Fail("data", EXIT_DATA, "the validation documents hold %d tokens: fewer than one sequence of %d" %
                   (va["tokens"], L + 1), "raise --val-fraction, give --eval-shards, or lower --seq-len")
    os.replace(os.path.join(run, "train.bin.tmp"), os.path.join(run, "train.bin"))
    os.replace(os.path.join(run, "val.bin.tmp"), os.path.join(run, "val.bin"))
    meta = dict(key=key, format=DATA_FORMAT, tokenizer=tok.kind, vocab_size=tok.vocab_size, eos=tok.eos,
                dtype=dtype, train=tr, val=va, seconds=round(time.time() - t0, 2))
    atomic_json(meta_path, meta)
    return meta


def atomic_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Batches:
    """Fixed windows of seq_len+1 tokens over the packed stream. The order is
    a seeded permutation per epoch, a pure function of (seed, sample index),
    so the batch of any step is known without state: resuming at step N
    reads exactly the batches an uninterrupted run reads."""

    def __init__(self, path, dtype, seq_len, seed):
        self.data = np.memmap(path, dtype=dtype, mode="r")
        self.L = seq_len
        self.n = (len(self.data) - 1) // seq_len
        self.seed = seed
        self._epoch, self._perm = -1, None

    def window(self, i):
        return np.asarray(self.data[i * self.L: i * self.L + self.L + 1], dtype=np.int64)

    def sample(self, g):
        epoch, pos = divmod(g, self.n)
        if epoch != self._epoch:
            self._perm = np.random.Generator(np.random.PCG64([self.seed, epoch])).permutation(self.n)
            self._epoch = epoch
        return int(self._perm[pos])

    def batch(self, first, size):
        w = np.stack([self.window(self.sample(g)) for g in range(first, first + size)])
        t = torch.from_numpy(w)
        return t[:, :-1], t[:, 1:]


# ---------------------------------------------------------------- models

class TorchLM(torch.nn.Module):
    """The presets without transformers: a pre-norm causal transformer from
    torch.nn building blocks, learned positions, tied embeddings."""

    def __init__(self, vocab, seq_len, d_model, n_layers, n_heads, d_ff):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, d_model)
        self.pos = torch.nn.Embedding(seq_len, d_model)
        layer = torch.nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, activation="gelu",
                                                 batch_first=True, norm_first=True)
        self.blocks = torch.nn.ModuleList([copy.deepcopy(layer) for _ in range(n_layers)])
        self.norm = torch.nn.LayerNorm(d_model)
        self.head = torch.nn.Linear(d_model, vocab, bias=False)
        self.head.weight = self.tok.weight
        # GPT-2's 0.02: nn.Embedding's N(0, 1) through the tied head gives
        # logits of size sqrt(d_model) and a first loss near 80 nats.
        torch.nn.init.normal_(self.tok.weight, std=0.02)
        torch.nn.init.normal_(self.pos.weight, std=0.02)
        self.register_buffer("mask", torch.triu(torch.full((seq_len, seq_len), float("-inf")), 1), persistent=False)
        self.checkpointing = False

    def forward(self, x):
        T = x.shape[1]
        h = self.tok(x) + self.pos(torch.arange(T, device=x.device))
        mask = self.mask[:T, :T]
        for blk in self.blocks:
            if self.checkpointing and self.training:
                h = torch.utils.checkpoint.checkpoint(blk, h, mask, use_reentrant=False)
            else:
                h = blk(h, src_mask=mask)
        return self.head(self.norm(h))


def hf_dtype_kw(dtype):
    # transformers 5 renamed torch_dtype to dtype.
    major = int(transformers.__version__.split(".")[0])
    return {"dtype": dtype} if major >= 5 else {"torch_dtype": dtype}


def build_model(job, tok):
    """Returns (model, arch, forward) where forward(x) gives logits."""
    torch.manual_seed(job["seed"])
    if job.get("model"):
        need("transformers", "--model")
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(
                job["model"], local_files_only=True, **hf_dtype_kw(torch.float32))
        except (OSError, ValueError) as e:
            raise Fail("config", EXIT_CONFIG, "load model %s: %s" % (job["model"], e))
        if model.get_input_embeddings().weight.shape[0] < tok.vocab_size:
            model.resize_token_embeddings(tok.vocab_size)
        arch = "hf:" + model.config.model_type
    else:
        p = PRESETS[job["preset"]]
        want = job.get("arch", "auto")
        if want == "llama" and transformers is None:
            need("transformers", "--arch llama")
        if want in ("auto", "llama") and transformers is not None:
            cfg = transformers.LlamaConfig(
                vocab_size=tok.vocab_size, hidden_size=p["d_model"], intermediate_size=p["d_ff"],
                num_hidden_layers=p["n_layers"], num_attention_heads=p["n_heads"],
                num_key_value_heads=p["n_heads"], max_position_embeddings=job["seq_len"],
                tie_word_embeddings=True, bos_token_id=None, eos_token_id=tok.eos, pad_token_id=None,
                use_cache=False)
            model = transformers.LlamaForCausalLM(cfg)
            arch = "llama"
        else:
            model = TorchLM(tok.vocab_size, job["seq_len"], **p)
            arch = "torch"
    if job.get("grad_checkpointing"):
        if isinstance(model, TorchLM):
            model.checkpointing = True
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if job.get("lora"):
        peft = need("peft", "--lora")
        cfg = peft.LoraConfig(r=job.get("lora_r", 8), lora_alpha=job.get("lora_alpha") or 2 * job.get("lora_r", 8),
                              lora_dropout=job.get("lora_dropout", 0.05), target_modules="all-linear",
                              task_type="CAUSAL_LM")
        model = peft.get_peft_model(model, cfg)
        arch += "+lora"
    if isinstance(model, TorchLM):
        return model, arch, model
    return model, arch, lambda x: model(input_ids=x).logits


# ---------------------------------------------------------------- training

def lr_at(job, step):
    """Linear warm-up to lr, then cosine decay to lr*min_lr_ratio at the last step."""
    lr, warm, total = job["lr"], job["warmup"], job["steps"]
    if step <= warm:
        return lr * step / max(1, warm)
    prog = min(1.0, (step - warm) / max(1, total - warm))
    lo = lr * job["min_lr_ratio"]
    return lo + 0.5 * (lr - lo) * (1 + math.cos(math.pi * prog))


def make_optimizer(job, model):
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [dict(params=decay, weight_decay=job["weight_decay"]), dict(params=no_decay, weight_decay=0.0)]
    return torch.optim.AdamW(groups, lr=job["lr"], betas=(0.9, 0.95), eps=1e-8)


def pick_device(job):
    want = job.get("device", "auto")
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise Fail("config", EXIT_CONFIG, "device %s: torch %s sees no CUDA device" % (want, torch.__version__))
    dev = torch.device(want)
    bf16 = dev.type == "cuda" and torch.cuda.is_bf16_supported()
    return dev, bf16


def autocast(dev, bf16):
    if bf16:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return torch.autocast(device_type="cpu", enabled=False)


class Evaluator:
    """Held-out loss over the first windows of val.bin, in a fixed order.
    Bits per byte = loss (nats/token) / ln 2 x tokens / UTF-8 bytes of the
    evaluated text, the byte count taken as the val set's tokens-per-byte
    ratio (exact when the whole set is evaluated); comparable across
    tokenizers."""

    def __init__(self, job, meta, run, dev, bf16):
        self.val = Batches(os.path.join(run, "val.bin"), meta["dtype"], job["seq_len"], job["seed"])
        self.bytes_per_token = meta["val"]["bytes"] / meta["val"]["tokens"]
        self.job, self.dev, self.bf16 = job, dev, bf16

    def __call__(self, model, forward, max_tokens):
        n = max(1, min(self.val.n, max_tokens // self.job["seq_len"]))
        model.eval()
        nats, count = 0.0, 0
        with torch.no_grad():
            for first in range(0, n, self.job["batch_size"]):
                idx = range(first, min(n, first + self.job["batch_size"]))
                w = torch.from_numpy(np.stack([self.val.window(i) for i in idx])).to(self.dev)
                with autocast(self.dev, self.bf16):
                    logits = forward(w[:, :-1])
                loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1),
                                       reduction="sum")
                nats += loss.item()
                count += w[:, 1:].numel()
        model.train()
        loss = nats / count
        return dict(val_loss=loss, val_bpb=loss / math.log(2) / self.bytes_per_token, val_tokens=count)


# ---------------------------------------------------------------- checkpoints

def rng_state():
    s = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s):
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def trainable_state(model, lora):
    if lora:
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return model.state_dict()


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(run, job, step, model, opt, tok, samples):
    """Writes ckpt/step-NNNNNNN atomically (a temp directory renamed), then
    points ckpt/latest at it, then prunes older ones."""
    root = os.path.join(run, "ckpt")
    os.makedirs(root, exist_ok=True)
    name = "step-%07d" % step
    tmp, final = os.path.join(root, ".tmp-" + name), os.path.join(root, name)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    state = dict(step=step, samples=samples, key=training_key(job), model=trainable_state(model, job.get("lora")),
                 optim=opt.state_dict(), rng=rng_state())
    with open(os.path.join(tmp, "state.pt"), "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    if job.get("lora"):
        model.save_pretrained(os.path.join(tmp, "adapter"))
    fsync_dir(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    with open(os.path.join(root, "latest.tmp"), "w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(os.path.join(root, "latest.tmp"), os.path.join(root, "latest"))
    fsync_dir(root)
    kept = sorted(d for d in os.listdir(root) if d.startswith("step-"))
    for old in kept[:-max(1, job.get("keep_ckpts", 2))]:
        if old != name:
            shutil.rmtree(os.path.join(root, old), ignore_errors=True)
    emit("checkpoint", step=step, path=os.path.relpath(final, run))


def torch_load(path):
    # torch >= 2.6 loads weights only by default; our own file holds RNG
    # states (tuples, numpy arrays) too. torch 1.13 has the argument as well.
    return torch.load(path, map_location="cpu", weights_only=False)


def load_checkpoint(run, job, model, opt):
    try:
        with open(os.path.join(run, "ckpt", "latest")) as f:
            name = f.read().strip()
    except FileNotFoundError:
        return 0, None  # stopped before its first checkpoint: start over
    state = torch_load(os.path.join(run, "ckpt", name, "state.pt"))
    if state["key"] != training_key(job):
        raise Fail("config", EXIT_CONFIG, "checkpoint %s was made with other settings than job.json" % name)
    missing, unexpected = model.load_state_dict(state["model"], strict=False)
    if unexpected or (missing and not job.get("lora")):
        raise Fail("config", EXIT_CONFIG, "checkpoint %s does not fit the model (missing %s, unexpected %s)" %
                   (name, missing[:3], unexpected[:3]))
    opt.load_state_dict(state["optim"])
    set_rng_state(state["rng"])
    return state["step"], name


def save_final(run, job, model, tok):
    d = os.path.join(run, "final")
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    if job.get("lora"):
        model.save_pretrained(os.path.join(tmp, "adapter"))
    elif isinstance(model, TorchLM):
        torch.save(model.state_dict(), os.path.join(tmp, "model.pt"))
    else:
        model.save_pretrained(tmp)
    tok.save(tmp)
    shutil.rmtree(d, ignore_errors=True)
    os.replace(tmp, d)
    return os.path.relpath(d, run)


# ---------------------------------------------------------------- main loop

def train(job, run, resume, stop):
    dev, bf16 = pick_device(job)
    if dev.type == "cpu":
        torch.set_num_threads(job.get("threads") or os.cpu_count() or 1)
    tok = make_tokenizer(job, run, stop)
    meta = prepare_data(job, run, tok, stop)
    stop.check()
    model, arch, forward = build_model(job, tok)
    model.to(dev)
    model.train()
    opt = make_optimizer(job, model)
    train_data = Batches(os.path.join(run, "train.bin"), meta["dtype"], job["seq_len"], job["seed"])
    evaluate = Evaluator(job, meta, run, dev, bf16)
    B, A, L, S = job["batch_size"], job["grad_accum"], job["seq_len"], job["steps"]
    start = 0
    if resume:
        start, name = load_checkpoint(run, job, model, opt)
        emit("resume", step=start, checkpoint=name and "ckpt/" + name)
    emit("ready", device=str(dev), dtype="bf16" if bf16 else "fp32", arch=arch, pid=os.getpid(),
         params=sum(p.numel() for p in model.parameters()),
         trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
         torch=torch.__version__, transformers=getattr(transformers, "__version__", None),
         vocab_size=tok.vocab_size, train_tokens=meta["train"]["tokens"], val_tokens=meta["val"]["tokens"],
         train_windows=train_data.n, steps=S, start_step=start, tokens_per_step=B * A * L)
    if start == 0:
        emit("eval", step=0, **evaluate(model, forward, job["eval_tokens"]))
    params = [p for p in model.parameters() if p.requires_grad]
    t_mark, tok_mark = time.time(), 0
    for step in range(start + 1, S + 1):
        lr = lr_at(job, step)
        for g in opt.param_groups:
            g["lr"] = lr
        total = 0.0
        for micro in range(A):
            x, y = train_data.batch(((step - 1) * A + micro) * B, B)
            x, y = x.to(dev), y.to(dev)
            with autocast(dev, bf16):
                logits = forward(x)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            (loss / A).backward()
            total += loss.item()
        gnorm = torch.nn.utils.clip_grad_norm_(params, job["clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        tok_mark += B * A * L
        if step % job["log_every"] == 0 or step == S or step == start + 1:
            now = time.time()
            emit("step", step=step, loss=total / A, lr=lr, grad_norm=float(gnorm), tokens=step * B * A * L,
                 tokens_per_s=round(tok_mark / max(now - t_mark, 1e-9)))
            t_mark, tok_mark = now, 0
        if step % job["eval_every"] == 0 and step != S:
            emit("eval", step=step, **evaluate(model, forward, job["eval_tokens"]))
        if step % job["ckpt_every"] == 0 or step == S or stop.requested:
            save_checkpoint(run, job, step, model, opt, tok, step * B * A)
        if stop.requested and step != S:
            emit("interrupted", step=step, checkpoint="ckpt/step-%07d" % step)
            return EXIT_INTERRUPTED
    # The eval events are one curve over the same first eval_tokens; the
    # done event holds the evaluation of up to final_eval_tokens.
    last = evaluate(model, forward, job["eval_tokens"])
    emit("eval", step=S, **last)
    final = last
    if job["final_eval_tokens"] > last["val_tokens"] and evaluate.val.n * L > last["val_tokens"]:
        final = evaluate(model, forward, job["final_eval_tokens"])
    if dev.type == "cuda":
        final["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 3)
    emit("done", step=S, final=save_final(run, job, model, tok), **final)
    return EXIT_OK


def is_oom(e):
    oom = getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(e, MemoryError) or (oom and isinstance(e, oom)) or "out of memory" in str(e)


def main(argv):
    if len(argv) < 2:
        log("usage: worker.py job.json [--resume]")
        return EXIT_CONFIG
    stop = Stop()
    try:
        job = load_job(argv[1])
        run = os.path.dirname(os.path.abspath(argv[1]))
        return train(job, run, "--resume" in argv[2:], stop)
    except Fail as f:
        emit("error", kind=f.kind, message=f.message, hint=f.hint)
        return f.code
    except Interrupted:
        emit("error", kind="interrupted", message="interrupted before the first step")
        return EXIT_INTERRUPTED_EARLY
    except Exception as e:  # noqa: BLE001 - every other failure is reported, then exits 1 or 4
        traceback.print_exc()
        if is_oom(e):
            emit("error", kind="oom", message=str(e).splitlines()[0], hint=OOM_HINT)
            return EXIT_OOM
        emit("error", kind="internal", message="%s: %s" % (type(e).__name__, e))
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main(sys.argv))
