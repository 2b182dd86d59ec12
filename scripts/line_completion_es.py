#!/usr/bin/env python3
"""Line-completion edit similarity (benchmark-only; `verdant eval --task line-completion` is the
project's tool once it lands).

    /work/venv/bin/python scripts/line_completion_es.py MODEL_DIR TASKS.jsonl [--threads 2] [--json OUT]

Protocol (CodeXGLUE-style, as the project fixes it): the task's `context` is tokenized without
special tokens and left-truncated to its last 448 tokens; greedy decoding until the first newline
or 64 new tokens; the prediction is the text before the first newline, stripped; ES = 100 × (1 −
Levenshtein(prediction, target) / max(len)), on the stripped target; EM = exact match. The model
runs in transformers (float32 math on the stored weights), with the model directory's own
tokenizer.json — so a vocabulary-pruned model is evaluated with its pruned tokenizer.
"""

import argparse
import json
import sys
import time

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

CONTEXT = 448
MAX_NEW = 64


def levenshtein(a, b):
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def edit_similarity(prediction, target):
    if not prediction and not target:
        return 100.0
    return 100.0 * (1 - levenshtein(prediction, target) / max(len(prediction), len(target)))


def complete(model, tok, context):
    ids = tok.encode(context, add_special_tokens=False).ids[-CONTEXT:]
    new, past = [], None
    x = torch.tensor([ids])
    text = ""
    with torch.no_grad():
        for _ in range(MAX_NEW):
            out = model(x, past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = int(out.logits[0, -1].argmax())
            new.append(nxt)
            text = tok.decode(new, skip_special_tokens=False)
            if "\n" in text:
                break
            x = torch.tensor([[nxt]])
    return text.split("\n", 1)[0].strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("tasks")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", help="write {es, em, tasks, seconds, predictions} here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model, attn_implementation="eager").float().eval()
    tok = Tokenizer.from_file(f"{args.model}/tokenizer.json")
    tasks = [json.loads(l) for l in open(args.tasks) if l.strip()]
    if args.limit:
        tasks = tasks[:args.limit]
    start = time.time()
    es, em, predictions = 0.0, 0, []
    for t in tasks:
        p = complete(model, tok, t["context"])
        target = t["target"].strip()
        es += edit_similarity(p, target)
        em += p == target
        predictions.append(p)
    result = {"es": es / len(tasks), "em": 100.0 * em / len(tasks), "tasks": len(tasks),
              "seconds": time.time() - start, "predictions": predictions}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)
    print(f"ES {result['es']:.2f}  EM {result['em']:.2f}  ({len(tasks)} tasks, {result['seconds']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
