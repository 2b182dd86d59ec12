#!/usr/bin/env python3
"""Line-completion Exact Match / Edit Similarity with transformers, by Verdant's protocol.

    /work/venv/bin/python scripts/line_completion_reference.py MODEL_DIR --data FILE.jsonl \
        [--limit N] [--context-tokens 448] [--max-new-tokens 64] [--threads 2] \
        [--predictions OUT.jsonl] [--json]

The protocol (the same as `verdant eval --task line-completion`, see
Sources/VerdantEval/LineCompletion.swift):
- each task's `context` is tokenized WITHOUT special tokens (no BOS: the model card of
  pycoder-llama-19m tokenizes documents without special tokens) and left-truncated to its last
  --context-tokens tokens; an empty context becomes the BOS token;
- the model (fp32 arithmetic; bf16 checkpoints are upcast exactly) continues it greedily
  (argmax, first index on ties) until the decoded continuation (skip_special_tokens) contains
  "\\n", EOS is chosen, or --max-new-tokens tokens are generated;
- prediction = continuation.split("\\n", 1)[0].strip();
- EM = 100 * mean(prediction == target);
  ES = 100 * mean(1 - levenshtein(prediction, target) / max(len(prediction), len(target), 1)),
  lengths and distance over code points (Python str).
Prints {"em", "es", "n"} (percentages) with --json.
"""

import argparse
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a):
        current = [i + 1]
        for j, y in enumerate(b):
            current.append(min(previous[j] + (x != y), previous[j + 1] + 1, current[j] + 1))
        previous = current
    return previous[-1]


def edit_similarity(p: str, t: str) -> float:
    return 100.0 * (1.0 - levenshtein(p, t) / max(len(p), len(t), 1))


def read_tasks(path):
    tasks = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if not isinstance(obj.get("context"), str) or not isinstance(obj.get("target"), str):
                sys.exit(f"{path}:{n}: needs string fields 'context' and 'target'")
            tasks.append(obj)
    return tasks


# transformers 5.x renamed `past_key_values` to `cache`; accept both.
CACHE_ARG = "cache"


def cache_of(out):
    return out["cache"] if "cache" in out else out["past_key_values"]


@torch.no_grad()
def complete_line(model, tokenizer, prompt_ids, max_new_tokens, eos_ids):
    input_ids = torch.tensor([prompt_ids])
    out = model(input_ids=input_ids, use_cache=True)
    past = cache_of(out)
    logits = out.logits[0, -1]
    generated = []
    text = ""
    while len(generated) < max_new_tokens:
        next_id = int(torch.argmax(logits))
        if next_id in eos_ids:
            break
        generated.append(next_id)
        text = tokenizer.decode(generated, skip_special_tokens=True)
        if "\n" in text or len(generated) >= max_new_tokens:
            break
        out = model(input_ids=torch.tensor([[next_id]]), use_cache=True, **{CACHE_ARG: past})
        past = cache_of(out)
        logits = out.logits[0, -1]
    return text.split("\n", 1)[0].strip(), len(generated)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--data", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--context-tokens", type=int, default=448)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--predictions", help="write {prediction, target} per task (JSONL)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32)
    model.eval()
    global CACHE_ARG
    import inspect
    if "cache" not in inspect.signature(model.forward).parameters:
        CACHE_ARG = "past_key_values"
    eos = model.config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    bos = model.config.bos_token_id
    bos = bos[0] if isinstance(bos, list) else bos

    tasks = read_tasks(args.data)
    if args.limit:
        tasks = tasks[: args.limit]
    predictions, exact, similarity, generated_tokens = [], 0, 0.0, 0
    start = time.time()
    for i, task in enumerate(tasks):
        ids = tokenizer(task["context"], add_special_tokens=False)["input_ids"][-args.context_tokens:]
        if not ids:
            if bos is None:
                sys.exit(f"task {i + 1}: empty context and no BOS token")
            ids = [bos]
        prediction, n = complete_line(model, tokenizer, ids, args.max_new_tokens, eos_ids)
        generated_tokens += n
        predictions.append(prediction)
        exact += prediction == task["target"]
        similarity += edit_similarity(prediction, task["target"])
        if sys.stderr.isatty():
            print(f"\r{i + 1}/{len(tasks)}", end="", file=sys.stderr, flush=True)
    seconds = time.time() - start
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    n = len(tasks)
    result = {"em": 100.0 * exact / n, "es": similarity / n, "n": n}
    if args.predictions:
        with open(args.predictions, "w", encoding="utf-8") as f:
            for p, t in zip(predictions, tasks):
                f.write(json.dumps({"prediction": p, "target": t["target"]}) + "\n")
    if args.json:
        print(json.dumps(result))
    else:
        print(f"EM {result['em']:.2f}  ES {result['es']:.2f}  over {n} tasks "
              f"({generated_tokens} generated tokens, {seconds:.1f} s, {n / seconds:.2f} tasks/s)")


if __name__ == "__main__":
    main()
