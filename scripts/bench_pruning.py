#!/usr/bin/env python3
"""Pruning quality vs parameters removed on pycoder-llama-19m (issue 6 measurement).

    swift build -c release
    python3 scripts/bench_pruning.py [--out bench-out/pruning] [--only NAME ...] [--tasks-limit N] [--report-only]

Plain Python 3 (no third-party packages): it drives the release binaries.

Data: ../shared/data/code-dev.jsonl is split by package — click, flask, requests are the
calibration part (also the vocabulary-pruning corpus); jinja2, urllib3, yaml the evaluation
part. Line-completion tasks whose file is in an evaluation package are the evaluation tasks (292
of 500); perplexity is measured on the first ~200 KB of evaluation files.

Per configuration: `verdant prune` (8192 calibration tokens in 512-token sequences), then
  - perplexity with `verdant perplexity --context 512` on the evaluation text. A vocabulary-pruned
    model tokenizes that text into more tokens, so every perplexity here is normalized to the
    unpruned tokenization: exp(total NLL / tokens the unpruned model predicts on the same text);
  - line-completion ES / EM with `verdant eval --task line-completion` (the project protocol:
    context left-truncated to 448 tokens, greedy to the first newline or 64 tokens); the
    predictions go to OUT/results/NAME.predictions.jsonl (paired comparisons between configurations).
Random baselines run at seeds 0, 1 and 2 (NAME, NAME-s1, NAME-s2); the summary table and the plots
use their mean. Results are cached per configuration in OUT/results/NAME.json; the table (markdown:
a summary with "ES vs naive baseline", then every run) and the plots (SVG) are written to
OUT/table.md, OUT/pruning.svg and OUT/pruning-ppl.svg (copied to docs/ for BENCHMARKS.md).
--report-only rebuilds them from the cache without measuring anything.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
CALIBRATION_PACKAGES = {"click", "flask", "requests"}
PPL_CHARS = 200_000

# name -> (method, verdant prune arguments); CAL is replaced by the calibration file.
CONFIGS = {
    "base": ("unpruned", None),
    # layers
    "layers-bi-1": ("layers bi", ["--drop-layers", "1", "--criterion", "bi"]),
    "layers-bi-2": ("layers bi", ["--drop-layers", "2", "--criterion", "bi"]),
    "layers-bi-3": ("layers bi", ["--drop-layers", "3", "--criterion", "bi"]),
    "layers-kl-1": ("layers kl", ["--drop-layers", "1", "--criterion", "kl"]),
    "layers-kl-2": ("layers kl", ["--drop-layers", "2", "--criterion", "kl"]),
    "layers-kl-3": ("layers kl", ["--drop-layers", "3", "--criterion", "kl"]),
    "layers-last-1": ("layers last (baseline)", ["--drop-layers", "1", "--criterion", "last"]),
    "layers-last-2": ("layers last (baseline)", ["--drop-layers", "2", "--criterion", "last"]),
    "layers-last-3": ("layers last (baseline)", ["--drop-layers", "3", "--criterion", "last"]),
    # FFN neurons
    "ffn-act-0.125": ("ffn activation uniform", ["--ffn-ratio", "0.125"]),
    "ffn-act-0.25": ("ffn activation uniform", ["--ffn-ratio", "0.25"]),
    "ffn-act-0.375": ("ffn activation uniform", ["--ffn-ratio", "0.375"]),
    "ffn-act-0.5": ("ffn activation uniform", ["--ffn-ratio", "0.5"]),
    "ffn-global-0.25": ("ffn activation global", ["--ffn-ratio", "0.25", "--ffn-allocation", "global"]),
    "ffn-global-0.5": ("ffn activation global", ["--ffn-ratio", "0.5", "--ffn-allocation", "global"]),
    "ffn-random-0.125": ("ffn random (baseline)", ["--ffn-ratio", "0.125", "--ffn-criterion", "random"]),
    "ffn-random-0.25": ("ffn random (baseline)", ["--ffn-ratio", "0.25", "--ffn-criterion", "random"]),
    "ffn-random-0.375": ("ffn random (baseline)", ["--ffn-ratio", "0.375", "--ffn-criterion", "random"]),
    "ffn-random-0.5": ("ffn random (baseline)", ["--ffn-ratio", "0.5", "--ffn-criterion", "random"]),
    # attention: pycoder has 2 KV groups of 3 query heads. kv-group 0.5 = one group per layer;
    # query-head 1/3 (2/3) = one (two) query heads of each group.
    "heads-kv-act-0.5": ("heads kv-group activation", ["--heads-ratio", "0.5"]),
    "heads-kv-random-0.5": ("heads kv-group random (baseline)", ["--heads-ratio", "0.5", "--heads-criterion", "random"]),
    "heads-q-act-0.33": ("heads query activation", ["--heads-ratio", "0.34", "--heads-unit", "query-head"]),
    "heads-q-act-0.67": ("heads query activation", ["--heads-ratio", "0.67", "--heads-unit", "query-head"]),
    "heads-q-random-0.33": ("heads query random (baseline)", ["--heads-ratio", "0.34", "--heads-unit", "query-head",
                                                              "--heads-criterion", "random"]),
    "heads-q-random-0.67": ("heads query random (baseline)", ["--heads-ratio", "0.67", "--heads-unit", "query-head",
                                                              "--heads-criterion", "random"]),
    # vocabulary (corpus: the calibration part)
    "vocab-calib": ("vocabulary", ["--vocab-corpus", "CAL"]),
    # combinations
    "vocab+ffn-0.125": ("combination", ["--vocab-corpus", "CAL", "--ffn-ratio", "0.125"]),
    "vocab+ffn-0.25": ("combination", ["--vocab-corpus", "CAL", "--ffn-ratio", "0.25"]),
    "vocab+ffn-0.25+heads-q-0.33": ("combination", ["--vocab-corpus", "CAL", "--ffn-ratio", "0.25",
                                                    "--heads-ratio", "0.34", "--heads-unit", "query-head"]),
    "all-four": ("combination", ["--vocab-corpus", "CAL", "--drop-layers", "1", "--criterion", "bi",
                                 "--heads-ratio", "0.34", "--heads-unit", "query-head", "--ffn-ratio", "0.25"]),
}

# Random baselines: seed 0 (above) plus these seeds; the summary averages them.
EXTRA_SEEDS = [1, 2]
for _name, (_method, _args) in list(CONFIGS.items()):
    if _args and "random" in _args:
        for _seed in EXTRA_SEEDS:
            CONFIGS[f"{_name}-s{_seed}"] = (_method, _args + ["--seed", str(_seed)])

# Each importance-based method and the naive baseline it is compared with (at the same
# fraction of parameters removed).
BASELINE = {
    "layers bi": "layers last (baseline)", "layers kl": "layers last (baseline)", "layers ppl": "layers last (baseline)",
    "ffn activation uniform": "ffn random (baseline)", "ffn activation global": "ffn random (baseline)",
    "heads kv-group activation": "heads kv-group random (baseline)",
    "heads query activation": "heads query random (baseline)",
}


def package(path):
    parts = path.split("/")
    return parts[1] if parts[0] == "site-packages" else parts[0] + "/" + parts[1]


class AtomicWrite:
    """A file written to PATH.tmp and renamed over PATH on close, so a run started in parallel
    never reads a half-written data file."""

    def __init__(self, path):
        self.path = path
        self.f = open(path + ".tmp", "w")

    def __enter__(self):
        return self.f

    def __exit__(self, *exc):
        self.f.close()
        os.replace(self.path + ".tmp", self.path)


def prepare_data(data_dir):
    os.makedirs(data_dir, exist_ok=True)
    docs = [json.loads(l) for l in open(os.path.join(SHARED, "data", "code-dev.jsonl"))]
    cal = [d for d in docs if package(d["path"]) in CALIBRATION_PACKAGES]
    ev = [d for d in docs if package(d["path"]) not in CALIBRATION_PACKAGES]
    with AtomicWrite(os.path.join(data_dir, "calib.jsonl")) as f:
        for d in cal:
            f.write(json.dumps(d) + "\n")
    total = 0
    with AtomicWrite(os.path.join(data_dir, "eval-ppl.jsonl")) as f:
        for d in ev:
            if total >= PPL_CHARS:
                break
            f.write(json.dumps(d) + "\n")
            total += len(d["text"])
    n = 0
    with AtomicWrite(os.path.join(data_dir, "lc-eval.jsonl")) as f:
        for line in open(os.path.join(SHARED, "data", "line-completion-dev.jsonl")):
            if package(json.loads(line)["path"]) not in CALIBRATION_PACKAGES:
                f.write(line)
                n += 1
    eval_paths = {d["path"] for d in ev}
    assert not eval_paths & {d["path"] for d in cal}
    return {"calibration_files": len(cal), "eval_files": len(ev), "lc_tasks": n}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def measure(name, args, opts, data_dir, base_tokens):
    method, prune_args = CONFIGS[name]
    model_dir = opts.model
    result = {"name": name, "method": method, "args": prune_args}
    if prune_args is not None:
        model_dir = os.path.join(opts.out, "models", name)
        cal = os.path.join(data_dir, "calib.jsonl")
        cmd = [opts.verdant, "prune", opts.model, "--out", model_dir, "--force", "--threads", str(opts.threads),
               "--calibration", cal, "--calibration-tokens", str(opts.calibration_tokens)]
        cmd += [cal if a == "CAL" else a for a in prune_args]
        t = time.time()
        run(cmd)
        result["prune_seconds"] = time.time() - t
        report = json.load(open(os.path.join(model_dir, "pruning_report.json")))
        result.update(parameters=report["parameters_after"], parameters_before=report["parameters_before"],
                      removed_fraction=report["removed_fraction"], zeroed_parameters=report["zeroed_parameters"],
                      shape=report["shape_after"])
    else:
        info = json.loads(run([opts.verdant, "inspect", model_dir, "--json"]).stdout)
        n = info.get("parameters") or info.get("parameter_count")
        result.update(parameters=n, parameters_before=n, removed_fraction=0.0, zeroed_parameters=0)
    ppl = json.loads(run([opts.verdant, "perplexity", model_dir, "--data", os.path.join(data_dir, "eval-ppl.jsonl"),
                          "--context", "512", "--threads", str(opts.threads), "--json"]).stdout)
    nll = math.log(ppl["perplexity"]) * ppl["tokens"]
    result.update(ppl_tokens=ppl["tokens"], nll=nll)
    if base_tokens is not None:
        result["ppl"] = math.exp(nll / base_tokens)
    predictions = os.path.join(opts.out, "results", name + ".predictions.jsonl")
    cmd = [opts.verdant, "eval", model_dir, "--task", "line-completion", "--data", os.path.join(data_dir, "lc-eval.jsonl"),
           "--threads", str(opts.threads), "--predictions", predictions, "--json"]
    if opts.tasks_limit:
        cmd += ["--limit", str(opts.tasks_limit)]
    t = time.time()
    lc = json.loads(run(cmd).stdout)
    result.update(es=lc["es"], em=lc["em"], tasks=lc["n"], lc_seconds=time.time() - t)
    if prune_args is not None and not opts.keep_models:
        shutil.rmtree(model_dir, ignore_errors=True)
    return result


# ---------------------------------------------------------------- output

SERIES = [
    ("layers bi", "#1b9e77", "ring"), ("layers kl", "#0b5e45", "diamond"),
    ("layers last (baseline)", "#1b9e77", "cross"),
    ("ffn activation uniform", "#d95f02", "circle"), ("ffn activation global", "#8a3a00", "diamond"),
    ("ffn random (baseline)", "#d95f02", "cross"),
    ("heads kv-group activation", "#7570b3", "diamond"), ("heads kv-group random (baseline)", "#7570b3", "plus"),
    ("heads query activation", "#4b44a0", "circle"), ("heads query random (baseline)", "#4b44a0", "cross"),
    ("vocabulary", "#e7298a", "circle"), ("combination", "#333333", "square"),
]


def effective_removed(r):
    """Parameters removed from the file plus parameters zeroed in place, as a fraction."""
    return r["removed_fraction"] + r.get("zeroed_parameters", 0) / r["parameters_before"]


def svg_plot(results, value, label, reference, path, higher_is_better=True):
    w, h, left, right, top, bottom = 800, 480, 60, 270, 20, 50
    pw, ph = w - left - right, h - top - bottom
    xmax = max(0.4, max(effective_removed(r) for r in results) + 0.02)
    ys = [value(r) for r in results]
    step = 5 if max(ys) - min(ys) <= 80 else 10
    ymin = max(0, math.floor(min(ys) / step) * step)
    ymax = math.ceil(max(ys) / step) * step
    if ymax - ymin < 4 * step:
        ymax = ymin + 4 * step

    def X(v):
        return left + pw * v / xmax

    def Y(v):
        return top + ph * (1 - (v - ymin) / (ymax - ymin))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    for i in range(0, int(xmax * 100) + 1, 5):
        x = X(i / 100)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 15}" text-anchor="middle">{i}</text>')
    for v in range(int(ymin), int(ymax) + 1, step):
        y = Y(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v}</text>')
    if reference is not None and ymin <= reference[0] <= ymax:
        out.append(f'<line x1="{left}" y1="{Y(reference[0]):.1f}" x2="{left + pw}" y2="{Y(reference[0]):.1f}" stroke="#c00" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{left + pw - 4}" y="{Y(reference[0]) - 4:.1f}" text-anchor="end" fill="#c00">{reference[1]}</text>')
    out.append(f'<line x1="{X(0.2):.1f}" y1="{top}" x2="{X(0.2):.1f}" y2="{top + ph}" stroke="#c00" stroke-dasharray="4 3"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 12}" text-anchor="middle">parameters removed (%, zeroed-in-place counted)</text>')
    out.append(f'<text transform="translate(16 {top + ph / 2}) rotate(-90)" text-anchor="middle">{label}</text>')

    def marker(x, y, shape, color):
        if shape == "circle":
            return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"/>'
        if shape == "ring":  # stays visible around another series' marker at the same point
            return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="none" stroke="{color}" stroke-width="1.5"/>'
        if shape == "diamond":
            return f'<path d="M{x:.1f} {y - 5:.1f} L{x + 5:.1f} {y:.1f} L{x:.1f} {y + 5:.1f} L{x - 5:.1f} {y:.1f} Z" fill="{color}"/>'
        if shape == "square":
            return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{color}"/>'
        if shape == "plus":
            return (f'<path d="M{x - 5:.1f} {y:.1f} L{x + 5:.1f} {y:.1f} M{x:.1f} {y - 5:.1f} L{x:.1f} {y + 5:.1f}" '
                    f'stroke="{color}" stroke-width="2"/>')
        return (f'<path d="M{x - 4:.1f} {y - 4:.1f} L{x + 4:.1f} {y + 4:.1f} M{x - 4:.1f} {y + 4:.1f} L{x + 4:.1f} {y - 4:.1f}" '
                f'stroke="{color}" stroke-width="2"/>')

    base = next((r for r in results if r["method"] == "unpruned"), None)
    legend = 0
    for method, color, shape in SERIES:
        pts = sorted((effective_removed(r), value(r), r["name"]) for r in results if r["method"] == method)
        if not pts:
            continue
        if method != "combination":
            line = ([(0.0, value(base))] if base else []) + [(p[0], p[1]) for p in pts]
            d = " ".join(f"{'M' if j == 0 else 'L'}{X(a):.1f} {Y(b):.1f}" for j, (a, b) in enumerate(line))
            dash = ' stroke-dasharray="5 3"' if "baseline" in method else ""
            out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="1.5"{dash}/>')
        for a, b, name in pts:
            out.append(marker(X(a), Y(b), shape, color))
            if method == "combination":
                # Labels that would run past the plot area go on the marker's left.
                if X(a) + 6 + 5 * len(name) > left + pw:
                    out.append(f'<text x="{X(a) - 6:.1f}" y="{Y(b) + 4:.1f}" font-size="9" text-anchor="end">{name}</text>')
                else:
                    out.append(f'<text x="{X(a) + 6:.1f}" y="{Y(b) + 4:.1f}" font-size="9">{name}</text>')
        ly = top + 12 + 18 * legend
        legend += 1
        out.append(marker(left + pw + 20, ly - 4, shape, color))
        out.append(f'<text x="{left + pw + 32}" y="{ly}">{method}</text>')
    if base:
        out.append(marker(X(0), Y(value(base)), "circle", "#000"))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def summarize(results):
    """One point per configuration; a random baseline's seeds are averaged (min and max kept)."""
    groups = {}
    for r in results:
        key = r["name"].rsplit("-s", 1)[0] if r["name"].rsplit("-s", 1)[-1].isdigit() else r["name"]
        groups.setdefault(key, []).append(r)
    points = []
    for key, rs in groups.items():
        p = dict(rs[0], name=key, seeds=len(rs))
        for field in ("es", "em", "ppl", "nll"):
            p[field] = sum(r[field] for r in rs) / len(rs)
        p["es_range"] = (min(r["es"] for r in rs), max(r["es"] for r in rs))
        points.append(p)
    return points


