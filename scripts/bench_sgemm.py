#!/usr/bin/env python3
"""Training GEMM side by side: Verdant's `sgemm` vs PyTorch (MKL) on pycoder-llama-19m's linears.

    /work/venv/bin/python scripts/bench_sgemm.py [--threads 2] [--tokens 2048] [--runs 7]
                                                 [--rounds 2] [--verdant .build/release/verdant]

For every linear y = x·Wᵀ (x [T, in], W [out, in], both row-major and contiguous) the
three products of a training step, with the same transposes and contiguity on both sides:
    forward  Y  = X · Wᵀ        torch.mm(x, w.t(), out=y)
    dX       dX = dY · W        torch.mm(dy, w, out=dx)
    dW       dW += dYᵀ · X      dw.addmm_(dy.t(), x)
Each side: one warm-up call, then the median of R timed calls; Verdant's numbers come from
`verdant kernel-bench --sgemm --json` (same shapes, same protocol). On a shared machine the
load changes during a run, so torch and Verdant alternate for --rounds rounds and each keeps
its best median per product. Build first: `swift build -c release --product verdant`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL_CONFIG = REPO.parent / "shared" / "models" / "pycoder-llama-19m" / "config.json"


def linears(config: dict) -> list[tuple[str, int, int]]:
    """(name, out, in) of the model's distinct linear shapes, named as `verdant kernel-bench` names them."""
    h, i, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    hd = config.get("head_dim", h // config["num_attention_heads"])
    q, kv = config["num_attention_heads"] * hd, config["num_key_value_heads"] * hd
    return [("q_proj/o_proj", q, h), ("k_proj/v_proj", kv, h), ("gate_proj/up_proj", i, h),
            ("down_proj", h, i), ("lm_head", v, h)]


def torch_bench(shapes: list[tuple[str, int, int]], tokens: int, runs: int) -> dict[tuple[str, str], float]:
    """Median seconds per product, keyed by (layer, product)."""
    import torch
    g = torch.Generator().manual_seed(0)
    result = {}
    for layer, out, inf in shapes:
        x = torch.rand(tokens, inf, generator=g) * 2 - 1
        w = torch.rand(out, inf, generator=g) * 2 - 1
        dy = torch.rand(tokens, out, generator=g) * 2 - 1
        y, dx, dw = torch.empty(tokens, out), torch.empty(tokens, inf), torch.zeros(out, inf)
        products = {
            "forward": lambda: torch.mm(x, w.t(), out=y),
            "dX": lambda: torch.mm(dy, w, out=dx),
            "dW": lambda: dw.addmm_(dy.t(), x),
        }
        for name, fn in products.items():
            fn()
            samples = []
            for _ in range(runs):
                t0 = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t0)
            result[(layer, name)] = statistics.median(samples)
    return result


def verdant_bench(binary: Path, threads: int, tokens: int, runs: int) -> dict:
    cmd = [str(binary), "kernel-bench", "--sgemm", "--json", "--threads", str(threads),
           "--tokens", str(tokens), "--runs", str(runs)]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    return json.loads(subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--verdant", type=Path, default=REPO / ".build" / "release" / "verdant")
    args = ap.parse_args()
    if not args.verdant.exists():
        sys.exit(f"{args.verdant} not found: swift build -c release --product verdant")

    import torch
    torch.set_num_threads(args.threads)
    shapes = linears(json.loads(MODEL_CONFIG.read_text()))

    best_torch: dict[tuple[str, str], float] = {}
    best_verdant: dict[tuple[str, str], float] = {}
    info = None
    loads = []
    for _ in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for key, s in torch_bench(shapes, args.tokens, args.runs).items():
            best_torch[key] = min(best_torch.get(key, float("inf")), s)
        info = verdant_bench(args.verdant, args.threads, args.tokens, args.runs)
        for p in info["products"]:
            key = (p["layer"], p["product"])
            best_verdant[key] = min(best_verdant.get(key, float("inf")), p["median_ms"] / 1e3)
    loads.append(os.getloadavg()[0])

    peak = info["peak_gflops"]
    nominal = None
    name = info["cpu"]
    if "GHz" in name:
        try:
            nominal = float(name.rsplit("@", 1)[1].strip().removesuffix("GHz")) * 64 * args.threads
        except ValueError:
            nominal = None
    print(f"cpu {name}; {args.threads} threads; torch {torch.__version__} "
          f"(MKL {torch.backends.mkl.is_available()}); {args.tokens} tokens; best of {args.rounds} rounds "
          f"of median-of-{args.runs}; 1-min load during the run {min(loads):.1f}–{max(loads):.1f}")
    print(f"peak f32 FMA: measured {peak:.1f} GFLOP/s ({args.threads} threads, implied clock "
          f"{info['implied_clock_ghz']:.2f} GHz)" + (f", nominal {nominal:.0f} GFLOP/s" if nominal else ""))
    print()
    print("| layer | product | m×n×k | ops | torch GFLOP/s | Verdant GFLOP/s | Verdant / torch | Verdant × measured peak |"
          + (" Verdant × nominal peak |" if nominal else ""))
    print("|---|---|---|---|---|---|---|---|" + ("---|" if nominal else ""))
    ops = {"forward": "X·Wᵀ", "dX": "dY·W", "dW": "dW += dYᵀ·X"}
    ratios = []
    for p in info["products"]:
        key = (p["layer"], p["product"])
        flops = 2 * p["m"] * p["n"] * p["k"]
        gt, gv = flops / best_torch[key] / 1e9, flops / best_verdant[key] / 1e9
        ratios.append(gv / gt)
        line = (f"| {p['layer']} | {p['product']} | {p['m']}×{p['n']}×{p['k']} | {ops[p['product']]} | {gt:.1f} | "
                f"{gv:.1f} | {gv / gt:.2f}× | {gv / peak:.2f} |")
        if nominal:
            line += f" {gv / nominal:.2f} |"
        print(line)
    geo = 1.0
    for r in ratios:
        geo *= r
    print()
    print(f"geometric mean Verdant / torch: {geo ** (1 / len(ratios)):.2f}×  (min {min(ratios):.2f}×, max {max(ratios):.2f}×)")


if __name__ == "__main__":
    main()
