#!/usr/bin/env python3
"""Training-step throughput, Verdant vs PyTorch eager, side by side in one run.

    /work/venv/bin/python scripts/bench_training.py [--model ../shared/models/pycoder-llama-19m]
        [--context 256] [--batch-tokens 2048] [--steps 4] [--threads 2] [--lr 1e-4]

Both sides train the same model (f32 master weights; the bf16 checkpoint is widened), on
batches of the same shape ([batch-tokens / context] sequences × context tokens, windows of the
same tokenized text: the seeded shuffled windows `verdant finetune` reads, reproduced here,
so the first-step losses agree and are printed as a correctness check), with AdamW (weight decay 0.01, clip 1.0), one optimizer step per batch:
a step is forward + backward + clip + AdamW. PyTorch runs with torch.set_num_threads(T) and its
default attention (SDPA); Verdant runs `verdant finetune --full` (release build) with --threads T
and prints each step's wall time. The first step of each side is a warm-up and is not counted;
tokens/s = predicted tokens per step / median step time.

The machine load (`uptime`) is printed before and after: other processes change the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VERDANT = REPO / ".build" / "release" / "verdant"
DATA = REPO.parent / "shared" / "data" / "code-dev.jsonl"


def log(msg: str) -> None:
    print(f"[bench_training {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load() -> str:
    return subprocess.run(["uptime"], text=True, capture_output=True).stdout.strip()


MASK64 = (1 << 64) - 1


def split_mix64(state: int) -> tuple[int, int]:
    """SplitMix64 as Sources/VerdantTraining/Data/SequencePermutation.swift: (new state, value)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def sequence_permutation(count: int, seed: int, epoch: int):
    """Verdant's SequencePermutation: a 4-round Feistel bijection of range(count) with cycle walking."""
    bits = 2
    while (1 << bits) < count:
        bits += 1
    half = (bits + 1) // 2
    mask = (1 << half) - 1
    state = (seed ^ (epoch * 0x9E3779B97F4A7C15)) & MASK64
    keys = []
    for _ in range(4):
        state, k = split_mix64(state)
        keys.append(k)

    def encrypt(x: int) -> int:
        left, right = x >> half, x & mask
        for key in keys:
            _, f = split_mix64(right ^ key)
            left, right = right, left ^ (f & mask)
        return (left << half) | right

    def permute(index: int) -> int:
        if count <= 1:
            return 0
        x = encrypt(index)
        while x >= count:
            x = encrypt(x)
        return x
    return permute


def token_windows(model: Path, context: int, count: int, seed: int = 0) -> list[list[int]]:
    """The first `count` sequences `verdant finetune --context C --seed S` trains on, in its order
    (Sources/VerdantTraining/Data/TokenStream.swift): every document of DATA tokenized without
    special tokens and followed by EOS, concatenated, cut into windows of context + 1 tokens that
    overlap by one (window w starts at token w·context), visited in a seeded Feistel permutation
    per epoch. Both engines therefore see the same batches, and their first losses must agree."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    eos = json.load(open(model / "config.json"))["eos_token_id"]
    eos = eos[0] if isinstance(eos, list) else eos
    with open(DATA) as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    stream: list[int] = []
    for enc in tok.encode_batch(texts, add_special_tokens=False):
        stream += enc.ids + [eos]
    per_epoch = (len(stream) - 1) // context
    assert per_epoch >= 1, "not enough text for the benchmark"
    windows = []
    for g in range(count):
        w = sequence_permutation(per_epoch, seed, g // per_epoch)(g % per_epoch)
        windows.append(stream[w * context:w * context + context + 1])
    return windows


def bench_torch(model_dir: Path, args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    seqs = args.batch_tokens // args.context
    windows = token_windows(model_dir, args.context, seqs * (args.steps + 1), seed=0)
    times, losses = [], []
    for s in range(args.steps + 1):
        batch = torch.tensor(windows[s * seqs:(s + 1) * seqs])
        t0 = time.perf_counter()
        logits = model(batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
        log(f"torch step {s}: {times[-1]:.3f} s, loss {losses[-1]:.4f}")
    med = statistics.median(times[1:])
    return {"step_s": med, "tokens_per_s": args.batch_tokens / med, "losses": losses}


def bench_verdant(model_dir: Path, args) -> dict:
    verdant = args.verdant or VERDANT
    if not verdant.exists():
        sys.exit(f"{verdant} not found: swift build -c release --product verdant")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [str(verdant), "finetune", str(model_dir), "--data", str(DATA), "--out", str(out), "--full",
               "--context", str(args.context), "--batch-tokens", str(args.batch_tokens),
               "--tokens", str(args.batch_tokens * (args.steps + 1)), "--lr", str(args.lr), "--warmup", "0",
               "--schedule", "constant", "--weight-decay", "0.01", "--clip", "1.0", "--save-every", "0",
               "--threads", str(args.threads), "--seed", "0"]
        log("$ " + " ".join(cmd))
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        times, losses, phases = [], [], ""
        for line in proc.stderr:
            sys.stderr.write(line)
            m = re.search(r"loss ([0-9.]+).*\(([0-9.]+) s this step\)", line)
            if m:
                losses.append(float(m.group(1)))
                times.append(float(m.group(2)))
            if line.startswith("time per phase:"):
                phases = line.split(":", 1)[1].strip()
        if proc.wait() != 0:
            sys.exit("verdant finetune failed")
    med = statistics.median(times[1:]) if len(times) > 1 else times[0]
    return {"step_s": med, "tokens_per_s": args.batch_tokens / med, "losses": losses, "phases": phases}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=REPO.parent / "shared" / "models" / "pycoder-llama-19m")
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--batch-tokens", type=int, default=2048)
    p.add_argument("--steps", type=int, default=4, help="measured steps (after one warm-up step)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--verdant", type=Path, help="verdant binary (default .build/release/verdant)")
    args = p.parse_args()
    before = load()
    log(f"load before: {before}")
    torch_r = None if args.skip_torch else bench_torch(args.model, args)
    verdant_r = bench_verdant(args.model, args)
    after = load()
    log(f"load after: {after}")
    print(f"\nmodel {args.model.name}, {args.batch_tokens // args.context} × {args.context} tokens per step, "
          f"{args.threads} threads, AdamW, f32")
    print(f"load: before [{before}]  after [{after}]")
    print(f"{'engine':<10} {'s/step':>9} {'tokens/s':>10}  first losses")
    if torch_r:
        print(f"{'pytorch':<10} {torch_r['step_s']:>9.3f} {torch_r['tokens_per_s']:>10.1f}  "
              f"{', '.join(f'{l:.3f}' for l in torch_r['losses'][:3])}")
    print(f"{'verdant':<10} {verdant_r['step_s']:>9.3f} {verdant_r['tokens_per_s']:>10.1f}  "
          f"{', '.join(f'{l:.3f}' for l in verdant_r['losses'][:3])}")
    if torch_r:
        print(f"verdant / pytorch: {verdant_r['tokens_per_s'] / torch_r['tokens_per_s']:.3f}×")
        # Same weights, same windows: the first losses differ only by f32 rounding.
        lt, lv = torch_r["losses"][0], verdant_r["losses"][0]
        verdict = "agree" if abs(lt - lv) <= 2e-3 * abs(lt) else "DIFFER (not the same batch?)"
        print(f"first-step loss: pytorch {lt:.4f}, verdant {lv:.4f}: {verdict}")
    print(f"verdant time per phase: {verdant_r['phases']}")


if __name__ == "__main__":
    main()