def baseline_of(p, points):
    method = BASELINE.get(p["method"])
    if method is None:
        return None
    return next((q for q in points if q["method"] == method
                 and abs(effective_removed(q) - effective_removed(p)) < 0.005), None)


def summary_table(points, base_es):
    rows = ["| configuration | method | params removed | perplexity (eval) | ES | EM | ES % of unpruned | ES vs naive baseline |",
            "|---|---|---|---|---|---|---|---|"]
    for p in points:
        es = f"{p['es']:.2f}"
        if p["seeds"] > 1:
            es += f" (mean of {p['seeds']} seeds, {p['es_range'][0]:.2f}–{p['es_range'][1]:.2f})"
        b = baseline_of(p, points)
        vs = f"{p['es'] - b['es']:+.2f} vs `{b['name']}`" if b else ""
        rows.append(f"| `{p['name']}` | {p['method']} | {100 * effective_removed(p):.1f}% | {p['ppl']:.2f} | {es} | "
                    f"{p['em']:.2f} | {100 * p['es'] / base_es:.1f}% | {vs} |")
    return "\n".join(rows) + "\n"


def table(results, base_es):
    rows = ["| configuration | method | parameters | removed from file | zeroed in place | perplexity (eval) | ES | EM | ES % of unpruned |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| `{r['name']}` | {r['method']} | {r['parameters']:,} | {100 * r['removed_fraction']:.1f}% | "
                    f"{r.get('zeroed_parameters', 0):,} | {r.get('ppl', float('nan')):.3f} | {r['es']:.2f} | {r['em']:.2f} | "
                    f"{100 * r['es'] / base_es:.1f}% |")
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(SHARED, "models", "pycoder-llama-19m"))
    ap.add_argument("--verdant", default=os.path.join(ROOT, ".build", "release", "verdant"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-out", "pruning"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calibration-tokens", type=int, default=8192)
    ap.add_argument("--tasks-limit", type=int, default=None)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--keep-models", action="store_true")
    ap.add_argument("--redo", action="store_true", help="ignore cached results")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: table and plots from the cached results (missing configurations left out)")
    opts = ap.parse_args()
    data_dir = os.path.join(opts.out, "data")
    os.makedirs(os.path.join(opts.out, "results"), exist_ok=True)
    os.makedirs(os.path.join(opts.out, "models"), exist_ok=True)
    print(prepare_data(data_dir), flush=True)

    def cached(name):
        p = os.path.join(opts.out, "results", name + ".json")
        return None if opts.redo or not os.path.exists(p) else json.load(open(p))

    names = ["base"] + [n for n in CONFIGS if n != "base" and (not opts.only or n in opts.only)]
    base = cached("base")
    results = []
    for name in names:
        r = cached(name) if name != "base" or base else None
        if r is None and opts.report_only:
            continue
        if r is None:
            t = time.time()
            r = measure(name, CONFIGS[name][1], opts, data_dir, base["ppl_tokens"] if base else None)
            if name == "base":
                r["ppl"] = math.exp(r["nll"] / r["ppl_tokens"])
                base = r
            json.dump(r, open(os.path.join(opts.out, "results", name + ".json"), "w"), indent=1)
            print(f"{name}: removed {100 * r['removed_fraction']:.1f}%  ppl {r['ppl']:.3f}  ES {r['es']:.2f}  "
                  f"EM {r['em']:.2f}  ({time.time() - t:.0f} s)", flush=True)
        results.append(r)
    base_es = base["es"]
    points = summarize(results)
    with open(os.path.join(opts.out, "table.md"), "w") as f:
        f.write(summary_table(points, base_es) + "\nEvery run (random baselines per seed):\n\n" + table(results, base_es))
    svg_plot(points, lambda r: 100 * r["es"] / base_es, "line-completion ES (% of unpruned)",
             (97, "97% of unpruned ES"), os.path.join(opts.out, "pruning.svg"))
    svg_plot(points, lambda r: r["ppl"], "perplexity on held-out packages (unpruned tokenization)",
             None, os.path.join(opts.out, "pruning-ppl.svg"))
    print(summary_table(points, base_es))


if __name__ == "__main__":
    sys.exit(main())
