#!/usr/bin/env python3
"""Quantized inference side by side: Verdant's schemes vs llama.cpp's, speed and quality.

    python3 scripts/bench_quant.py [--speed] [--quality] [--threads 2] [--runs 3]
                                   [--models pycoder,qwen] [--ppl-tokens 100000]

Uses the venv, GGUF conversion and engine drivers of scripts/bench_compare.py
(llama-cpp-python built with -DGGML_NATIVE=ON, caches in ~/.cache/verdant).

Speed (--speed): prefill of a 512-token prompt and 64 greedy decode steps, median of R
runs, same thread count, pairs of equal-purpose formats:
    Verdant q8_0  vs llama.cpp Q8_0      (both "pure": every matrix, embeddings included)
    Verdant q4_0  vs llama.cpp Q4_0      (both pure)
    Verdant int4 g128 (standard recipe)  vs llama.cpp Q4_K_M (its standard mix)
Pure files isolate the kernels; the last pair compares the two tools' defaults, with
bytes read per token reported beside the speed.

Quality (--quality): perplexity on ../shared/data/code-dev.jsonl with the protocol of
`verdant perplexity` (documents tokenized without special tokens, EOS-separated,
non-overlapping 512-token windows, every token after the first of a window predicted),
for the float model, every Verdant scheme × method, and llama.cpp's Q8_0 / Q4_0 / Q4_K_M
files scored by the same windows through llama.cpp's own logits. Bits per weight of
every file are reported (GGUF: tensor data bytes × 8 / parameters).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_compare as bc  # noqa: E402

QDIR = bc.CACHE / "quant"
VERDANT = bc.REPO / ".build" / "release" / "verdant"
CALIB_TEXT = bc.CACHE / "calibration.jsonl"


def log(msg: str) -> None:
    print(f"[bench_quant {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def verdant(*args: str, capture: bool = False) -> str:
    cmd = [str(VERDANT), *args]
    log("$ " + " ".join(cmd))
    r = subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE if capture else sys.stderr)
    return r.stdout if capture else ""


def calibration_file() -> Path:
    """Calibration text from the training sample (never the evaluation file)."""
    if CALIB_TEXT.exists():
        return CALIB_TEXT
    import lzma
    src = bc.SHARED / "data" / "code-train.jsonl.xz"
    CALIB_TEXT.parent.mkdir(parents=True, exist_ok=True)
    with lzma.open(src, "rt") as fh, open(CALIB_TEXT, "w") as out:
        for i, line in enumerate(fh):
            if i >= 2000:
                break
            out.write(line)
    return CALIB_TEXT


def verdant_quantized(model: Path, name: str, scheme: str, extra: list[str], tag: str) -> Path:
    out = QDIR / f"{name}-{tag}"
    if not (out / "config.json").exists():
        verdant("quantize", str(model), "--scheme", scheme, *extra, "--out", str(out), "--force")
    return out


def llama_quantized(f16_gguf: Path, name: str, ftype: str, pure: bool) -> Path:
    import llama_cpp
    out = bc.GGUF_DIR / f"{name}-{ftype.lower()}{'-pure' if pure else ''}.gguf"
    if out.exists():
        return out
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype}")
    params.nthread = 2
    params.pure = pure
    tmp = out.with_suffix(".tmp")
    log(f"llama.cpp quantize {f16_gguf.name} → {out.name}")
    rc = llama_cpp.llama_model_quantize(str(f16_gguf).encode(), str(tmp).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed ({rc})")
    tmp.rename(out)
    return out


def gguf_bits(path: Path) -> tuple[float, int]:
    from gguf import GGUFReader
    r = GGUFReader(str(path))
    params = sum(int(t.n_elements) for t in r.tensors)
    data = sum(int(t.n_bytes) for t in r.tensors)
    return data * 8 / params, data


def verdant_bits(model_dir: Path) -> tuple[float, int]:
    report = model_dir / "quantization_report.json"
    if report.exists():
        r = json.loads(report.read_text())
        return r["bits_per_weight"], r["bytes_after"]
    tensors = bc.safetensors_tensors(model_dir)
    params = sum(bc._prod(s) for _, s, _ in tensors.values())
    data = sum(b for _, _, b in tensors.values())
    return data * 8 / params, data


# ------------------------------------------------------------------ perplexity (same protocol)

def eval_stream(model_dir: Path, limit: int) -> list[int]:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    eos = json.loads((model_dir / "config.json").read_text())["eos_token_id"]
    eos = eos[0] if isinstance(eos, list) else eos
    ids: list[int] = []
    with open(bc.SHARED / "data" / "code-dev.jsonl") as fh:
        for line in fh:
            ids += tok.encode(json.loads(line)["text"], add_special_tokens=False).ids + [eos]
            if len(ids) >= limit:
                break
    return ids[:limit]


def llama_perplexity(gguf: Path, stream: list[int], ctx: int, threads: int) -> float:
    import numpy as np
    from llama_cpp import Llama
    llm = Llama(model_path=str(gguf), n_threads=threads, n_threads_batch=threads, n_ctx=ctx, n_batch=ctx,
                n_ubatch=ctx, logits_all=True, verbose=False)
    nll, count = 0.0, 0
    for start in range(0, len(stream), ctx):
        window = stream[start:start + ctx]
        if len(window) < 2:
            continue
        llm.reset()
        llm.eval(window)
        logits = np.asarray(llm.scores[:len(window)], dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        targets = np.asarray(window[1:])
        nll -= logp[np.arange(len(window) - 1), targets].sum()
        count += len(window) - 1
    return float(np.exp(nll / count))


def verdant_perplexity(model_dir: Path, tokens: int, threads: int) -> float:
    out = verdant("perplexity", str(model_dir), "--data", str(bc.SHARED / "data" / "code-dev.jsonl"),
                  "--max-tokens", str(tokens), "--threads", str(threads), "--json", capture=True)
    return json.loads(out)["perplexity"]


# ------------------------------------------------------------------ main

def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--quality", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", default="pycoder,qwen")
    ap.add_argument("--ppl-tokens", type=int, default=100_000)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--gen", type=int, default=64)
    args = ap.parse_args()
    if not bc.in_venv():
        bc.ensure_venv(skip_llama=False)
        return subprocess.call([str(bc.venv_python()), __file__, *sys.argv[1:]])
    QDIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["swift", "build", "-c", "release", "--product", "verdant"], cwd=bc.REPO, check=True,
                   stdout=sys.stderr)
    cpu = bc.cpu_info()
    print(f"CPU: {cpu.get('model', '?')}, {args.threads} threads, {time.strftime('%Y-%m-%d %H:%M')}\n")
    models = {"pycoder": bc.PYCODER_DIR, "qwen": bc.QWEN_DIR}
    for name in args.models.split(","):
        model = models[name]
        f16 = bc.convert_to_gguf(model, "bf16", "pycoder-llama-19m" if name == "pycoder" else "qwen2.5-coder-0.5b-shape")
        if args.speed:
            pairs = [
                ("q8_0 (pure)", verdant_quantized(model, name, "q8_0", [], "q8_0"), llama_quantized(f16, name, "Q8_0", True)),
                ("q4_0 (pure)", verdant_quantized(model, name, "q4_0", ["--override", "*=q4_0"], "q4_0-pure"),
                 llama_quantized(f16, name, "Q4_0", True)),
                ("int4 g128 vs Q4_K_M (defaults)", verdant_quantized(model, name, "int4", [], "int4-g128"),
                 llama_quantized(f16, name, "Q4_K_M", False)),
            ]
            prompt = bc.prompt_ids(args.prompt, 16384)
            print(f"### {name}: speed, {args.prompt}-token prefill, {args.gen} decode steps, median of {args.runs}\n")
            print("| pair | Verdant prefill | llama.cpp prefill | ratio | Verdant decode | llama.cpp decode | ratio | Verdant bits/w | llama.cpp bits/w |")
            print("|---|---|---|---|---|---|---|---|---|")
            for label, vdir, gguf in pairs:
                v = bc.bench_verdant(VERDANT, vdir, args.prompt, args.gen, args.threads, args.runs)
                l = bc.bench_llama_cpp(gguf, prompt, args.gen, args.threads, args.runs)
                vb, _ = verdant_bits(vdir)
                lb, _ = gguf_bits(gguf)
                print(f"| {label} | {v['prefill_tokens_per_s']:.1f} | {l['prefill_tokens_per_s']:.1f} | "
                      f"{v['prefill_tokens_per_s'] / l['prefill_tokens_per_s']:.2f}× | {v['decode_tokens_per_s']:.1f} | "
                      f"{l['decode_tokens_per_s']:.1f} | {v['decode_tokens_per_s'] / l['decode_tokens_per_s']:.2f}× | "
                      f"{vb:.2f} | {lb:.2f} |", flush=True)
            print()
        if args.quality and name == "pycoder":
            calib = calibration_file()
            stream = eval_stream(model, args.ppl_tokens)
            rows = [("float (bf16)", verdant_perplexity(model, args.ppl_tokens, args.threads), verdant_bits(model)[0])]
            configs = [("q8_0 rtn", "q8_0", ["--no-importance"]), ("q4_0 rtn", "q4_0", ["--no-importance"]),
                       ("int4 g128 rtn", "int4", ["--no-importance"]), ("int4 g32 rtn", "int4", ["--group-size", "32", "--no-importance"]),
                       ("w8a8", "w8a8", ["--no-importance"])]
            for method in ("rtn", "gptq", "awq"):
                for scheme, extra, variant in (("q4_0", [], ""), ("int4", [], " g128"), ("int4", ["--group-size", "32"], " g32"),
                                               ("int4", ["--override", "*embed_tokens*=int4_g32"], " g128, embeddings g32")):
                    label = f"{scheme}{variant} {method}{'+importance' if method == 'rtn' else ''}"
                    configs.append((label, scheme, extra + ["--method", method, "--calibration", str(calib),
                                                            "--calibration-tokens", "32768"]))
            for label, scheme, extra in configs:
                tag = label.replace(" ", "-").replace("+", "-").replace(",", "")
                try:
                    d = verdant_quantized(model, name, scheme, extra, tag)
                except subprocess.CalledProcessError as e:
                    rows.append((f"Verdant {label}", None, None))
                    log(f"{label}: {e}")
                    continue
                rows.append((f"Verdant {label}", verdant_perplexity(d, args.ppl_tokens, args.threads), verdant_bits(d)[0]))
            for ftype in ("Q8_0", "Q4_0", "Q4_K_M"):
                g = llama_quantized(f16, name, ftype, False)
                rows.append((f"llama.cpp {ftype}", llama_perplexity(g, stream, 512, args.threads), gguf_bits(g)[0]))
            base = rows[0][1]
            print(f"### {name}: perplexity on code-dev.jsonl (first {args.ppl_tokens} tokens, 512-token windows)\n")
            print("| model | perplexity | Δ vs float | bits/weight |")
            print("|---|---|---|---|")
            for label, ppl, bits in rows:
                if ppl is None:
                    print(f"| {label} | failed | | |")
                    continue
                print(f"| {label} | {ppl:.4f} | {100 * (ppl / base - 1):+.2f}% | {bits:.2f} |", flush=True)
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
