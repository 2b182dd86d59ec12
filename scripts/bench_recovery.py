#!/usr/bin/env python3
"""Flab-Pruner's recovery step on pycoder-llama-19m (issue 8 measurement): prune, then LoRA-recover.

    swift build -c release
    python3 scripts/bench_recovery.py [--out bench-out/recovery] [--tokens 196608] [--lr 5e-4] [--only NAME ...]

Plain Python 3 (no third-party packages): it drives the release binaries, and reuses the data split
and the evaluation of scripts/bench_pruning.py (calibration / vocabulary corpus = code-dev packages
click, flask, requests; perplexity and the 292 line-completion tasks from jinja2, urllib3, yaml;
perplexity normalised to the unpruned tokenization). Recovery training text is the training corpus
../shared/data/code-train.jsonl.xz (disjoint from code-dev), the same seeded windows for every row.

Rows: each pruning of the issue-6 table that removes >= 20% of the parameters, before and after
`verdant finetune` (LoRA r 8, alpha 16 on q,k,v,o,gate,up,down, merged into the output), and the
unpruned model with the same LoRA run as a control (how much of a "recovery" is just more training).
Each finetune writes checkpoints every 16 steps and resumes (--resume) when rerun after a kill;
results are cached per row in OUT/results/NAME.json.
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pruning as bp  # noqa: E402

# name -> `verdant prune` arguments (None: the unpruned model); CAL = the calibration file.
PRUNINGS = {
    "base": None,
    "vocab+ffn-0.25": ["--vocab-corpus", "CAL", "--ffn-ratio", "0.25"],
    "vocab+ffn-0.25+heads-q-0.33": ["--vocab-corpus", "CAL", "--ffn-ratio", "0.25",
                                    "--heads-ratio", "0.34", "--heads-unit", "query-head"],
    "vocab+ffn-0.5": ["--vocab-corpus", "CAL", "--ffn-ratio", "0.5"],
}


def prune(name, opts, data_dir):
    args = PRUNINGS[name]
    if args is None:
        return opts.model, None
    model_dir = os.path.join(opts.out, "models", name)
    report_path = os.path.join(model_dir, "pruning_report.json")
    if not os.path.exists(report_path):
        cal = os.path.join(data_dir, "calib.jsonl")
        cmd = [opts.verdant, "prune", opts.model, "--out", model_dir, "--force", "--threads", str(opts.threads),
               "--calibration", cal, "--calibration-tokens", "8192"]
        bp.run(cmd + [cal if a == "CAL" else a for a in args])
    return model_dir, json.load(open(report_path))


def finetune(source, name, opts):
    out = os.path.join(opts.out, "models", name + "+lora")
    if os.path.exists(os.path.join(out, "config.json")):
        return out, None
    cmd = [opts.verdant, "finetune", source, "--data", opts.data, "--out", out, "--force",
           "--tokens", str(opts.tokens), "--context", "256", "--batch-tokens", "2048", "--lr", str(opts.lr),
           "--threads", str(opts.threads), "--save-every", "16", "--seed", "0"]
    if os.path.isdir(out + ".checkpoints") and any(d.startswith("step-") for d in os.listdir(out + ".checkpoints")):
        cmd.append("--resume")
    t = time.time()
    log = bp.run(cmd).stderr
    with open(os.path.join(opts.out, "results", name + "+lora.log"), "w") as f:
        f.write(log)
    return out, time.time() - t


def evaluate(model_dir, name, opts, data_dir, base_tokens):
    ppl = json.loads(bp.run([opts.verdant, "perplexity", model_dir, "--data", os.path.join(data_dir, "eval-ppl.jsonl"),
                             "--context", "512", "--threads", str(opts.threads), "--json"]).stdout)
    nll = math.log(ppl["perplexity"]) * ppl["tokens"]
    predictions = os.path.join(opts.out, "results", name + ".predictions.jsonl")
    lc = json.loads(bp.run([opts.verdant, "eval", model_dir, "--task", "line-completion",
                            "--data", os.path.join(data_dir, "lc-eval.jsonl"), "--threads", str(opts.threads),
                            "--predictions", predictions, "--json"]).stdout)
    return {"ppl_tokens": ppl["tokens"], "nll": nll, "ppl": math.exp(nll / (base_tokens or ppl["tokens"])),
            "es": lc["es"], "em": lc["em"], "tasks": lc["n"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(bp.SHARED, "models", "pycoder-llama-19m"))
    ap.add_argument("--data", default=os.path.join(bp.SHARED, "data", "code-train.jsonl.xz"))
    ap.add_argument("--verdant", default=os.path.join(bp.ROOT, ".build", "release", "verdant"))
    ap.add_argument("--out", default=os.path.join(bp.ROOT, "bench-out", "recovery"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=196608, help="LoRA training tokens per run")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--only", nargs="*")
    opts = ap.parse_args()
    data_dir = os.path.join(opts.out, "data")
    for d in ("results", "models"):
        os.makedirs(os.path.join(opts.out, d), exist_ok=True)
    bp.prepare_data(data_dir)

    def cached(key, compute):
        path = os.path.join(opts.out, "results", key + ".json")
        if os.path.exists(path):
            return json.load(open(path))
        r = compute()
        with bp.AtomicWrite(path) as f:
            json.dump(r, f, indent=1)
        print(key, r, flush=True)
        return r

    # Every "before" first (cheap), then the recoveries: the pruned models first, the unpruned
    # control last (the row a short session most easily does without).
    befores = {}
    base = None
    for name in PRUNINGS:
        if opts.only and name not in opts.only and name != "base":
            continue
        model_dir, report = prune(name, opts, data_dir)
        befores[name] = (model_dir, report["removed_fraction"] if report else 0.0,
                         cached(name, lambda: evaluate(model_dir, name, opts, data_dir, base and base["ppl_tokens"])))
        if name == "base":
            base = befores[name][2]
    rows = []
    for name in [n for n in befores if n != "base"] + ["base"]:
        model_dir, removed, before = befores[name]
        tuned_dir, _ = finetune(model_dir, name, opts)
        after = cached(name + "+lora", lambda: evaluate(tuned_dir, name + "+lora", opts, data_dir, base["ppl_tokens"]))
        rows.append((name, removed, before, after))
    rows.sort(key=lambda r: list(PRUNINGS).index(r[0]))

    lines = [f"| pruning | removed | ppl before → after LoRA | ES before → after | % of unpruned ES before → after | EM before → after |",
             "|---|---|---|---|---|---|"]
    for name, removed, b, a in rows:
        lines.append(f"| `{name}` | {100 * removed:.1f}% | {b['ppl']:.2f} → {a['ppl']:.2f} | {b['es']:.2f} → {a['es']:.2f} | "
                     f"{100 * b['es'] / base['es']:.1f}% → {100 * a['es'] / base['es']:.1f}% | {b['em']:.2f} → {a['em']:.2f} |")
    table = "\n".join(lines)
    with open(os.path.join(opts.out, "table.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    sys.exit(main())
