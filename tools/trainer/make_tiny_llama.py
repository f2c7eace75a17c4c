#!/usr/bin/env python3
"""Builds a small Llama-style model directory with random weights and a
byte-level BPE tokenizer trained on local text, for `winnow train --model`
tests and trainer/gpu_check.sh: no model hub is needed (none is reachable
from the test machines).

    make_tiny_llama.py OUT_DIR TEXT_FILE... [--vocab 1000 --hidden 64 --layers 2 --heads 4]

Text files: .jsonl (the "text" field of each line) or plain text.
Runs on transformers 4.49 (torch 1.13) and 5.x.
"""
import argparse
import json

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers


def texts(paths):
    for p in paths:
        with open(p, encoding="utf-8") as f:
            if p.endswith(".jsonl"):
                for line in f:
                    yield json.loads(line)["text"]
            else:
                yield f.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("text", nargs="+")
    ap.add_argument("--vocab", type=int, default=1000)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--intermediate", type=int, default=0, help="0: about 8/3 of --hidden")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts(a.text), trainers.BpeTrainer(
        vocab_size=a.vocab, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    fast.save_pretrained(a.out)

    torch.manual_seed(a.seed)
    cfg = transformers.LlamaConfig(
        vocab_size=len(fast), hidden_size=a.hidden, intermediate_size=a.intermediate or (a.hidden * 8 // 3 + 7) // 8 * 8,
        num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.heads,
        max_position_embeddings=2048, eos_token_id=fast.eos_token_id, bos_token_id=None, pad_token_id=None)
    model = transformers.LlamaForCausalLM(cfg)
    model.save_pretrained(a.out)
    print(json.dumps({"dir": a.out, "vocab_size": len(fast), "params": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
