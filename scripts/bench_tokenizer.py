#!/usr/bin/env python3
"""Tokenizer throughput: HF `tokenizers` (Rust) vs `verdant tokenize --bench`.

Run: /work/venv/bin/python scripts/bench_tokenizer.py [--tokenizer PATH] [--data JSONL]
         [--verdant .build-tok-rel/release/verdant] [--threads 1 2] [--repeat 5]
Build first: swift build -c release --scratch-path .build-tok-rel --product verdant

Both sides encode every document of the JSONL file (no special tokens) with the
same thread count; the best of --repeat runs is reported. Our side's time covers
encoding only (`--bench` excludes loading, reading and printing), as does HF's.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")


def hf_rate(tokenizer, data, threads, repeat):
    """Runs in a child so RAYON_NUM_THREADS takes effect before the library loads."""
    code = f"""
import json, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file({tokenizer!r})
docs = [json.loads(l)["text"] for l in open({data!r}, encoding="utf-8") if l.strip()]
n = sum(len(d.encode()) for d in docs)
best = 1e9
for _ in range({repeat}):
    t = time.perf_counter()
    if {threads} == 1:
        out = [tok.encode(d, add_special_tokens=False) for d in docs]
    else:
        out = tok.encode_batch(docs, add_special_tokens=False)
    best = min(best, time.perf_counter() - t)
print(n / best)
"""
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def verdant_rate(binary, tokenizer, data, threads, repeat):
    best = 0.0
    for _ in range(repeat):
        r = subprocess.run([binary, "tokenize", tokenizer, "--jsonl", data, "--threads", str(threads), "--bench"],
                           capture_output=True, text=True, check=True)
        m = re.search(r"([0-9.]+) bytes/s", r.stderr)
        if not m:
            raise SystemExit(f"no bytes/s in: {r.stderr}")
        best = max(best, float(m.group(1)))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default=os.path.join(SHARED, "models", "pycoder-llama-19m", "tokenizer.json"))
    ap.add_argument("--data", default=os.path.join(SHARED, "data", "code-dev.jsonl"))
    ap.add_argument("--verdant", default=os.path.join(ROOT, ".build-tok-rel", "release", "verdant"))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"CPU: {cpu}")
    print(f"tokenizer: {args.tokenizer}\ndata: {args.data}")
    print(f"{'threads':>7} {'HF MB/s':>10} {'verdant MB/s':>13} {'ratio':>7}")
    for t in args.threads:
        hf = hf_rate(args.tokenizer, args.data, t, args.repeat)
        ours = verdant_rate(args.verdant, args.tokenizer, args.data, t, args.repeat)
        print(f"{t:>7} {hf / 1e6:>10.2f} {ours / 1e6:>13.2f} {ours / hf:>7.2f}x")


if __name__ == "__main__":
    main()
